"""HRNet (Sun et al. 2019): parallel branches at 1/4, 1/8, 1/16, 1/32 that
exchange information at the end of every module. MMPose's module names:

``conv1``/``bn1``, ``conv2``/``bn2`` (two stride-2 3x3 convs, 64 channels),
``layer1`` (stage 1, a ResNet layer), ``transition1..3`` (new branches or
channel changes between stages), ``stage2..4`` (sequences of HRModules, each
with ``branches.b.k`` blocks and ``fuse_layers.i.j`` exchanges).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import torch
import torch.nn as nn

from posekit.registry import MODELS

from ..utils import build_conv_layer, build_norm_layer
from .base_backbone import BaseBackbone, freeze
from .resnet import BasicBlock, Bottleneck, make_downsample, zero_init_last_norms



def _conv_norm(conv_cfg, norm_cfg, cin: int, cout: int, kernel: int, stride: int,
               relu: bool) -> nn.Sequential:
    """conv (no bias), norm, [ReLU]: the unit of HRNet's transitions and fusions."""
    layers = [build_conv_layer(conv_cfg, cin, cout, kernel_size=kernel, stride=stride,
                               padding=(kernel - 1) // 2, bias=False),
              build_norm_layer(norm_cfg, cout)[1]]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def _make_blocks(block: type, num_blocks: int, in_channels: int, out_channels: int,
                 with_cp: bool, conv_cfg, norm_cfg) -> nn.Sequential:
    """``num_blocks`` blocks at stride 1; the first gets a 1x1 shortcut if widths differ."""
    downsample = None
    if in_channels != out_channels:
        downsample = make_downsample(in_channels, out_channels, 1,
                                     conv_cfg=conv_cfg, norm_cfg=norm_cfg)
    blocks = [block(in_channels, out_channels, downsample=downsample,
                    with_cp=with_cp, norm_cfg=norm_cfg, conv_cfg=conv_cfg)]
    blocks += [block(out_channels, out_channels, with_cp=with_cp,
                     norm_cfg=norm_cfg, conv_cfg=conv_cfg)
               for _ in range(1, num_blocks)]
    return nn.Sequential(*blocks)


class HRModule(nn.Module):
    """Branches of blocks, then fusion: output i sums every branch resized to branch i.

    A higher-resolution branch j < i reaches i through (i - j) stride-2 3x3
    convs; a lower one j > i through a 1x1 conv and upsampling by 2**(j - i).
    With ``multiscale_output=False`` only the highest-resolution output is made.
    """

    def __init__(self, num_branches: int, block: type, num_blocks: Sequence[int],
                 in_channels: list[int], num_channels: Sequence[int],
                 multiscale_output: bool = False, with_cp: bool = False,
                 conv_cfg: dict | None = None, norm_cfg: dict | None = None,
                 upsample_cfg: Mapping | None = None):
        super().__init__()
        for name, value in (('num_blocks', num_blocks), ('num_channels', num_channels),
                            ('in_channels', in_channels)):
            if len(value) != num_branches:
                raise ValueError(f'HRModule: num_branches is {num_branches} but '
                                 f'{name} has {len(value)} entries: {list(value)}')
        norm_cfg = norm_cfg or dict(type='BN')
        upsample_cfg = dict(upsample_cfg or dict(mode='nearest', align_corners=None))
        self.num_branches = num_branches
        self.multiscale_output = multiscale_output
        out_channels = [c * block.expansion for c in num_channels]
        self.branches = nn.ModuleList(
            _make_blocks(block, num_blocks[i], in_channels[i], out_channels[i],
                         with_cp, conv_cfg, norm_cfg) for i in range(num_branches))
        self.in_channels = out_channels  # what the next module receives
        self.fuse_layers = None
        if num_branches > 1:
            num_out = num_branches if multiscale_output else 1
            self.fuse_layers = nn.ModuleList(
                nn.ModuleList(self._fuse_path(j, i, out_channels, conv_cfg, norm_cfg,
                                              upsample_cfg)
                              for j in range(num_branches))
                for i in range(num_out))
        self.relu = nn.ReLU(inplace=True)

    @staticmethod
    def _fuse_path(j: int, i: int, channels: list[int], conv_cfg, norm_cfg,
                   upsample_cfg: dict) -> nn.Module | None:
        """The layers taking branch j to branch i's resolution and width."""
        if j == i:
            return None
        if j > i:
            return nn.Sequential(
                *_conv_norm(conv_cfg, norm_cfg, channels[j], channels[i], 1, 1, False),
                nn.Upsample(scale_factor=2 ** (j - i), mode=upsample_cfg['mode'],
                            align_corners=upsample_cfg.get('align_corners')))
        steps = [_conv_norm(conv_cfg, norm_cfg, channels[j], channels[j], 3, 2, True)
                 for _ in range(i - j - 1)]
        steps.append(_conv_norm(conv_cfg, norm_cfg, channels[j], channels[i], 3, 2, False))
        return nn.Sequential(*steps)

    def forward(self, x: list[torch.Tensor]) -> list[torch.Tensor]:
        x = [branch(xi) for branch, xi in zip(self.branches, x)]
        if self.fuse_layers is None:
            return x
        outs = []
        for i, paths in enumerate(self.fuse_layers):
            # Summed in branch order, as MMPose does (same rounding).
            y = 0
            for j, path in enumerate(paths):
                y = y + (x[j] if j == i else path(x[j]))
            outs.append(self.relu(y))
        return outs


@MODELS.register_module()
class HRNet(BaseBackbone):
    """HRNet backbone, as MMPose builds it.

    Args:
        extra (dict): ``stage1`` .. ``stage4``, each a dict with
            ``num_modules``, ``num_branches``, ``block`` ('BASIC' or
            'BOTTLENECK'), ``num_blocks`` and ``num_channels`` (one entry per
            branch). ``stage4.multiscale_output`` (default False) returns
            every branch instead of only the 1/4 one. ``upsample``
            (default dict(mode='nearest', align_corners=None)) is used in fusions.
        in_channels (int): Input image channels. Default 3.
        conv_cfg, norm_cfg (dict): Layer configs. Default BN.
        norm_eval (bool): Keep BN layers in eval mode while training.
        with_cp (bool): Gradient checkpointing in each block.
        zero_init_residual (bool): The last norm of each block starts at 0.
        frozen_stages (int): Stem (0), then stage i (with ``layer1`` as stage
            1 and the transition after it) are frozen up to this index.
        init_cfg (dict | list[dict]): Default Normal(std=0.001) for Conv2d,
            1 for norms.

    Input (N, in_channels, H, W); output a tuple of (N, C_b, H / 2**(b + 2),
    W / 2**(b + 2)) for each returned branch b.
    """

    # the block types a stage's ``block`` may name (a subclass swaps them)
    BLOCKS = {'BASIC': BasicBlock, 'BOTTLENECK': Bottleneck}

    def __init__(self, extra: Mapping, in_channels: int = 3,
                 conv_cfg: dict | None = None, norm_cfg: dict | None = None,
                 norm_eval: bool = False, with_cp: bool = False,
                 zero_init_residual: bool = False, frozen_stages: int = -1,
                 init_cfg: dict | list[dict] | None = (
                     dict(type='Normal', std=0.001, layer=['Conv2d']),
                     dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm']))):
        super().__init__(list(init_cfg) if isinstance(init_cfg, tuple) else init_cfg)
        blocks = self.BLOCKS
        self.extra = extra
        self.conv_cfg = conv_cfg
        self.norm_cfg = dict(norm_cfg) if norm_cfg else dict(type='BN')
        self.norm_eval, self.with_cp = norm_eval, with_cp
        self.zero_init_residual, self.frozen_stages = zero_init_residual, frozen_stages
        self.upsample_cfg = extra.get('upsample', dict(mode='nearest', align_corners=None))

        self.conv1 = build_conv_layer(conv_cfg, in_channels, 64, kernel_size=3,
                                      stride=2, padding=1, bias=False)
        self.norm1_name, norm1 = build_norm_layer(self.norm_cfg, 64, postfix=1)
        self.add_module(self.norm1_name, norm1)
        self.conv2 = build_conv_layer(conv_cfg, 64, 64, kernel_size=3, stride=2,
                                      padding=1, bias=False)
        self.norm2_name, norm2 = build_norm_layer(self.norm_cfg, 64, postfix=2)
        self.add_module(self.norm2_name, norm2)
        self.relu = nn.ReLU(inplace=True)

        self.stage_cfgs = [extra[f'stage{i}'] for i in range(1, 5)]
        stage1 = self.stage_cfgs[0]
        block = blocks[stage1['block']]
        channels = [stage1['num_channels'][0] * block.expansion]
        self.layer1 = _make_blocks(block, stage1['num_blocks'][0], 64, channels[0],
                                   with_cp, conv_cfg, self.norm_cfg)
        for s in (2, 3, 4):
            cfg = self.stage_cfgs[s - 1]
            expansion = blocks[cfg['block']].expansion
            wanted = [c * expansion for c in cfg['num_channels']]
            self.add_module(f'transition{s - 1}', self._make_transition(channels, wanted))
            multiscale = cfg.get('multiscale_output', False) if s == 4 else True
            stage, channels = self._make_stage(cfg, wanted, multiscale, s)
            self.add_module(f'stage{s}', stage)
        self._freeze_stages()

    @property
    def norm1(self) -> nn.Module:
        return getattr(self, self.norm1_name)

    @property
    def norm2(self) -> nn.Module:
        return getattr(self, self.norm2_name)

    def _make_transition(self, pre: list[int], cur: list[int]) -> nn.ModuleList:
        """Existing branches change width (3x3 conv) if needed; new ones come
        from the last old branch through stride-2 3x3 convs."""
        layers: list[nn.Module | None] = []
        for i, c in enumerate(cur):
            if i < len(pre):
                layers.append(None if c == pre[i] else
                              _conv_norm(self.conv_cfg, self.norm_cfg, pre[i], c, 3, 1, True))
                continue
            steps = []
            for j in range(i + 1 - len(pre)):
                cout = c if j == i - len(pre) else pre[-1]
                steps.append(_conv_norm(self.conv_cfg, self.norm_cfg, pre[-1], cout,
                                        3, 2, True))
            layers.append(nn.Sequential(*steps))
        return nn.ModuleList(layers)

    def _make_stage(self, cfg: Mapping, in_channels: list[int], multiscale_output: bool,
                    stage: int) -> tuple[nn.Sequential, list[int]]:
        modules = []
        for k in range(cfg['num_modules']):
            last = k == cfg['num_modules'] - 1
            modules.append(HRModule(
                cfg['num_branches'], self.BLOCKS[cfg['block']], cfg['num_blocks'],
                list(in_channels), cfg['num_channels'],
                multiscale_output=multiscale_output or not last, with_cp=self.with_cp,
                conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg,
                upsample_cfg=self.upsample_cfg))
            in_channels = modules[-1].in_channels
        return nn.Sequential(*modules), in_channels

    def _freeze_stages(self) -> None:
        if self.frozen_stages >= 0:
            freeze([self.conv1, self.norm1, self.conv2, self.norm2])
        for i in range(1, self.frozen_stages + 1):
            freeze([self.layer1 if i == 1 else getattr(self, f'stage{i}')])
            if i < 4:
                freeze([getattr(self, f'transition{i}')])

    def init_weights(self) -> None:
        super().init_weights()
        if isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained':
            return
        if self.zero_init_residual:
            zero_init_last_norms(self)

    @staticmethod
    def _transit(transition: nn.ModuleList, ys: list[torch.Tensor]) -> list[torch.Tensor]:
        # As in MMPose, any branch that has a transition layer reads the
        # lowest-resolution previous output (for new branches that is the
        # point; for a width change on an existing branch it is MMPose's rule).
        return [ys[i] if t is None else t(ys[-1]) for i, t in enumerate(transition)]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.relu(self.norm1(self.conv1(x)))
        x = self.relu(self.norm2(self.conv2(x)))
        ys = [self.layer1(x)]
        for s in (2, 3, 4):
            xs = self._transit(getattr(self, f'transition{s - 1}'), ys)
            ys = getattr(self, f'stage{s}')(xs)
        return tuple(ys)
