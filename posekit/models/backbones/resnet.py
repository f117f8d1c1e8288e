"""ResNet and ResNetV1d, with MMPose's module names.

Parameter names (so MMPose checkpoints load): the stem is ``conv1``/``bn1``
(or ``stem.0..2`` ConvModules with ``deep_stem``), stages are ``layer1..4``,
blocks are ``layerX.i.conv1..3``/``bn1..3`` (the norm's name follows
``norm_cfg``: ``gn1`` for GN), and shortcuts are ``layerX.0.downsample.0``
(conv) and ``.1`` (norm), shifted by one when ``avg_down`` puts an AvgPool
first.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp

from posekit.registry import MODELS

from ..utils import ConvModule, build_conv_layer, build_norm_layer
from .base_backbone import BaseBackbone, freeze


def _maybe_checkpoint(fn: Callable, x: torch.Tensor, with_cp: bool) -> torch.Tensor:
    """Run ``fn(x)``, recomputing it in backward (saving memory) if asked."""
    if with_cp and x.requires_grad:
        return cp.checkpoint(fn, x, use_reentrant=False)
    return fn(x)


class _ResidualBlock(nn.Module):
    """relu(branch(x) + shortcut(x)); subclasses build ``branch``'s layers."""

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        def inner(x):
            identity = x if self.downsample is None else self.downsample(x)
            return self.branch(x) + identity

        return self.relu(_maybe_checkpoint(inner, x, self.with_cp))

    def _add_norm(self, norm_cfg: dict, channels: int, index: int) -> str:
        name, norm = build_norm_layer(norm_cfg, channels, postfix=index)
        self.add_module(name, norm)
        return name


def _no_block_init_cfg(init_cfg) -> None:
    """A block has no init_cfg of its own (MMPose's blocks take one but its
    ResNet never passes it); the backbone's init_cfg covers the blocks."""
    if init_cfg is not None:
        raise ValueError('init_cfg of a single ResNet block is not supported; '
                         "give init_cfg to the backbone (e.g. ResNet(init_cfg=...))")


class BasicBlock(_ResidualBlock):
    """Two 3x3 convs (ResNet-18/34). ``expansion`` must be 1.

    Args:
        in_channels (int), out_channels (int): Block input/output channels.
        stride (int): Stride of the first conv. dilation (int): Of the first conv.
        downsample (nn.Module, optional): Shortcut when shapes change.
        style (str): ``'pytorch'`` or ``'caffe'``; both build the same
            block, as in MMPose (its BasicBlock stores and ignores it: the
            stride can only go in the first 3x3 conv).
        with_cp (bool): Gradient checkpointing.
    """

    expansion = 1

    def __init__(self, in_channels: int, out_channels: int, expansion: int = 1,
                 stride: int = 1, dilation: int = 1,
                 downsample: nn.Module | None = None, style: str = 'pytorch',
                 with_cp: bool = False, conv_cfg: dict | None = None,
                 norm_cfg: dict | None = None, init_cfg=None):
        super().__init__()
        if expansion != 1:
            raise ValueError(f'BasicBlock needs expansion=1, got {expansion}')
        if style not in ('pytorch', 'caffe'):
            raise ValueError(f'style must be "pytorch" or "caffe", got {style!r}')
        _no_block_init_cfg(init_cfg)
        norm_cfg = norm_cfg or dict(type='BN')
        self.in_channels, self.out_channels = in_channels, out_channels
        self.with_cp = with_cp
        self.conv1 = build_conv_layer(conv_cfg, in_channels, out_channels, 3,
                                      stride=stride, padding=dilation,
                                      dilation=dilation, bias=False)
        self.norm1_name = self._add_norm(norm_cfg, out_channels, 1)
        self.conv2 = build_conv_layer(conv_cfg, out_channels, out_channels, 3,
                                      padding=1, bias=False)
        self.norm2_name = self._add_norm(norm_cfg, out_channels, 2)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    @property
    def norm1(self) -> nn.Module:
        return getattr(self, self.norm1_name)

    @property
    def norm2(self) -> nn.Module:
        return getattr(self, self.norm2_name)

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.norm1(self.conv1(x)))
        return self.norm2(self.conv2(out))


