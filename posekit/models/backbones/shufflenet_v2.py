"""ShuffleNetV2 (Ma et al. 2018), with MMPose's module names.

``conv1`` (3x3 stem ConvModule, stride 2), a 3x3 max-pool, then ``layers.0..2``
(stages of :class:`InvertedResidual` blocks, 4, 8 and 4 of them) and
``layers.3`` (a 1x1 ConvModule to the last width). Each block keeps MMPose's
``branch1`` (stride-2 blocks only) and ``branch2`` ConvModule sequences.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

from posekit.registry import MODELS

from ..utils import ConvModule
from .base_backbone import BaseBackbone, freeze
from .resnet import _maybe_checkpoint

_BN = dict(type='BN')
_RELU = dict(type='ReLU')
# MMPose's default init_cfg for both ShuffleNets; init_weights then redraws
# the non-stem convs (see ShuffleNetV2.init_weights).
SHUFFLENET_INIT_CFG = (dict(type='Normal', std=0.01, layer=['Conv2d']),
                       dict(type='Constant', val=1, bias=0.0001,
                            layer=['_BatchNorm', 'GroupNorm']))


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave the channels of ``groups`` groups (ShuffleNet's shuffle).

    Args:
        x (torch.Tensor): (N, C, H, W), C divisible by ``groups``.
        groups (int): Number of channel groups.

    Returns:
        torch.Tensor: (N, C, H, W); output channel ``i * groups + g`` is
        input channel ``g * (C // groups) + i``.
    """
    n, c, h, w = x.shape
    if c % groups:
        raise ValueError(f'channel_shuffle: {c} channels do not split into {groups} groups')
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


def redraw_convs(module: nn.Module) -> None:
    """MMPose's ShuffleNets redraw every conv weight but the stem's
    (``conv1``) from N(0, 1 / fan-in channels per group) after init_cfg."""
    for name, m in module.named_modules():
        if isinstance(m, nn.Conv2d) and 'conv1' not in name:
            nn.init.normal_(m.weight, mean=0, std=1.0 / m.weight.shape[1])


def is_pretrained(init_cfg) -> bool:
    return isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained'


