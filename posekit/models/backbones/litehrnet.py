"""Lite-HRNet (Yu et al. 2021): HRNet's parallel branches built from cheap
shuffle-style blocks. MMPose's module names (its checkpoints load unchanged):

``stem`` (stride-2 conv, then a ShuffleNet-like stride-2 block: 1/4 input),
``transition{s}`` (depthwise 3x3 + pointwise 1x1 per new or resized branch),
``stage{s}`` (sequences of LiteHRModules: ``layers`` then ``fuse_layers.i.j``),
``head_layer`` (optional IterativeHead, ``projects.b``). Stages count from 0.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp

from posekit.registry import MODELS

from ..utils import (BaseModule, ConvModule, DepthwiseSeparableConvModule,
                     build_conv_layer, build_norm_layer)
from .base_backbone import BaseBackbone
from .resnet import _maybe_checkpoint
from .shufflenet_v2 import InvertedResidual, channel_shuffle  # = MMPose's ShuffleUnit

_RELU_SIGMOID = (dict(type='ReLU'), dict(type='Sigmoid'))


def _dw_pw(conv_cfg, norm_cfg, cin: int, cout: int, stride: int, relu: bool) -> nn.Sequential:
    """Depthwise 3x3 (no bias), norm, 1x1 conv (no bias), norm, [ReLU]: the
    unit of Lite-HRNet's transitions and downsampling fusions."""
    layers = [build_conv_layer(conv_cfg, cin, cin, kernel_size=3, stride=stride,
                               padding=1, groups=cin, bias=False),
              build_norm_layer(norm_cfg, cin)[1],
              build_conv_layer(conv_cfg, cin, cout, kernel_size=1, bias=False),
              build_norm_layer(norm_cfg, cout)[1]]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class _ChannelGate(BaseModule):
    """Two 1x1 ConvModules, channels -> int(channels / ratio) -> channels; the
    second activation (Sigmoid by default) makes the output a weight."""

    def __init__(self, channels: int, ratio: int, conv_cfg: dict | None,
                 norm_cfg: dict | None, act_cfg: dict | Sequence[dict], init_cfg):
        super().__init__(init_cfg)
        acts = (act_cfg, act_cfg) if isinstance(act_cfg, Mapping) else tuple(act_cfg)
        if len(acts) != 2 or not all(isinstance(a, Mapping) for a in acts):
            raise ValueError(f'act_cfg must be a dict or a pair of dicts, got {act_cfg!r}')
        hidden = int(channels / ratio)
        self.conv1 = ConvModule(channels, hidden, 1, conv_cfg=conv_cfg,
                                norm_cfg=norm_cfg, act_cfg=acts[0])
        self.conv2 = ConvModule(hidden, channels, 1, conv_cfg=conv_cfg,
                                norm_cfg=norm_cfg, act_cfg=acts[1])


class SpatialWeighting(_ChannelGate):
    """x * gate(global average of x): one weight per channel of (N, C, H, W).

    Args:
        channels (int): C; the hidden width is ``int(channels / ratio)``.
        act_cfg: Activations after the two 1x1 convs (a pair, or one for both).
    """

    def __init__(self, channels: int, ratio: int = 16, conv_cfg: dict | None = None,
                 norm_cfg: dict | None = None,
                 act_cfg: dict | Sequence[dict] = _RELU_SIGMOID, init_cfg=None):
        super().__init__(channels, ratio, conv_cfg, norm_cfg, act_cfg, init_cfg)
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.conv2(self.conv1(self.global_avgpool(x)))


