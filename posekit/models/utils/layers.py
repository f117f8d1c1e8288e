"""Layer builders and conv blocks, named as MMCV names them.

MMPose configs describe layers with small dicts (``norm_cfg=dict(type='BN')``,
``act_cfg=dict(type='ReLU')``) and MMPose checkpoints store their parameters
under the names MMCV gives them (``conv``, ``bn``, ``gn``, ``activate``,
``depthwise_conv``, ``pointwise_conv``). The builders here turn those dicts
into plain ``torch.nn`` layers under the same names, so checkpoints load.

There is no registry for these layer types: each builder looks its ``type``
up in a dict of this module and raises a KeyError naming the valid types.
A class may also be given as ``type``.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable, Mapping

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.instancenorm import _InstanceNorm


class Swish(nn.Module):
    """x * sigmoid(x), never in place (MMCV's ``Swish``; no parameters)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(x)


class HSigmoid(nn.Module):
    """Hard sigmoid: clamp((x + bias) / divisor, min_value, max_value).

    The defaults give PyTorch's ``hardsigmoid``, clamp((x + 3) / 6, 0, 1),
    which is what MMCV >= 1.4.4 computes.
    """

    def __init__(self, bias: float = 3.0, divisor: float = 6.0,
                 min_value: float = 0.0, max_value: float = 1.0):
        super().__init__()
        if divisor == 0:
            raise ValueError('HSigmoid: divisor must not be 0')
        self.bias, self.divisor = bias, divisor
        self.min_value, self.max_value = min_value, max_value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ((x + self.bias) / self.divisor).clamp(self.min_value, self.max_value)


class DropPath(nn.Module):
    """Stochastic depth: in training, zero a sample's whole residual branch
    with probability ``drop_prob`` and scale the kept ones by
    ``1 / (1 - drop_prob)``."""

    def __init__(self, drop_prob: float = 0.1):
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.drop_prob == 0. or not self.training:
            return x
        keep = 1 - self.drop_prob
        shape = (x.shape[0], ) + (1, ) * (x.ndim - 1)
        mask = (keep + torch.rand(shape, dtype=x.dtype, device=x.device)
                ).floor()
        return x.div(keep) * mask


class Clamp(nn.Module):
    """Clamp values to [min, max] (MMCV's ``Clamp``, also named ``Clip``)."""

    def __init__(self, min: float = -1.0, max: float = 1.0):  # noqa: A002
        super().__init__()
        self.min, self.max = min, max

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(x, min=self.min, max=self.max)


class PixelShufflePack(nn.Module):
    """A conv to ``out_channels * scale_factor**2`` channels, then pixel shuffle.

    Parameters live under ``upsample_conv`` (MMCV's name); the conv is
    Xavier-uniform initialised as in MMCV.
    """

    def __init__(self, in_channels: int, out_channels: int, scale_factor: int,
                 upsample_kernel: int):
        super().__init__()
        self.scale_factor = scale_factor
        self.upsample_conv = nn.Conv2d(
            in_channels, out_channels * scale_factor * scale_factor,
            upsample_kernel, padding=(upsample_kernel - 1) // 2)
        nn.init.xavier_uniform_(self.upsample_conv.weight)
        nn.init.zeros_(self.upsample_conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(self.upsample_conv(x), self.scale_factor)


NORM_LAYERS: dict[str, type] = {
    'BN': nn.BatchNorm2d, 'BN1d': nn.BatchNorm1d, 'BN2d': nn.BatchNorm2d,
    'BN3d': nn.BatchNorm3d, 'SyncBN': nn.SyncBatchNorm, 'GN': nn.GroupNorm,
    'LN': nn.LayerNorm, 'IN': nn.InstanceNorm2d, 'IN1d': nn.InstanceNorm1d,
    'IN2d': nn.InstanceNorm2d, 'IN3d': nn.InstanceNorm3d,
}

ACTIVATION_LAYERS: dict[str, type] = {
    'ReLU': nn.ReLU, 'LeakyReLU': nn.LeakyReLU, 'PReLU': nn.PReLU,
    'RReLU': nn.RReLU, 'ReLU6': nn.ReLU6, 'ELU': nn.ELU, 'Sigmoid': nn.Sigmoid,
    'Tanh': nn.Tanh, 'SiLU': nn.SiLU, 'Swish': Swish, 'GELU': nn.GELU,
    'HSigmoid': HSigmoid, 'HSwish': nn.Hardswish, 'Clamp': Clamp, 'Clip': Clamp,
}

CONV_LAYERS: dict[str, type] = {
    'Conv': nn.Conv2d, 'Conv1d': nn.Conv1d, 'Conv2d': nn.Conv2d,
    'Conv3d': nn.Conv3d, 'deconv': nn.ConvTranspose2d,
    'ConvTranspose2d': nn.ConvTranspose2d, 'deconv3d': nn.ConvTranspose3d,
}

UPSAMPLE_LAYERS: dict[str, Any] = {
    'nearest': nn.Upsample, 'bilinear': nn.Upsample,
    'deconv': nn.ConvTranspose2d, 'ConvTranspose2d': nn.ConvTranspose2d,
    'deconv3d': nn.ConvTranspose3d, 'pixel_shuffle': PixelShufflePack,
}

# Activations whose constructor takes no ``inplace`` (ConvModule must not add it).
_NO_INPLACE = ('Tanh', 'PReLU', 'Sigmoid', 'HSigmoid', 'Swish', 'GELU',
               'Clamp', 'Clip')


def _split_cfg(cfg: Mapping | None, table: Mapping[str, Any], kind: str,
               default: str | None = None) -> tuple[Any, str, dict]:
    """Return (layer class, type name, remaining kwargs) for a layer cfg."""
    if cfg is None:
        if default is None:
            raise TypeError(f'{kind} cfg must be a dict, got None')
        cfg = dict(type=default)
    if not isinstance(cfg, Mapping):
        raise TypeError(f'{kind} cfg must be a dict, got {type(cfg).__name__}')
    if 'type' not in cfg:
        raise KeyError(f'the {kind} cfg has no "type" key: {dict(cfg)!r}')
    kwargs = dict(cfg)
    layer_type = kwargs.pop('type')
    if inspect.isclass(layer_type):
        return layer_type, layer_type.__name__, kwargs
    name = str(layer_type).rsplit('.', 1)[-1]  # 'mmcv.BN' -> 'BN'
    if name not in table:
        raise KeyError(f'unknown {kind} layer type {layer_type!r}; valid '
                       f'types: {", ".join(sorted(table))}')
    return table[name], name, kwargs


def norm_abbreviation(layer_cls: type) -> str:
    """The prefix MMCV gives a norm layer's attribute name: 'bn', 'gn', 'ln', 'in'.

    InstanceNorm is tested first: in PyTorch it subclasses the BN base class.
    """
    if hasattr(layer_cls, '_abbr_'):
        return layer_cls._abbr_
    for base, abbr in ((_InstanceNorm, 'in'), (_BatchNorm, 'bn'),
                       (nn.GroupNorm, 'gn'), (nn.LayerNorm, 'ln')):
        if issubclass(layer_cls, base):
            return abbr
    name = layer_cls.__name__.lower()
    for word, abbr in (('batch', 'bn'), ('group', 'gn'), ('layer', 'ln'),
                       ('instance', 'in')):
        if word in name:
            return abbr
    return 'norm_layer'


def build_norm_layer(cfg: Mapping, num_features: int,
                     postfix: int | str = '') -> tuple[str, nn.Module]:
    """Build a norm layer and the attribute name MMCV stores it under.

    Args:
        cfg (dict): ``type`` ('BN', 'BN1d', 'BN2d', 'BN3d', 'SyncBN', 'GN',
            'LN', 'IN', 'IN1d', 'IN2d', 'IN3d'); ``requires_grad`` (bool,
            default True) freezes the affine parameters when False; other keys
            (``eps``, default 1e-5; ``momentum``; ``num_groups`` for GN, which
            it requires; ``affine``) go to the layer.
        num_features (int): Channels normalised.
        postfix (int | str): Appended to the abbreviation: ('bn1', layer).

    Returns:
        tuple[str, nn.Module]: (name such as 'bn1' or 'gn', layer).
    """
    layer_cls, _, kwargs = _split_cfg(cfg, NORM_LAYERS, 'norm')
    if not isinstance(postfix, (int, str)):
        raise TypeError(f'postfix must be an int or a str, got {postfix!r}')
    name = norm_abbreviation(layer_cls) + str(postfix)
    requires_grad = kwargs.pop('requires_grad', True)
    kwargs.setdefault('eps', 1e-5)
    if issubclass(layer_cls, nn.GroupNorm):
        if 'num_groups' not in kwargs:
            raise KeyError(f'GN needs "num_groups" in its cfg, got {dict(cfg)!r}')
        layer = layer_cls(num_channels=num_features, **kwargs)
    else:
        layer = layer_cls(num_features, **kwargs)
    for param in layer.parameters():
        param.requires_grad = requires_grad
    return name, layer


def build_activation_layer(cfg: Mapping) -> nn.Module:
    """Build an activation from ``dict(type='ReLU', inplace=True)`` and the like.

    Types: ReLU, LeakyReLU, PReLU, RReLU, ReLU6, ELU, Sigmoid, Tanh, SiLU,
    Swish (x * sigmoid(x)), GELU, HSigmoid (clamp((x + 3) / 6, 0, 1) by
    default), HSwish (x * relu6(x + 3) / 6, i.e. ``nn.Hardswish``), Clamp/Clip.
    """
    layer_cls, _, kwargs = _split_cfg(cfg, ACTIVATION_LAYERS, 'activation')
    return layer_cls(**kwargs)


def build_conv_layer(cfg: Mapping | None, *args, **kwargs) -> nn.Module:
    """Build a conv layer; ``cfg=None`` means ``dict(type='Conv2d')``.

    Types: Conv (= Conv2d), Conv1d, Conv2d, Conv3d, deconv (ConvTranspose2d),
    deconv3d. ``args``/``kwargs`` (in_channels, out_channels, kernel_size,
    stride, ...) go to the layer with the cfg's other keys.
    """
    layer_cls, _, cfg_kwargs = _split_cfg(cfg, CONV_LAYERS, 'conv', 'Conv2d')
    return layer_cls(*args, **kwargs, **cfg_kwargs)


def build_upsample_layer(cfg: Mapping, *args, **kwargs) -> nn.Module:
    """Build an upsampling layer.

    Types: 'nearest' and 'bilinear' (``nn.Upsample`` with that mode; give
    ``scale_factor``), 'deconv' (``nn.ConvTranspose2d``), 'pixel_shuffle'
    (:class:`PixelShufflePack`: in_channels, out_channels, scale_factor,
    upsample_kernel).
    """
    layer_cls, name, cfg_kwargs = _split_cfg(cfg, UPSAMPLE_LAYERS, 'upsample')
    if layer_cls is nn.Upsample and name in ('nearest', 'bilinear'):
        cfg_kwargs['mode'] = name
    return layer_cls(*args, **kwargs, **cfg_kwargs)


_PADDING_LAYERS: dict[str, Callable[[Any], nn.Module]] = {
    'zero': nn.ZeroPad2d, 'reflect': nn.ReflectionPad2d,
    'replicate': nn.ReplicationPad2d,
}


class ConvModule(nn.Module):
    """Conv, then norm, then activation (order configurable), as MMCV's.

    Submodules keep MMCV's names so checkpoints load: ``conv``; the norm under
    its abbreviation (``bn``, ``gn``, ``ln``, ``in``); ``activate``; and
    ``padding_layer`` when ``padding_mode`` is 'reflect' or 'replicate'
    (padding is then done by that layer, not by the conv).

    Args:
        in_channels (int), out_channels (int), kernel_size, stride, padding,
            dilation, groups: as ``nn.Conv2d``.
        bias (bool | str): 'auto' means a bias only when there is no norm.
        conv_cfg (dict, optional): see :func:`build_conv_layer` (None: Conv2d).
        norm_cfg (dict, optional): see :func:`build_norm_layer` (None: no norm).
        act_cfg (dict, optional): see :func:`build_activation_layer`
            (None: no activation). Default ReLU.
        inplace (bool): Passed to activations that accept ``inplace``, unless
            ``act_cfg`` sets it.
        padding_mode (str): 'zeros' or 'circular' (done by the conv), or
            'zero', 'reflect', 'replicate' (done by a padding layer).
        order (tuple[str]): A permutation of ('conv', 'norm', 'act').

    Weights are initialised as MMCV does: conv Kaiming-normal (fan_out, relu
    or leaky_relu with the act's slope), bias 0; norm weight 1, bias 0.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 kernel_size: int | tuple[int, int], stride: int | tuple[int, int] = 1,
                 padding: int | tuple[int, int] = 0,
                 dilation: int | tuple[int, int] = 1, groups: int = 1,
                 bias: bool | str = 'auto', conv_cfg: dict | None = None,
                 norm_cfg: dict | None = None,
                 act_cfg: dict | None = dict(type='ReLU'),  # noqa: B006 (never mutated)
                 inplace: bool = True, padding_mode: str = 'zeros',
                 order: tuple[str, str, str] = ('conv', 'norm', 'act')):
        super().__init__()
        if not (isinstance(order, tuple) and len(order) == 3
                and set(order) == {'conv', 'norm', 'act'}):
            raise ValueError(f'order must be a permutation of ("conv", "norm", '
                             f'"act"), got {order!r}')
        self.conv_cfg, self.norm_cfg, self.act_cfg = conv_cfg, norm_cfg, act_cfg
        self.order = order
        self.with_norm = norm_cfg is not None
        self.with_activation = act_cfg is not None
        self.with_bias = (not self.with_norm) if bias == 'auto' else bias
        self.with_explicit_padding = padding_mode not in ('zeros', 'circular')
        if self.with_explicit_padding:
            if padding_mode not in _PADDING_LAYERS:
                raise KeyError(f'unknown padding_mode {padding_mode!r}; valid: '
                               f'zeros, circular, {", ".join(_PADDING_LAYERS)}')
            self.padding_layer = _PADDING_LAYERS[padding_mode](padding)
        conv_kwargs = {} if padding_mode in ('zeros', 'zero', 'reflect', 'replicate') \
            else {'padding_mode': padding_mode}
        self.conv = build_conv_layer(
            conv_cfg, in_channels, out_channels, kernel_size, stride=stride,
            padding=0 if self.with_explicit_padding else padding,
            dilation=dilation, groups=groups, bias=self.with_bias, **conv_kwargs)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.norm_name = None
        if self.with_norm:
            norm_before_conv = order.index('norm') < order.index('conv')
            self.norm_name, norm = build_norm_layer(
                norm_cfg, in_channels if norm_before_conv else out_channels)
            self.add_module(self.norm_name, norm)
        if self.with_activation:
            act_cfg_ = dict(act_cfg)
            if str(act_cfg_['type']).rsplit('.', 1)[-1] not in _NO_INPLACE:
                act_cfg_.setdefault('inplace', inplace)
            self.activate = build_activation_layer(act_cfg_)
        self.init_weights()

    @property
    def norm(self) -> nn.Module | None:
        return getattr(self, self.norm_name) if self.norm_name else None

    def init_weights(self) -> None:
        if not hasattr(self.conv, 'init_weights'):
            leaky = self.with_activation and self.act_cfg['type'] == 'LeakyReLU'
            slope = self.act_cfg.get('negative_slope', 0.01) if leaky else 0
            nn.init.kaiming_normal_(self.conv.weight, a=slope, mode='fan_out',
                                    nonlinearity='leaky_relu' if leaky else 'relu')
            if self.conv.bias is not None:
                nn.init.zeros_(self.conv.bias)
        if self.with_norm:
            norm = self.norm
            if getattr(norm, 'weight', None) is not None:
                nn.init.ones_(norm.weight)
            if getattr(norm, 'bias', None) is not None:
                nn.init.zeros_(norm.bias)

    def forward(self, x: torch.Tensor, activate: bool = True,
                norm: bool = True) -> torch.Tensor:
        for step in self.order:
            if step == 'conv':
                if self.with_explicit_padding:
                    x = self.padding_layer(x)
                x = self.conv(x)
            elif step == 'norm' and norm and self.with_norm:
                x = self.norm(x)
            elif step == 'act' and activate and self.with_activation:
                x = self.activate(x)
        return x


class DepthwiseSeparableConvModule(nn.Module):
    """A depthwise ConvModule (``depthwise_conv``) then a 1x1 one (``pointwise_conv``).

    ``dw_norm_cfg``, ``dw_act_cfg``, ``pw_norm_cfg``, ``pw_act_cfg`` default
    ('default') to ``norm_cfg`` and ``act_cfg``. Other keyword arguments
    (conv_cfg, bias, inplace, order, ...) go to both ConvModules.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 kernel_size: int | tuple[int, int], stride: int | tuple[int, int] = 1,
                 padding: int | tuple[int, int] = 0,
                 dilation: int | tuple[int, int] = 1,
                 norm_cfg: dict | None = None,
                 act_cfg: dict | None = dict(type='ReLU'),  # noqa: B006 (never mutated)
                 dw_norm_cfg: dict | str | None = 'default',
                 dw_act_cfg: dict | str | None = 'default',
                 pw_norm_cfg: dict | str | None = 'default',
                 pw_act_cfg: dict | str | None = 'default', **kwargs):
        super().__init__()
        if 'groups' in kwargs:
            raise TypeError('DepthwiseSeparableConvModule sets groups itself')

        def pick(value, default):
            return default if isinstance(value, str) and value == 'default' else value

        self.depthwise_conv = ConvModule(
            in_channels, in_channels, kernel_size, stride=stride,
            padding=padding, dilation=dilation, groups=in_channels,
            norm_cfg=pick(dw_norm_cfg, norm_cfg),
            act_cfg=pick(dw_act_cfg, act_cfg), **kwargs)
        self.pointwise_conv = ConvModule(
            in_channels, out_channels, 1, norm_cfg=pick(pw_norm_cfg, norm_cfg),
            act_cfg=pick(pw_act_cfg, act_cfg), **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise_conv(self.depthwise_conv(x))