class Bottleneck(_ResidualBlock):
    """1x1 reduce, 3x3, 1x1 expand (ResNet-50/101/152).

    The middle width is ``out_channels // expansion`` unless ``mid_channels``
    is given (ResNeXt-style blocks widen it); ``groups`` splits the middle
    conv, whose size is ``kernel_size`` (3; ViPNAS searches it).
    ``style='pytorch'`` strides in the middle conv, 'caffe' in the first 1x1.
    """

    expansion = 4

    def __init__(self, in_channels: int, out_channels: int, expansion: int = 4,
                 stride: int = 1, dilation: int = 1,
                 downsample: nn.Module | None = None, style: str = 'pytorch',
                 with_cp: bool = False, conv_cfg: dict | None = None,
                 norm_cfg: dict | None = None, init_cfg=None,
                 mid_channels: int | None = None, groups: int = 1,
                 kernel_size: int = 3):
        super().__init__()
        if style not in ('pytorch', 'caffe'):
            raise ValueError(f'style must be "pytorch" or "caffe", got {style!r}')
        _no_block_init_cfg(init_cfg)
        if out_channels % expansion:
            raise ValueError(f'out_channels {out_channels} is not a multiple '
                             f'of expansion {expansion}')
        norm_cfg = norm_cfg or dict(type='BN')
        mid = mid_channels or out_channels // expansion
        self.in_channels, self.out_channels = in_channels, out_channels
        self.with_cp = with_cp
        stride1, stride2 = (1, stride) if style == 'pytorch' else (stride, 1)
        self.conv1 = build_conv_layer(conv_cfg, in_channels, mid, kernel_size=1,
                                      stride=stride1, bias=False)
        self.norm1_name = self._add_norm(norm_cfg, mid, 1)
        self.conv2 = build_conv_layer(conv_cfg, mid, mid, kernel_size=kernel_size,
                                      stride=stride2,
                                      padding=dilation * (kernel_size // 2),
                                      dilation=dilation, groups=groups, bias=False)
        self.norm2_name = self._add_norm(norm_cfg, mid, 2)
        self.conv3 = build_conv_layer(conv_cfg, mid, out_channels, kernel_size=1,
                                      bias=False)
        self.norm3_name = self._add_norm(norm_cfg, out_channels, 3)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    @property
    def norm1(self) -> nn.Module:
        return getattr(self, self.norm1_name)

    @property
    def norm2(self) -> nn.Module:
        return getattr(self, self.norm2_name)

    @property
    def norm3(self) -> nn.Module:
        return getattr(self, self.norm3_name)

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.norm1(self.conv1(x)))
        out = self.relu(self.norm2(self.conv2(out)))
        return self.norm3(self.conv3(out))


def zero_init_last_norms(module: nn.Module) -> None:
    """Zero the last norm layer of every residual block in ``module``, so
    each block starts as the identity (Goyal et al. 2017)."""
    for m in module.modules():
        last = (m.norm3 if isinstance(m, Bottleneck) else
                m.norm2 if isinstance(m, BasicBlock) else None)
        if last is not None:
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)


def make_downsample(in_channels: int, out_channels: int, stride: int,
                    avg_down: bool = False, conv_cfg: dict | None = None,
                    norm_cfg: dict | None = None) -> nn.Sequential:
    """The shortcut: [AvgPool (avg_down)], 1x1 conv, norm."""
    layers: list[nn.Module] = []
    conv_stride = stride
    if avg_down and stride != 1:
        conv_stride = 1
        layers.append(nn.AvgPool2d(kernel_size=stride, stride=stride,
                                   ceil_mode=True, count_include_pad=False))
    layers.append(build_conv_layer(conv_cfg, in_channels, out_channels,
                                   kernel_size=1, stride=conv_stride, bias=False))
    layers.append(build_norm_layer(norm_cfg or dict(type='BN'), out_channels)[1])
    return nn.Sequential(*layers)


