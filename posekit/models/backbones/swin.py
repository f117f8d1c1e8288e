"""Swin Transformer (Liu et al., 2021) as MMPose 1.3.2 builds it: same
arguments, state_dict keys and computation.

Tokens are (B, L, C) with L = H * W in row-major order; a feature map's
``hw_shape`` is (H, W). Outputs are (B, C_i, H_i, W_i), one per
``out_indices`` entry, each normalised by its own ``norm{i}``.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from posekit.registry import MODELS
from ..utils import DropPath, build_norm_layer, load_state_dict, trunc_normal_
from ..utils.checkpoint import load_checkpoint_file, select_prefix
from ..utils.transformer import FFN
from .base_backbone import BaseBackbone, freeze
from .patch_layers import PatchEmbed, PatchMerging, to_2tuple


class WindowMSA(nn.Module):
    """Self-attention inside each window, plus a learnt relative position bias.

    ``relative_position_bias_table`` has one row per relative offset,
    ((2 Wh - 1) * (2 Ww - 1), num_heads); ``relative_position_index`` (a
    state_dict buffer, as in MMPose) maps each (query, key) pair of a window
    to its row.
    """

    def __init__(self, embed_dims: int, num_heads: int, window_size: tuple[int, int],
                 qkv_bias: bool = True, qk_scale: float | None = None,
                 attn_drop_rate: float = 0., proj_drop_rate: float = 0.):
        super().__init__()
        if embed_dims % num_heads:
            raise ValueError(f'embed_dims {embed_dims} is not divisible by num_heads {num_heads}')
        self.embed_dims, self.num_heads, self.window_size = embed_dims, num_heads, window_size
        # ``or``, as MMPose: qk_scale=0 also means the default
        self.scale = qk_scale or (embed_dims // num_heads) ** -0.5
        Wh, Ww = window_size
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * Wh - 1) * (2 * Ww - 1), num_heads))
        # offset (dy, dx) of query (y, x) from key (y', x') -> row
        # (dy + Wh - 1) * (2 Ww - 1) + (dx + Ww - 1)
        ys, xs = torch.meshgrid(torch.arange(Wh), torch.arange(Ww), indexing='ij')
        ys, xs = ys.flatten(), xs.flatten()
        dy, dx = ys[:, None] - ys[None, :] + Wh - 1, xs[:, None] - xs[None, :] + Ww - 1
        self.register_buffer('relative_position_index', dy * (2 * Ww - 1) + dx)
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop_rate)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop_rate)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """x (B * nW, N, C) windows of N = Wh * Ww tokens; mask (nW, N, N) of
        0 / -100 (pairs from different regions of a shifted window)."""
        B, N, C = x.shape
        q, k, v = self.qkv(x).reshape(B, N, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        bias = bias.view(N, N, -1).permute(2, 0, 1)                 # (heads, N, N)
        if mask is not None:
            nW = mask.shape[0]
            bias = (bias[None] + mask[:, None]).repeat(B // nW, 1, 1, 1)
        drop = self.attn_drop.p if self.training else 0.
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype),
                                             dropout_p=drop, scale=self.scale)
        return self.proj_drop(self.proj(out.transpose(1, 2).reshape(B, N, C)))


class ShiftWindowMSA(nn.Module):
    """:class:`WindowMSA` (``w_msa``) over non-overlapping windows of a
    (B, H * W, C) map, optionally cyclically shifted by ``shift_size``.

    As in MMPose, the map is zero-padded at the bottom/right to whole
    windows and the padded tokens take part in attention (unmasked); only
    tokens that the cyclic shift brings together are masked apart.
    """

    def __init__(self, embed_dims: int, num_heads: int, window_size: int, shift_size: int = 0,
                 qkv_bias: bool = True, qk_scale: float | None = None,
                 attn_drop_rate: float = 0., proj_drop_rate: float = 0.,
                 drop_path_rate: float = 0.):
        super().__init__()
        if not 0 <= shift_size < window_size:
            raise ValueError(f'shift_size must be in [0, window_size={window_size}), '
                             f'got {shift_size}')
        self.window_size, self.shift_size = window_size, shift_size
        self.w_msa = WindowMSA(embed_dims, num_heads, (window_size, window_size), qkv_bias,
                               qk_scale, attn_drop_rate, proj_drop_rate)
        self.drop = DropPath(drop_path_rate)

    def _shift_mask(self, H: int, W: int, device) -> Tensor:
        """(nW, ws * ws, ws * ws): -100 between tokens of different regions."""
        ws, s = self.window_size, self.shift_size
        region = torch.zeros(H, W, device=device)
        cuts = (slice(0, -ws), slice(-ws, -s), slice(-s, None))
        for i, (h, w) in enumerate((h, w) for h in cuts for w in cuts):
            region[h, w] = i
        region = self._partition(region[None, :, :, None]).view(-1, ws * ws)
        diff = region[:, None, :] - region[:, :, None]
        return torch.zeros_like(diff).masked_fill(diff != 0, -100.0)

    def _partition(self, x: Tensor) -> Tensor:
        """(B, H, W, C) -> (B * nW, ws, ws, C), windows in row-major order."""
        B, H, W, C = x.shape
        ws = self.window_size
        x = x.view(B, H // ws, ws, W // ws, ws, C).permute(0, 1, 3, 2, 4, 5)
        return x.reshape(-1, ws, ws, C)

    def forward(self, query: Tensor, hw_shape: Sequence[int]) -> Tensor:
        """(B, H * W, C) -> (B, H * W, C)."""
        B, L, C = query.shape
        H, W = hw_shape
        if L != H * W:
            raise ValueError(f'ShiftWindowMSA got {L} tokens for a {H}x{W} map')
        ws, s = self.window_size, self.shift_size
        x = F.pad(query.view(B, H, W, C), (0, 0, 0, (ws - W % ws) % ws, 0, (ws - H % ws) % ws))
        Hp, Wp = x.shape[1:3]
        mask = None
        if s:
            x = torch.roll(x, shifts=(-s, -s), dims=(1, 2))
            mask = self._shift_mask(Hp, Wp, x.device)
        x = self.w_msa(self._partition(x).view(-1, ws * ws, C), mask=mask)
        x = x.view(B, Hp // ws, Wp // ws, ws, ws, C).permute(0, 1, 3, 2, 4, 5)
        x = x.reshape(B, Hp, Wp, C)
        if s:
            x = torch.roll(x, shifts=(s, s), dims=(1, 2))
        return self.drop(x[:, :H, :W].reshape(B, L, C))


class SwinBlock(nn.Module):
    """Pre-norm residual block: x + attn(norm1(x)), then x + ffn(norm2(x));
    ``shift`` shifts the windows by half their size."""

    def __init__(self, embed_dims: int, num_heads: int, feedforward_channels: int,
                 window_size: int = 7, shift: bool = False, qkv_bias: bool = True,
                 qk_scale: float | None = None, drop_rate: float = 0.,
                 attn_drop_rate: float = 0., drop_path_rate: float = 0.,
                 act_cfg: dict = dict(type='GELU'),  # noqa: B006 (never mutated)
                 norm_cfg: dict = dict(type='LN'),  # noqa: B006 (never mutated)
                 with_cp: bool = False):
        super().__init__()
        self.with_cp = with_cp
        self.norm1 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.attn = ShiftWindowMSA(embed_dims, num_heads, window_size,
                                   window_size // 2 if shift else 0, qkv_bias, qk_scale,
                                   attn_drop_rate, drop_rate, drop_path_rate)
        self.norm2 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.ffn = FFN(embed_dims, feedforward_channels, num_fcs=2, act_cfg=act_cfg,
                       ffn_drop=drop_rate, add_identity=True)
        # posekit's FFN builds only Dropout dropout_layers; DropPath has no params
        self.ffn.dropout_layer = DropPath(drop_path_rate)

    def _inner(self, x: Tensor, hw_shape: Sequence[int]) -> Tensor:
        x = x + self.attn(self.norm1(x), hw_shape)
        return self.ffn(self.norm2(x), identity=x)

    def forward(self, x: Tensor, hw_shape: Sequence[int]) -> Tensor:
        """(B, H * W, C) -> (B, H * W, C)."""
        if self.with_cp and x.requires_grad:
            return checkpoint(self._inner, x, hw_shape, use_reentrant=False)
        return self._inner(x, hw_shape)


class SwinBlockSequence(nn.Module):
    """One stage: ``depth`` blocks (every second one shifted), then an
    optional ``downsample``. ``forward`` returns (x after downsample, its
    hw_shape, x before downsample (the stage output), its hw_shape)."""

    def __init__(self, embed_dims: int, num_heads: int, feedforward_channels: int, depth: int,
                 window_size: int = 7, qkv_bias: bool = True, qk_scale: float | None = None,
                 drop_rate: float = 0., attn_drop_rate: float = 0.,
                 drop_path_rate: float | Sequence[float] = 0.,
                 downsample: nn.Module | None = None,
                 act_cfg: dict = dict(type='GELU'),  # noqa: B006 (never mutated)
                 norm_cfg: dict = dict(type='LN'),  # noqa: B006 (never mutated)
                 with_cp: bool = False):
        super().__init__()
        rates = list(drop_path_rate) if isinstance(drop_path_rate, (list, tuple)) \
            else [drop_path_rate] * depth
        if len(rates) != depth:
            raise ValueError(f'drop_path_rate has {len(rates)} values for {depth} blocks')
        self.blocks = nn.ModuleList(
            SwinBlock(embed_dims, num_heads, feedforward_channels, window_size, i % 2 == 1,
                      qkv_bias, qk_scale, drop_rate, attn_drop_rate, rates[i], act_cfg,
                      norm_cfg, with_cp) for i in range(depth))
        self.downsample = downsample

    def forward(self, x: Tensor, hw_shape: Sequence[int]):
        for block in self.blocks:
            x = block(x, hw_shape)
        if self.downsample is None:
            return x, hw_shape, x, hw_shape
        x_down, down_hw = self.downsample(x, hw_shape)
        return x_down, down_hw, x, hw_shape


def swin_converter(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Keys and layouts of an original Swin checkpoint (microsoft/Swin-
    Transformer) -> this backbone's (``layers`` -> ``stages``, ``attn`` ->
    ``attn.w_msa``, ``mlp.fc1/fc2`` -> ``ffn.layers.0.0/1``, ``proj`` ->
    ``projection``; the classifier ``head`` is dropped).

    The original merges a 2x2 neighbourhood as [x(0,0), x(1,0), x(0,1),
    x(1,1)] concatenated channel-last; unfold gives channel-major, kernel
    row-major order, so ``downsample`` weights are permuted accordingly.
    MMPose prefixes the converted keys with 'backbone.', so they never
    match the backbone's own keys and nothing is loaded; posekit does not
    add the prefix, so the weights load.
    """
    def unfold_order(v: Tensor) -> Tensor:   # (..., 4 * C) -> same, reordered
        lead, c4 = v.shape[:-1], v.shape[-1]
        v = v.reshape(*lead, 4, c4 // 4)[..., [0, 2, 1, 3], :]
        return v.transpose(-1, -2).reshape(*lead, c4)

    out = {}
    for k, v in state_dict.items():
        if k.startswith('head'):
            continue
        if k.startswith('layers'):
            if 'attn.' in k:
                k = k.replace('attn.', 'attn.w_msa.')
            elif 'mlp.fc1.' in k:
                k = k.replace('mlp.fc1.', 'ffn.layers.0.0.')
            elif 'mlp.fc2.' in k:
                k = k.replace('mlp.fc2.', 'ffn.layers.1.')
            elif 'mlp.' in k:
                k = k.replace('mlp.', 'ffn.')
            elif 'downsample' in k and ('reduction.' in k or 'norm.' in k):
                v = unfold_order(v)
            k = k.replace('layers', 'stages', 1)
        elif k.startswith('patch_embed') and 'proj' in k:
            k = k.replace('proj', 'projection')
        out[k] = v
    return out


def _resize_bias_tables(state_dict: dict, own: Mapping[str, Tensor]) -> None:
    """Bicubically resize pretrained relative-position tables to this
    model's window size (square windows), in place, as MMPose does; keep
    our position indices where the checkpoint's are for another size."""
    for key, table in list(state_dict.items()):
        if key.endswith('relative_position_index') and key in own \
                and table.shape != own[key].shape:
            state_dict[key] = own[key]   # a function of the window size: keep ours
        if 'relative_position_bias_table' not in key or key not in own:
            continue
        (L1, h1), (L2, h2) = table.shape, own[key].shape
        if h1 == h2 and L1 != L2:
            s1, s2 = int(L1 ** 0.5), int(L2 ** 0.5)
            grid = table.permute(1, 0).reshape(1, h1, s1, s1)
            grid = F.interpolate(grid, size=(s2, s2), mode='bicubic')
            state_dict[key] = grid.view(h2, L2).permute(1, 0).contiguous()


@MODELS.register_module()
class SwinTransformer(BaseBackbone):
    """Swin Transformer: patch embedding, then stages of (shifted) window
    attention blocks with patch merging (2x fewer tokens, 2x channels)
    between them.

    Args:
        pretrain_img_size (int | tuple[int]): Image size (h, w) the absolute
            position embedding is sized for. Default 224.
        in_channels (int): Input channels. Default 3.
        embed_dims (int): Channels of the first stage; stage i has
            ``embed_dims * 2**i``. Default 96.
        patch_size (int): Patch embedding kernel; must equal ``strides[0]``.
        window_size (int): Attention window side, in tokens. Default 7.
        mlp_ratio (int): FFN hidden width / stage width. Default 4.
        depths (Sequence[int]): Blocks per stage. Default (2, 2, 6, 2).
        num_heads (Sequence[int]): Heads per stage. Default (3, 6, 12, 24).
        strides (Sequence[int]): Patch embedding stride, then each patch
            merging stride. Default (4, 2, 2, 2).
        out_indices (Sequence[int]): Stages whose (normalised) output is
            returned. Default (0, 1, 2, 3).
        qkv_bias (bool), qk_scale (float, optional): q, k, v bias; scale.
        patch_norm (bool): Norm in patch embedding and merging. Default True.
        drop_rate (float), attn_drop_rate (float): Dropout rates.
        drop_path_rate (float): Stochastic depth, 0 at the first block rising
            linearly to this at the last. Default 0.1.
        use_abs_pos_embed (bool): Add a learnt absolute position embedding
            (inputs must then be ``pretrain_img_size``). Default False.
        act_cfg (dict): FFN activation. Default GELU.
        norm_cfg (dict): Norms. Default LN.
        with_cp (bool): Gradient checkpointing of each block.
        convert_weights (bool): A Pretrained ``init_cfg`` checkpoint is in
            the original repository's layout; convert it (:func:`swin_converter`).
        frozen_stages (int): Freeze the patch embedding (>= 0) and the first
            ``frozen_stages`` stages with their output norms. Default -1.
        init_cfg (dict | list[dict]): Default TruncNormal(std=0.02) Linears and
            Constant(1) LayerNorms; relative position tables (and the
            absolute embedding) then get TruncNormal(std=0.02). A Pretrained
            dict loads a local checkpoint (non-strict), resizing relative
            position tables of another window size bicubically.
    """

    def __init__(self, pretrain_img_size: int | Sequence[int] = 224, in_channels: int = 3,
                 embed_dims: int = 96, patch_size: int = 4, window_size: int = 7,
                 mlp_ratio: int = 4, depths: Sequence[int] = (2, 2, 6, 2),
                 num_heads: Sequence[int] = (3, 6, 12, 24), strides: Sequence[int] = (4, 2, 2, 2),
                 out_indices: Sequence[int] = (0, 1, 2, 3), qkv_bias: bool = True,
                 qk_scale: float | None = None, patch_norm: bool = True, drop_rate: float = 0.,
                 attn_drop_rate: float = 0., drop_path_rate: float = 0.1,
                 use_abs_pos_embed: bool = False,
                 act_cfg: dict = dict(type='GELU'),  # noqa: B006 (never mutated)
                 norm_cfg: dict = dict(type='LN'),  # noqa: B006 (never mutated)
                 with_cp: bool = False, convert_weights: bool = False, frozen_stages: int = -1,
                 init_cfg: dict | list[dict] | None = (
                     dict(type='TruncNormal', std=.02, layer=['Linear']),
                     dict(type='Constant', val=1, layer=['LayerNorm']))):
        super().__init__(list(init_cfg) if isinstance(init_cfg, tuple) else init_cfg)
        num_stages = len(depths)
        if len(num_heads) != num_stages or len(strides) != num_stages:
            raise ValueError(f'depths, num_heads and strides need one value per stage; got '
                             f'{depths}, {num_heads}, {strides}')
        if strides[0] != patch_size:
            raise ValueError(f'strides[0] ({strides[0]}) must equal patch_size ({patch_size}): '
                             'the patch embedding does not overlap')
        if any(not 0 <= i < num_stages for i in out_indices):
            raise ValueError(f'out_indices {out_indices} must be in [0, {num_stages})')
        self.convert_weights, self.frozen_stages = convert_weights, frozen_stages
        self.out_indices, self.use_abs_pos_embed = tuple(out_indices), use_abs_pos_embed
        patch_norm_cfg = norm_cfg if patch_norm else None
        self.patch_embed = PatchEmbed(in_channels, embed_dims, kernel_size=patch_size,
                                      stride=strides[0], norm_cfg=patch_norm_cfg)
        if use_abs_pos_embed:
            rows, cols = (size // patch_size for size in to_2tuple(pretrain_img_size))
            self.absolute_pos_embed = nn.Parameter(torch.zeros(1, rows * cols, embed_dims))
        self.drop_after_pos = nn.Dropout(p=drop_rate)
        rates = torch.linspace(0, drop_path_rate, sum(depths), device='cpu').tolist()
        self.stages = nn.ModuleList()
        width = embed_dims
        for i, depth in enumerate(depths):
            down = None
            if i < num_stages - 1:
                down = PatchMerging(width, 2 * width, stride=strides[i + 1],
                                    norm_cfg=patch_norm_cfg)
            first = sum(depths[:i])
            self.stages.append(SwinBlockSequence(
                width, num_heads[i], mlp_ratio * width, depth, window_size, qkv_bias,
                qk_scale, drop_rate, attn_drop_rate, rates[first:first + depth], down,
                act_cfg, norm_cfg, with_cp))
            width = down.out_channels if down is not None else width
        self.num_features = [embed_dims * 2**i for i in range(num_stages)]
        for i in self.out_indices:
            self.add_module(f'norm{i}', build_norm_layer(norm_cfg, self.num_features[i])[1])

    def _freeze_stages(self) -> None:
        if self.frozen_stages >= 0:
            freeze([self.patch_embed, self.drop_after_pos])
            if self.use_abs_pos_embed:
                self.absolute_pos_embed.requires_grad = False
        for i in range(self.frozen_stages):
            if i in self.out_indices:
                freeze([getattr(self, f'norm{i}')])
            freeze([self.stages[i]])

    def init_weights(self) -> None:
        if isinstance(self.init_cfg, Mapping) and self.init_cfg.get('type') == 'Pretrained':
            self._load_pretrained(**{k: v for k, v in self.init_cfg.items() if k != 'type'})
            self._is_init = True
            return
        super().init_weights()
        for m in self.modules():
            if isinstance(m, WindowMSA):
                trunc_normal_(m.relative_position_bias_table, std=.02)
        if self.use_abs_pos_embed:
            trunc_normal_(self.absolute_pos_embed, std=.02)

    def _load_pretrained(self, checkpoint: str, prefix: str | None = None,
                         map_location: str = 'cpu') -> None:
        state_dict = load_checkpoint_file(checkpoint, map_location=map_location)
        state_dict = dict(select_prefix(state_dict, prefix) if prefix else state_dict)
        if self.convert_weights:
            state_dict = swin_converter(state_dict)
        _resize_bias_tables(state_dict, self.state_dict())
        load_state_dict(self, state_dict, strict=False)

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        """(B, C_in, H, W) -> tuple of (B, C_i, H_i, W_i), one per out index."""
        x, hw_shape = self.patch_embed(x)
        if self.use_abs_pos_embed:
            if x.shape[1] != self.absolute_pos_embed.shape[1]:
                raise ValueError(f'use_abs_pos_embed needs {self.absolute_pos_embed.shape[1]} '
                                 f'patches (pretrain_img_size); got {hw_shape}')
            x = x + self.absolute_pos_embed
        x = self.drop_after_pos(x)
        outs = []
        for i, stage in enumerate(self.stages):
            x, hw_shape, out, out_hw = stage(x, hw_shape)
            if i in self.out_indices:
                out = getattr(self, f'norm{i}')(out)
                outs.append(out.view(-1, *out_hw, self.num_features[i])
                            .permute(0, 3, 1, 2).contiguous())
        return tuple(outs)
