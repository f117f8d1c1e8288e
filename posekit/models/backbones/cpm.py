"""Convolutional Pose Machines (Wei et al. 2016), with MMPose's module names.

Parameter names (so MMPose checkpoints load): ``stem.0..9`` (stage 1, from
the image to heatmaps; max-pools at 1, 3, 5), ``middle.0..5`` (shared image
features for the later stages), and per later stage i ``middle_conv.i.0``,
``cpm_stages.i.model.0..2`` and ``out_convs.i.0..1``; every conv is a
ConvModule (``.conv``, ``.bn``).
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

from posekit.registry import MODELS

from ..utils import ConvModule
from .base_backbone import BaseBackbone

_BN = dict(type='BN', requires_grad=True)


def _conv(cin: int, cout: int, kernel: int, norm_cfg: dict | None,
          act: bool = True) -> ConvModule:
    """A 'same'-padded ConvModule (odd ``kernel``), ReLU unless ``act`` is False."""
    return ConvModule(cin, cout, kernel, padding=(kernel - 1) // 2, norm_cfg=norm_cfg,
                      act_cfg=dict(type='ReLU') if act else None)


def _pool() -> nn.MaxPool2d:
    return nn.MaxPool2d(kernel_size=3, stride=2, padding=1)


class CpmBlock(nn.Module):
    """Same-padded ConvModules in a row, under ``model``.

    Args:
        in_channels (int): Input channels.
        channels (Sequence[int]): Output channels of each conv.
        kernels (Sequence[int]): Odd kernel size of each conv.
        norm_cfg (dict, optional): Norm layer config; None for none.
    """

    def __init__(self, in_channels: int, channels: Sequence[int] = (128, 128, 128),
                 kernels: Sequence[int] = (11, 11, 11), norm_cfg: dict | None = None):
        super().__init__()
        if len(channels) != len(kernels):
            raise ValueError(f'channels {tuple(channels)} and kernels {tuple(kernels)} '
                             'need the same length')
        ins = [in_channels, *channels[:-1]]
        self.model = nn.Sequential(*(_conv(cin, cout, k, norm_cfg)
                                     for cin, cout, k in zip(ins, channels, kernels)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


@MODELS.register_module()
class CPM(BaseBackbone):
    """CPM backbone: stage 1 predicts heatmaps from the image; each later stage
    refines the previous stage's heatmaps with shared image features.

    Args:
        in_channels (int): Image channels; must be 3 (as in MMPose).
        out_channels (int): Heatmap channels (keypoints).
        feat_channels (int): Width of the later stages. Default 128.
        middle_channels (int): Image-feature channels given to each later
            stage. Default 32.
        num_stages (int): Stages, >= 1. Default 6.
        norm_cfg (dict): Norm layer config. Default BN.
        init_cfg (dict | list[dict]): Default Normal(std=0.001) for Conv2d,
            1 for norms.

    Input (N, 3, H, W); outputs a tuple of ``num_stages`` heatmaps
    (N, out_channels, H / 8, W / 8) (ceil at each halving), one per stage
    (MMPose returns a list).
    """

    def __init__(self, in_channels: int, out_channels: int, feat_channels: int = 128,
                 middle_channels: int = 32, num_stages: int = 6, norm_cfg: dict = _BN,
                 init_cfg: dict | list[dict] | None = (
                     dict(type='Normal', std=0.001, layer=['Conv2d']),
                     dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm']))):
        super().__init__(list(init_cfg) if isinstance(init_cfg, tuple) else init_cfg)
        if in_channels != 3:
            raise ValueError(f'CPM needs in_channels=3, got {in_channels}')
        if num_stages < 1:
            raise ValueError(f'num_stages must be >= 1, got {num_stages}')
        self.num_stages = num_stages
        norm_cfg = dict(norm_cfg)
        # stage 1: image -> heatmaps; the last conv has no norm and no ReLU
        self.stem = nn.Sequential(
            _conv(in_channels, 128, 9, norm_cfg), _pool(),
            _conv(128, 128, 9, norm_cfg), _pool(),
            _conv(128, 128, 9, norm_cfg), _pool(),
            _conv(128, 32, 5, norm_cfg),
            _conv(32, 512, 9, norm_cfg),
            _conv(512, 512, 1, norm_cfg),
            _conv(512, out_channels, 1, None, act=False))
        self.middle = nn.Sequential(
            _conv(in_channels, 128, 9, norm_cfg), _pool(),
            _conv(128, 128, 9, norm_cfg), _pool(),
            _conv(128, 128, 9, norm_cfg), _pool())
        self.cpm_stages = nn.ModuleList(
            CpmBlock(middle_channels + out_channels, [feat_channels] * 3, [11] * 3,
                     norm_cfg)
            for _ in range(num_stages - 1))
        self.middle_conv = nn.ModuleList(
            nn.Sequential(_conv(128, middle_channels, 5, norm_cfg))
            for _ in range(num_stages - 1))
        self.out_convs = nn.ModuleList(
            nn.Sequential(_conv(feat_channels, feat_channels, 1, norm_cfg),
                          _conv(feat_channels, out_channels, 1, None, act=False))
            for _ in range(num_stages - 1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outs = [self.stem(x)]
        middle = self.middle(x)
        for stage, mid_conv, out_conv in zip(self.cpm_stages, self.middle_conv,
                                             self.out_convs):
            refined = stage(torch.cat([outs[-1], mid_conv(middle)], dim=1))
            outs.append(out_conv(refined))
        return tuple(outs)
