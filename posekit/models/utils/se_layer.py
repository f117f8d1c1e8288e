"""Squeeze-and-excitation, as MMPose's backbones use it (SEResNet, ViPNAS)."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

from .layers import ConvModule

_RELU = dict(type='ReLU')


class SELayer(nn.Module):
    """Squeeze-and-excitation: scale each channel by a gate computed from
    the globally average-pooled input (1x1 ConvModules ``conv1``, ``conv2``).

    Args:
        channels (int): Channels in and out.
        ratio (int): The squeezed width is ``int(channels / ratio)``. Default 16.
        conv_cfg (dict, optional): Conv layer cfg. Default None (Conv2d).
        act_cfg (dict | Sequence[dict]): Activations after ``conv1`` and
            ``conv2`` (one dict serves both). Default (ReLU, Sigmoid).
    """

    def __init__(self, channels: int, ratio: int = 16, conv_cfg: dict | None = None,
                 act_cfg: dict | Sequence[dict] = (_RELU, dict(type='Sigmoid'))):
        super().__init__()
        if isinstance(act_cfg, dict):
            act_cfg = (act_cfg, act_cfg)
        if len(act_cfg) != 2 or not all(isinstance(a, dict) for a in act_cfg):
            raise TypeError(f'SELayer act_cfg must be a dict or two dicts, got {act_cfg!r}')
        squeezed = int(channels / ratio)
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.conv1 = ConvModule(channels, squeezed, 1, conv_cfg=conv_cfg, act_cfg=act_cfg[0])
        self.conv2 = ConvModule(squeezed, channels, 1, conv_cfg=conv_cfg, act_cfg=act_cfg[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.conv2(self.conv1(self.global_avgpool(x)))