class CrossResolutionWeighting(_ChannelGate):
    """Channel weights computed from all branches together, pooled to the
    smallest branch's size, then upsampled (nearest) back onto each branch.

    Args:
        channels (Sequence[int]): Channels of each branch, highest resolution first.
    """

    def __init__(self, channels: Sequence[int], ratio: int = 16,
                 conv_cfg: dict | None = None, norm_cfg: dict | None = None,
                 act_cfg: dict | Sequence[dict] = _RELU_SIGMOID, init_cfg=None):
        super().__init__(sum(channels), ratio, conv_cfg, norm_cfg, act_cfg, init_cfg)
        self.channels = list(channels)

    def forward(self, x: list[torch.Tensor]) -> list[torch.Tensor]:
        size = x[-1].shape[-2:]
        pooled = [F.adaptive_avg_pool2d(s, size) for s in x[:-1]] + [x[-1]]
        weights = self.conv2(self.conv1(torch.cat(pooled, dim=1)))
        return [s * F.interpolate(w, size=s.shape[-2:], mode='nearest')
                for s, w in zip(x, torch.split(weights, self.channels, dim=1))]


class ConditionalChannelWeighting(BaseModule):
    """Lite-HRNet's block: half of each branch's channels pass through, the
    other half is weighted across resolutions, depthwise-convolved and
    weighted spatially; the halves are then concatenated and shuffled.

    Args:
        in_channels (Sequence[int]): Channels of each branch (even numbers).
        stride (int): Of the depthwise 3x3 convs, 1 or 2.
        reduce_ratio (int): Hidden-width ratio of the cross-resolution weighting.
    """

    def __init__(self, in_channels: Sequence[int], stride: int, reduce_ratio: int,
                 conv_cfg: dict | None = None, norm_cfg: dict | None = None,
                 with_cp: bool = False, init_cfg=None):
        super().__init__(init_cfg)
        if stride not in (1, 2):
            raise ValueError(f'ConditionalChannelWeighting: stride must be 1 or 2, got {stride}')
        norm_cfg = norm_cfg or dict(type='BN')
        self.stride, self.with_cp = stride, with_cp
        half = [c // 2 for c in in_channels]
        self.cross_resolution_weighting = CrossResolutionWeighting(
            half, ratio=reduce_ratio, conv_cfg=conv_cfg, norm_cfg=norm_cfg)
        self.depthwise_convs = nn.ModuleList(
            ConvModule(c, c, 3, stride=stride, padding=1, groups=c, conv_cfg=conv_cfg,
                       norm_cfg=norm_cfg, act_cfg=None) for c in half)
        # No conv_cfg/norm_cfg here: MMPose builds these with plain biased convs.
        self.spatial_weighting = nn.ModuleList(SpatialWeighting(c, ratio=4) for c in half)

    def _inner(self, *x: torch.Tensor) -> list[torch.Tensor]:
        halves = [s.chunk(2, dim=1) for s in x]
        x2 = self.cross_resolution_weighting([h[1] for h in halves])
        x2 = [sw(dw(s)) for s, dw, sw in zip(x2, self.depthwise_convs, self.spatial_weighting)]
        return [channel_shuffle(torch.cat([h[0], s], dim=1), 2) for h, s in zip(halves, x2)]

    def forward(self, x: list[torch.Tensor]) -> list[torch.Tensor]:
        if self.with_cp and any(s.requires_grad for s in x):
            return list(cp.checkpoint(self._inner, *x, use_reentrant=False))
        return self._inner(*x)


class Stem(BaseModule):
    """Stride-2 3x3 conv to ``stem_channels``, then a stride-2 shuffle block
    to ``out_channels``: (N, in_channels, H, W) -> (N, out_channels, H/4, W/4).

    Args:
        expand_ratio (float): Hidden width of the block's inverted-residual
            half, relative to ``stem_channels``.
    """

    def __init__(self, in_channels: int, stem_channels: int, out_channels: int,
                 expand_ratio: float, conv_cfg: dict | None = None,
                 norm_cfg: dict | None = None, with_cp: bool = False, init_cfg=None):
        super().__init__(init_cfg)
        norm_cfg = norm_cfg or dict(type='BN')
        self.in_channels, self.out_channels, self.with_cp = in_channels, out_channels, with_cp
        kw = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg)
        self.conv1 = ConvModule(in_channels, stem_channels, 3, stride=2, padding=1, **kw)
        mid = int(round(stem_channels * expand_ratio))
        half = stem_channels // 2
        # Same width in and out: each half keeps its share; otherwise the
        # second half grows to stem_channels and the first takes the rest.
        second = half if stem_channels == out_channels else stem_channels
        first = out_channels - second
        self.branch1 = nn.Sequential(
            ConvModule(half, half, 3, stride=2, padding=1, groups=half, act_cfg=None, **kw),
            ConvModule(half, first, 1, **kw))
        self.expand_conv = ConvModule(half, mid, 1, **kw)
        self.depthwise_conv = ConvModule(mid, mid, 3, stride=2, padding=1, groups=mid,
                                         act_cfg=None, **kw)
        self.linear_conv = ConvModule(mid, second, 1, **kw)

    def _inner(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = self.conv1(x).chunk(2, dim=1)
        x2 = self.linear_conv(self.depthwise_conv(self.expand_conv(x2)))
        return channel_shuffle(torch.cat((self.branch1(x1), x2), dim=1), 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _maybe_checkpoint(self._inner, x, self.with_cp)


class IterativeHead(BaseModule):
    """From the lowest resolution up: add the previous (bilinearly upsampled)
    result to the branch, then a depthwise-separable conv to the next
    branch's width. Returns the branches highest resolution first.

    Args:
        in_channels (Sequence[int]): Channels of each branch, highest resolution first.
    """

    def __init__(self, in_channels: Sequence[int], norm_cfg: dict | None = None,
                 init_cfg=None):
        super().__init__(init_cfg)
        norm_cfg = norm_cfg or dict(type='BN')
        chans = list(in_channels)[::-1]
        self.in_channels = chans
        outs = chans[1:] + chans[-1:]
        self.projects = nn.ModuleList(
            DepthwiseSeparableConvModule(cin, cout, 3, padding=1, norm_cfg=norm_cfg,
                                         act_cfg=dict(type='ReLU'), dw_act_cfg=None)
            for cin, cout in zip(chans, outs))

    def forward(self, x: list[torch.Tensor]) -> list[torch.Tensor]:
        ys, last = [], None
        for s, project in zip(x[::-1], self.projects):
            if last is not None:
                s = s + F.interpolate(last, size=s.shape[-2:], mode='bilinear',
                                      align_corners=True)
            last = project(s)
            ys.append(last)
        return ys[::-1]


class LiteHRModule(BaseModule):
    """Branches of blocks ('LITE': ConditionalChannelWeighting across all
    branches; 'NAIVE': ShuffleNetV2 units per branch), then fusion as in HRNet.

    Args:
        num_branches (int): Must equal ``len(in_channels)``.
        num_blocks (int): Blocks per branch (at least 1).
        in_channels (list[int]): Channels of each branch; kept by the module.
        reduce_ratio (int): Of the cross-resolution weighting ('LITE' only).
        module_type (str): 'LITE' or 'NAIVE' (any case).
        multiscale_output (bool): Return every branch, not only the first.
        with_fuse (bool): Exchange information between branches at the end.
    """

    def __init__(self, num_branches: int, num_blocks: int, in_channels: list[int],
                 reduce_ratio: int, module_type: str, multiscale_output: bool = False,
                 with_fuse: bool = True, conv_cfg: dict | None = None,
                 norm_cfg: dict | None = None, with_cp: bool = False, init_cfg=None):
        super().__init__(init_cfg)
        if num_branches != len(in_channels):
            raise ValueError(f'LiteHRModule: num_branches is {num_branches} but '
                             f'in_channels has {len(in_channels)} entries: {list(in_channels)}')
        if num_blocks < 1:
            raise ValueError(f'LiteHRModule: num_blocks must be at least 1, got {num_blocks}')
        norm_cfg = norm_cfg or dict(type='BN')
        self.in_channels, self.num_branches = list(in_channels), num_branches
        self.module_type = str(module_type).upper()
        self.multiscale_output, self.with_fuse = multiscale_output, with_fuse
        if self.module_type == 'LITE':
            self.layers = nn.Sequential(*(
                ConditionalChannelWeighting(in_channels, 1, reduce_ratio, conv_cfg,
                                            norm_cfg, with_cp) for _ in range(num_blocks)))
        elif self.module_type == 'NAIVE':
            self.layers = nn.ModuleList(
                nn.Sequential(*(InvertedResidual(c, c, 1, conv_cfg, norm_cfg,
                                                 dict(type='ReLU'), with_cp)
                                for _ in range(num_blocks)))
                for c in in_channels)
        else:
            raise ValueError(f"LiteHRModule: module_type must be 'LITE' or 'NAIVE', "
                             f'got {module_type!r}')
        self.fuse_layers = None
        if with_fuse and num_branches > 1:
            self.fuse_layers = nn.ModuleList(
                nn.ModuleList(self._fuse_path(j, i, conv_cfg, norm_cfg)
                              for j in range(num_branches))
                for i in range(num_branches if multiscale_output else 1))
        self.relu = nn.ReLU()

    def _fuse_path(self, j: int, i: int, conv_cfg, norm_cfg) -> nn.Module | None:
        """The layers taking branch j to branch i's resolution and width."""
        c = self.in_channels
        if j == i:
            return None
        if j > i:
            return nn.Sequential(
                build_conv_layer(conv_cfg, c[j], c[i], kernel_size=1, bias=False),
                build_norm_layer(norm_cfg, c[i])[1],
                nn.Upsample(scale_factor=2 ** (j - i), mode='nearest'))
        last = i - j - 1
        return nn.Sequential(*(_dw_pw(conv_cfg, norm_cfg, c[j], c[i] if k == last else c[j],
                                      2, relu=k != last) for k in range(i - j)))

    def _fuse(self, x: list[torch.Tensor]) -> list[torch.Tensor]:
        # Reproduces MMPose exactly, as its checkpoints were trained with it:
        # each sum counts branch 0's term twice (it starts from that term and
        # the loop adds it again), and output 0 is summed in place into
        # branch 0, so outputs 1.. read the fused (pre-ReLU) branch 0.
        outs, x0 = [], x[0]
        for i, paths in enumerate(self.fuse_layers):
            first = x0 if i == 0 else paths[0](x0)
            y = first + first
            for j in range(1, self.num_branches):
                y = y + (x[j] if j == i else paths[j](x[j]))
            if i == 0:
                x0 = y
            outs.append(self.relu(y))
        return outs

    def forward(self, x: list[torch.Tensor]) -> list[torch.Tensor]:
        if self.module_type == 'LITE':
            out = self.layers(list(x))
        else:
            out = [branch(s) for branch, s in zip(self.layers, x)]
        if self.fuse_layers is not None:
            out = self._fuse(out)
        return out if self.multiscale_output else out[:1]


_SPEC_KEYS = ('num_modules', 'num_branches', 'num_blocks', 'module_type', 'with_fuse',
              'reduce_ratios', 'num_channels')


def _check_extra(extra: Mapping) -> None:
    """Raise on a missing, unknown or mis-sized key of LiteHRNet's ``extra``."""
    for where, cfg, keys in (
            ('extra', extra, ('stem', 'num_stages', 'stages_spec', 'with_head')),
            ('extra.stem', extra.get('stem', {}), ('stem_channels', 'out_channels', 'expand_ratio')),
            ('extra.stages_spec', extra.get('stages_spec', {}), _SPEC_KEYS)):
        missing, unknown = set(keys) - set(cfg), set(cfg) - set(keys)
        if missing or unknown:
            raise KeyError(f'LiteHRNet: {where} needs exactly the keys {list(keys)}; '
                           f'missing {sorted(missing)}, unknown {sorted(unknown)}')
    spec, n = extra['stages_spec'], extra['num_stages']
    for key in _SPEC_KEYS:
        if len(spec[key]) != n:
            raise ValueError(f'LiteHRNet: num_stages is {n} but stages_spec.{key} has '
                             f'{len(spec[key])} entries: {spec[key]!r}')


@MODELS.register_module()
class LiteHRNet(BaseBackbone):
    """Lite-HRNet backbone, as MMPose builds it.

    Args:
        extra (dict): ``stem`` (dict of ``stem_channels``, ``out_channels``,
            ``expand_ratio``), ``num_stages`` (int), ``with_head`` (bool: an
            IterativeHead merges the branches into the 1/4 one) and
            ``stages_spec``: a dict of per-stage sequences ``num_modules``,
            ``num_branches``, ``num_blocks``, ``module_type`` ('LITE' or
            'NAIVE'), ``with_fuse``, ``reduce_ratios`` and ``num_channels``
            (one width per branch).
        in_channels (int): Input image channels. Default 3.
        conv_cfg, norm_cfg (dict): Layer configs. Default Conv2d, BN.
        norm_eval (bool): Keep BN layers in eval mode while training.
        with_cp (bool): Gradient checkpointing in the stem and each block.
        init_cfg (dict | list[dict]): Default Normal(std=0.001) for Conv2d,
            1 for norms (the stem's ConvModules then re-init themselves, as in MMPose).

    Input (N, in_channels, H, W); output a 1-tuple: the highest-resolution
    branch, (N, num_channels[-1][0], H / 4, W / 4).
    """

    def __init__(self, extra: Mapping, in_channels: int = 3,
                 conv_cfg: dict | None = None, norm_cfg: dict | None = None,
                 norm_eval: bool = False, with_cp: bool = False,
                 init_cfg: dict | list[dict] | None = (
                     dict(type='Normal', std=0.001, layer=['Conv2d']),
                     dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm']))):
        super().__init__(list(init_cfg) if isinstance(init_cfg, tuple) else init_cfg)
        _check_extra(extra)
        self.extra, self.conv_cfg = extra, conv_cfg
        self.norm_cfg = dict(norm_cfg) if norm_cfg else dict(type='BN')
        self.norm_eval, self.with_cp = norm_eval, with_cp
        stem = extra['stem']
        self.stem = Stem(in_channels, stem['stem_channels'], stem['out_channels'],
                         stem['expand_ratio'], conv_cfg, self.norm_cfg)
        self.num_stages, self.stages_spec = extra['num_stages'], extra['stages_spec']
        spec = self.stages_spec
        channels = [stem['out_channels']]
        for s in range(self.num_stages):
            wanted = list(spec['num_channels'][s])
            self.add_module(f'transition{s}', self._make_transition(channels, wanted))
            self.add_module(f'stage{s}', nn.Sequential(*(LiteHRModule(
                spec['num_branches'][s], spec['num_blocks'][s], wanted, spec['reduce_ratios'][s],
                spec['module_type'][s], multiscale_output=True, with_fuse=spec['with_fuse'][s],
                conv_cfg=conv_cfg, norm_cfg=self.norm_cfg, with_cp=with_cp)
                for _ in range(spec['num_modules'][s]))))
            channels = wanted
        self.with_head = extra['with_head']
        if self.with_head:
            self.head_layer = IterativeHead(channels, norm_cfg=self.norm_cfg)

    def _make_transition(self, pre: list[int], cur: list[int]) -> nn.ModuleList:
        """Existing branches change width if needed; new ones come from the
        last old branch through stride-2 depthwise-separable steps."""
        layers: list[nn.Module | None] = []
        for i, c in enumerate(cur):
            if i < len(pre):
                layers.append(None if c == pre[i] else
                              _dw_pw(self.conv_cfg, self.norm_cfg, pre[i], c, 1, True))
                continue
            last = i - len(pre)
            layers.append(nn.Sequential(*(
                _dw_pw(self.conv_cfg, self.norm_cfg, pre[-1], c if k == last else pre[-1],
                       2, True) for k in range(last + 1))))
        return nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor]:
        ys = [self.stem(x)]
        for s in range(self.num_stages):
            # Unlike HRNet, a resized existing branch reads its own input;
            # new branches read the lowest-resolution one.
            xs = [ys[j] if t is None else t(ys[min(j, len(ys) - 1)])
                  for j, t in enumerate(getattr(self, f'transition{s}'))]
            ys = getattr(self, f'stage{s}')(xs)
        if self.with_head:
            ys = self.head_layer(ys)
        return (ys[0],)
