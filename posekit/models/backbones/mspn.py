"""MSPN (Li et al. 2019, "Rethinking on Multi-Stage Networks for Human Pose
Estimation"), with MMPose's module names so its checkpoints load.

Layout: a ResNet stem (``top.top.0`` ConvModule 7x7/2 + max-pool), then
``num_stages`` hourglass-like stages (``multi_stage_mspn.i``), each a
``downsample`` path (``layer1..num_units`` of residual blocks, widths
64 * 2**i * expansion) and an ``upsample`` path (``up1..num_units``, from the
coarsest level up). Every stage but the last hands the next one its skips
(``out_skip1``/``out_skip2`` per level) and its finest map (``cross_conv``).
:mod:`.rsn` reuses this frame with Residual Steps Blocks.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from posekit.registry import MODELS

from ..utils import ConvModule
from ..utils.checkpoint import load_checkpoint_file, load_state_dict
from .base_backbone import BaseBackbone
from .resnet import Bottleneck

# Conv Kaiming, norms 1, Linear N(0, 0.01): MMPose's default for MSPN and RSN.
MULTI_STAGE_INIT = (dict(type='Kaiming', layer=['Conv2d']),
                    dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm']),
                    dict(type='Normal', std=0.01, layer=['Linear']))
# MMPose builds a 64-channel stem and 64-channel cross convs whatever
# res_top_channels says, so any other value could not run there either.
_STEM_CHANNELS = 64

# make_block(in_channels, width, stride, downsample, first) -> block; ``first``
# is the first block of a layer (the only one MMPose gives norm_cfg to).
BlockMaker = Callable[[int, int, int, 'nn.Module | None', bool], nn.Module]


def _conv1x1(in_channels: int, out_channels: int, norm_cfg: dict,
             act: bool = True, stride: int = 1) -> ConvModule:
    return ConvModule(in_channels, out_channels, 1, stride=stride,
                      norm_cfg=norm_cfg, act_cfg=dict(type='ReLU') if act else None)


class DownsamplePath(nn.Module):
    """``layer1..num_units``: stride 1 then 2 per unit; with ``has_skip``
    each unit's output adds the previous stage's two skips at its level.

    Returns the unit outputs coarsest first: (N, C_i, H_i, W_i) each.
    """

    def __init__(self, make_block: BlockMaker, expansion: int,
                 num_blocks: Sequence[int], has_skip: bool, norm_cfg: dict,
                 in_channels: int = _STEM_CHANNELS):
        super().__init__()
        self.has_skip = has_skip
        self.num_units = len(num_blocks)
        channels = in_channels
        for i, n in enumerate(num_blocks):
            width, stride = in_channels * 2 ** i, 1 if i == 0 else 2
            out = width * expansion
            shortcut = None
            if stride != 1 or channels != out:
                shortcut = _conv1x1(channels, out, norm_cfg, act=False, stride=stride)
            blocks = [make_block(channels, width, stride, shortcut, True)]
            blocks += [make_block(out, width, 1, None, False) for _ in range(1, n)]
            self.add_module(f'layer{i + 1}', nn.Sequential(*blocks))
            channels = out

    def forward(self, x: torch.Tensor, skip1: list | None, skip2: list | None
                ) -> tuple[torch.Tensor, ...]:
        outs = []
        for i in range(self.num_units):
            x = getattr(self, f'layer{i + 1}')(x)
            if self.has_skip:
                x = x + skip1[i] + skip2[i]
            outs.append(x)
        return tuple(reversed(outs))


class UpsampleUnit(nn.Module):
    """relu(in_skip(x) + up_conv(upsampled coarser output)) at one level,
    plus the skips / cross conv the next stage needs."""

    def __init__(self, ind: int, num_units: int, in_channels: int,
                 unit_channels: int, gen_skip: bool, gen_cross_conv: bool,
                 norm_cfg: dict):
        super().__init__()
        self.ind = ind
        self.in_skip = _conv1x1(in_channels, unit_channels, norm_cfg, act=False)
        self.relu = nn.ReLU(inplace=True)
        if ind > 0:
            self.up_conv = _conv1x1(unit_channels, unit_channels, norm_cfg, act=False)
        self.gen_skip = gen_skip
        if gen_skip:
            self.out_skip1 = _conv1x1(in_channels, in_channels, norm_cfg)
            self.out_skip2 = _conv1x1(unit_channels, in_channels, norm_cfg)
        self.gen_cross_conv = gen_cross_conv and ind == num_units - 1
        if self.gen_cross_conv:
            self.cross_conv = _conv1x1(unit_channels, _STEM_CHANNELS, norm_cfg)

    def forward(self, x: torch.Tensor, up_x: torch.Tensor | None) -> tuple:
        out = self.in_skip(x)
        if self.ind > 0:
            # align_corners=True as MMPose, so its weights give its outputs.
            up_x = F.interpolate(up_x, size=x.shape[2:], mode='bilinear',
                                 align_corners=True)
            out = out + self.up_conv(up_x)
        out = self.relu(out)
        skip1 = self.out_skip1(x) if self.gen_skip else None
        skip2 = self.out_skip2(out) if self.gen_skip else None
        cross = self.cross_conv(out) if self.gen_cross_conv else None
        return out, skip1, skip2, cross


class UpsamplePath(nn.Module):
    """``up1..num_units`` from the coarsest level; returns (outputs coarsest
    first, skip1 and skip2 finest first, cross conv or None)."""

    def __init__(self, unit_channels: int, num_units: int, gen_skip: bool,
                 gen_cross_conv: bool, norm_cfg: dict, level_channels: Sequence[int]):
        super().__init__()
        self.num_units = num_units
        for i in range(num_units):
            self.add_module(f'up{i + 1}', UpsampleUnit(
                i, num_units, level_channels[num_units - 1 - i], unit_channels,
                gen_skip, gen_cross_conv, norm_cfg))

    def forward(self, feats: Sequence[torch.Tensor]) -> tuple:
        outs, skip1, skip2, cross, prev = [], [], [], None, None
        for i in range(self.num_units):
            prev, s1, s2, c = getattr(self, f'up{i + 1}')(feats[i], prev)
            outs.append(prev)
            skip1.append(s1)
            skip2.append(s2)
            cross = c if c is not None else cross
        return outs, skip1[::-1], skip2[::-1], cross


class SingleStage(nn.Module):
    """One hourglass-like stage: ``downsample`` then ``upsample``."""

    def __init__(self, make_block: BlockMaker, expansion: int, has_skip: bool,
                 gen_skip: bool, unit_channels: int, num_blocks: Sequence[int],
                 norm_cfg: dict):
        super().__init__()
        self.downsample = DownsamplePath(make_block, expansion, num_blocks,
                                         has_skip, norm_cfg)
        level_channels = [expansion * _STEM_CHANNELS * 2 ** i
                          for i in range(len(num_blocks))]
        self.upsample = UpsamplePath(unit_channels, len(num_blocks), gen_skip,
                                     gen_skip, norm_cfg, level_channels)

    def forward(self, x: torch.Tensor, skip1, skip2) -> tuple:
        return self.upsample(self.downsample(x, skip1, skip2))


class ResNetTop(nn.Module):
    """The stem: ``top.0`` ConvModule(3, 64, 7, stride 2) and ``top.1`` max-pool."""

    def __init__(self, norm_cfg: dict, channels: int = _STEM_CHANNELS):
        super().__init__()
        self.top = nn.Sequential(
            ConvModule(3, channels, 7, stride=2, padding=3, norm_cfg=norm_cfg),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1))

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        return self.top(img)


def check_multi_stage_args(name: str, num_stages: int, num_units: int,
                           num_blocks: Sequence[int], res_top_channels: int) -> None:
    """ValueError naming the argument MMPose's MSPN/RSN cannot build with."""
    if num_stages < 1:
        raise ValueError(f'{name}: num_stages must be >= 1, got {num_stages}')
    if num_units < 2:
        raise ValueError(f'{name}: num_units must be >= 2, got {num_units}')
    if len(num_blocks) != num_units:
        raise ValueError(f'{name}: num_blocks needs one entry per unit '
                         f'({num_units}), got {list(num_blocks)}')
    if res_top_channels != _STEM_CHANNELS:
        raise ValueError(f'{name}: res_top_channels must be 64 (MMPose builds '
                         f'a 64-channel stem whatever it says), got {res_top_channels}')


