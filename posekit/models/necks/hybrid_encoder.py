"""HybridEncoder: RT-DETR's neck (Lv et al. 2023), RTMO's, MMPose's layout.

Each input level is projected to ``hidden_dim`` (``input_proj``, 1x1 conv +
norm); the levels in ``use_encoder_idx`` go through transformer encoder
layers (``encoder.{i}``) with a fixed 2D sine-cosine position encoding
(``sincos_pos_enc``); then a PAFPN path fuses the levels with CSPRepLayers
(``lateral_convs``, ``fpn_blocks``, ``downsample_convs``, ``pan_blocks``),
and an optional ``projector`` (any neck, e.g. ChannelMapper) maps the
selected outputs.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from posekit.registry import MODELS

from ..utils import BaseModule, ConvModule
from ..utils.reparam_layers import RepVGGBlock
from ..utils.transformer import DetrTransformerEncoder, SinePositionalEncoding
from .pafpn_path import pafpn_path

_BN = dict(type='BN', requires_grad=True)
_SILU = dict(type='SiLU', inplace=True)


class CSPRepLayer(nn.Module):
    """conv3(bottlenecks(conv1(x)) + conv2(x)): a CSP layer of RepVGG blocks.

    ``conv1``, ``conv2`` are 1x1 ConvModules to ``int(out_channels *
    widen_factor)``; ``bottlenecks`` holds ``num_blocks`` RepVGGBlocks (BN,
    ``act_cfg``); ``conv3`` is a 1x1 ConvModule back to ``out_channels``, or
    an identity when the widths agree.
    """

    def __init__(self, in_channels: int, out_channels: int, num_blocks: int = 3,
                 widen_factor: float = 1.0, norm_cfg: dict | None = _BN,
                 act_cfg: dict | None = _SILU):
        super().__init__()
        hidden = int(out_channels * widen_factor)
        common = dict(norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.conv1 = ConvModule(in_channels, hidden, kernel_size=1, **common)
        self.conv2 = ConvModule(in_channels, hidden, kernel_size=1, **common)
        # The blocks keep RepVGGBlock's default BN (as MMPose builds them).
        self.bottlenecks = nn.Sequential(*[RepVGGBlock(hidden, hidden, act_cfg=act_cfg)
                                           for _ in range(num_blocks)])
        self.conv3 = (ConvModule(hidden, out_channels, kernel_size=1, **common)
                      if hidden != out_channels else nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv3(self.bottlenecks(self.conv1(x)) + self.conv2(x))


def _upsample_2x(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2., mode='nearest')


@MODELS.register_module()
class HybridEncoder(BaseModule):
    """Transformer encoder on some levels, then CSP-RepVGG PAFPN fusion.

    Args:
        encoder_cfg (dict): ``DetrTransformerEncoderLayer`` arguments
            (``self_attn_cfg``, ``ffn_cfg``, ``norm_cfg``); its width must
            be ``hidden_dim``.
        projector (dict | nn.Module, optional): A neck applied to the
            selected outputs (built with MODELS).
        num_encoder_layers (int): Encoder layers per encoded level.
        in_channels (Sequence[int]): Input widths, finest level first.
        feat_strides (Sequence[int]): Input strides (recorded, not used).
        hidden_dim (int): Width of every level after projection.
        use_encoder_idx (Sequence[int]): Levels that get an encoder.
        pe_temperature (float): Temperature of the position encoding.
        widen_factor (float): CSPRepLayer hidden width / ``hidden_dim``.
        deepen_factor (float): RepVGG blocks per CSPRepLayer:
            round(3 * deepen_factor).
        spe_learnable (bool): Learnable position-encoding frequencies.
        output_indices (Sequence[int], optional): Levels returned (all if None).
        norm_cfg (dict): Norm of projections, lateral and downsample convs
            (default BN); the CSPRepLayers keep BN.
        act_cfg (dict): Activation of the fusion path (default SiLU).

    Input: L maps (N, in_channels[i], H / s_i, W / s_i), s_i = 8 * 2**i;
    output: tuple of the selected (N, hidden_dim, H / s_i, W / s_i) maps,
    or the projector's outputs.
    """

    def __init__(self, encoder_cfg: dict = dict(),  # noqa: B006 (never mutated)
                 projector: dict | nn.Module | None = None, num_encoder_layers: int = 1,
                 in_channels: Sequence[int] = (512, 1024, 2048),
                 feat_strides: Sequence[int] = (8, 16, 32), hidden_dim: int = 256,
                 use_encoder_idx: Sequence[int] = (2,), pe_temperature: float = 10000,
                 widen_factor: float = 1.0, deepen_factor: float = 1.0,
                 spe_learnable: bool = False, output_indices: Sequence[int] | None = None,
                 norm_cfg: dict | None = _BN, act_cfg: dict | None = _SILU):
        super().__init__()
        num = len(in_channels)
        if not set(use_encoder_idx) <= set(range(num)) or (
                output_indices is not None and not set(output_indices) <= set(range(num))):
            raise ValueError(f'HybridEncoder: use_encoder_idx {list(use_encoder_idx)} and '
                             f'output_indices {output_indices} must be in 0..{num - 1}')
        self.in_channels, self.feat_strides = list(in_channels), list(feat_strides)
        self.hidden_dim, self.use_encoder_idx = hidden_dim, list(use_encoder_idx)
        self.num_encoder_layers, self.pe_temperature = num_encoder_layers, pe_temperature
        self.output_indices = None if output_indices is None else list(output_indices)
        self.input_proj = nn.ModuleList(ConvModule(c, hidden_dim, kernel_size=1, padding=0,
                                                   norm_cfg=norm_cfg, act_cfg=None)
                                        for c in in_channels)
        if self.use_encoder_idx:
            self.encoder = nn.ModuleList(DetrTransformerEncoder(num_encoder_layers, encoder_cfg)
                                         for _ in self.use_encoder_idx)
        self.sincos_pos_enc = SinePositionalEncoding(
            hidden_dim // 2, learnable=spe_learnable, temperature=pe_temperature, spatial_dim=2)
        self._build_fusion(num, round(3 * deepen_factor), widen_factor, norm_cfg, act_cfg)
        self.projector = MODELS.build(projector) if isinstance(projector, dict) else projector

    def _build_fusion(self, num: int, num_blocks: int, widen_factor: float,
                      norm_cfg: dict | None, act_cfg: dict | None) -> None:
        dim = self.hidden_dim

        def rep_layer() -> CSPRepLayer:
            return CSPRepLayer(dim * 2, dim, num_blocks, act_cfg=act_cfg,
                               widen_factor=widen_factor)

        common = dict(norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.lateral_convs = nn.ModuleList(ConvModule(dim, dim, 1, 1, **common)
                                           for _ in range(num - 1))
        self.fpn_blocks = nn.ModuleList(rep_layer() for _ in range(num - 1))
        self.downsample_convs = nn.ModuleList(ConvModule(dim, dim, 3, stride=2, padding=1,
                                                         **common) for _ in range(num - 1))
        self.pan_blocks = nn.ModuleList(rep_layer() for _ in range(num - 1))

    def position_encoding(self, i: int, h: int, w: int) -> torch.Tensor:
        """(1, h * w, hidden_dim) encoding of an (h, w) grid, row-major;
        channels [cos y, sin y, cos x, sin x], hidden_dim / 4 each."""
        cached = getattr(self, f'pos_enc_{i}', None)
        if cached is not None and cached.shape[1] == h * w:
            return cached
        pos = self.sincos_pos_enc(size=(h, w))          # (h * w, C / 2, 2)
        return pos.transpose(-1, -2).reshape(1, h * w, -1)

    def forward(self, inputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        if len(inputs) != len(self.in_channels):
            raise ValueError(f'HybridEncoder was built for {len(self.in_channels)} levels, '
                             f'got {len(inputs)}')
        feats = [proj(x) for proj, x in zip(self.input_proj, inputs)]
        if self.num_encoder_layers > 0:
            for i, level in enumerate(self.use_encoder_idx):
                n, c, h, w = feats[level].shape
                tokens = feats[level].flatten(2).transpose(1, 2)        # (N, h * w, C)
                memory = self.encoder[i](tokens, query_pos=self.position_encoding(i, h, w),
                                         key_padding_mask=None)
                feats[level] = memory.transpose(1, 2).reshape(n, c, h, w)
        outs = pafpn_path(feats, self.lateral_convs, _upsample_2x, self.fpn_blocks,
                          self.downsample_convs, self.pan_blocks)
        if self.output_indices is not None:
            outs = [outs[i] for i in self.output_indices]
        if self.projector is not None:
            outs = self.projector(outs)
        return tuple(outs)

    def switch_to_deploy(self, test_cfg: dict) -> None:
        """Store each encoded level's position encoding for ``test_cfg['input_size']``.

        ``input_size`` is (w, h) in pixels (posekit's and MMPose's configs);
        level ``l`` has stride 2**(3 + l). The buffers ``pos_enc_{i}`` are
        used whenever a map of that size comes (so export needs no arange).
        """
        if getattr(self, 'deploy', False):
            return
        w, h = test_cfg['input_size']
        for i, level in enumerate(self.use_encoder_idx):
            stride = 2 ** (3 + level)
            self.register_buffer(f'pos_enc_{i}', self.position_encoding(
                i, int(h / stride), int(w / stride)))
        self.deploy = True
