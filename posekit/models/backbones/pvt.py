"""Pyramid Vision Transformer (PVT, Wang et al., 2021) and PVTv2 as MMPose
1.3.2 builds them: same arguments, state_dict keys and computation.

Each stage i is ``layers[i]``: a :class:`PatchEmbed` (``layers.i.0``), a list
``layers.i.1`` (an optional absolute position embedding, then the encoder
layers) and a norm or identity (``layers.i.2``). Tokens are (B, H * W, C)
row-major; stage outputs are (B, C_i, H_i, W_i).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from posekit.registry import MODELS
from ..utils import (DropPath, build_activation_layer, build_norm_layer, load_state_dict,
                     trunc_normal_)
from ..utils.checkpoint import load_checkpoint_file, select_prefix

from ..utils.transformer import MultiheadAttention
from .base_backbone import BaseBackbone
from .patch_layers import PatchEmbed, to_2tuple


def nlc_to_nchw(x: Tensor, hw_shape: Sequence[int]) -> Tensor:
    """(B, H * W, C) tokens -> (B, C, H, W) map."""
    B, L, C = x.shape
    H, W = hw_shape
    if L != H * W:
        raise ValueError(f'{L} tokens do not make a {H}x{W} map')
    return x.transpose(1, 2).reshape(B, C, H, W).contiguous()


class MixFFN(nn.Module):
    """1x1 conv, (3x3 depthwise conv if ``use_conv``), act, dropout, 1x1
    conv, dropout, on the token map; plus the identity.

    ``layers`` indices are MMPose's: fc1 ``0``, depthwise ``1`` (if any),
    fc2 ``3`` (``4`` with the depthwise conv).
    """

    def __init__(self, embed_dims: int, feedforward_channels: int,
                 act_cfg: dict = dict(type='GELU'),  # noqa: B006 (never mutated)
                 ffn_drop: float = 0., drop_path_rate: float = 0., use_conv: bool = False):
        super().__init__()
        self.embed_dims, self.feedforward_channels = embed_dims, feedforward_channels
        hidden = feedforward_channels
        drop = nn.Dropout(ffn_drop)   # one module twice, as in MMPose
        layers = [nn.Conv2d(embed_dims, hidden, 1), build_activation_layer(act_cfg), drop,
                  nn.Conv2d(hidden, embed_dims, 1), drop]
        if use_conv:
            layers.insert(1, nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden))
        self.layers = nn.Sequential(*layers)
        self.dropout_layer = DropPath(drop_path_rate)

    def forward(self, x: Tensor, hw_shape: Sequence[int], identity: Tensor | None = None) -> Tensor:
        """(B, H * W, C) -> (B, H * W, C)."""
        out = self.layers(nlc_to_nchw(x, hw_shape)).flatten(2).transpose(1, 2)
        return (x if identity is None else identity) + self.dropout_layer(out)


class SpatialReductionAttention(MultiheadAttention):
    """Attention whose keys and values come from the token map shrunk by a
    ``sr_ratio`` x ``sr_ratio`` strided conv (``sr``) and normalised
    (``norm``); identity plus the attention output.
    """

    def __init__(self, embed_dims: int, num_heads: int, attn_drop: float = 0.,
                 proj_drop: float = 0., drop_path_rate: float = 0., qkv_bias: bool = True,
                 norm_cfg: dict = dict(type='LN'),  # noqa: B006 (never mutated)
                 sr_ratio: int = 1):
        super().__init__(embed_dims, num_heads, attn_drop, proj_drop, batch_first=True,
                         bias=qkv_bias)
        # MMCV builds a DropPath dropout_layer; posekit's builder makes plain
        # Dropout only, so the (parameter-free) DropPath is set here.
        self.dropout_layer = DropPath(drop_path_rate)
        self.sr_ratio = sr_ratio
        if sr_ratio > 1:
            self.sr = nn.Conv2d(embed_dims, embed_dims, sr_ratio, stride=sr_ratio)
            self.norm = build_norm_layer(norm_cfg, embed_dims)[1]

    def forward(self, x: Tensor, hw_shape: Sequence[int],  # type: ignore[override]
                identity: Tensor | None = None) -> Tensor:
        """(B, H * W, C) -> (B, H * W, C)."""
        x_kv = x
        if self.sr_ratio > 1:
            x_kv = self.norm(self.sr(nlc_to_nchw(x, hw_shape)).flatten(2).transpose(1, 2))
        return super().forward(x, x_kv, x_kv, identity=x if identity is None else identity)


class PVTEncoderLayer(nn.Module):
    """x + attn(norm1(x)), then x + ffn(norm2(x)), on (B, H * W, C) tokens."""

    def __init__(self, embed_dims: int, num_heads: int, feedforward_channels: int,
                 drop_rate: float = 0., attn_drop_rate: float = 0., drop_path_rate: float = 0.,
                 qkv_bias: bool = True,
                 act_cfg: dict = dict(type='GELU'),  # noqa: B006 (never mutated)
                 norm_cfg: dict = dict(type='LN'),  # noqa: B006 (never mutated)
                 sr_ratio: int = 1, use_conv_ffn: bool = False):
        super().__init__()
        self.norm1 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.attn = SpatialReductionAttention(embed_dims, num_heads, attn_drop_rate, drop_rate,
                                              drop_path_rate, qkv_bias, norm_cfg, sr_ratio)
        self.norm2 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.ffn = MixFFN(embed_dims, feedforward_channels, act_cfg, drop_rate, drop_path_rate,
                          use_conv_ffn)

    def forward(self, x: Tensor, hw_shape: Sequence[int]) -> Tensor:
        x = self.attn(self.norm1(x), hw_shape, identity=x)
        return self.ffn(self.norm2(x), hw_shape, identity=x)


class AbsolutePositionEmbedding(nn.Module):
    """A learnt (1, h * w, C) embedding for a ``pos_shape`` (h, w) grid,
    bilinearly resized (align_corners False) to each input's grid and added."""

    def __init__(self, pos_shape: int | Sequence[int], pos_dim: int, drop_rate: float = 0.):
        super().__init__()
        self.pos_shape, self.pos_dim = to_2tuple(pos_shape), pos_dim
        self.pos_embed = nn.Parameter(torch.zeros(1, self.pos_shape[0] * self.pos_shape[1],
                                                  pos_dim))
        self.drop = nn.Dropout(p=drop_rate)

    def forward(self, x: Tensor, hw_shape: Sequence[int], mode: str = 'bilinear') -> Tensor:
        """(B, H * W, C) -> (B, H * W, C)."""
        grid = nlc_to_nchw(self.pos_embed, self.pos_shape)
        grid = F.interpolate(grid, size=tuple(hw_shape), mode=mode)
        return self.drop(x + grid.flatten(2).transpose(1, 2))