def multi_stage_forward(top: nn.Module, stages: nn.ModuleList,
                        x: torch.Tensor) -> list:
    """Stem, then each stage fed the previous one's skips and cross conv."""
    feats, skip1, skip2 = [], None, None
    x = top(x)
    for stage in stages:
        out, skip1, skip2, x = stage(x, skip1, skip2)
        feats.append(out)
    return feats


@MODELS.register_module()
class MSPN(BaseBackbone):
    """Multi-Stage Pose Network backbone.

    Args:
        unit_channels (int): Channels of every upsample unit output. Default 256.
        num_stages (int): Stages. Default 4.
        num_units (int): Down/upsample units per stage (= len(num_blocks)).
        num_blocks (Sequence[int]): Bottlenecks per downsample unit.
        norm_cfg (dict): Norm layers. As in MMPose, only the first block of
            each unit (and the ConvModules) use it; the other bottlenecks
            use BN.
        res_top_channels (int): Stem channels; must be 64 (see above).
        init_cfg (dict | list[dict]): Default :data:`MULTI_STAGE_INIT`. A
            ``Pretrained`` dict loads a torchvision-style ResNet checkpoint
            (``conv1``/``bn1``/``layerX``) into the stem and into every
            stage's downsample path, as MMPose does.

    Input (N, 3, H, W). Returns a list with, per stage, a list of num_units
    maps (N, unit_channels, H / 2**(1 + num_units - j), ...) for j = 0..
    num_units - 1 (coarsest first); e.g. 256x192 input, 4 units: 8x6 ... 64x48.
    """

    def __init__(self, unit_channels: int = 256, num_stages: int = 4,
                 num_units: int = 4, num_blocks: Sequence[int] = (2, 2, 2, 2),
                 norm_cfg: dict | None = None, res_top_channels: int = 64,
                 init_cfg: dict | list | None = list(MULTI_STAGE_INIT)):  # noqa: B006
        super().__init__(init_cfg=init_cfg)
        check_multi_stage_args('MSPN', num_stages, num_units, num_blocks,
                               res_top_channels)
        norm_cfg = dict(norm_cfg or dict(type='BN'))
        self.unit_channels, self.num_stages = unit_channels, num_stages
        self.num_units, self.num_blocks = num_units, list(num_blocks)
        self.norm_cfg = norm_cfg

        def make_block(in_ch, width, stride, downsample, first):
            # MMPose gives norm_cfg only to a unit's first bottleneck.
            return Bottleneck(in_ch, width * 4, stride=stride, downsample=downsample,
                              norm_cfg=norm_cfg if first else None)

        self.top = ResNetTop(norm_cfg)
        self.multi_stage_mspn = nn.ModuleList(
            SingleStage(make_block, 4, i > 0, i < num_stages - 1, unit_channels,
                        num_blocks, norm_cfg) for i in range(num_stages))

    def forward(self, x: torch.Tensor) -> list:
        return multi_stage_forward(self.top, self.multi_stage_mspn, x)

    def init_weights(self) -> None:
        cfg = self.init_cfg
        if not (isinstance(cfg, dict) and cfg.get('type') == 'Pretrained'):
            super().init_weights()
            return
        state = load_checkpoint_file(cfg['checkpoint'],
                                     map_location=cfg.get('map_location', 'cpu'))
        top, blocks = {}, {}
        for k, v in state.items():
            if k.startswith('layer'):
                blocks[k.replace('downsample.0', 'downsample.conv')
                        .replace('downsample.1', 'downsample.bn')] = v
            elif k.startswith('conv1'):
                top[k.replace('conv1', 'top.0.conv', 1)] = v
            elif k.startswith('bn1'):
                top[k.replace('bn1', 'top.0.bn', 1)] = v
        load_state_dict(self.top, top, strict=False)
        for stage in self.multi_stage_mspn:
            load_state_dict(stage.downsample, blocks, strict=False)
        self._is_init = True
