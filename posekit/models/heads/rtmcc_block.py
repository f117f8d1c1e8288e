"""The gated attention unit of RTMPose's head (RTMCCBlock) and its parts.

GAU: Hua et al., "Transformer Quality in Linear Time" (2022). Parameter
names (``w``, ``a``, ``b``, ``o``, ``uv``, ``gamma``, ``beta``, ``k_fc``,
``v_fc``, ``ln.g``, ``res_scale.scale``) are MMPose's.
"""
import math
from typing import List, Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..utils import DropPath


def rope(x: Tensor, dim: Union[int, List[int]]) -> Tensor:
    """Rotary position embedding along the axes ``dim`` of ``x``.

    Positions count the cells of those axes in row-major order. The last
    axis (size 2h) is split into halves (x1, x2) rotated by angles
    ``pos * 10000 ** (i / h)``, i < h (MMPose's frequencies; RoFormer's are
    the inverse).
    """
    shape = x.shape
    dims = [dim] if isinstance(dim, int) else list(dim)
    spatial = [shape[i] for i in dims]
    position = torch.arange(math.prod(spatial), dtype=torch.int,
                            device=x.device).reshape(spatial)
    for _ in range(dims[-1] + 1, len(shape) - 1):
        position = position.unsqueeze(-1)
    half = shape[-1] // 2
    freq = -torch.arange(half, dtype=torch.int, device=x.device) / float(half)
    inv_freq = 10000**-freq
    angle = position[..., None] * inv_freq[None, None, :]
    sin, cos = torch.sin(angle), torch.cos(angle)
    x1, x2 = torch.chunk(x, 2, dim=-1)
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


class ScaleNorm(nn.Module):
    """``x / max(||x|| / sqrt(dim), eps) * g`` over the last axis, with one
    learnt scalar ``g`` (Nguyen & Salazar, 2019)."""

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.scale = dim**-0.5
        self.eps = eps
        self.g = nn.Parameter(torch.ones(1))

    def forward(self, x: Tensor) -> Tensor:
        norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True) * self.scale
        return x / norm.clamp(min=self.eps) * self.g


class Scale(nn.Module):
    """Element-wise multiplication by a learnt vector ``scale`` (dim,)."""

    def __init__(self, dim: int, init_value: float = 1.,
                 trainable: bool = True):
        super().__init__()
        self.scale = nn.Parameter(init_value * torch.ones(dim),
                                  requires_grad=trainable)

    def forward(self, x: Tensor) -> Tensor:
        return x * self.scale


