"""ViPNAS's searched MobileNetV3 (Xu et al. 2021), with MMPose's module names.

``conv1`` (stem ConvModule), then ``layer1..layerN``: one
:class:`InvertedResidual` per searched block, numbered across all stages
(``expand_conv``, ``depthwise_conv``, ``se.conv1`` / ``se.conv2``,
``linear_conv``, each a ConvModule).
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

from posekit.registry import MODELS

from ..utils import ConvModule, SELayer
from .base_backbone import BaseBackbone, freeze
from .resnet import _maybe_checkpoint

_BN = dict(type='BN')
_RELU = dict(type='ReLU')


class InvertedResidual(nn.Module):
    """MobileNetV3 block: [1x1 expand], kxk (grouped) conv, [SE], 1x1 linear
    projection; a residual when stride is 1 and the width is unchanged.

    Args:
        in_channels (int), out_channels (int): Channels in and out.
        mid_channels (int): Width of the kxk conv.
        kernel_size (int): Of the kxk conv ("same" padding). Default 3.
        groups (int, optional): Of the kxk conv; None means depthwise.
        stride (int): 1 or 2, of the kxk conv. Default 1.
        se_cfg (dict, optional): :class:`SELayer` arguments; None: no SE.
        with_expand_conv (bool): False needs mid_channels == in_channels.
        conv_cfg, norm_cfg, act_cfg (dict): Default None, BN, ReLU.
        with_cp (bool): Gradient checkpointing. Default False.
    """

    def __init__(self, in_channels: int, out_channels: int, mid_channels: int,
                 kernel_size: int = 3, groups: int | None = None, stride: int = 1,
                 se_cfg: dict | None = None, with_expand_conv: bool = True,
                 conv_cfg: dict | None = None, norm_cfg: dict | None = _BN,
                 act_cfg: dict | None = _RELU, with_cp: bool = False):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f'stride must be 1 or 2, got {stride}')
        if not with_expand_conv and mid_channels != in_channels:
            raise ValueError(f'without expand conv, mid_channels ({mid_channels}) must '
                             f'equal in_channels ({in_channels})')
        if se_cfg is not None and not isinstance(se_cfg, dict):
            raise TypeError(f'se_cfg must be a dict or None, got {se_cfg!r}')
        self.with_cp = with_cp
        self.with_res_shortcut = stride == 1 and in_channels == out_channels
        self.with_expand_conv, self.with_se = with_expand_conv, se_cfg is not None
        common = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg)
        if with_expand_conv:
            self.expand_conv = ConvModule(in_channels, mid_channels, 1, act_cfg=act_cfg, **common)
        self.depthwise_conv = ConvModule(
            mid_channels, mid_channels, kernel_size, stride=stride, padding=kernel_size // 2,
            groups=mid_channels if groups is None else groups, act_cfg=act_cfg, **common)
        if self.with_se:
            self.se = SELayer(**se_cfg)
        self.linear_conv = ConvModule(mid_channels, out_channels, 1, act_cfg=None, **common)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        def inner(x):
            out = self.expand_conv(x) if self.with_expand_conv else x
            out = self.depthwise_conv(out)
            if self.with_se:
                out = self.se(out)
            out = self.linear_conv(out)
            return x + out if self.with_res_shortcut else out

        return _maybe_checkpoint(inner, x, self.with_cp)


@MODELS.register_module()
class ViPNAS_MobileNetV3(BaseBackbone):  # noqa: N801 (MMPose's type name)
    """ViPNAS's searched MobileNetV3 backbone.

    Per-stage lists (index 0 is the stem, 1.. the block stages; index 0 of
    ``expan``, ``dep``, ``group``, ``att`` is unused):

    Args:
        wid (Sequence[int]): Output width of each stage.
        expan (Sequence[int]): Expansion ratio (mid width = wid * expan; 1
            means no expand conv).
        dep (Sequence[int]): Blocks per stage.
        ks (Sequence[int]): Kernel size of the stem / each stage's kxk conv.
        group (Sequence[int]): Groups of each stage's kxk conv.
        att (Sequence[bool]): Squeeze-and-excitation (ratio 4, ReLU then
            hard sigmoid clamp((x + 1) / 2, 0, 1)) in the stage's blocks.
        stride (Sequence[int]): Stride of the stem / each stage's first block.
        act (Sequence[str]): Activation type of each stage ('ReLU', 'HSwish').
        conv_cfg, norm_cfg (dict): Default None (Conv2d), BN.
        frozen_stages (int): -1 freezes nothing; 0 freezes the stem's
            parameters (its BN keeps its mode, as in MMPose); k also freezes
            blocks ``layer1..layerk`` (eval mode) -- blocks, not stages.
        norm_eval (bool): Keep BN layers in eval mode while training.
        with_cp (bool): Gradient checkpointing in each block.
        init_cfg (dict | list[dict]): Default Normal(0.001) convs, Constant(1) norms.

    Input (N, 3, H, W); returns a one-element tuple, (N, wid[-1], H / 32,
    W / 32) with the default strides.
    """

    def __init__(self, wid: Sequence[int] = (16, 16, 24, 40, 80, 112, 160),
                 expan: Sequence[int | None] = (None, 1, 5, 4, 5, 5, 6),
                 dep: Sequence[int | None] = (None, 1, 4, 4, 4, 4, 4),
                 ks: Sequence[int] = (3, 3, 7, 7, 5, 7, 5),
                 group: Sequence[int | None] = (None, 8, 120, 20, 100, 280, 240),
                 att: Sequence[bool | None] = (None, True, True, False, True, True, True),
                 stride: Sequence[int] = (2, 1, 2, 2, 2, 1, 2),
                 act: Sequence[str] = ('HSwish', 'ReLU', 'ReLU', 'ReLU', 'HSwish', 'HSwish',
                                       'HSwish'),
                 conv_cfg: dict | None = None, norm_cfg: dict | None = _BN,
                 frozen_stages: int = -1, norm_eval: bool = False, with_cp: bool = False,
                 init_cfg: dict | list[dict] | None = (
                     dict(type='Normal', std=0.001, layer=['Conv2d']),
                     dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm']))):
        super().__init__(list(init_cfg) if isinstance(init_cfg, tuple) else init_cfg)
        lists = dict(wid=wid, expan=expan, dep=dep, ks=ks, group=group, att=att,
                     stride=stride, act=act)
        lengths = {name: len(v) for name, v in lists.items()}
        if len(set(lengths.values())) != 1:
            raise ValueError(f'wid, expan, dep, ks, group, att, stride, act need one entry '
                             f'per stage each; got lengths {lengths}')
        num_blocks = sum(dep[1:])
        if frozen_stages not in range(-1, num_blocks + 1):
            raise ValueError(f'frozen_stages must be in -1..{num_blocks} (blocks), '
                             f'got {frozen_stages}')
        self.frozen_stages, self.norm_eval, self.with_cp = frozen_stages, norm_eval, with_cp
        self.conv1 = ConvModule(3, wid[0], ks[0], stride=stride[0], padding=ks[0] // 2,
                                conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=dict(type=act[0]))
        self.layers: list[str] = []
        for i in range(1, len(wid)):
            mid = wid[i] * expan[i]
            se_cfg = dict(channels=mid, ratio=4, act_cfg=(
                _RELU, dict(type='HSigmoid', bias=1.0, divisor=2.0))) if att[i] else None
            for k in range(dep[i]):
                block = InvertedResidual(
                    wid[i - 1] if k == 0 else wid[i], wid[i], mid, kernel_size=ks[i],
                    groups=group[i], stride=stride[i] if k == 0 else 1, se_cfg=se_cfg,
                    with_expand_conv=expan[i] != 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                    act_cfg=dict(type=act[i]), with_cp=with_cp)
                name = f'layer{len(self.layers) + 1}'
                self.add_module(name, block)
                self.layers.append(name)
        self._freeze_stages()

    def _freeze_stages(self) -> None:
        if self.frozen_stages >= 0:
            freeze([self.conv1], eval_mode=False)
        freeze(getattr(self, f'layer{i}') for i in range(1, self.frozen_stages + 1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor]:
        x = self.conv1(x)
        for name in self.layers:
            x = getattr(self, name)(x)
        return (x, )
