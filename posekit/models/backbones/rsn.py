"""RSN (Cai et al. 2020, "Learning Delicate Local Representations for
Multi-Person Pose Estimation"): MSPN's multi-stage frame (:mod:`.mspn`) with
Residual Steps Blocks; MMPose's names (``multi_stage_rsn``, ``conv_bn_relu1``,
``conv_bn_relu2_<i>_<j>``, ``conv_bn3``) so its checkpoints load.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

from posekit.registry import MODELS

from ..utils import ConvModule
from .base_backbone import BaseBackbone
from .mspn import (MULTI_STAGE_INIT, ResNetTop, SingleStage,
                   check_multi_stage_args, multi_stage_forward)


class RSB(nn.Module):
    """Residual Steps Block: a 1x1 conv split into ``num_steps`` branches of
    ``in_channels * expand_times // res_top_channels`` channels; branch i
    runs i + 1 3x3 ConvModules, step j also adding branch i - 1's step j;
    the last steps are concatenated, 1x1 conv + norm, plus the shortcut."""

    expansion = 1

    def __init__(self, in_channels: int, out_channels: int, num_steps: int = 4,
                 stride: int = 1, downsample: nn.Module | None = None,
                 norm_cfg: dict | None = None, expand_times: int = 26,
                 res_top_channels: int = 64):
        super().__init__()
        if num_steps < 2:
            raise ValueError(f'RSB: num_steps must be >= 2, got {num_steps}')
        norm_cfg = dict(norm_cfg or dict(type='BN'))
        self.num_steps = num_steps
        self.branch_channels = in_channels * expand_times // res_top_channels
        width = num_steps * self.branch_channels
        # Registered first: MMPose's state_dict lists the shortcut first.
        self.downsample = downsample
        self.conv_bn_relu1 = ConvModule(in_channels, width, 1, stride=stride,
                                        norm_cfg=norm_cfg, inplace=False)
        for i in range(num_steps):
            for j in range(i + 1):
                self.add_module(f'conv_bn_relu2_{i + 1}_{j + 1}', ConvModule(
                    self.branch_channels, self.branch_channels, 3, padding=1,
                    norm_cfg=norm_cfg, inplace=False))
        self.conv_bn3 = ConvModule(width, out_channels * self.expansion, 1,
                                   norm_cfg=norm_cfg, act_cfg=None, inplace=False)
        self.relu = nn.ReLU(inplace=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        splits = torch.split(self.conv_bn_relu1(x), self.branch_channels, 1)
        prev: list[torch.Tensor] = []
        lasts = []
        for i in range(self.num_steps):
            row = []
            for j in range(i + 1):
                inp = splits[i] if j == 0 else row[j - 1]
                if j < i:
                    inp = inp + prev[j]
                row.append(getattr(self, f'conv_bn_relu2_{i + 1}_{j + 1}')(inp))
            lasts.append(row[-1])
            prev = row
        out = self.conv_bn3(torch.cat(lasts, 1))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


@MODELS.register_module()
class RSN(BaseBackbone):
    """Residual Steps Network backbone.

    Args:
        unit_channels (int): Channels of every upsample unit output. Default 256.
        num_stages (int): Stages. Default 4.
        num_units (int): Down/upsample units per stage (= len(num_blocks)).
        num_blocks (Sequence[int]): RSBs per downsample unit.
        num_steps (int): Steps (branches) in each RSB, >= 2. Default 4.
        norm_cfg (dict): Norm layers. As in MMPose, only the first block of
            each unit (and the ConvModules outside blocks) use it; the other
            RSBs use BN.
        res_top_channels (int): Stem channels; must be 64 (MMPose builds a
            64-channel stem whatever it says).
        expand_times (int): RSB branch width factor. Default 26.
        init_cfg (dict | list[dict]): Default :data:`.mspn.MULTI_STAGE_INIT`.

    Input (N, 3, H, W). Returns, per stage, a list of num_units maps
    (N, unit_channels, h_j, w_j), coarsest first (as :class:`.MSPN`).
    """

    def __init__(self, unit_channels: int = 256, num_stages: int = 4,
                 num_units: int = 4, num_blocks: Sequence[int] = (2, 2, 2, 2),
                 num_steps: int = 4, norm_cfg: dict | None = None,
                 res_top_channels: int = 64, expand_times: int = 26,
                 init_cfg: dict | list | None = list(MULTI_STAGE_INIT)):  # noqa: B006
        super().__init__(init_cfg=init_cfg)
        check_multi_stage_args('RSN', num_stages, num_units, num_blocks,
                               res_top_channels)
        if num_steps < 2:
            raise ValueError(f'RSN: num_steps must be >= 2, got {num_steps}')
        norm_cfg = dict(norm_cfg or dict(type='BN'))
        self.unit_channels, self.num_stages = unit_channels, num_stages
        self.num_units, self.num_blocks = num_units, list(num_blocks)
        self.num_steps, self.norm_cfg = num_steps, norm_cfg

        def make_block(in_ch, width, stride, downsample, first):
            # MMPose gives norm_cfg only to a unit's first RSB.
            return RSB(in_ch, width, num_steps, stride=stride, downsample=downsample,
                       norm_cfg=norm_cfg if first else None,
                       expand_times=expand_times, res_top_channels=res_top_channels)

        self.top = ResNetTop(norm_cfg)
        self.multi_stage_rsn = nn.ModuleList(
            SingleStage(make_block, RSB.expansion, i > 0, i < num_stages - 1,
                        unit_channels, num_blocks, norm_cfg)
            for i in range(num_stages))

    def forward(self, x: torch.Tensor) -> list:
        return multi_stage_forward(self.top, self.multi_stage_rsn, x)
