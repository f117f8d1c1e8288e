"""Transformer pieces of RT-DETR's hybrid encoder (RTMO's neck), MMPose-named.

Parameter names are MMCV's/MMPose's so checkpoints load: an encoder layer is
``self_attn.attn`` (a ``torch.nn.MultiheadAttention``: ``in_proj_weight``,
``in_proj_bias``, ``out_proj.weight``, ``out_proj.bias``), ``ffn.layers``
(``0.0`` first Linear, ``1`` last Linear) and ``norms.0``, ``norms.1``.
Sequences are batch first: (B, L, C).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import torch
import torch.nn as nn
from torch.utils.checkpoint import checkpoint

from .layers import DropPath, build_activation_layer, build_norm_layer


def build_dropout(cfg: Mapping | None) -> nn.Module:
    """MMCV's ``dropout_layer``: None, ``dict(type='Dropout', drop_prob=p)``
    (elementwise) or ``dict(type='DropPath', drop_prob=p)`` (whole samples:
    stochastic depth); ``drop_prob`` defaults to 0.5 and 0.1, as MMCV's."""
    if not cfg:
        return nn.Identity()
    kwargs = dict(cfg)
    kind = str(kwargs.pop('type', None)).rsplit('.', 1)[-1]
    if kind == 'Dropout':
        return nn.Dropout(p=kwargs.pop('drop_prob', 0.5), **kwargs)
    if kind == 'DropPath':
        return DropPath(**kwargs)
    raise KeyError(f'dropout_layer type {kind!r}: expected "Dropout" or "DropPath"')


class SinePositionalEncoding(nn.Module):
    """Sine-cosine position encoding with frequencies 1 / T**(i / P).

    With P = out_channels // 2 and dim_t[i] = T**(i / P), i = 0..P-1, a
    position p encodes to [cos(p / dim_t), sin(p / dim_t)] (out_channels
    values). For 2D grids (``spatial_dim=2``) the row y and column x are
    encoded separately and stacked on a last axis: (H * W, out_channels, 2),
    [..., 0] from y and [..., 1] from x, positions in row-major order.

    Args:
        out_channels (int): Even. Channels per encoded coordinate.
        spatial_dim (int): 1 (sequences) or 2 (grids).
        temperature (float): T. Default 1e5.
        learnable (bool): ``dim_t`` is a Parameter instead of a buffer.
        eval_size (int | Sequence[int], optional): A size whose encoding is
            precomputed into the buffer ``pos_enc_{eval_size}``.

    ``dim_t`` is a (persistent) buffer, so it is in the state_dict, as in MMPose.
    """

    def __init__(self, out_channels: int, spatial_dim: int = 1,
                 temperature: float = 1e5, learnable: bool = False,
                 eval_size: int | Sequence[int] | None = None):
        super().__init__()
        if out_channels % 2 or temperature <= 0 or spatial_dim not in (1, 2):
            raise ValueError(f'SinePositionalEncoding needs an even out_channels, '
                             f'temperature > 0 and spatial_dim 1 or 2; got '
                             f'{out_channels}, {temperature}, {spatial_dim}')
        self.out_channels, self.spatial_dim = out_channels, spatial_dim
        self.temperature, self.learnable, self.eval_size = temperature, learnable, eval_size
        pos_dim = out_channels // 2
        dim_t = temperature ** (torch.arange(pos_dim, dtype=torch.float32) / pos_dim)
        if learnable:
            self.dim_t = nn.Parameter(dim_t)
        else:
            self.register_buffer('dim_t', dim_t)
        if eval_size:
            self.register_buffer(f'pos_enc_{eval_size}', self.generate_pos_encoding(eval_size))

    def forward(self, size=None, position=None) -> torch.Tensor:
        return self.generate_pos_encoding(size, position)

    def _encode(self, pos: torch.Tensor) -> torch.Tensor:
        freq = pos.unsqueeze(-1) / self.dim_t
        return torch.cat((freq.cos(), freq.sin()), dim=-1)

    def generate_pos_encoding(self, size: int | Sequence[int] | None = None,
                              position: torch.Tensor | None = None) -> torch.Tensor:
        """Encode a size (all positions of a sequence or an (h, w) grid) or positions.

        Args:
            size (int | Sequence[int]): Sequence length, or grid (h, w)
                (an int means a square grid when ``spatial_dim`` is 2).
            position (Tensor): (..., ) positions for 1D, (..., 2) (y, x) for 2D.

        Returns:
            Tensor: (L, out_channels) in 1D; (L, out_channels, 2) in 2D.
        """
        if (size is None) == (position is None):
            raise ValueError('give exactly one of size and position')
        cached = getattr(self, f'pos_enc_{size}', None) if size is not None else None
        if cached is not None and not (self.learnable and self.training):
            return cached
        device = self.dim_t.device
        if self.spatial_dim == 1:
            if size is not None:
                length = size[0] if isinstance(size, (tuple, list)) else size
                position = torch.arange(int(length), dtype=torch.float32, device=device)
            return self._encode(position)
        if size is not None:
            h, w = (size[0], size[1]) if isinstance(size, (tuple, list)) else (size, size)
            # a traced size (torch.SymInt, dynamic ONNX export) stays symbolic
            h, w = (s if isinstance(s, torch.SymInt) else int(s) for s in (h, w))
            grid_y, grid_x = torch.meshgrid(
                torch.arange(h, dtype=torch.float32, device=device),
                torch.arange(w, dtype=torch.float32, device=device), indexing='ij')
            grid_y, grid_x = grid_y.flatten(), grid_x.flatten()
        else:
            grid_y, grid_x = position.unbind(-1)
        return torch.stack((self._encode(grid_y), self._encode(grid_x)), dim=-1)