def pvt_convert(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Keys and layouts of an original PVT / PVTv2 checkpoint (whai362/PVT)
    -> this backbone's.

    ``patch_embed{s}`` -> ``layers.{s-1}.0`` (``proj`` -> ``projection``);
    ``pos_embed{s}`` -> ``layers.{s-1}.1.0.pos_embed`` (PVT's stage-4 class
    token dropped); ``block{s}.{j}`` -> ``layers.{s-1}.1.{j (+1 after a
    position embedding)}`` with q and kv Linears joined into
    ``attn.attn.in_proj_*``, ``attn.proj`` -> ``attn.attn.out_proj`` and the
    MLP's Linears as 1x1 convs of ``ffn.layers``; ``norm{s}`` ->
    ``layers.{s-1}.2``. The classifier, final norm and class token are dropped.
    """
    has_pos = any(k.startswith('pos_embed') for k in state_dict)
    has_dwconv = any('dwconv' in k for k in state_dict)
    out = {}
    for k, v in state_dict.items():
        if k.startswith(('head', 'norm.', 'cls_token')) or '.attn.kv.' in k:
            continue
        if k.startswith('pos_embed'):
            stage = int(k[len('pos_embed'):])
            k = f'layers.{stage - 1}.1.0.pos_embed'
            v = v[:, 1:] if stage == 4 and v.shape[1] == 50 else v   # 1 class + 7 * 7
        elif k.startswith('patch_embed'):
            head, rest = k.split('.', 1)
            k = f'layers.{int(head[len("patch_embed"):]) - 1}.0.' + rest.replace('proj.',
                                                                                'projection.')
        elif k.startswith('block'):
            head, j, rest = k.split('.', 2)
            k = f'layers.{int(head[len("block"):]) - 1}.1.{int(j) + has_pos}.'
            if rest.startswith('attn.q.'):
                v = torch.cat([v, state_dict[f'{head}.{j}.' + rest.replace('.q.', '.kv.')]])
                rest = rest.replace('attn.q.', 'attn.attn.in_proj_')
            elif rest.startswith('attn.proj.'):
                rest = rest.replace('attn.proj.', 'attn.attn.out_proj.')
            elif rest.startswith('mlp.'):
                if rest in ('mlp.fc1.weight', 'mlp.fc2.weight'):
                    v = v.reshape(*v.shape, 1, 1)
                fc2 = '4.' if has_dwconv else '3.'
                rest = (rest.replace('mlp.fc1.', 'ffn.layers.0.')
                        .replace('mlp.dwconv.dwconv.', 'ffn.layers.1.')
                        .replace('mlp.fc2.', 'ffn.layers.' + fc2))
            k += rest
        elif k.startswith('norm') and k[4].isdigit():
            k = f'layers.{int(k[4]) - 1}.2' + k[5:]
        out[k] = v
    return out


@MODELS.register_module()
class PyramidVisionTransformer(BaseBackbone):
    """PVT: stages of (patch embedding, position embedding, encoder layers
    with spatial-reduction attention); stage i has ``embed_dims *
    num_heads[i]`` channels.

    Args:
        pretrain_img_size (int | tuple[int]): Image (h, w) the absolute
            position embeddings are sized for (they are resized to each
            input). Default 224.
        in_channels (int): Input channels. Default 3.
        embed_dims (int): Channels per head. Default 64.
        num_stages (int): Number of stages; every list below has one value
            per stage. Default 4.
        num_layers (Sequence[int]): Encoder layers per stage. Default [3, 4, 6, 3].
        num_heads (Sequence[int]): Heads per stage. Default [1, 2, 5, 8].
        patch_sizes, strides, paddings (Sequence[int]): Patch embedding conv
            kernel, stride and padding per stage.
        sr_ratios (Sequence[int]): Key/value reduction per stage. Default [8, 4, 2, 1].
        out_indices (Sequence[int]): Stages returned. Default (0, 1, 2, 3).
        mlp_ratios (Sequence[int]): FFN hidden width / stage width.
        qkv_bias (bool): Bias of the q, k, v projection. Default True.
        drop_rate, attn_drop_rate (float): Dropout rates.
        drop_path_rate (float): Stochastic depth, 0 at the first layer rising
            linearly to this at the last. Default 0.1.
        use_abs_pos_embed (bool): Absolute position embedding per stage.
        norm_after_stage (bool): A norm (``layers.i.2``) after each stage.
        use_conv_ffn (bool): 3x3 depthwise conv in the FFN (PVTv2).
        act_cfg (dict): FFN activation. Default GELU.
        norm_cfg (dict): Norms. Default LN with eps 1e-6.
        convert_weights (bool): A Pretrained ``init_cfg`` checkpoint is in
            the original repository's layout (:func:`pvt_convert`). Default True.
        init_cfg (dict | list[dict]): Default TruncNormal(std=0.02) Linears,
            Constant(1) LayerNorms, Kaiming Conv2d; position embeddings then
            TruncNormal(std=0.02). A Pretrained dict loads a local checkpoint
            (non-strict).
    """

    def __init__(self, pretrain_img_size: int | Sequence[int] = 224, in_channels: int = 3,
                 embed_dims: int = 64, num_stages: int = 4,
                 num_layers: Sequence[int] = (3, 4, 6, 3), num_heads: Sequence[int] = (1, 2, 5, 8),
                 patch_sizes: Sequence[int] = (4, 2, 2, 2), strides: Sequence[int] = (4, 2, 2, 2),
                 paddings: Sequence[int] = (0, 0, 0, 0), sr_ratios: Sequence[int] = (8, 4, 2, 1),
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 mlp_ratios: Sequence[int] = (8, 8, 4, 4), qkv_bias: bool = True,
                 drop_rate: float = 0., attn_drop_rate: float = 0., drop_path_rate: float = 0.1,
                 use_abs_pos_embed: bool = True, norm_after_stage: bool = False,
                 use_conv_ffn: bool = False,
                 act_cfg: dict = dict(type='GELU'),  # noqa: B006 (never mutated)
                 norm_cfg: dict = dict(type='LN', eps=1e-6),  # noqa: B006 (never mutated)
                 convert_weights: bool = True,
                 init_cfg: dict | list[dict] | None = (
                     dict(type='TruncNormal', std=.02, layer=['Linear']),
                     dict(type='Constant', val=1, layer=['LayerNorm']),
                     dict(type='Kaiming', layer=['Conv2d']))):
        super().__init__(list(init_cfg) if isinstance(init_cfg, tuple) else init_cfg)
        per_stage = dict(num_layers=num_layers, num_heads=num_heads, patch_sizes=patch_sizes,
                         strides=strides, paddings=paddings, sr_ratios=sr_ratios,
                         mlp_ratios=mlp_ratios)
        wrong = {k: v for k, v in per_stage.items() if len(v) < num_stages}
        if wrong or len(num_layers) != num_stages:
            raise ValueError(f'num_stages is {num_stages}, but these do not have one value '
                             f'per stage: {wrong or dict(num_layers=num_layers)}')
        if any(not 0 <= i < num_stages for i in out_indices):
            raise ValueError(f'out_indices {out_indices} must be in [0, {num_stages})')
        self.convert_weights, self.out_indices = convert_weights, tuple(out_indices)
        self.embed_dims, self.num_stages = embed_dims, num_stages
        img_h, img_w = to_2tuple(pretrain_img_size)
        rates = torch.linspace(0, drop_path_rate, sum(num_layers), device='cpu').tolist()
        self.layers = nn.ModuleList()
        reduction, first = 1, 0
        for i, depth in enumerate(num_layers):
            width = embed_dims * num_heads[i]
            patch_embed = PatchEmbed(in_channels, width, kernel_size=patch_sizes[i],
                                     stride=strides[i], padding=paddings[i], bias=True,
                                     norm_cfg=norm_cfg)
            blocks = nn.ModuleList()
            # sized by the patch sizes (not strides), as MMPose does
            reduction *= patch_sizes[i]
            if use_abs_pos_embed:
                blocks.append(AbsolutePositionEmbedding(
                    (img_h // reduction, img_w // reduction), width, drop_rate))
            blocks.extend(PVTEncoderLayer(
                width, num_heads[i], mlp_ratios[i] * width, drop_rate, attn_drop_rate,
                rates[first + j], qkv_bias, act_cfg, norm_cfg, sr_ratios[i], use_conv_ffn)
                for j in range(depth))
            norm = build_norm_layer(norm_cfg, width)[1] if norm_after_stage else nn.Identity()
            self.layers.append(nn.ModuleList([patch_embed, blocks, norm]))
            in_channels, first = width, first + depth

    def init_weights(self) -> None:
        if isinstance(self.init_cfg, Mapping) and self.init_cfg.get('type') == 'Pretrained':
            cfg = self.init_cfg
            state_dict = load_checkpoint_file(cfg['checkpoint'],
                                              map_location=cfg.get('map_location', 'cpu'))
            if cfg.get('prefix'):
                state_dict = select_prefix(state_dict, cfg['prefix'])
            if self.convert_weights:
                state_dict = pvt_convert(state_dict)
            load_state_dict(self, state_dict, strict=False)
            self._is_init = True
            return
        super().init_weights()
        for m in self.modules():
            if isinstance(m, AbsolutePositionEmbedding):
                trunc_normal_(m.pos_embed, std=.02)

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        """(B, C_in, H, W) -> tuple of (B, C_i, H_i, W_i), one per out index
        (MMPose returns a list; a tuple indexes the same)."""
        outs = []
        for i, (patch_embed, blocks, norm) in enumerate(self.layers):
            x, hw_shape = patch_embed(x)
            for block in blocks:
                x = block(x, hw_shape)
            x = nlc_to_nchw(norm(x), hw_shape)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)


@MODELS.register_module()
class PyramidVisionTransformerV2(PyramidVisionTransformer):
    """PVTv2 (Wang et al., 2022): overlapping patch embeddings (patch sizes
    7, 3, 3, 3 with paddings 3, 1, 1, 1), no absolute position embedding, a
    norm after each stage and a depthwise conv in the FFN. Takes every other
    argument of :class:`PyramidVisionTransformer`; these five are fixed.
    """

    def __init__(self, **kwargs):
        fixed = ('patch_sizes', 'paddings', 'use_abs_pos_embed', 'norm_after_stage',
                 'use_conv_ffn')
        given = sorted(set(fixed) & set(kwargs))
        if given:
            raise TypeError(f'PyramidVisionTransformerV2 fixes {", ".join(given)}')
        super().__init__(patch_sizes=(7, 3, 3, 3), paddings=(3, 1, 1, 1),
                         use_abs_pos_embed=False, norm_after_stage=True, use_conv_ffn=True,
                         **kwargs)
