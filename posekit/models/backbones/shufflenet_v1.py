"""ShuffleNetV1 (Zhang et al. 2018), with MMPose's module names.

``conv1`` (3x3 stem ConvModule, stride 2), a 3x3 max-pool, then ``layers.0..2``
(stages of :class:`ShuffleUnit` blocks, 4, 8 and 4 of them). Each unit keeps
MMPose's ``g_conv_1x1_compress``, ``depthwise_conv3x3_bn`` and
``g_conv_1x1_expand`` ConvModules.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

from posekit.registry import MODELS

from ..utils import ConvModule, build_activation_layer
from .mobilenet_v2 import make_divisible
from .resnet import _maybe_checkpoint
from .shufflenet_v2 import SHUFFLENET_INIT_CFG, ShuffleNetBase, channel_shuffle

_BN = dict(type='BN')
_RELU = dict(type='ReLU')


class ShuffleUnit(nn.Module):
    """ShuffleNetV1 unit: grouped 1x1 compress, channel shuffle, 3x3
    depthwise, grouped 1x1 expand, combined with the input.

    Args:
        in_channels (int), out_channels (int): Channels in and out.
        groups (int): Groups of the 1x1 convs. Default 3.
        first_block (bool): The network's first unit compresses with an
            ungrouped 1x1 conv (its input, 24 channels, is too narrow to group).
        combine (str): 'add' (stride 1, residual sum, in == out channels) or
            'concat' (stride 2: the branch makes out - in channels, which are
            concatenated to a 3x3 average-pooled input).
        conv_cfg, norm_cfg, act_cfg (dict): Default None, BN, ReLU.
        with_cp (bool): Gradient checkpointing. Default False.
    """

    def __init__(self, in_channels: int, out_channels: int, groups: int = 3,
                 first_block: bool = True, combine: str = 'add',
                 conv_cfg: dict | None = None, norm_cfg: dict | None = _BN,
                 act_cfg: dict = _RELU, with_cp: bool = False):
        super().__init__()
        if combine == 'add':
            if in_channels != out_channels:
                raise ValueError(f'combine="add" needs in_channels == out_channels, '
                                 f'got {in_channels} and {out_channels}')
            stride, branch_out = 1, out_channels
        elif combine == 'concat':
            stride, branch_out = 2, out_channels - in_channels
            self.avgpool = nn.AvgPool2d(kernel_size=3, stride=2, padding=1)
        else:
            raise ValueError(f'combine must be "add" or "concat", got {combine!r}')
        self.combine, self.groups, self.with_cp = combine, groups, with_cp
        # MMPose sizes the bottleneck from the unit's full output width.
        mid = out_channels // 4
        common = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg)
        self.g_conv_1x1_compress = ConvModule(in_channels, mid, 1, groups=1 if first_block else groups,
                                              act_cfg=act_cfg, **common)
        self.depthwise_conv3x3_bn = ConvModule(mid, mid, 3, stride=stride, padding=1, groups=mid,
                                               act_cfg=None, **common)
        self.g_conv_1x1_expand = ConvModule(mid, branch_out, 1, groups=groups, act_cfg=None,
                                            **common)
        self.act = build_activation_layer(act_cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        def inner(x):
            out = self.depthwise_conv3x3_bn(self.g_conv_1x1_compress(x))
            if self.groups > 1:
                out = channel_shuffle(out, self.groups)
            out = self.g_conv_1x1_expand(out)
            if self.combine == 'concat':
                return torch.cat((self.avgpool(x), self.act(out)), dim=1)
            return self.act(x + out)

        return _maybe_checkpoint(inner, x, self.with_cp)


@MODELS.register_module()
class ShuffleNetV1(ShuffleNetBase):
    """ShuffleNetV1 backbone.

    Args:
        groups (int): Groups of the 1x1 convs: 1, 2, 3, 4 or 8 (each has its
            own widths). Default 3.
        widen_factor (float): Width multiplier (stage widths rounded to a
            multiple of 8). Default 1.0.
        out_indices (Sequence[int]): Which of ``layers.0..2`` (strides 8, 16,
            32) to return. Default (2,).
        frozen_stages (int): -1 freezes nothing; 0 freezes the stem's
            parameters (its BN keeps its mode, as in MMPose); k also freezes
            ``layers.0..k-1`` and puts them in eval mode. At most 2.
        conv_cfg, norm_cfg, act_cfg (dict): Default None, BN, ReLU.
        norm_eval (bool): Keep BN layers in eval mode while training.
        with_cp (bool): Gradient checkpointing in each unit.
        init_cfg (dict | list[dict]): Default Normal(0.01) convs, Constant(1,
            bias 1e-4) norms; unless it is a single Pretrained dict, the
            non-stem convs are then redrawn as MMPose does.

    Input (N, 3, H, W); ``layers.2``'s output is (N, C, H / 32, W / 32), C
    960 for groups=3.
    """

    widths = {1: (144, 288, 576), 2: (200, 400, 800), 3: (240, 480, 960),
              4: (272, 544, 1088), 8: (384, 768, 1536)}
    stage_blocks = (4, 8, 4)

    def __init__(self, groups: int = 3, widen_factor: float = 1.0,
                 out_indices: Sequence[int] = (2, ), frozen_stages: int = -1,
                 conv_cfg: dict | None = None, norm_cfg: dict | None = _BN,
                 act_cfg: dict = _RELU, norm_eval: bool = False, with_cp: bool = False,
                 init_cfg: dict | list[dict] | None = SHUFFLENET_INIT_CFG):
        super().__init__(list(init_cfg) if isinstance(init_cfg, tuple) else init_cfg)
        for index in out_indices:
            if index not in range(3):
                raise ValueError(f'out_indices entries must be in 0..2, got {index}')
        if frozen_stages not in range(-1, 3):
            raise ValueError(f'frozen_stages must be in -1..2, got {frozen_stages}')
        if groups not in self.widths:
            raise ValueError(f'groups must be one of 1, 2, 3, 4, 8, got {groups}')
        self.groups = groups
        self.out_indices, self.frozen_stages = tuple(out_indices), frozen_stages
        self.norm_eval, self.with_cp = norm_eval, with_cp
        common = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        in_ch = int(24 * widen_factor)
        self.conv1 = ConvModule(3, in_ch, 3, stride=2, padding=1, **common)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layers = nn.ModuleList()
        for i, (width, num_blocks) in enumerate(zip(self.widths[groups], self.stage_blocks)):
            out_ch = make_divisible(width * widen_factor, 8)
            units = []
            for k in range(num_blocks):
                # The first unit of a stage downsamples (concat); only the
                # network's very first one has an ungrouped compress conv.
                units.append(ShuffleUnit(in_ch, out_ch, groups, first_block=i == 0 and k == 0,
                                         combine='concat' if k == 0 else 'add',
                                         with_cp=with_cp, **common))
                in_ch = out_ch
            self.layers.append(nn.Sequential(*units))
        self._freeze_stages()
