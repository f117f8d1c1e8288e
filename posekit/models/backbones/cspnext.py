"""CSPNeXt (RTMDet, Lyu et al. 2022), the backbone of RTMPose.

MMPose configs name it ``mmdet.CSPNeXt`` (or with ``_scope_='mmdet'``); it is
MMDetection's, with its module names: ``stem.0..2`` (ConvModules), then
``stageK.0`` (stride-2 conv), [``stageK.1`` SPPBottleneck in the last stage],
and the CSPLayer last in each stage.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch.nn as nn

from posekit.registry import MODELS

from ..utils import ConvModule
from .csp_layers import CSPStagesBackbone

_NORM = dict(type='BN', momentum=0.03, eps=0.001)
_SILU = dict(type='SiLU')
# PyTorch's own default conv init, written as an init_cfg.
_INIT = dict(type='Kaiming', layer='Conv2d', a=math.sqrt(5), distribution='uniform',
             mode='fan_in', nonlinearity='leaky_relu')


@MODELS.register_module()
class CSPNeXt(CSPStagesBackbone):
    """CSPNeXt backbone.

    Args:
        arch (str): 'P5' (4 stages, strides 4..32) or 'P6' (5 stages, to 64).
        deepen_factor (float): Scales the blocks per stage (rounded, >= 1).
        widen_factor (float): Scales every width (truncated to int).
        out_indices (Sequence[int]): Which of stem (0) and stages (1..) to
            return. Default (2, 3, 4).
        frozen_stages (int): Stem and stages up to this index are frozen; -1 none.
        use_depthwise (bool): Depthwise-separable convs for the downsampling
            convs and inside the blocks.
        expand_ratio (float): CSPLayer path width relative to its output.
        arch_ovewrite (list, optional): Replaces the arch table: rows of
            [in_channels, out_channels, num_blocks, add_identity, use_spp]
            (the key's spelling is MMDetection's).
        spp_kernel_sizes (Sequence[int]): Max-pool sizes of the SPP block.
        channel_attention (bool): ChannelAttention in each CSPLayer.
        conv_cfg, norm_cfg, act_cfg (dict): Default None,
            BN(momentum=0.03, eps=0.001), SiLU.
        norm_eval (bool): Keep BN layers in eval mode while training.
        init_cfg (dict | list[dict]): Default Kaiming-uniform for Conv2d with
            a=sqrt(5), fan_in, leaky_relu.

    Input (N, 3, H, W); output i is (N, C_i, H / 2**(i + 1), W / 2**(i + 1)).
    """

    # in_channels, out_channels, num_blocks, add_identity, use_spp
    arch_settings = {
        'P5': [[64, 128, 3, True, False], [128, 256, 6, True, False],
               [256, 512, 6, True, False], [512, 1024, 3, False, True]],
        'P6': [[64, 128, 3, True, False], [128, 256, 6, True, False],
               [256, 512, 6, True, False], [512, 768, 3, True, False],
               [768, 1024, 3, False, True]],
    }

    def __init__(self, arch: str = 'P5', deepen_factor: float = 1.0,
                 widen_factor: float = 1.0, out_indices: Sequence[int] = (2, 3, 4),
                 frozen_stages: int = -1, use_depthwise: bool = False,
                 expand_ratio: float = 0.5, arch_ovewrite: list | None = None,
                 spp_kernel_sizes: Sequence[int] = (5, 9, 13),
                 channel_attention: bool = True, conv_cfg: dict | None = None,
                 norm_cfg: dict | None = _NORM, act_cfg: dict | None = _SILU,
                 norm_eval: bool = False, init_cfg: dict | list[dict] | None = _INIT):
        super().__init__(init_cfg)
        setting = self._check_arch(arch, arch_ovewrite, out_indices, frozen_stages)
        self.use_depthwise, self.norm_eval = use_depthwise, norm_eval
        common = dict(norm_cfg=norm_cfg, act_cfg=act_cfg)
        stem_out = int(setting[0][0] * widen_factor)
        half = int(setting[0][0] * widen_factor // 2)
        # MMDetection gives the stem no conv_cfg; kept so the layers are the same.
        self.stem = nn.Sequential(
            ConvModule(3, half, 3, padding=1, stride=2, **common),
            ConvModule(half, half, 3, padding=1, stride=1, **common),
            ConvModule(half, stem_out, 3, padding=1, stride=1, **common))
        self._add_stages(setting, widen_factor, deepen_factor, use_depthwise,
                         spp_kernel_sizes, conv_cfg, norm_cfg, act_cfg,
                         use_cspnext_block=True, expand_ratio=expand_ratio,
                         channel_attention=channel_attention)
