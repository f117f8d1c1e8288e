"""ResNeSt: ResNet-D whose bottleneck 3x3 convs are split-attention convs.

Parameter names (so MMPose checkpoints load) are ResNetV1d's (see
:mod:`.resnet`), except inside each block: ``conv2`` is a
:class:`SplitAttentionConv2d` (``conv2.conv``, ``conv2.bn0``, ``conv2.fc1``
with bias, ``conv2.bn1``, ``conv2.fc2`` with bias) and there is no ``bn2``.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from posekit.registry import MODELS

from ..utils import build_conv_layer, build_norm_layer
from .resnet import Bottleneck, ResNetV1d
from .resnext import grouped_width


class SplitAttentionConv2d(nn.Module):
    """Split attention (Zhang et al. 2020): a conv gives ``radix`` candidate
    maps per group; a softmax over the radix, computed from their pooled sum,
    weighs them into one map.

    Args:
        in_channels (int): Input channels.
        channels (int): Output channels.
        kernel_size, stride, padding, dilation: Of the conv, as ``nn.Conv2d``.
        groups (int): Cardinal groups (the conv has ``groups * radix``).
        radix (int): Candidates per group; 1 gates with a sigmoid instead.
        reduction_factor (int): The attention's hidden width is
            ``max(in_channels * radix // reduction_factor, 32)``.
        conv_cfg (dict, optional), norm_cfg (dict): Layer configs. Default BN.

    Input (N, in_channels, H, W); output (N, channels, H', W') with H', W'
    as the conv gives them.
    """

    def __init__(self, in_channels: int, channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, dilation: int = 1, groups: int = 1, radix: int = 2,
                 reduction_factor: int = 4, conv_cfg: dict | None = None,
                 norm_cfg: dict | None = None):
        super().__init__()
        if radix < 1:
            raise ValueError(f'radix must be >= 1, got {radix}')
        norm_cfg = norm_cfg or dict(type='BN')
        hidden = max(in_channels * radix // reduction_factor, 32)
        self.radix, self.groups, self.channels = radix, groups, channels
        self.conv = build_conv_layer(conv_cfg, in_channels, channels * radix, kernel_size,
                                     stride=stride, padding=padding, dilation=dilation,
                                     groups=groups * radix, bias=False)
        self.norm0_name, norm0 = build_norm_layer(norm_cfg, channels * radix, postfix=0)
        self.add_module(self.norm0_name, norm0)
        self.relu = nn.ReLU(inplace=True)
        self.fc1 = nn.Conv2d(channels, hidden, 1, groups=groups)
        self.norm1_name, norm1 = build_norm_layer(norm_cfg, hidden, postfix=1)
        self.add_module(self.norm1_name, norm1)
        self.fc2 = nn.Conv2d(hidden, channels * radix, 1, groups=groups)

    @property
    def norm0(self) -> nn.Module:
        return getattr(self, self.norm0_name)

    @property
    def norm1(self) -> nn.Module:
        return getattr(self, self.norm1_name)

    def _attention(self, logits: torch.Tensor) -> torch.Tensor:
        """(N, channels * radix, 1, 1) logits -> (N, radix, channels, 1, 1) weights.

        The conv's channels are ordered (group, radix, c); the weights are
        softmaxed over the radix and returned radix-major, as the maps are split.
        """
        n = logits.shape[0]
        if self.radix == 1:
            return torch.sigmoid(logits).view(n, 1, self.channels, 1, 1)
        weights = F.softmax(logits.view(n, self.groups, self.radix, -1).transpose(1, 2), dim=1)
        return weights.reshape(n, self.radix, self.channels, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.norm0(self.conv(x)))
        n = x.shape[0]
        splits = x.view(n, self.radix, self.channels, *x.shape[2:])
        pooled = F.adaptive_avg_pool2d(splits.sum(dim=1), 1)
        hidden = self.relu(self.norm1(self.fc1(pooled)))
        weights = self._attention(self.fc2(hidden))
        return (weights * splits).sum(dim=1)


class ResNeStBottleneck(Bottleneck):
    """A :class:`Bottleneck` whose 3x3 conv is a :class:`SplitAttentionConv2d`
    (it has its own norms, so the block has no ``bn2``).

    Args:
        in_channels (int), out_channels (int): Block input/output channels.
        groups (int), width_per_group (int), base_channels (int): The 3x3
            width, as :func:`.resnext.grouped_width`. Default 1, 4, 64.
        radix (int), reduction_factor (int): Of the split attention. Default 2, 4.
        avg_down_stride (bool): A stride-2 3x3 conv becomes stride 1 followed
            by a 3x3 AvgPool (``avd_layer``) with the stride. Default True.
        **kwargs: Every other :class:`Bottleneck` argument.
    """

    def __init__(self, in_channels: int, out_channels: int, groups: int = 1,
                 width_per_group: int = 4, base_channels: int = 64, radix: int = 2,
                 reduction_factor: int = 4, avg_down_stride: bool = True, **kwargs):
        expansion = kwargs.get('expansion', self.expansion)
        mid = grouped_width(out_channels, expansion, groups, width_per_group, base_channels)
        # Bottleneck builds conv1/bn1 and conv3/bn3; its conv2 is replaced in
        # place (keeping MMPose's state_dict order) and its bn2 removed.
        super().__init__(in_channels, out_channels, mid_channels=mid, **kwargs)
        # with style='caffe' Bottleneck strides in conv1 and conv2 keeps stride 1
        stride = kwargs.get('stride', 1) if kwargs.get('style', 'pytorch') == 'pytorch' else 1
        dilation = kwargs.get('dilation', 1)
        self.avg_down_stride = avg_down_stride and stride > 1
        self.conv2 = SplitAttentionConv2d(
            mid, mid, kernel_size=3, stride=1 if self.avg_down_stride else stride,
            padding=dilation, dilation=dilation, groups=groups, radix=radix,
            reduction_factor=reduction_factor, conv_cfg=kwargs.get('conv_cfg'),
            norm_cfg=kwargs.get('norm_cfg'))
        delattr(self, self.norm2_name)
        if self.avg_down_stride:
            self.avd_layer = nn.AvgPool2d(3, stride, padding=1)

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.relu(self.norm1(self.conv1(x))))
        if self.avg_down_stride:
            out = self.avd_layer(out)
        return self.norm3(self.conv3(out))


@MODELS.register_module()
class ResNeSt(ResNetV1d):
    """ResNeSt (Zhang et al. 2020), as MMPose builds it: deep stem, AvgPool
    shortcuts, split-attention bottlenecks.

    Args:
        depth (int): 50, 101, 152, 200 or 269.
        groups (int): Cardinal groups of the split attention. Default 1.
        width_per_group (int): Channels per group at stage 1 (with groups > 1).
        radix (int): Split-attention radix. Default 2.
        reduction_factor (int): Attention reduction. Default 4.
        avg_down_stride (bool): Stride by AvgPool after the 3x3. Default True.
        base_channels (int): Stage-1 width before expansion. Default 64.
        **kwargs: Every other :class:`ResNet` argument (not ``deep_stem`` or
            ``avg_down``: ResNeSt always has both).

    Input (N, in_channels, H, W); stage i gives
    (N, base_channels * 4 * 2**i, H / 2**(i + 2), W / 2**(i + 2)).
    """

    arch_settings = {50: (ResNeStBottleneck, (3, 4, 6, 3)),
                     101: (ResNeStBottleneck, (3, 4, 23, 3)),
                     152: (ResNeStBottleneck, (3, 8, 36, 3)),
                     200: (ResNeStBottleneck, (3, 24, 36, 3)),
                     269: (ResNeStBottleneck, (3, 30, 48, 8))}

    def __init__(self, depth: int, groups: int = 1, width_per_group: int = 4, radix: int = 2,
                 reduction_factor: int = 4, avg_down_stride: bool = True,
                 base_channels: int = 64, **kwargs):
        # read by _block_args() while ResNet.__init__ builds the stages
        self.block_options = dict(groups=groups, width_per_group=width_per_group,
                                  base_channels=base_channels, radix=radix,
                                  reduction_factor=reduction_factor,
                                  avg_down_stride=avg_down_stride)
        super().__init__(depth=depth, base_channels=base_channels, **kwargs)

    def _block_args(self) -> dict:
        return dict(self.block_options)
