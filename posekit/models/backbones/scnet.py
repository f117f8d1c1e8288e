"""SCNet: ResNet with self-calibrated convolutions (Liu et al., CVPR 2020).

Parameter names (so MMPose checkpoints load) are ResNet's (see
:mod:`.resnet`), but each block has two half-width paths: ``conv1``/``bn1``
then ``k1.0..1`` (3x3 conv, norm), and ``conv2``/``bn2`` then ``scconv``
(``k2.1..2``, ``k3.0..1``, ``k4.0..1``); ``conv3``/``bn3`` fuse them. In
the state_dict ``k1`` and ``scconv`` come after ``downsample``.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from posekit.registry import MODELS

from ..utils import build_conv_layer, build_norm_layer
from .resnet import Bottleneck, ResNet


def _conv3x3_norm(channels: int, stride: int, conv_cfg: dict | None,
                  norm_cfg: dict) -> list[nn.Module]:
    return [build_conv_layer(conv_cfg, channels, channels, kernel_size=3, stride=stride,
                             padding=1, bias=False),
            build_norm_layer(norm_cfg, channels)[1]]


class SCConv(nn.Module):
    """Self-calibrated 3x3 conv: a gate computed at 1/pooling_r resolution
    scales a 3x3 conv of the input, then a (strided) 3x3 conv, norm, ReLU.

    Args:
        in_channels (int), out_channels (int): Must be equal.
        stride (int): Stride of the last conv.
        pooling_r (int): Down-sampling factor of the calibration path.
        conv_cfg (dict, optional), norm_cfg (dict): Layer configs. Default BN.

    Input (N, C, H, W); output (N, C, ceil(H / stride), ceil(W / stride)).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int, pooling_r: int,
                 conv_cfg: dict | None = None, norm_cfg: dict | None = None):
        super().__init__()
        if in_channels != out_channels:
            raise ValueError(f'SCConv needs in_channels == out_channels, got '
                             f'{in_channels} and {out_channels}')
        norm_cfg = norm_cfg or dict(type='BN')
        self.k2 = nn.Sequential(nn.AvgPool2d(kernel_size=pooling_r, stride=pooling_r),
                                *_conv3x3_norm(in_channels, 1, conv_cfg, norm_cfg))
        self.k3 = nn.Sequential(*_conv3x3_norm(in_channels, 1, conv_cfg, norm_cfg))
        self.k4 = nn.Sequential(*_conv3x3_norm(in_channels, stride, conv_cfg, norm_cfg),
                                nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # nearest upsampling back to x's size, as the reference does
        gate = torch.sigmoid(x + F.interpolate(self.k2(x), x.shape[2:]))
        return self.k4(self.k3(x) * gate)


class SCBottleneck(Bottleneck):
    """Bottleneck with two half-width paths: a plain strided 3x3 conv
    (``k1``) and an :class:`SCConv`; ``conv3`` fuses their concatenation.

    Args:
        in_channels (int), out_channels (int): Block input/output channels;
            each path is ``out_channels // expansion // 2`` wide.
        stride (int): Of ``k1`` and the SCConv's last conv.
        dilation (int): Must be 1 (the block has no dilated conv).
        style (str): 'pytorch' or 'caffe'; both build the same block, as in
            MMPose (the stride always goes in the 3x3 convs).
        **kwargs: Every other :class:`Bottleneck` argument.
    """

    pooling_r = 4

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 dilation: int = 1, style: str = 'pytorch', **kwargs):
        if dilation != 1:
            raise ValueError(f'SCNet blocks have no dilated conv: dilation must be 1, '
                             f'got {dilation}')
        if style not in ('pytorch', 'caffe'):
            raise ValueError(f'style must be "pytorch" or "caffe", got {style!r}')
        expansion = kwargs.get('expansion', self.expansion)
        mid = out_channels // expansion // 2
        # Bottleneck builds conv1/bn1, bn2 and bn3 as wanted; conv2 and conv3
        # are then replaced in place, which keeps MMPose's state_dict order.
        super().__init__(in_channels, out_channels, stride=stride, mid_channels=mid,
                         style='pytorch', **kwargs)
        conv_cfg, norm_cfg = kwargs.get('conv_cfg'), kwargs.get('norm_cfg') or dict(type='BN')
        self.conv2 = build_conv_layer(conv_cfg, in_channels, mid, kernel_size=1, bias=False)
        self.conv3 = build_conv_layer(conv_cfg, 2 * mid, out_channels, kernel_size=1,
                                      bias=False)
        self.k1 = nn.Sequential(*_conv3x3_norm(mid, stride, conv_cfg, norm_cfg),
                                nn.ReLU(inplace=True))
        self.scconv = SCConv(mid, mid, stride, self.pooling_r, conv_cfg, norm_cfg)

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        plain = self.k1(self.relu(self.norm1(self.conv1(x))))
        calibrated = self.scconv(self.relu(self.norm2(self.conv2(x))))
        return self.norm3(self.conv3(torch.cat([plain, calibrated], dim=1)))


@MODELS.register_module()
class SCNet(ResNet):
    """SCNet, as MMPose builds it: a ResNet of :class:`SCBottleneck` blocks.

    Args:
        depth (int): 50 or 101.
        **kwargs: Every other :class:`ResNet` argument; ``dilations`` must
            stay 1.

    Input (N, in_channels, H, W); stage i gives
    (N, base_channels * 4 * 2**i, H / 2**(i + 2), W / 2**(i + 2)).
    """

    arch_settings = {50: (SCBottleneck, (3, 4, 6, 3)), 101: (SCBottleneck, (3, 4, 23, 3))}