class InvertedResidual(nn.Module):
    """ShuffleNetV2 unit.

    Stride 1: split the channels in two, transform the second half
    (``branch2``: 1x1, 3x3 depthwise, 1x1), concatenate, shuffle.
    Stride > 1: ``branch1`` (3x3 depthwise, 1x1) and ``branch2`` both see the
    whole input; their outputs are concatenated and shuffled.

    Args:
        in_channels (int), out_channels (int): Channels in and out (out even).
        stride (int): Stride of the depthwise convs. Default 1.
        conv_cfg, norm_cfg, act_cfg (dict): Default None, BN, ReLU.
        with_cp (bool): Gradient checkpointing. Default False.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 conv_cfg: dict | None = None, norm_cfg: dict | None = _BN,
                 act_cfg: dict | None = _RELU, with_cp: bool = False):
        super().__init__()
        self.stride, self.with_cp = stride, with_cp
        half = out_channels // 2
        if stride == 1 and in_channels != 2 * half:
            raise ValueError(f'with stride 1, in_channels ({in_channels}) must equal '
                             f'out_channels rounded down to even ({2 * half})')
        common = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg)
        if stride > 1:
            self.branch1 = nn.Sequential(
                ConvModule(in_channels, in_channels, 3, stride=stride, padding=1,
                           groups=in_channels, act_cfg=None, **common),
                ConvModule(in_channels, half, 1, act_cfg=act_cfg, **common))
        self.branch2 = nn.Sequential(
            ConvModule(in_channels if stride > 1 else half, half, 1, act_cfg=act_cfg, **common),
            ConvModule(half, half, 3, stride=stride, padding=1, groups=half,
                       act_cfg=None, **common),
            ConvModule(half, half, 1, act_cfg=act_cfg, **common))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        def inner(x):
            if self.stride > 1:
                out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
            else:
                left, right = x.chunk(2, dim=1)
                out = torch.cat((left, self.branch2(right)), dim=1)
            return channel_shuffle(out, 2)

        return _maybe_checkpoint(inner, x, self.with_cp)


class ShuffleNetBase(BaseBackbone):
    """What ShuffleNetV1 and V2 share: a ``conv1`` + ``maxpool`` stem, then
    ``layers`` run in turn, the ``out_indices`` ones returned; MMPose's
    redraw of the convs after the default init; stem and first
    ``frozen_stages`` layers frozen."""

    def init_weights(self) -> None:
        was_init = self.is_init
        super().init_weights()
        if not was_init and not is_pretrained(self.init_cfg):
            redraw_convs(self)

    def _freeze_stages(self) -> None:
        if self.frozen_stages >= 0:
            freeze([self.conv1], eval_mode=False)
        freeze(self.layers[i] for i in range(self.frozen_stages))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.maxpool(self.conv1(x))
        outs = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)


@MODELS.register_module()
class ShuffleNetV2(ShuffleNetBase):
    """ShuffleNetV2 backbone.

    Args:
        widen_factor (float): 0.5, 1.0, 1.5 or 2.0 (the paper's widths).
        out_indices (Sequence[int]): Which of ``layers.0..3`` to return;
            0..2 are the stages (strides 8, 16, 32), 3 the final 1x1 conv.
            Default (3,).
        frozen_stages (int): -1 freezes nothing; 0 freezes the stem's
            parameters (its BN keeps its mode, as in MMPose); k also freezes
            ``layers.0..k-1`` and puts them in eval mode. At most 3.
        conv_cfg, norm_cfg, act_cfg (dict): Default None, BN, ReLU.
        norm_eval (bool): Keep BN layers in eval mode while training.
        with_cp (bool): Gradient checkpointing in each block.
        init_cfg (dict | list[dict]): Default Normal(0.01) convs, Constant(1,
            bias 1e-4) norms; unless it is a single Pretrained dict, the
            non-stem convs are then redrawn as MMPose does.

    Input (N, 3, H, W); ``layers.3``'s output is (N, C, H / 32, W / 32) with
    C 1024 (2048 for widen_factor 2.0).
    """

    widths = {0.5: (48, 96, 192, 1024), 1.0: (116, 232, 464, 1024),
              1.5: (176, 352, 704, 1024), 2.0: (244, 488, 976, 2048)}
    stage_blocks = (4, 8, 4)

    def __init__(self, widen_factor: float = 1.0, out_indices: Sequence[int] = (3, ),
                 frozen_stages: int = -1, conv_cfg: dict | None = None,
                 norm_cfg: dict | None = _BN, act_cfg: dict | None = _RELU,
                 norm_eval: bool = False, with_cp: bool = False,
                 init_cfg: dict | list[dict] | None = SHUFFLENET_INIT_CFG):
        super().__init__(list(init_cfg) if isinstance(init_cfg, tuple) else init_cfg)
        for index in out_indices:
            if index not in range(4):
                raise ValueError(f'out_indices entries must be in 0..3, got {index}')
        if frozen_stages not in range(-1, 4):
            raise ValueError(f'frozen_stages must be in -1..3, got {frozen_stages}')
        if widen_factor not in self.widths:
            raise ValueError(f'widen_factor must be one of 0.5, 1.0, 1.5, 2.0, got {widen_factor}')
        self.out_indices, self.frozen_stages = tuple(out_indices), frozen_stages
        self.norm_eval, self.with_cp = norm_eval, with_cp
        channels = self.widths[widen_factor]
        common = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        in_ch = 24
        self.conv1 = ConvModule(3, in_ch, 3, stride=2, padding=1, **common)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layers = nn.ModuleList()
        for out_ch, num_blocks in zip(channels, self.stage_blocks):
            self.layers.append(nn.Sequential(*(
                InvertedResidual(in_ch if k == 0 else out_ch, out_ch, 2 if k == 0 else 1,
                                 with_cp=with_cp, **common)
                for k in range(num_blocks))))
            in_ch = out_ch
        self.layers.append(ConvModule(in_ch, channels[-1], 1, **common))
        self._freeze_stages()
