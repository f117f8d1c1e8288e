"""CSPNeXtPAFPN: RTMDet's path-aggregation neck (RTMW, RTMDet detectors).

Layout as :class:`~.yolox_pafpn.YOLOXPAFPN`, with CSPNeXt blocks in the
CSPLayers; ``out_convs`` (3x3) exist only when ``out_channels`` is given.

With ``out_channels`` given, ``out_convs`` is a ModuleList of one conv per
level (MMDetection's layout, ``out_convs.{i}``). MMPose 1.3.2's class
replaces that list by a single conv (``out_convs.conv``) and then fails in
``forward`` (a ConvModule is not iterable), so no MMPose checkpoint can have
that layout; MMPose configs use ``out_channels=None`` (RTMW) and RTMDet
configs MMDetection's layout, which is what this class builds.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn as nn

from posekit.registry import MODELS

from ..utils import BaseModule, ConvModule, DepthwiseSeparableConvModule
from .pafpn_path import pafpn_path
from .yolox_pafpn import build_pafpn_layers

_NORM = dict(type='BN', momentum=0.03, eps=0.001)
_SWISH = dict(type='Swish')
_UPSAMPLE = dict(scale_factor=2, mode='nearest')
# PyTorch's own default conv init, written as an init_cfg.
_INIT = dict(type='Kaiming', layer='Conv2d', a=math.sqrt(5), distribution='uniform',
             mode='fan_in', nonlinearity='leaky_relu')


@MODELS.register_module()
class CSPNeXtPAFPN(BaseModule):
    """Path Aggregation Network with CSPNeXt blocks.

    Args:
        in_channels (Sequence[int]): Channels of each input level, finest first.
        out_channels (int, optional): Channels of every output level (a 3x3
            conv per level); None keeps the levels' own widths (no out convs).
        out_indices (Sequence[int]): Which levels to return, finest = 0.
        num_csp_blocks (int): Blocks per CSPLayer.
        use_depthwise (bool): Depthwise-separable downsampling / out convs
            and block convs.
        expand_ratio (float): CSPLayer path width relative to its output.
        upsample_cfg (dict): ``nn.Upsample`` arguments. Default nearest, 2x.
        conv_cfg, norm_cfg, act_cfg (dict): Default None,
            BN(momentum=0.03, eps=0.001), Swish.
        init_cfg (dict | list[dict]): Default Kaiming-uniform for Conv2d with
            a=sqrt(5), fan_in, leaky_relu.

    Input: tuple of L maps (N, in_channels[i], H / s_i, W / s_i), s_i = 2 * s_{i-1};
    output: the maps at ``out_indices``, (N, out_channels or in_channels[i], H / s_i, W / s_i).
    """

    def __init__(self, in_channels: Sequence[int], out_channels: int | None,
                 out_indices: Sequence[int] = (0, 1, 2), num_csp_blocks: int = 3,
                 use_depthwise: bool = False, expand_ratio: float = 0.5,
                 upsample_cfg: dict = _UPSAMPLE, conv_cfg: dict | None = None,
                 norm_cfg: dict | None = _NORM, act_cfg: dict | None = _SWISH,
                 init_cfg: dict | list[dict] | None = _INIT):
        super().__init__(init_cfg)
        self.in_channels, self.out_channels = list(in_channels), out_channels
        if not set(out_indices) <= set(range(len(self.in_channels))):
            raise ValueError(f'out_indices {tuple(out_indices)} must be in '
                             f'0..{len(self.in_channels) - 1}')
        self.out_indices = tuple(out_indices)
        common = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        conv = DepthwiseSeparableConvModule if use_depthwise else ConvModule
        self.upsample = nn.Upsample(**upsample_cfg)
        build_pafpn_layers(self, self.in_channels, dict(
            num_blocks=num_csp_blocks, add_identity=False, use_depthwise=use_depthwise,
            use_cspnext_block=True, expand_ratio=expand_ratio), conv, common)
        if out_channels is not None:
            self.out_convs = nn.ModuleList(conv(c, out_channels, 3, padding=1, **common)
                                           for c in self.in_channels)

    def forward(self, inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        outs = pafpn_path(inputs, self.reduce_layers, self.upsample, self.top_down_blocks,
                          self.downsamples, self.bottom_up_blocks)
        if self.out_channels is not None:
            outs = [conv(out) for conv, out in zip(self.out_convs, outs)]
        return tuple(outs[i] for i in self.out_indices)