class RTMCCBlock(nn.Module):
    """Gated attention unit over K tokens.

    ``x -> ScaleNorm -> uv = act(Linear(x))`` split into u, v (e each) and a
    shared base (s) giving q and k through per-channel affine maps (self
    attention); ``attn = relu(q k^T / sqrt(s))**2``; ``out = o(u * attn v)``.
    With equal input and output sizes a scaled residual is added.

    Args:
        num_token (int): K (tokens); sizes the relative position bias.
        in_token_dims (int), out_token_dims (int): Token sizes.
        expansion_factor (int): e = in_token_dims * expansion_factor.
        s (int): q/k size.
        eps (float): ScaleNorm's eps.
        dropout_rate (float): Dropout on the attention.
        drop_path (float): Stochastic depth rate.
        attn_type (str): 'self-attn' or 'cross-attn' (inputs (x, k, v)).
        act_fn (str): 'SiLU' or 'ReLU'.
        bias (bool): Biases in the linear layers.
        use_rel_bias (bool): Learnt relative position bias.
        pos_enc (bool): Rotary embedding on q and k.
    """

    def __init__(self, num_token: int, in_token_dims: int,
                 out_token_dims: int, expansion_factor: int = 2, s: int = 128,
                 eps: float = 1e-5, dropout_rate: float = 0.,
                 drop_path: float = 0., attn_type: str = 'self-attn',
                 act_fn: str = 'SiLU', bias: bool = False,
                 use_rel_bias: bool = True, pos_enc: bool = False):
        super().__init__()
        if attn_type not in ('self-attn', 'cross-attn'):
            raise ValueError("attn_type must be 'self-attn' or 'cross-attn', "
                             f'got {attn_type!r}')
        self.s = s
        self.num_token = num_token
        self.use_rel_bias = use_rel_bias
        self.attn_type = attn_type
        self.pos_enc = pos_enc
        self.drop_path = DropPath(drop_path) if drop_path > 0. \
            else nn.Identity()
        self.e = int(in_token_dims * expansion_factor)
        if use_rel_bias:
            if attn_type == 'self-attn':
                self.w = nn.Parameter(torch.rand([2 * num_token - 1]))
            else:
                self.a = nn.Parameter(torch.rand([1, s]))
                self.b = nn.Parameter(torch.rand([1, s]))
        self.o = nn.Linear(self.e, out_token_dims, bias=bias)
        if attn_type == 'self-attn':
            self.uv = nn.Linear(in_token_dims, 2 * self.e + s, bias=bias)
            self.gamma = nn.Parameter(torch.rand((2, s)))
            self.beta = nn.Parameter(torch.rand((2, s)))
        else:
            self.uv = nn.Linear(in_token_dims, self.e + s, bias=bias)
            self.k_fc = nn.Linear(in_token_dims, s, bias=bias)
            self.v_fc = nn.Linear(in_token_dims, self.e, bias=bias)
            nn.init.xavier_uniform_(self.k_fc.weight)
            nn.init.xavier_uniform_(self.v_fc.weight)
        self.ln = ScaleNorm(in_token_dims, eps=eps)
        nn.init.xavier_uniform_(self.uv.weight)
        if act_fn in ('SiLU', nn.SiLU):
            self.act_fn = nn.SiLU(True)
        elif act_fn in ('ReLU', nn.ReLU):
            self.act_fn = nn.ReLU(True)
        else:
            raise ValueError(f"act_fn must be 'SiLU' or 'ReLU', got {act_fn!r}")
        self.shortcut = in_token_dims == out_token_dims
        if self.shortcut:
            self.res_scale = Scale(in_token_dims)
        self.sqrt_s = math.sqrt(s)
        self.dropout_rate = dropout_rate
        if dropout_rate > 0.:
            self.dropout = nn.Dropout(dropout_rate)

    def rel_pos_bias(self, seq_len: int, k_len: Optional[int] = None
                     ) -> Tensor:
        """Relative position bias, (1, seq_len, seq_len) for self attention:
        entry (i, j) is ``w[j - i + seq_len - 1]``."""
        if self.attn_type == 'self-attn':
            t = F.pad(self.w[:2 * seq_len - 1], [0, seq_len]).repeat(seq_len)
            t = t[..., :-seq_len].reshape(-1, seq_len, 3 * seq_len - 2)
            r = (2 * seq_len - 1) // 2
            return t[..., r:-r]
        a = rope(self.a.repeat(seq_len, 1), dim=0)
        b = rope(self.b.repeat(k_len, 1), dim=0)
        return torch.bmm(a, b.permute(0, 2, 1))

    def _forward(self, inputs) -> Tensor:
        if self.attn_type == 'self-attn':
            x = inputs
        else:
            x, k, v = inputs
        uv = self.act_fn(self.uv(self.ln(x)))
        if self.attn_type == 'self-attn':
            u, v, base = torch.split(uv, [self.e, self.e, self.s], dim=2)
            # (B, K, 1, s) * (2, s) + (2, s): q and k from one shared base.
            base = base.unsqueeze(2) * self.gamma[None, None, :] + self.beta
            if self.pos_enc:
                base = rope(base, dim=1)
            q, k = torch.unbind(base, dim=2)
        else:
            u, q = torch.split(uv, [self.e, self.s], dim=2)
            k, v = self.k_fc(k), self.v_fc(v)
            if self.pos_enc:
                q, k = rope(q, 1), rope(k, 1)
        qk = torch.bmm(q, k.permute(0, 2, 1))
        if self.use_rel_bias:
            bias = self.rel_pos_bias(q.size(1)) if self.attn_type == \
                'self-attn' else self.rel_pos_bias(q.size(1), k.size(1))
            qk = qk + bias[:, :q.size(1), :k.size(1)]
        kernel = torch.square(F.relu(qk / self.sqrt_s))
        if self.dropout_rate > 0.:
            kernel = self.dropout(kernel)
        return self.o(u * torch.bmm(kernel, v))

    def forward(self, x) -> Tensor:
        """x: (B, K, in_token_dims) (or (x, k, v) for cross attention) ->
        (B, K, out_token_dims)."""
        out = self.drop_path(self._forward(x))
        if self.shortcut:
            residual = x[0] if self.attn_type == 'cross-attn' else x
            return self.res_scale(residual) + out
        return out
