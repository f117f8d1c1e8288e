"""``init_cfg`` weight initialisation with MMEngine's semantics.

MMPose configs say how to initialise a module with ``init_cfg``: a dict or a
list of dicts, each with a ``type``:

- 'Kaiming' (a=0, mode='fan_out', nonlinearity='relu', distribution='normal'),
  'Xavier' (gain=1, distribution='normal'), 'Normal' (mean=0, std=1),
  'TruncNormal' (mean=0, std=1, a=-2, b=2), 'Uniform' (a=0, b=1),
  'Constant' (val), 'Caffe2Xavier'; each also takes ``bias`` (default 0)
  or ``bias_prob`` (bias = -log((1 - p) / p)) for the bias.
- 'Pretrained' (checkpoint, prefix=None, map_location='cpu'): load a local
  checkpoint (non-strict), optionally only the keys under ``prefix``.

``layer`` (a class name or a list of them) picks the submodules to
initialise: a submodule matches when its class name or the name of one of its
*direct* base classes is listed ('Conv2d', 'Linear', 'BatchNorm2d',
'_BatchNorm' (any BN), '_ConvNd', 'GroupNorm', 'LayerNorm'). Without
``layer`` nothing is matched, except through ``override``.

``override`` (a dict or a list of dicts) names children by attribute name
(``name='final_layer'``) and initialises all of that child's parameters,
whatever their class; an override with only ``name`` reuses its parent
entry's type and arguments.

Order in :meth:`BaseModule.init_weights` (as MMEngine): the module's own
non-Pretrained entries first, then ``init_weights()`` of each direct child
that has one (so a child's own init_cfg wins), then Pretrained entries last.
"""
from __future__ import annotations

import copy
import math
from typing import Callable, Mapping, Sequence

import torch
import torch.nn as nn

from .checkpoint import load_checkpoint_file, load_state_dict


def _set(m: nn.Module, fill_weight: Callable[[torch.Tensor], object],
         bias: float) -> None:
    """Fill ``m.weight`` with ``fill_weight`` and ``m.bias`` with ``bias``, where present."""
    if getattr(m, 'weight', None) is not None:
        fill_weight(m.weight)
    if getattr(m, 'bias', None) is not None:
        nn.init.constant_(m.bias, bias)


def trunc_normal_(tensor: torch.Tensor, mean: float = 0., std: float = 1.,
                  a: float = -2., b: float = 2.) -> torch.Tensor:
    """Fill ``tensor`` from N(mean, std**2) truncated to [a, b], by inverse CDF.

    Inverse-CDF sampling (a uniform draw between the CDF values of a and b,
    mapped back through erfinv) is what MMEngine uses; recent PyTorch's
    ``nn.init.trunc_normal_`` rejects and redraws instead, which gives other
    numbers for the same seed.
    """
    def cdf(x: float) -> float:
        return (1. + math.erf(x / math.sqrt(2.))) / 2.

    with torch.no_grad():
        lower, upper = cdf((a - mean) / std), cdf((b - mean) / std)
        tensor.uniform_(2 * lower - 1, 2 * upper - 1)
        tensor.erfinv_().mul_(std * math.sqrt(2.)).add_(mean)
        return tensor.clamp_(min=a, max=b)


def constant_init(module: nn.Module, val: float, bias: float = 0) -> None:
    """weight = val, bias = bias (where the module has them)."""
    _set(module, lambda w: nn.init.constant_(w, val), bias)


def normal_init(module: nn.Module, mean: float = 0, std: float = 1,
                bias: float = 0) -> None:
    """weight ~ N(mean, std**2), bias = bias."""
    _set(module, lambda w: nn.init.normal_(w, mean, std), bias)


def trunc_normal_init(module: nn.Module, mean: float = 0, std: float = 1,
                      a: float = -2, b: float = 2, bias: float = 0) -> None:
    """weight ~ N(mean, std**2) truncated to [a, b], bias = bias."""
    _set(module, lambda w: trunc_normal_(w, mean, std, a, b), bias)


def uniform_init(module: nn.Module, a: float = 0, b: float = 1, bias: float = 0) -> None:
    """weight ~ U(a, b), bias = bias."""
    _set(module, lambda w: nn.init.uniform_(w, a, b), bias)


def xavier_init(module: nn.Module, gain: float = 1, bias: float = 0,
                distribution: str = 'normal') -> None:
    """Glorot init of the weight ('normal' or 'uniform'), bias = bias."""
    fn = nn.init.xavier_uniform_ if distribution == 'uniform' else nn.init.xavier_normal_
    _set(module, lambda w: fn(w, gain=gain), bias)


def kaiming_init(module: nn.Module, a: float = 0, mode: str = 'fan_out',
                 nonlinearity: str = 'relu', bias: float = 0,
                 distribution: str = 'normal') -> None:
    """He init of the weight ('normal' or 'uniform'), bias = bias."""
    fn = nn.init.kaiming_uniform_ if distribution == 'uniform' else nn.init.kaiming_normal_
    _set(module, lambda w: fn(w, a=a, mode=mode, nonlinearity=nonlinearity), bias)