def make_res_layer(block: type, num_blocks: int, in_channels: int,
                   out_channels: int, stride: int = 1, avg_down: bool = False,
                   conv_cfg: dict | None = None, norm_cfg: dict | None = None,
                   **block_kwargs) -> nn.Sequential:
    """One stage: the first block changes shape (with a shortcut), the rest keep it.

    ``block_kwargs`` (expansion, dilation, style, with_cp) go to every block.
    """
    downsample = None
    if stride != 1 or in_channels != out_channels:
        downsample = make_downsample(in_channels, out_channels, stride,
                                     avg_down, conv_cfg, norm_cfg)
    blocks = [block(in_channels, out_channels, stride=stride,
                    downsample=downsample, conv_cfg=conv_cfg,
                    norm_cfg=norm_cfg, **block_kwargs)]
    blocks += [block(out_channels, out_channels, stride=1, conv_cfg=conv_cfg,
                     norm_cfg=norm_cfg, **block_kwargs)
               for _ in range(1, num_blocks)]
    return nn.Sequential(*blocks)


@MODELS.register_module()
class ResNet(BaseBackbone):
    """ResNet (He et al. 2016), as MMPose builds it.

    Args:
        depth (int): 18, 34, 50, 101 or 152.
        in_channels (int): Input image channels. Default 3.
        stem_channels (int): Stem output channels. Default 64.
        base_channels (int): Stage-1 width before expansion. Default 64.
        expansion (int, optional): Block expansion; default the block's (1 or 4).
        num_stages (int): 1 to 4 stages. Default 4.
        strides, dilations (Sequence[int]): Per stage.
        out_indices (Sequence[int]): Stages whose output is returned. Default (3,).
        style (str): 'pytorch' (stride in the 3x3 conv) or 'caffe'.
        deep_stem (bool): Three 3x3 ConvModules (``stem``) instead of a 7x7 conv.
        avg_down (bool): AvgPool then a stride-1 conv in the shortcuts.
        frozen_stages (int): Stem (0) and stages 1..frozen_stages are frozen;
            -1 freezes nothing.
        conv_cfg, norm_cfg (dict): Layer configs. Default BN.
        norm_eval (bool): Keep BN layers in eval mode while training.
        with_cp (bool): Gradient checkpointing in each block.
        zero_init_residual (bool): The last norm of each block starts at 0.
        init_cfg (dict | list[dict]): Default Kaiming for Conv2d, 1 for norms.

    Input (N, in_channels, H, W); outputs a tuple with, for stage i,
    (N, base_channels * expansion * 2**i, H / 2**(i + 2), W / 2**(i + 2))
    with the default strides.
    """

    arch_settings = {18: (BasicBlock, (2, 2, 2, 2)), 34: (BasicBlock, (3, 4, 6, 3)),
                     50: (Bottleneck, (3, 4, 6, 3)), 101: (Bottleneck, (3, 4, 23, 3)),
                     152: (Bottleneck, (3, 8, 36, 3))}

    def __init__(self, depth: int, in_channels: int = 3, stem_channels: int = 64,
                 base_channels: int = 64, expansion: int | None = None,
                 num_stages: int = 4, strides: Sequence[int] = (1, 2, 2, 2),
                 dilations: Sequence[int] = (1, 1, 1, 1),
                 out_indices: Sequence[int] = (3, ), style: str = 'pytorch',
                 deep_stem: bool = False, avg_down: bool = False,
                 frozen_stages: int = -1, conv_cfg: dict | None = None,
                 norm_cfg: dict | None = None, norm_eval: bool = False,
                 with_cp: bool = False, zero_init_residual: bool = True,
                 init_cfg: dict | list[dict] | None = (
                     dict(type='Kaiming', layer=['Conv2d']),
                     dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm']))):
        super().__init__(list(init_cfg) if isinstance(init_cfg, tuple) else init_cfg)
        if depth not in self.arch_settings:
            raise KeyError(f'invalid depth {depth} for ResNet; valid: '
                           f'{sorted(self.arch_settings)}')
        if not 1 <= num_stages <= 4:
            raise ValueError(f'num_stages must be 1..4, got {num_stages}')
        if not len(strides) == len(dilations) == num_stages:
            raise ValueError(f'strides {strides} and dilations {dilations} '
                             f'need num_stages={num_stages} entries each')
        if max(out_indices) >= num_stages:
            raise ValueError(f'out_indices {out_indices} must be < num_stages '
                             f'({num_stages})')
        self.depth, self.out_indices = depth, tuple(out_indices)
        self.deep_stem, self.frozen_stages = deep_stem, frozen_stages
        self.conv_cfg = conv_cfg
        self.norm_cfg = dict(norm_cfg) if norm_cfg else dict(type='BN', requires_grad=True)
        self.norm_eval, self.with_cp = norm_eval, with_cp
        self.zero_init_residual = zero_init_residual
        self.block, stage_blocks = self.arch_settings[depth]
        self.expansion = expansion or self.block.expansion
        self._make_stem(in_channels, stem_channels)
        self.res_layers = []
        in_ch, out_ch = stem_channels, base_channels * self.expansion
        for i, num_blocks in enumerate(stage_blocks[:num_stages]):
            layer = make_res_layer(
                self.block, num_blocks, in_ch, out_ch, stride=strides[i],
                avg_down=avg_down, conv_cfg=conv_cfg, norm_cfg=self.norm_cfg,
                expansion=self.expansion, dilation=dilations[i], style=style,
                with_cp=with_cp, **self._block_args())
            self.add_module(f'layer{i + 1}', layer)
            self.res_layers.append(f'layer{i + 1}')
            in_ch, out_ch = out_ch, out_ch * 2
        self.feat_dim = in_ch
        self._freeze_stages()

    def _block_args(self) -> dict:
        """Arguments every block gets beyond ResNet's own: a hook for
        subclasses whose blocks take more (SEResNet's ``se_ratio``...)."""
        return {}

    def _make_stem(self, in_channels: int, stem_channels: int) -> None:
        if self.deep_stem:
            half = stem_channels // 2
            self.stem = nn.Sequential(*[
                ConvModule(cin, cout, kernel_size=3, stride=stride, padding=1,
                           conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg)
                for cin, cout, stride in ((in_channels, half, 2), (half, half, 1),
                                          (half, stem_channels, 1))])
        else:
            self.conv1 = build_conv_layer(self.conv_cfg, in_channels, stem_channels,
                                          kernel_size=7, stride=2, padding=3,
                                          bias=False)
            self.norm1_name, norm1 = build_norm_layer(self.norm_cfg, stem_channels,
                                                      postfix=1)
            self.add_module(self.norm1_name, norm1)
            self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

    @property
    def norm1(self) -> nn.Module:
        return getattr(self, self.norm1_name)

    def _freeze_stages(self) -> None:
        if self.frozen_stages >= 0:
            freeze([self.stem] if self.deep_stem else [self.conv1, self.norm1])
        freeze(getattr(self, f'layer{i}') for i in range(1, self.frozen_stages + 1))

    def init_weights(self) -> None:
        super().init_weights()
        if isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained':
            return
        if self.zero_init_residual:
            zero_init_last_norms(self)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if self.deep_stem:
            x = self.stem(x)
        else:
            x = self.relu(self.norm1(self.conv1(x)))
        x = self.maxpool(x)
        outs = []
        for i, name in enumerate(self.res_layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)


@MODELS.register_module()
class ResNetV1d(ResNet):
    """ResNet-D (Bag of Tricks, He et al. 2019): ``deep_stem`` and ``avg_down`` on.

    Takes every other argument of :class:`ResNet`.
    """

    def __init__(self, **kwargs):
        super().__init__(deep_stem=True, avg_down=True, **kwargs)
