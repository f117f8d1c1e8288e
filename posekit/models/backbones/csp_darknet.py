"""CSP-Darknet (YOLOv5 / YOLOX), the backbone of YOLOX-Pose and RTMO.

Module names are MMPose's (and MMDetection's), so YOLOX checkpoints load:
``stem.conv`` (the Focus block's ConvModule), then per stage ``stageK.0``
(stride-2 conv), [``stageK.1`` SPPBottleneck in the last stage], and the
CSPLayer (Darknet bottlenecks) last.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn as nn

from posekit.registry import MODELS

from ..utils import ConvModule
from .csp_layers import CSPStagesBackbone

_NORM = dict(type='BN', momentum=0.03, eps=0.001)
_SWISH = dict(type='Swish')
# PyTorch's own default conv init, written as an init_cfg.
_INIT = dict(type='Kaiming', layer='Conv2d', a=math.sqrt(5), distribution='uniform',
             mode='fan_in', nonlinearity='leaky_relu')


def space_to_depth(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, 4C, H/2, W/2) by 2x2 pixel blocks, YOLOv5's order.

    Channel group g holds the pixels at (row, col) offsets (0, 0), (1, 0),
    (0, 1), (1, 1) for g = 0..3: rows vary before columns, which is the
    order YOLOX weights were trained with (not ``F.pixel_unshuffle``'s,
    which interleaves per channel). H and W must be even.
    """
    return torch.cat((x[..., ::2, ::2], x[..., 1::2, ::2],
                      x[..., ::2, 1::2], x[..., 1::2, 1::2]), dim=1)


class Focus(nn.Module):
    """Space-to-depth (:func:`space_to_depth`) then a ConvModule ``conv``.

    The conv has ``4 * in_channels`` inputs, ``kernel_size`` with 'same'
    padding ((k - 1) // 2) and ``stride``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1,
                 stride: int = 1, conv_cfg: dict | None = None,
                 norm_cfg: dict | None = _NORM, act_cfg: dict | None = _SWISH):
        super().__init__()
        self.conv = ConvModule(in_channels * 4, out_channels, kernel_size, stride,
                               padding=(kernel_size - 1) // 2, conv_cfg=conv_cfg,
                               norm_cfg=norm_cfg, act_cfg=act_cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(space_to_depth(x))


@MODELS.register_module()
class CSPDarknet(CSPStagesBackbone):
    """CSP-Darknet backbone.

    Args:
        arch (str): 'P5' (4 stages, strides 4..32) or 'P6' (5 stages, to 64).
        deepen_factor (float): Scales the blocks per stage (rounded, >= 1).
        widen_factor (float): Scales every width (truncated to int).
        out_indices (Sequence[int]): Which of stem (0) and stages (1..) to
            return. Default (2, 3, 4): strides 8, 16, 32.
        frozen_stages (int): Stem and stages up to this index are frozen; -1 none.
        use_depthwise (bool): Depthwise-separable convs for the downsampling
            convs and the bottlenecks' 3x3 convs.
        arch_ovewrite (list, optional): Replaces the arch table: rows of
            [in_channels, out_channels, num_blocks, add_identity, use_spp]
            (the key's spelling is MMPose's).
        spp_kernal_sizes (Sequence[int]): Max-pool sizes of the SPP block
            (the key's spelling is MMPose's).
        conv_cfg, norm_cfg, act_cfg (dict): Default None,
            BN(momentum=0.03, eps=0.001), Swish.
        norm_eval (bool): Keep BN layers in eval mode while training.
        init_cfg (dict | list[dict]): Default Kaiming-uniform for Conv2d with
            a=sqrt(5), fan_in, leaky_relu.

    Input (N, 3, H, W) with H, W even (the Focus stem halves them); output
    for index i is (N, C_i, H / 2**(i + 1), W / 2**(i + 1)).
    """

    # in_channels, out_channels, num_blocks, add_identity, use_spp
    arch_settings = {
        'P5': [[64, 128, 3, True, False], [128, 256, 9, True, False],
               [256, 512, 9, True, False], [512, 1024, 3, False, True]],
        'P6': [[64, 128, 3, True, False], [128, 256, 9, True, False],
               [256, 512, 9, True, False], [512, 768, 3, True, False],
               [768, 1024, 3, False, True]],
    }

    def __init__(self, arch: str = 'P5', deepen_factor: float = 1.0,
                 widen_factor: float = 1.0, out_indices: Sequence[int] = (2, 3, 4),
                 frozen_stages: int = -1, use_depthwise: bool = False,
                 arch_ovewrite: list | None = None,
                 spp_kernal_sizes: Sequence[int] = (5, 9, 13),
                 conv_cfg: dict | None = None, norm_cfg: dict | None = _NORM,
                 act_cfg: dict | None = _SWISH, norm_eval: bool = False,
                 init_cfg: dict | list[dict] | None = _INIT):
        super().__init__(init_cfg)
        setting = self._check_arch(arch, arch_ovewrite, out_indices, frozen_stages)
        self.use_depthwise, self.norm_eval = use_depthwise, norm_eval
        self.stem = Focus(3, int(setting[0][0] * widen_factor), kernel_size=3,
                          conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self._add_stages(setting, widen_factor, deepen_factor, use_depthwise,
                         spp_kernal_sizes, conv_cfg, norm_cfg, act_cfg)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        # (Not while tracing for export: shapes are symbolic there.)
        if not torch.jit.is_tracing() and (x.shape[-2] % 2 or x.shape[-1] % 2):
            raise ValueError(f'CSPDarknet needs an even input height and width '
                             f'(its Focus stem halves them), got {tuple(x.shape[-2:])}')
        return super().forward(x)