class MultiheadAttention(nn.Module):
    """``torch.nn.MultiheadAttention`` (as ``attn``) with positions added to
    query and key, and a residual connection (MMCV's wrapper).

    Args:
        embed_dims (int), num_heads (int): Width and heads.
        attn_drop (float): Dropout on attention weights.
        proj_drop (float): Dropout on the attention output.
        dropout_layer (dict, optional): Dropout before the residual sum
            (``dict(type='Dropout', drop_prob=p)``).
        batch_first (bool): Inputs are (B, L, C) instead of (L, B, C).
        dropout (float): Old spelling: sets both ``attn_drop`` and the
            ``dropout_layer``'s drop_prob (MMCV's behaviour).
        **kwargs: Passed to ``nn.MultiheadAttention`` (bias, kdim, vdim, ...).
    """

    def __init__(self, embed_dims: int, num_heads: int, attn_drop: float = 0.,
                 proj_drop: float = 0., dropout_layer: dict | None = None,
                 init_cfg: dict | None = None, batch_first: bool = False, **kwargs):
        super().__init__()
        if init_cfg is not None:
            raise NotImplementedError('MultiheadAttention: init_cfg is not supported')
        dropout_layer = dict(dropout_layer or dict(type='Dropout', drop_prob=0.))
        if 'dropout' in kwargs:
            attn_drop = kwargs.pop('dropout')
            dropout_layer['drop_prob'] = attn_drop
        self.embed_dims, self.num_heads, self.batch_first = embed_dims, num_heads, batch_first
        self.attn = nn.MultiheadAttention(embed_dims, num_heads, attn_drop, **kwargs)
        self.proj_drop = nn.Dropout(proj_drop)
        self.dropout_layer = build_dropout(dropout_layer)

    def forward(self, query: torch.Tensor, key: torch.Tensor | None = None,
                value: torch.Tensor | None = None, identity: torch.Tensor | None = None,
                query_pos: torch.Tensor | None = None, key_pos: torch.Tensor | None = None,
                attn_mask: torch.Tensor | None = None,
                key_padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """identity + attention(query + query_pos, key + key_pos, value).

        ``key`` defaults to ``query``, ``value`` to ``key``, ``identity`` to
        ``query`` and ``key_pos`` to ``query_pos`` when their shapes match.
        """
        key = query if key is None else key
        value = key if value is None else value
        identity = query if identity is None else identity
        if key_pos is None and query_pos is not None and query_pos.shape == key.shape:
            key_pos = query_pos
        if query_pos is not None:
            query = query + query_pos
        if key_pos is not None:
            key = key + key_pos
        if self.batch_first:   # nn.MultiheadAttention is built sequence first
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        out = self.attn(query, key, value, attn_mask=attn_mask,
                        key_padding_mask=key_padding_mask, need_weights=False)[0]
        if self.batch_first:
            out = out.transpose(0, 1)
        return identity + self.dropout_layer(self.proj_drop(out))


class LayerScale(nn.Module):
    """x * weight over the last axis (MMCV's channels-last ``LayerScale``)."""

    def __init__(self, dim: int, scale: float = 1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.full((dim,), float(scale)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight


class FFN(nn.Module):
    """Linear-act-dropout blocks, a last Linear and dropout, plus the input.

    ``layers`` is ``Sequential(Sequential(Linear, act, Dropout) * (num_fcs - 1),
    Linear, Dropout)`` (MMCV's names).

    Args:
        embed_dims (int): Input and output width.
        feedforward_channels (int): Hidden width.
        num_fcs (int): Linear layers, >= 2.
        act_cfg (dict): Activation. Default ReLU.
        ffn_drop (float): Dropout after each activation and the last Linear.
        dropout_layer (dict, optional): Dropout before the residual sum.
        add_identity (bool): Add the input (or ``identity``) to the output.
        layer_scale_init_value (float): > 0 scales the output by a learned
            per-channel ``gamma2.weight`` starting at this value.
    """

    def __init__(self, embed_dims: int = 256, feedforward_channels: int = 1024,
                 num_fcs: int = 2, act_cfg: dict = dict(type='ReLU', inplace=True),  # noqa: B006
                 ffn_drop: float = 0., dropout_layer: dict | None = None,
                 add_identity: bool = True, init_cfg: dict | None = None,
                 layer_scale_init_value: float = 0.):
        super().__init__()
        if num_fcs < 2:
            raise ValueError(f'FFN: num_fcs must be at least 2, got {num_fcs}')
        if init_cfg is not None:
            raise NotImplementedError('FFN: init_cfg is not supported')
        self.embed_dims, self.feedforward_channels = embed_dims, feedforward_channels
        self.num_fcs, self.add_identity = num_fcs, add_identity
        layers, width = [], embed_dims
        for _ in range(num_fcs - 1):
            layers.append(nn.Sequential(nn.Linear(width, feedforward_channels),
                                        build_activation_layer(act_cfg), nn.Dropout(ffn_drop)))
            width = feedforward_channels
        layers += [nn.Linear(feedforward_channels, embed_dims), nn.Dropout(ffn_drop)]
        self.layers = nn.Sequential(*layers)
        self.dropout_layer = build_dropout(dropout_layer)
        self.gamma2 = (LayerScale(embed_dims, layer_scale_init_value)
                       if layer_scale_init_value > 0 else nn.Identity())

    def forward(self, x: torch.Tensor, identity: torch.Tensor | None = None) -> torch.Tensor:
        out = self.dropout_layer(self.gamma2(self.layers(x)))
        if not self.add_identity:
            return out
        return (x if identity is None else identity) + out


class DetrTransformerEncoderLayer(nn.Module):
    """Post-norm encoder layer: x = norm0(x + attn(x)); x = norm1(x + ffn(x)).

    Args:
        self_attn_cfg (dict): :class:`MultiheadAttention` arguments;
            ``batch_first`` must be True (it is set when absent).
        ffn_cfg (dict): :class:`FFN` arguments.
        norm_cfg (dict): Norm of both ``norms`` (default LN).
    """

    def __init__(self, self_attn_cfg: dict = dict(embed_dims=256, num_heads=8,  # noqa: B006
                                                  dropout=0.0),
                 ffn_cfg: dict = dict(embed_dims=256, feedforward_channels=1024,  # noqa: B006
                                      num_fcs=2, ffn_drop=0.,
                                      act_cfg=dict(type='ReLU', inplace=True)),
                 norm_cfg: dict = dict(type='LN'),  # noqa: B006 (never mutated)
                 init_cfg: dict | None = None):
        super().__init__()
        if init_cfg is not None:
            raise NotImplementedError('DetrTransformerEncoderLayer: init_cfg is not supported')
        self_attn_cfg = dict(self_attn_cfg)
        if not self_attn_cfg.setdefault('batch_first', True):
            raise ValueError('DetrTransformerEncoderLayer: self_attn_cfg.batch_first '
                             'must be True (sequences are (B, L, C))')
        self.self_attn = MultiheadAttention(**self_attn_cfg)
        self.embed_dims = self.self_attn.embed_dims
        self.ffn = FFN(**ffn_cfg)
        self.norms = nn.ModuleList(build_norm_layer(norm_cfg, self.embed_dims)[1]
                                   for _ in range(2))

    def forward(self, query: torch.Tensor, query_pos: torch.Tensor | None,
                key_padding_mask: torch.Tensor | None, **kwargs) -> torch.Tensor:
        """query (B, L, C), query_pos (B or 1, L, C), key_padding_mask (B, L) or None."""
        query = self.self_attn(query, query, query, query_pos=query_pos, key_pos=query_pos,
                               key_padding_mask=key_padding_mask, **kwargs)
        query = self.norms[0](query)
        return self.norms[1](self.ffn(query))


class DetrTransformerEncoder(nn.Module):
    """``num_layers`` :class:`DetrTransformerEncoderLayer` built from one
    ``layer_cfg``; the first ``num_cp`` layers recompute their activations in
    the backward pass (gradient checkpointing) while training."""

    def __init__(self, num_layers: int, layer_cfg: dict, num_cp: int = -1,
                 init_cfg: dict | None = None):
        super().__init__()
        if num_cp > num_layers:
            raise ValueError(f'num_cp ({num_cp}) must not exceed num_layers ({num_layers})')
        if init_cfg is not None:
            raise NotImplementedError('DetrTransformerEncoder: init_cfg is not supported')
        self.num_layers, self.layer_cfg, self.num_cp = num_layers, layer_cfg, num_cp
        self.layers = nn.ModuleList(DetrTransformerEncoderLayer(**layer_cfg)
                                    for _ in range(num_layers))
        self.embed_dims = self.layers[0].embed_dims if num_layers else None

    def forward(self, query: torch.Tensor, query_pos: torch.Tensor | None,
                key_padding_mask: torch.Tensor | None, **kwargs) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            if i < self.num_cp and self.training and torch.is_grad_enabled():
                query = checkpoint(layer, query, query_pos, key_padding_mask,
                                   use_reentrant=False, **kwargs)
            else:
                query = layer(query, query_pos, key_padding_mask, **kwargs)
        return query
