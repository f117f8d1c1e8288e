"""MobileNetV2 (Sandler et al. 2018), with MMPose's module names.

``conv1`` (stem ConvModule), ``layer1..7`` (inverted residual stages, each
block's ConvModules under ``layerX.i.conv.0..2``), ``conv2`` (1x1 to 1280).
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

from posekit.registry import MODELS

from ..utils import ConvModule
from .base_backbone import BaseBackbone, freeze
from .resnet import _maybe_checkpoint

# Shared defaults, never mutated (ConvModule copies); None means no norm / act.
_BN = dict(type='BN')
_RELU6 = dict(type='ReLU6')


def make_divisible(value: float, divisor: int, min_value: int | None = None,
                   min_ratio: float = 0.9) -> int:
    """Round ``value`` to the nearest multiple of ``divisor`` (at least
    ``min_value``), going one step up if that loses more than 1 - min_ratio."""
    min_value = divisor if min_value is None else min_value
    new_value = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new_value < min_ratio * value:
        new_value += divisor
    return new_value


class InvertedResidual(nn.Module):
    """[1x1 expand], 3x3 depthwise, 1x1 linear projection; a residual when
    stride is 1 and the width is unchanged. Layers are ``conv.0..2``."""

    def __init__(self, in_channels: int, out_channels: int, stride: int,
                 expand_ratio: float, conv_cfg: dict | None = None,
                 norm_cfg: dict | None = _BN, act_cfg: dict | None = _RELU6,
                 with_cp: bool = False):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f'stride must be 1 or 2, got {stride}')
        self.with_cp = with_cp
        self.use_res_connect = stride == 1 and in_channels == out_channels
        hidden = int(round(in_channels * expand_ratio))
        common = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg)
        layers = []
        if expand_ratio != 1:
            layers.append(ConvModule(in_channels, hidden, 1, act_cfg=act_cfg, **common))
        layers.append(ConvModule(hidden, hidden, 3, stride=stride, padding=1,
                                 groups=hidden, act_cfg=act_cfg, **common))
        layers.append(ConvModule(hidden, out_channels, 1, act_cfg=None, **common))
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        def inner(x):
            return x + self.conv(x) if self.use_res_connect else self.conv(x)

        return _maybe_checkpoint(inner, x, self.with_cp)


@MODELS.register_module()
class MobileNetV2(BaseBackbone):
    """MobileNetV2 backbone.

    Args:
        widen_factor (float): Width multiplier. Default 1.0.
        out_indices (Sequence[int]): Which of layer1..7 (0..6) and conv2 (7)
            to return. Default (7,).
        frozen_stages (int): -1 freezes nothing; 0 freezes the stem's
            parameters; k also freezes layer1..k (and puts them in eval mode).
        conv_cfg, norm_cfg, act_cfg (dict): Default None, BN, ReLU6.
        norm_eval (bool): Keep BN layers in eval mode while training.
        with_cp (bool): Gradient checkpointing in each block.
        init_cfg (dict | list[dict]): Default Kaiming for Conv2d, 1 for norms.

    Input (N, 3, H, W); conv2's output is (N, 1280, H / 32, W / 32).
    """

    # expand ratio, channels, blocks, stride of the first block
    arch_settings = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2],
                     [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]]

    def __init__(self, widen_factor: float = 1.0, out_indices: Sequence[int] = (7, ),
                 frozen_stages: int = -1, conv_cfg: dict | None = None,
                 norm_cfg: dict | None = _BN, act_cfg: dict | None = _RELU6,
                 norm_eval: bool = False, with_cp: bool = False,
                 init_cfg: dict | list[dict] | None = (
                     dict(type='Kaiming', layer=['Conv2d']),
                     dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm']))):
        super().__init__(list(init_cfg) if isinstance(init_cfg, tuple) else init_cfg)
        for index in out_indices:
            if index not in range(8):
                raise ValueError(f'out_indices entries must be in 0..7, got {index}')
        if frozen_stages not in range(-1, 8):
            raise ValueError(f'frozen_stages must be in -1..7, got {frozen_stages}')
        self.widen_factor = widen_factor
        self.out_indices, self.frozen_stages = tuple(out_indices), frozen_stages
        self.norm_eval, self.with_cp = norm_eval, with_cp
        common = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        in_ch = make_divisible(32 * widen_factor, 8)
        self.conv1 = ConvModule(3, in_ch, 3, stride=2, padding=1, **common)
        self.layers = []
        for i, (ratio, channels, num_blocks, stride) in enumerate(self.arch_settings):
            out_ch = make_divisible(channels * widen_factor, 8)
            blocks = []
            for k in range(num_blocks):
                blocks.append(InvertedResidual(in_ch, out_ch, stride if k == 0 else 1,
                                               ratio, with_cp=with_cp, **common))
                in_ch = out_ch
            self.add_module(f'layer{i + 1}', nn.Sequential(*blocks))
            self.layers.append(f'layer{i + 1}')
        self.out_channel = int(1280 * widen_factor) if widen_factor > 1.0 else 1280
        self.conv2 = ConvModule(in_ch, self.out_channel, 1, **common)
        self.layers.append('conv2')
        self._freeze_stages()

    def _freeze_stages(self) -> None:
        if self.frozen_stages >= 0:
            # MMPose freezes the stem's parameters but leaves its mode alone.
            freeze([self.conv1], eval_mode=False)
        freeze(getattr(self, f'layer{i}') for i in range(1, self.frozen_stages + 1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.conv1(x)
        outs = []
        for i, name in enumerate(self.layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