def caffe2_xavier_init(module: nn.Module, bias: float = 0) -> None:
    """Caffe2's "Xavier": He-uniform with a=1, fan_in, leaky_relu."""
    kaiming_init(module, a=1, mode='fan_in', nonlinearity='leaky_relu', bias=bias,
                 distribution='uniform')


def bias_init_with_prob(prior_prob: float) -> float:
    """The bias whose sigmoid is ``prior_prob``: -log((1 - p) / p)."""
    return float(-math.log((1 - prior_prob) / prior_prob))


# init_cfg type -> function(module, **arguments of that type, bias=...).
INITIALIZERS: dict[str, Callable] = {
    'Kaiming': kaiming_init, 'Xavier': xavier_init, 'Normal': normal_init,
    'TruncNormal': trunc_normal_init, 'Uniform': uniform_init,
    'Constant': constant_init, 'Caffe2Xavier': caffe2_xavier_init,
}


def _layer_matches(m: nn.Module, layers: Sequence[str]) -> bool:
    cls = type(m)
    names = {cls.__name__} | {b.__name__ for b in cls.__bases__}
    return bool(names & set(layers))


def _apply_one(module: nn.Module, cfg: Mapping, whole: bool) -> None:
    """Apply one init entry (without override) to ``module``'s submodules."""
    cfg = dict(cfg)
    init_type = cfg.pop('type')
    if init_type == 'Pretrained':
        _load_pretrained(module, **cfg)
        return
    if init_type not in INITIALIZERS:
        raise KeyError(f'unknown init_cfg type {init_type!r}; valid types: '
                       f'{", ".join(sorted(INITIALIZERS))}, Pretrained')
    layers = cfg.pop('layer', None) or []
    if not isinstance(layers, (str, list, tuple)):
        raise TypeError(f'init_cfg "layer" must be a str or a list of str, got {layers!r}')
    layers = [layers] if isinstance(layers, str) else list(layers)
    bias_prob = cfg.pop('bias_prob', None)
    if bias_prob is not None:
        cfg['bias'] = bias_init_with_prob(bias_prob)
    fill = INITIALIZERS[init_type]

    def init(m: nn.Module) -> None:
        if whole or _layer_matches(m, layers):
            fill(m, **cfg)

    # ``apply`` visits children before parents, as MMEngine does, so a seeded
    # run draws the same random numbers in the same order.
    module.apply(init)


def _load_pretrained(module: nn.Module, checkpoint: str, prefix: str | None = None,
                     map_location: str = 'cpu') -> None:
    state_dict = load_checkpoint_file(checkpoint, map_location=map_location)
    load_state_dict(module, state_dict, strict=False, prefix=prefix)


def initialize(module: nn.Module, init_cfg: Mapping | Sequence[Mapping]) -> None:
    """Apply ``init_cfg`` (a dict or a list of dicts, see the module doc) to ``module``."""
    if isinstance(init_cfg, Mapping):
        init_cfg = [init_cfg]
    if not isinstance(init_cfg, (list, tuple)):
        raise TypeError(f'init_cfg must be a dict or a list of dicts, got {init_cfg!r}')
    for entry in init_cfg:
        entry = copy.deepcopy(dict(entry))
        override = entry.pop('override', None)
        _apply_one(module, entry, whole=False)
        if override is None:
            continue
        entry.pop('layer', None)
        for ov in [override] if isinstance(override, Mapping) else override:
            ov = dict(ov)
            name = ov.pop('name', None)
            if name is None:
                raise ValueError(f'an init_cfg override needs a "name": {ov!r}')
            if not ov:
                ov = dict(entry)
            elif 'type' not in ov:
                raise ValueError(f'an init_cfg override needs a "type": {ov!r}')
            if not hasattr(module, name):
                raise AttributeError(f'init_cfg override names {name!r}, but '
                                     f'{type(module).__name__} has no such child')
            _apply_one(getattr(module, name), ov, whole=True)


class BaseModule(nn.Module):
    """An ``nn.Module`` that initialises itself from ``init_cfg``.

    Args:
        init_cfg (dict | list[dict], optional): See the module docstring.
            Applied by :meth:`init_weights`, not at construction.
    """

    def __init__(self, init_cfg: Mapping | Sequence[Mapping] | None = None):
        super().__init__()
        self._is_init = False
        self.init_cfg = copy.deepcopy(init_cfg)

    @property
    def is_init(self) -> bool:
        return self._is_init

    def init_weights(self) -> None:
        """Own init_cfg (not Pretrained), then children, then Pretrained."""
        if self._is_init:
            return
        cfgs = self.init_cfg or []
        cfgs = [cfgs] if isinstance(cfgs, Mapping) else list(cfgs)
        pretrained = [c for c in cfgs if c.get('type') == 'Pretrained']
        others = [c for c in cfgs if c.get('type') != 'Pretrained']
        if others:
            initialize(self, others)
        for child in self.children():
            if hasattr(child, 'init_weights') and not getattr(child, 'is_init', False):
                child.init_weights()
        if pretrained:
            initialize(self, pretrained)
        self._is_init = True
