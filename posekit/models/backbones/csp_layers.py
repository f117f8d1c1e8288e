"""Building blocks of CSPNeXt (RTMDet/RTMPose), with MMDetection's module names.

CSPLayer: ``main_conv``, ``short_conv``, ``blocks.i``, ``attention``,
``final_conv``; CSPNeXtBlock and DarknetBottleneck: ``conv1``, ``conv2``;
ChannelAttention: ``fc``; SPPBottleneck: ``conv1``, ``poolings``, ``conv2``.
Every conv is an MMCV-style ConvModule (``conv``, ``bn``, ``activate``).
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

from ..utils import ConvModule, DepthwiseSeparableConvModule
from .base_backbone import BaseBackbone, freeze

# MMDetection's defaults for these blocks. Default dicts below are shared but
# never mutated (ConvModule copies them); None means "no norm" / "no activation".
_NORM = dict(type='BN', momentum=0.03, eps=0.001)
_SWISH = dict(type='Swish')
_SILU = dict(type='SiLU')


class ChannelAttention(nn.Module):
    """x * hardsigmoid(fc(global average of x)): channel reweighting."""

    def __init__(self, channels: int):
        super().__init__()
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Conv2d(channels, channels, 1, 1, 0, bias=True)
        self.act = nn.Hardsigmoid(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.act(self.fc(self.global_avgpool(x)))


class SPPBottleneck(nn.Module):
    """1x1 conv to half width, concat with stride-1 max-pools of each kernel
    size, 1x1 conv to ``out_channels`` (spatial pyramid pooling, YOLOv3-SPP)."""

    def __init__(self, in_channels: int, out_channels: int,
                 kernel_sizes: Sequence[int] = (5, 9, 13), conv_cfg: dict | None = None,
                 norm_cfg: dict | None = _NORM, act_cfg: dict | None = _SWISH):
        super().__init__()
        mid = in_channels // 2
        common = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.conv1 = ConvModule(in_channels, mid, 1, stride=1, **common)
        self.poolings = nn.ModuleList(nn.MaxPool2d(kernel_size=k, stride=1, padding=k // 2)
                                      for k in kernel_sizes)
        self.conv2 = ConvModule(mid * (len(kernel_sizes) + 1), out_channels, 1, **common)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        return self.conv2(torch.cat([x] + [pool(x) for pool in self.poolings], dim=1))


class DarknetBottleneck(nn.Module):
    """1x1 conv then 3x3 conv, plus the input when shapes allow (YOLOX/CSPDarknet)."""

    def __init__(self, in_channels: int, out_channels: int, expansion: float = 0.5,
                 add_identity: bool = True, use_depthwise: bool = False,
                 conv_cfg: dict | None = None, norm_cfg: dict | None = _NORM,
                 act_cfg: dict | None = _SWISH):
        super().__init__()
        hidden = int(out_channels * expansion)
        common = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        conv = DepthwiseSeparableConvModule if use_depthwise else ConvModule
        self.conv1 = ConvModule(in_channels, hidden, 1, **common)
        self.conv2 = conv(hidden, out_channels, 3, stride=1, padding=1, **common)
        self.add_identity = add_identity and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.conv1(x))
        return out + x if self.add_identity else out


class CSPNeXtBlock(nn.Module):
    """3x3 conv then a large-kernel (default 5x5) depthwise-separable conv,
    plus the input when shapes allow (RTMDet's basic block)."""

    def __init__(self, in_channels: int, out_channels: int, expansion: float = 0.5,
                 add_identity: bool = True, use_depthwise: bool = False,
                 kernel_size: int = 5, conv_cfg: dict | None = None,
                 norm_cfg: dict | None = _NORM, act_cfg: dict | None = _SILU):
        super().__init__()
        hidden = int(out_channels * expansion)
        conv = DepthwiseSeparableConvModule if use_depthwise else ConvModule
        # MMDetection gives conv1 no conv_cfg; kept so the layers are the same.
        self.conv1 = conv(in_channels, hidden, 3, stride=1, padding=1,
                          norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.conv2 = DepthwiseSeparableConvModule(
            hidden, out_channels, kernel_size, stride=1, padding=kernel_size // 2,
            conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.add_identity = add_identity and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.conv1(x))
        return out + x if self.add_identity else out


class CSPLayer(nn.Module):
    """Cross Stage Partial layer: a short 1x1 path and a main 1x1 path through
    ``num_blocks`` blocks, concatenated, [channel attention], 1x1 fused.

    Args:
        in_channels (int), out_channels (int): Layer input/output widths.
        expand_ratio (float): Each path's width relative to ``out_channels``.
        num_blocks (int): Blocks on the main path.
        add_identity (bool): Residual connections inside the blocks.
        use_depthwise (bool): Depthwise-separable 3x3 convs in the blocks.
        use_cspnext_block (bool): CSPNeXtBlock instead of DarknetBottleneck.
        channel_attention (bool): ChannelAttention on the concatenation.
    """

    def __init__(self, in_channels: int, out_channels: int, expand_ratio: float = 0.5,
                 num_blocks: int = 1, add_identity: bool = True,
                 use_depthwise: bool = False, use_cspnext_block: bool = False,
                 channel_attention: bool = False, conv_cfg: dict | None = None,
                 norm_cfg: dict | None = _NORM, act_cfg: dict | None = _SWISH):
        super().__init__()
        common = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        block = CSPNeXtBlock if use_cspnext_block else DarknetBottleneck
        mid = int(out_channels * expand_ratio)
        self.channel_attention = channel_attention
        self.main_conv = ConvModule(in_channels, mid, 1, **common)
        self.short_conv = ConvModule(in_channels, mid, 1, **common)
        self.final_conv = ConvModule(2 * mid, out_channels, 1, **common)
        self.blocks = nn.Sequential(*[block(mid, mid, 1.0, add_identity, use_depthwise,
                                            **common) for _ in range(num_blocks)])
        if channel_attention:
            self.attention = ChannelAttention(2 * mid)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_short = self.short_conv(x)
        x_main = self.blocks(self.main_conv(x))
        out = torch.cat((x_main, x_short), dim=1)
        if self.channel_attention:
            out = self.attention(out)
        return self.final_conv(out)


class CSPStagesBackbone(BaseBackbone):
    """A stem and stages ``stage1..N`` run in order (MMDetection's CSPDarknet
    and CSPNeXt): each stage a stride-2 conv, an SPPBottleneck where the
    arch setting asks for one, then a CSPLayer. The outputs are those of
    ``out_indices`` (0 = stem). Subclasses define ``arch_settings``: per
    arch a list of ``[in_channels, out_channels, num_blocks, add_identity,
    use_spp]``, and build ``self.stem`` before :meth:`_add_stages`.
    """

    arch_settings: dict = {}

    def _check_arch(self, arch: str, arch_ovewrite: list | None,
                    out_indices: Sequence[int], frozen_stages: int) -> list:
        """The stage setting of ``arch`` (or ``arch_ovewrite``), after
        checking the indices against it; sets ``out_indices`` and
        ``frozen_stages``."""
        name = type(self).__name__
        if arch not in self.arch_settings:
            raise KeyError(f'invalid arch {arch!r} for {name}; valid: '
                           f'{sorted(self.arch_settings)}')
        setting = arch_ovewrite or self.arch_settings[arch]
        if not set(out_indices) <= set(range(len(setting) + 1)):
            raise ValueError(f'out_indices {tuple(out_indices)} must be in '
                             f'0..{len(setting)}')
        if frozen_stages not in range(-1, len(setting) + 1):
            raise ValueError(f'frozen_stages must be in -1..{len(setting)}, '
                             f'got {frozen_stages}')
        self.out_indices, self.frozen_stages = tuple(out_indices), frozen_stages
        return setting

    def _add_stages(self, setting: list, widen_factor: float,
                    deepen_factor: float, use_depthwise: bool,
                    spp_kernel_sizes: Sequence[int], conv_cfg: dict | None,
                    norm_cfg: dict | None, act_cfg: dict | None,
                    **csp_options) -> None:
        """Add ``stage1..N`` after the stem; ``csp_options`` go to each
        CSPLayer (CSPNeXt's block options)."""
        conv = DepthwiseSeparableConvModule if use_depthwise else ConvModule
        common = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.layers = ['stem']
        for i, (cin, cout, num_blocks, add_identity, use_spp) in enumerate(setting):
            cin, cout = int(cin * widen_factor), int(cout * widen_factor)
            stage = [conv(cin, cout, 3, stride=2, padding=1, **common)]
            if use_spp:
                stage.append(SPPBottleneck(cout, cout, kernel_sizes=spp_kernel_sizes,
                                           **common))
            stage.append(CSPLayer(
                cout, cout, num_blocks=max(round(num_blocks * deepen_factor), 1),
                add_identity=add_identity, use_depthwise=use_depthwise,
                **csp_options, **common))
            self.add_module(f'stage{i + 1}', nn.Sequential(*stage))
            self.layers.append(f'stage{i + 1}')
        self._freeze_stages()

    def _freeze_stages(self) -> None:
        freeze(getattr(self, self.layers[i]) for i in range(self.frozen_stages + 1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outs = []
        for i, name in enumerate(self.layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
