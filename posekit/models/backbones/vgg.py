"""VGG (Simonyan and Zisserman 2015), with MMPose's module names.

All layers live in one ``features`` Sequential, as in MMPose: per stage,
``num_blocks`` 3x3 ConvModules (``features.j.conv`` / ``.bn``) then a 2x2
max-pool; stage widths 64, 128, 256, 512, 512. ``classifier`` (three Linear
layers, for 224x224 inputs) exists only when ``num_classes > 0``.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

from posekit.registry import MODELS

from ..utils import ConvModule
from .base_backbone import BaseBackbone, freeze

_RELU = dict(type='ReLU')  # shared default, never mutated (ConvModule copies)


@MODELS.register_module()
class VGG(BaseBackbone):
    """VGG backbone.

    Args:
        depth (int): 11, 13, 16 or 19.
        num_classes (int): > 0 adds the classifier, whose (N, num_classes)
            scores are appended to the outputs. Default -1 (none).
        num_stages (int): How many of the 5 stages to build. Default 5.
        dilations (Sequence[int]): One dilation per stage (the 3x3 convs are
            padded by it, keeping the size). Default all 1.
        out_indices (Sequence[int], optional): Stages (0..num_stages-1) whose
            output to return. None means (4,) without a classifier, (5,) with
            one (the scores alone).
        frozen_stages (int): k > 0 freezes stages 0..k-1 (eval mode, no
            gradients); -1 or 0 freezes nothing (as MMPose's VGG counts).
        conv_cfg, norm_cfg, act_cfg (dict): Default None (Conv2d), None (no
            norm: plain VGG; ``dict(type='BN')`` gives VGG-BN), ReLU. The
            convs always have a bias, even with a norm (as in MMPose).
        norm_eval (bool): Keep BN layers in eval mode while training.
        ceil_mode (bool): ceil_mode of the max-pools. Default False.
        with_last_pool (bool): Keep the last stage's max-pool. Default True.
        init_cfg (dict | list[dict]): Default Kaiming convs, Constant(1)
            norms, Normal(0.01) Linear layers.

    Input (N, 3, H, W); stage i's output is (N, min(64 * 2**i, 512),
    H / 2**(i + 1), W / 2**(i + 1)) (the last one unpooled without
    ``with_last_pool``).
    """

    arch_settings = {11: (1, 1, 2, 2, 2), 13: (2, 2, 2, 2, 2),
                     16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}

    def __init__(self, depth: int, num_classes: int = -1, num_stages: int = 5,
                 dilations: Sequence[int] = (1, 1, 1, 1, 1),
                 out_indices: Sequence[int] | None = None, frozen_stages: int = -1,
                 conv_cfg: dict | None = None, norm_cfg: dict | None = None,
                 act_cfg: dict | None = _RELU,
                 norm_eval: bool = False, ceil_mode: bool = False,
                 with_last_pool: bool = True,
                 init_cfg: dict | list[dict] | None = (
                     dict(type='Kaiming', layer=['Conv2d']),
                     dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm']),
                     dict(type='Normal', std=0.01, layer=['Linear']))):
        super().__init__(list(init_cfg) if isinstance(init_cfg, tuple) else init_cfg)
        if depth not in self.arch_settings:
            raise KeyError(f'invalid depth {depth} for VGG; valid: 11, 13, 16, 19')
        if num_stages not in range(1, 6):
            raise ValueError(f'num_stages must be in 1..5, got {num_stages}')
        if len(dilations) != num_stages:
            raise ValueError(f'dilations needs one entry per stage ({num_stages}), '
                             f'got {tuple(dilations)}')
        if out_indices is None:
            out_indices = (5, ) if num_classes > 0 else (4, )
        if not out_indices or max(out_indices) > num_stages:
            raise ValueError(f'out_indices entries must be in 0..{num_stages}, got '
                             f'{tuple(out_indices)}')
        if frozen_stages not in range(-1, num_stages + 1):
            raise ValueError(f'frozen_stages must be in -1..{num_stages}, got {frozen_stages}')
        self.stage_blocks = self.arch_settings[depth][:num_stages]
        self.num_classes, self.out_indices = num_classes, tuple(out_indices)
        self.frozen_stages, self.norm_eval = frozen_stages, norm_eval
        layers: list[nn.Module] = []
        # [start, end) of each stage in ``features``: its convs and its pool
        self.range_sub_modules: list[list[int]] = []
        in_ch = 3
        for i, (num_blocks, dilation) in enumerate(zip(self.stage_blocks, dilations)):
            out_ch = min(64 * 2**i, 512)
            start = len(layers)
            for _ in range(num_blocks):
                layers.append(ConvModule(in_ch, out_ch, 3, padding=dilation, dilation=dilation,
                                         bias=True, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                         act_cfg=act_cfg))
                in_ch = out_ch
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2, ceil_mode=ceil_mode))
            self.range_sub_modules.append([start, len(layers)])
        if not with_last_pool:
            layers.pop()
            self.range_sub_modules[-1][1] -= 1
        self.features = nn.Sequential(*layers)
        if num_classes > 0:
            self.classifier = nn.Sequential(
                nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(),
                nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(),
                nn.Linear(4096, num_classes))
        self._freeze_stages()

    def _freeze_stages(self) -> None:
        freeze(self.features[j] for i in range(self.frozen_stages)
               for j in range(*self.range_sub_modules[i]))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outs = []
        for i, (start, end) in enumerate(self.range_sub_modules):
            for j in range(start, end):
                x = self.features[j](x)
            if i in self.out_indices:
                outs.append(x)
        if self.num_classes > 0:
            outs.append(self.classifier(x.flatten(1)))
        return tuple(outs)
