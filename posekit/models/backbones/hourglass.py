"""Stacked Hourglass (Newell et al. 2016), with MMPose's module names.

Parameter names (so MMPose checkpoints load): ``stem.0`` (7x7 ConvModule) and
``stem.1.0`` (a stride-2 BasicBlock with ``downsample``); per stack
``hourglass_modules.i``, a recursive module with ``up1``, ``low1``, ``low2``
(the next level, or blocks at the bottom) and ``low3``, each a sequence of
BasicBlocks; ``out_convs.i``, and between stacks ``conv1x1s.i``,
``remap_convs.i`` and ``inters.i``.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from posekit.registry import MODELS

from ..utils import ConvModule
from .base_backbone import BaseBackbone
from .resnet import BasicBlock, make_downsample, make_res_layer

_BN = dict(type='BN', requires_grad=True)


def make_res_layer_downsample_last(num_blocks: int, in_channels: int,
                                   out_channels: int, norm_cfg: dict) -> nn.Sequential:
    """BasicBlocks where the *last* block changes the width (the way back up
    an hourglass); the others keep ``in_channels``. At least one block."""
    blocks = [BasicBlock(in_channels, in_channels, norm_cfg=norm_cfg)
              for _ in range(num_blocks - 1)]
    downsample = None
    if in_channels != out_channels:
        downsample = make_downsample(in_channels, out_channels, 1, norm_cfg=norm_cfg)
    blocks.append(BasicBlock(in_channels, out_channels, downsample=downsample,
                             norm_cfg=norm_cfg))
    return nn.Sequential(*blocks)


class HourglassModule(nn.Module):
    """One hourglass level: ``up1(x) + upsample(low3(low2(low1(x))))``.

    ``low1`` halves the resolution and goes to ``stage_channels[1]``;
    ``low2`` is the hourglass of depth ``depth - 1`` on the tails of the
    lists, or ``stage_blocks[1]`` blocks when ``depth`` is 1.

    Args:
        depth (int): Levels below this one (halvings of the resolution).
        stage_channels (Sequence[int]): Widths of this level and the deeper ones.
        stage_blocks (Sequence[int]): BasicBlocks per level.
        norm_cfg (dict): Norm layer config.

    Input (N, stage_channels[0], H, W); output the same shape. H and W are
    best divisible by 2**depth: the upsampled branch is resized to ``up1``'s
    size (MMPose fails on sizes that do not halve evenly).
    """

    def __init__(self, depth: int, stage_channels: Sequence[int],
                 stage_blocks: Sequence[int], norm_cfg: dict = _BN):
        super().__init__()
        self.depth = depth
        cur_ch, next_ch = stage_channels[0], stage_channels[1]
        cur_blocks, next_blocks = stage_blocks[0], stage_blocks[1]
        self.up1 = make_res_layer(BasicBlock, cur_blocks, cur_ch, cur_ch,
                                  norm_cfg=norm_cfg)
        self.low1 = make_res_layer(BasicBlock, cur_blocks, cur_ch, next_ch,
                                   stride=2, norm_cfg=norm_cfg)
        if depth > 1:
            self.low2 = HourglassModule(depth - 1, stage_channels[1:],
                                        stage_blocks[1:], norm_cfg)
        else:
            self.low2 = make_res_layer(BasicBlock, next_blocks, next_ch, next_ch,
                                       norm_cfg=norm_cfg)
        self.low3 = make_res_layer_downsample_last(cur_blocks, next_ch, cur_ch,
                                                   norm_cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        up1 = self.up1(x)
        low = self.low3(self.low2(self.low1(x)))
        # nearest x2; for even sizes size= equals scale_factor=2 exactly
        return up1 + F.interpolate(low, size=up1.shape[-2:], mode='nearest')


@MODELS.register_module()
class HourglassNet(BaseBackbone):
    """Stacked hourglass networks, as MMPose builds them.

    Args:
        downsample_times (int): Halvings inside each hourglass. Default 5.
        num_stacks (int): Hourglasses in a row (1: Hourglass-52, 2:
            Hourglass-104). Default 2.
        stage_channels (Sequence[int]): Width of each hourglass level; more
            entries than ``downsample_times``. Default (256, 256, 384, 384, 384, 512).
        stage_blocks (Sequence[int]): BasicBlocks per level, as many as
            ``stage_channels``. Default (2, 2, 2, 2, 2, 4).
        feat_channel (int): Width of each stack's output. Default 256.
        norm_cfg (dict): Norm layer config, used everywhere. (MMPose gives it
            to the stem and the layers between stacks only, and builds the
            hourglasses with BN: the same model for the BN its configs use.)
        init_cfg (dict | list[dict]): Default Normal(std=0.001) for Conv2d,
            1 for norms.

    Input (N, 3, H, W), H and W multiples of 4 * 2**downsample_times; outputs
    a tuple of ``num_stacks`` maps (N, feat_channel, H / 4, W / 4), one per
    stack (MMPose returns a list).
    """

    def __init__(self, downsample_times: int = 5, num_stacks: int = 2,
                 stage_channels: Sequence[int] = (256, 256, 384, 384, 384, 512),
                 stage_blocks: Sequence[int] = (2, 2, 2, 2, 2, 4),
                 feat_channel: int = 256, norm_cfg: dict = _BN,
                 init_cfg: dict | list[dict] | None = (
                     dict(type='Normal', std=0.001, layer=['Conv2d']),
                     dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm']))):
        super().__init__(list(init_cfg) if isinstance(init_cfg, tuple) else init_cfg)
        if num_stacks < 1:
            raise ValueError(f'num_stacks must be >= 1, got {num_stacks}')
        if downsample_times < 1:
            raise ValueError(f'downsample_times must be >= 1, got {downsample_times}')
        if len(stage_channels) != len(stage_blocks):
            raise ValueError(f'stage_channels {tuple(stage_channels)} and stage_blocks '
                             f'{tuple(stage_blocks)} need the same length')
        if len(stage_channels) <= downsample_times:
            raise ValueError(f'stage_channels needs more than downsample_times='
                             f'{downsample_times} entries, got {len(stage_channels)}')
        self.num_stacks = num_stacks
        norm_cfg = dict(norm_cfg)
        ch = stage_channels[0]
        # MMPose's stem ends at 256 channels, which is stage_channels[0] in
        # every config; following stage_channels[0] keeps other widths working.
        self.stem = nn.Sequential(
            ConvModule(3, 128, 7, stride=2, padding=3, norm_cfg=norm_cfg),
            make_res_layer(BasicBlock, 1, 128, ch, stride=2, norm_cfg=norm_cfg))
        self.hourglass_modules = nn.ModuleList(
            HourglassModule(downsample_times, stage_channels, stage_blocks, norm_cfg)
            for _ in range(num_stacks))
        # MMPose builds one block here even for a single stack (where it is
        # unused), so Hourglass-52 checkpoints hold inters.0.
        self.inters = make_res_layer(BasicBlock, num_stacks - 1, ch, ch,
                                     norm_cfg=norm_cfg)
        self.conv1x1s = nn.ModuleList(
            ConvModule(ch, ch, 1, norm_cfg=norm_cfg, act_cfg=None)
            for _ in range(num_stacks - 1))
        self.out_convs = nn.ModuleList(
            ConvModule(ch, feat_channel, 3, padding=1, norm_cfg=norm_cfg)
            for _ in range(num_stacks))
        self.remap_convs = nn.ModuleList(
            ConvModule(feat_channel, ch, 1, norm_cfg=norm_cfg, act_cfg=None)
            for _ in range(num_stacks - 1))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        feat = self.stem(x)
        outs = []
        for i in range(self.num_stacks):
            out = self.out_convs[i](self.hourglass_modules[i](feat))
            outs.append(out)
            if i < self.num_stacks - 1:
                # the next stack sees this stack's input plus its output, remapped
                merged = self.conv1x1s[i](feat) + self.remap_convs[i](out)
                feat = self.inters[i](self.relu(merged))
        return tuple(outs)
