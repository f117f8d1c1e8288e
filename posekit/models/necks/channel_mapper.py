"""ChannelMapper: one conv per level to a common width, plus extra levels.

Submodules ``convs.{i}`` and ``extra_convs.{j}`` are ConvModules (MMPose's
names). Used as RTMO's projector and by ED-Pose.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

from posekit.registry import MODELS

from ..utils import BaseModule, ConvModule

_XAVIER = dict(type='Xavier', layer='Conv2d', distribution='uniform')


@MODELS.register_module()
class ChannelMapper(BaseModule):
    """Map every input level to ``out_channels``; add stride-2 levels on top.

    Args:
        in_channels (Sequence[int]): Channels of each input level.
        out_channels (int): Channels of every output.
        kernel_size (int): Of the per-level convs ('same' padding (k - 1) // 2).
        conv_cfg, norm_cfg (dict, optional): Default None (Conv2d, no norm).
        act_cfg (dict, optional): Default ReLU; None for no activation.
        num_outs (int, optional): Outputs; more than the inputs adds 3x3
            stride-2 convs, the first on the last *input*, then each on the
            previous output. Default: as many as the inputs.
        bias (bool | str): Conv bias; 'auto' means only without a norm.
        init_cfg (dict | list[dict]): Default Xavier-uniform Conv2d.

    Input: L maps (N, in_channels[i], H_i, W_i); output: ``num_outs`` maps
    (N, out_channels, H_i, W_i), the extra ones halving the last size each
    (ceil, as a 3x3 stride-2 conv with padding 1 does).
    """

    def __init__(self, in_channels: Sequence[int], out_channels: int, kernel_size: int = 3,
                 conv_cfg: dict | None = None, norm_cfg: dict | None = None,
                 act_cfg: dict | None = dict(type='ReLU'),  # noqa: B006 (never mutated)
                 num_outs: int | None = None, bias: bool | str = 'auto',
                 init_cfg: dict | list[dict] | None = _XAVIER):
        super().__init__(init_cfg)
        if not isinstance(in_channels, (list, tuple)):
            raise TypeError(f'ChannelMapper: in_channels must be a list, got {in_channels!r}')
        num_outs = len(in_channels) if num_outs is None else num_outs
        if num_outs < len(in_channels):
            raise ValueError(f'ChannelMapper: num_outs ({num_outs}) is less than the '
                             f'{len(in_channels)} input levels')
        common = dict(bias=bias, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.in_channels, self.out_channels = list(in_channels), out_channels
        self.convs = nn.ModuleList(ConvModule(c, out_channels, kernel_size,
                                              padding=(kernel_size - 1) // 2, **common)
                                   for c in in_channels)
        self.extra_convs = None
        if num_outs > len(in_channels):
            widths = [in_channels[-1]] + [out_channels] * (num_outs - len(in_channels) - 1)
            self.extra_convs = nn.ModuleList(ConvModule(c, out_channels, 3, stride=2,
                                                        padding=1, **common) for c in widths)

    def forward(self, inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        if len(inputs) != len(self.convs):
            raise ValueError(f'ChannelMapper was built for {len(self.convs)} levels, '
                             f'got {len(inputs)}')
        outs = [conv(x) for conv, x in zip(self.convs, inputs)]
        for i, conv in enumerate(self.extra_convs or ()):
            outs.append(conv(inputs[-1] if i == 0 else outs[-1]))
        return tuple(outs)
