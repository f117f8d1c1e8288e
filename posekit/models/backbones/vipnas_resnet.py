"""ViPNAS_ResNet: the searched ResNet-50 of ViPNAS (Xu et al. 2021).

Parameter names (so MMPose checkpoints load) are ResNet's (see
:mod:`.resnet`): ``conv1``/``bn1`` stem (or ``stem.0..2`` with ``deep_stem``),
``layerX.i.conv1..3``/``bn1..3``, ``layerX.0.downsample.0/.1``; blocks with
attention add ``attention.conv_mask`` and ``attention.channel_add_conv.0/.1/.3``
(a GCNet context block), listed after ``bn3`` and before ``downsample``.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

from posekit.registry import MODELS

from ..utils import build_conv_layer
from .base_backbone import BaseBackbone
from .resnet import Bottleneck, ResNet, make_res_layer


class ContextBlock(nn.Module):
    """GCNet's global context block (attention pooling, channel-add fusion).

    out = x + transform(sum_hw softmax(conv_mask(x)) * x), where ``transform``
    is 1x1 conv -> LayerNorm -> ReLU -> 1x1 conv through ``int(C * ratio)``
    channels. Only the variant MMPose's ViPNAS uses is built.

    Args:
        in_channels (int): C of the input.
        ratio (float): Bottleneck width ratio of ``transform``.

    Input (N, C, H, W); output the same shape.
    """

    def __init__(self, in_channels: int, ratio: float):
        super().__init__()
        planes = int(in_channels * ratio)
        self.conv_mask = nn.Conv2d(in_channels, 1, kernel_size=1)
        self.softmax = nn.Softmax(dim=2)
        self.channel_add_conv = nn.Sequential(
            nn.Conv2d(in_channels, planes, kernel_size=1),
            nn.LayerNorm([planes, 1, 1]), nn.ReLU(inplace=True),
            nn.Conv2d(planes, in_channels, kernel_size=1))
        nn.init.kaiming_normal_(self.conv_mask.weight, mode='fan_in',
                                nonlinearity='relu')
        nn.init.zeros_(self.conv_mask.bias)
        # the block starts as the identity: the fused term is zero
        nn.init.zeros_(self.channel_add_conv[-1].weight)
        nn.init.zeros_(self.channel_add_conv[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        weights = self.softmax(self.conv_mask(x).view(n, 1, h * w))  # (N, 1, HW)
        context = torch.bmm(x.view(n, c, h * w), weights.transpose(1, 2))
        return x + self.channel_add_conv(context.view(n, c, 1, 1))


class ViPNAS_Bottleneck(Bottleneck):
    """ResNet's bottleneck with a searched kxk grouped middle conv and an
    optional context block on the branch.

    Args:
        kernel_size (int): Searched kernel size of the middle conv.
        groups (int): Searched groups of the middle conv.
        attention (bool): Add a :class:`ContextBlock` after ``bn3``.
        Others: as :class:`~.resnet.Bottleneck` (the stage builder passes
            ``expansion=1``, as MMPose's ViPNAS_ResNet does by default).

    MMPose pads the middle conv by ``kernel_size // 2`` whatever the dilation,
    so a dilated block there fails at the residual sum; posekit pads for the
    dilated kernel (same weights, same output when dilation is 1).
    """

    def __init__(self, in_channels: int, out_channels: int, expansion: int = 4,
                 stride: int = 1, dilation: int = 1,
                 downsample: nn.Module | None = None, style: str = 'pytorch',
                 with_cp: bool = False, conv_cfg: dict | None = None,
                 norm_cfg: dict | None = None, kernel_size: int = 3,
                 groups: int = 1, attention: bool = False, init_cfg=None):
        super().__init__(in_channels, out_channels, expansion, stride, dilation,
                         None, style, with_cp, conv_cfg, norm_cfg, init_cfg,
                         groups=groups, kernel_size=kernel_size)
        self.attention = (ContextBlock(out_channels, max(1.0 / 16, 16.0 / out_channels))
                          if attention else None)
        # set after the attention block: MMPose's key order (bn3, attention,
        # downsample), which the optimizer state of its checkpoints follows
        self.downsample = downsample

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        out = super().branch(x)
        return out if self.attention is None else self.attention(out)


@MODELS.register_module()
class ViPNAS_ResNet(BaseBackbone):
    """ViPNAS searched ResNet, as MMPose builds it.

    The per-stage lists have the stem first: index 0 is the stem (its width
    ``wid[0]`` and kernel ``ks[0]``), index i + 1 is stage i.

    Args:
        depth (int): Only 50.
        in_channels (int): Input image channels. Default 3.
        num_stages (int): 1 to 4 stages. Default 4.
        strides, dilations (Sequence[int]): Per stage.
        out_indices (Sequence[int]): Stages whose output is returned. Default (3,).
        style (str): 'pytorch' (stride in the kxk conv) or 'caffe'.
        deep_stem (bool): Three 3x3 ConvModules (``stem``) instead of a
            ``ks[0]`` conv.
        avg_down (bool): AvgPool then a stride-1 conv in the shortcuts.
        frozen_stages (int): Stem (0) and stages 1..frozen_stages are frozen.
        conv_cfg, norm_cfg (dict): Layer configs. Default BN.
        norm_eval (bool): Keep BN layers in eval mode while training.
        with_cp (bool): Gradient checkpointing in each block.
        zero_init_residual (bool): Accepted for config compatibility; MMPose
            1.3.2 stores it but never zeroes any norm for this backbone, and
            posekit keeps that init (the last norms start at 1).
        wid (Sequence[int]): Stem width, then each stage's width before expansion.
        expan (Sequence[int | None]): Per-stage expansion (None means 1).
        dep (Sequence[int | None]): Blocks per stage (index 0 unused).
        ks (Sequence[int]): Stem kernel, then each stage's middle-conv kernel.
        group (Sequence[int | None]): Groups of each stage's middle conv.
        att (Sequence[bool | None]): Whether each stage's blocks use attention.
        init_cfg (dict | list[dict]): Default Normal(std=0.001) for Conv2d,
            1 for norms.

    Input (N, in_channels, H, W); with default strides stage i gives
    (N, wid[i + 1] * expan[i + 1], H / 2**(i + 2), W / 2**(i + 2)).
    """

    arch_settings = {50: ViPNAS_Bottleneck}

    def __init__(self, depth: int, in_channels: int = 3, num_stages: int = 4,
                 strides: Sequence[int] = (1, 2, 2, 2),
                 dilations: Sequence[int] = (1, 1, 1, 1),
                 out_indices: Sequence[int] = (3, ), style: str = 'pytorch',
                 deep_stem: bool = False, avg_down: bool = False,
                 frozen_stages: int = -1, conv_cfg: dict | None = None,
                 norm_cfg: dict | None = None, norm_eval: bool = False,
                 with_cp: bool = False, zero_init_residual: bool = True,
                 wid: Sequence[int] = (48, 80, 160, 304, 608),
                 expan: Sequence[int | None] = (None, 1, 1, 1, 1),
                 dep: Sequence[int | None] = (None, 4, 6, 7, 3),
                 ks: Sequence[int] = (7, 3, 5, 5, 5),
                 group: Sequence[int | None] = (None, 16, 16, 16, 16),
                 att: Sequence[bool | None] = (None, True, False, True, True),
                 init_cfg: dict | list[dict] | None = (
                     dict(type='Normal', std=0.001, layer=['Conv2d']),
                     dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm']))):
        super().__init__(list(init_cfg) if isinstance(init_cfg, tuple) else init_cfg)
        if depth not in self.arch_settings:
            raise KeyError(f'invalid depth {depth} for ViPNAS_ResNet; valid: '
                           f'{sorted(self.arch_settings)}')
        if not 1 <= num_stages <= 4:
            raise ValueError(f'num_stages must be 1..4, got {num_stages}')
        if not len(strides) == len(dilations) == num_stages:
            raise ValueError(f'strides {strides} and dilations {dilations} '
                             f'need num_stages={num_stages} entries each')
        if max(out_indices) >= num_stages:
            raise ValueError(f'out_indices {out_indices} must be < num_stages '
                             f'({num_stages})')
        for name, values in dict(wid=wid, expan=expan, dep=dep, ks=ks,
                                 group=group, att=att).items():
            if len(values) < num_stages + 1:
                raise ValueError(f'{name} needs num_stages + 1 = {num_stages + 1} '
                                 f'entries (stem first), got {list(values)}')
        self.depth, self.out_indices = depth, tuple(out_indices)
        self.deep_stem, self.frozen_stages = deep_stem, frozen_stages
        self.conv_cfg = conv_cfg
        self.norm_cfg = dict(norm_cfg) if norm_cfg else dict(type='BN', requires_grad=True)
        self.norm_eval, self.with_cp = norm_eval, with_cp
        self.zero_init_residual = zero_init_residual
        self.block = self.arch_settings[depth]
        # ResNet's stem, with a searched width; the plain stem's conv also
        # has a searched kernel (re-assigning keeps its place in the state_dict)
        ResNet._make_stem(self, in_channels, wid[0])
        if not deep_stem:
            self.conv1 = build_conv_layer(conv_cfg, in_channels, wid[0],
                                          kernel_size=ks[0], stride=2,
                                          padding=ks[0] // 2, bias=False)
        self.res_layers = []
        in_ch = wid[0]
        for i in range(num_stages):
            expansion = expan[i + 1] or 1
            out_ch = wid[i + 1] * expansion
            layer = make_res_layer(
                self.block, dep[i + 1], in_ch, out_ch, stride=strides[i],
                avg_down=avg_down, conv_cfg=conv_cfg, norm_cfg=self.norm_cfg,
                expansion=expansion, dilation=dilations[i], style=style,
                with_cp=with_cp, kernel_size=ks[i + 1], groups=group[i + 1],
                attention=bool(att[i + 1]))
            self.add_module(f'layer{i + 1}', layer)
            self.res_layers.append(f'layer{i + 1}')
            in_ch = out_ch
        self.feat_dim = in_ch
        self._freeze_stages()

    # same stem norm, freezing and forward as ResNet (no shared base class to
    # inherit them from without also inheriting ResNet's constructor)
    norm1 = ResNet.norm1
    _freeze_stages = ResNet._freeze_stages
    forward = ResNet.forward
