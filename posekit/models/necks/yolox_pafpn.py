"""YOLOXPAFPN: YOLOX's path-aggregation neck (YOLOX-Pose), MMPose's layout.

Submodules: ``reduce_layers`` (1x1), ``top_down_blocks`` and
``bottom_up_blocks`` (CSPLayers with Darknet bottlenecks, no identity),
``downsamples`` (3x3 stride 2), ``out_convs`` (1x1 to ``out_channels``).
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn as nn

from posekit.registry import MODELS

from ..backbones.csp_layers import CSPLayer
from ..utils import BaseModule, ConvModule, DepthwiseSeparableConvModule
from .pafpn_path import pafpn_path

_NORM = dict(type='BN', momentum=0.03, eps=0.001)
_SWISH = dict(type='Swish')
_UPSAMPLE = dict(scale_factor=2, mode='nearest')
# PyTorch's own default conv init, written as an init_cfg.
_INIT = dict(type='Kaiming', layer='Conv2d', a=math.sqrt(5), distribution='uniform',
             mode='fan_in', nonlinearity='leaky_relu')


def build_pafpn_layers(neck: nn.Module, in_channels: Sequence[int], block_cfg: dict,
                       conv: type, common: dict) -> None:
    """Give ``neck`` the PAFPN's four ModuleLists (see :func:`pafpn_path`).

    ``block_cfg`` holds the CSPLayer arguments other than the widths.
    """
    neck.reduce_layers, neck.top_down_blocks = nn.ModuleList(), nn.ModuleList()
    for idx in range(len(in_channels) - 1, 0, -1):
        neck.reduce_layers.append(ConvModule(in_channels[idx], in_channels[idx - 1], 1,
                                             **common))
        neck.top_down_blocks.append(CSPLayer(in_channels[idx - 1] * 2, in_channels[idx - 1],
                                             **block_cfg, **common))
    neck.downsamples, neck.bottom_up_blocks = nn.ModuleList(), nn.ModuleList()
    for idx in range(len(in_channels) - 1):
        neck.downsamples.append(conv(in_channels[idx], in_channels[idx], 3, stride=2,
                                     padding=1, **common))
        neck.bottom_up_blocks.append(CSPLayer(in_channels[idx] * 2, in_channels[idx + 1],
                                              **block_cfg, **common))


@MODELS.register_module()
class YOLOXPAFPN(BaseModule):
    """Path Aggregation Network of YOLOX.

    Args:
        in_channels (Sequence[int]): Channels of each input level, finest first.
        out_channels (int): Channels of every output level.
        num_csp_blocks (int): Bottlenecks per CSPLayer.
        use_depthwise (bool): Depthwise-separable downsampling convs and
            bottleneck 3x3 convs.
        upsample_cfg (dict): ``nn.Upsample`` arguments. Default nearest, 2x.
        conv_cfg, norm_cfg, act_cfg (dict): Default None,
            BN(momentum=0.03, eps=0.001), Swish.
        init_cfg (dict | list[dict]): Default Kaiming-uniform for Conv2d with
            a=sqrt(5), fan_in, leaky_relu.

    Input: tuple of L maps (N, in_channels[i], H / s_i, W / s_i), s_i = 2 * s_{i-1};
    output: tuple of L maps (N, out_channels, H / s_i, W / s_i).
    """

    def __init__(self, in_channels: Sequence[int], out_channels: int,
                 num_csp_blocks: int = 3, use_depthwise: bool = False,
                 upsample_cfg: dict = _UPSAMPLE, conv_cfg: dict | None = None,
                 norm_cfg: dict | None = _NORM, act_cfg: dict | None = _SWISH,
                 init_cfg: dict | list[dict] | None = _INIT):
        super().__init__(init_cfg)
        self.in_channels, self.out_channels = list(in_channels), out_channels
        common = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        conv = DepthwiseSeparableConvModule if use_depthwise else ConvModule
        self.upsample = nn.Upsample(**upsample_cfg)
        build_pafpn_layers(self, self.in_channels, dict(
            num_blocks=num_csp_blocks, add_identity=False, use_depthwise=use_depthwise),
            conv, common)
        self.out_convs = nn.ModuleList(ConvModule(c, out_channels, 1, **common)
                                       for c in self.in_channels)

    def forward(self, inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        outs = pafpn_path(inputs, self.reduce_layers, self.upsample, self.top_down_blocks,
                          self.downsamples, self.bottom_up_blocks)
        return tuple(conv(out) for conv, out in zip(self.out_convs, outs))
