"""RTMO's gated attention unit (GAU over keypoint tokens, with an external
position encoding) and MMCV's scalar ``Scale``, as DCC uses them."""
import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..utils import DropPath
from .rtmcc_block import Scale, ScaleNorm


class ScalarScale(nn.Module):
    """Multiplication by one learnt scalar ``scale`` (MMCV's ``Scale``)."""

    def __init__(self, scale: float = 1.0):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(scale, dtype=torch.float))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.scale


def rotary_pos_enc(feature: Tensor, pos_enc: Tensor,
                   spatial_dim: int = 1) -> Tensor:
    """Rotate the halves (x1, x2) of ``feature``'s last axis by the
    angles whose (cos, sin) are the halves of ``pos_enc`` (1D), or by the
    row (cos, sin) for x1 and the column ones for x2 (2D, pos_enc
    (..., C, 2))."""
    for _ in range(feature.ndim - pos_enc.ndim + spatial_dim - 1):
        pos_enc = pos_enc.unsqueeze(0)
    x1, x2 = torch.chunk(feature, 2, dim=-1)
    if spatial_dim == 1:
        cos, sin = torch.chunk(pos_enc, 2, dim=-1)
        return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1)
    pos_h, pos_w = torch.unbind(pos_enc, dim=-1)
    cos_h, sin_h = torch.chunk(pos_h, 2, dim=-1)
    cos_w, sin_w = torch.chunk(pos_w, 2, dim=-1)
    return torch.cat((x1 * cos_h - x2 * sin_h, x1 * cos_w + x2 * sin_w),
                     dim=-1)


class GAUEncoder(nn.Module):
    """Gated attention unit over tokens (..., T, in_token_dims), with an
    optional external position encoding added to (or rotating) q and k.

    As :class:`~posekit.models.heads.rtmcc_block.RTMCCBlock` in
    self-attention without relative bias, plus ``pos_enc`` ('none', 'add':
    q, k += pos_enc (T, s); 'rope': rotated by it) and any number of
    leading axes. Parameters ``gamma``, ``beta``, ``o``, ``uv``, ``ln.g``,
    ``res_scale.scale`` as MMPose's.
    """

    def __init__(self, in_token_dims: int, out_token_dims: int,
                 expansion_factor: int = 2, s: int = 128, eps: float = 1e-5,
                 dropout_rate: float = 0., drop_path: float = 0.,
                 act_fn: str = 'SiLU', bias: bool = False,
                 pos_enc: str = 'none', spatial_dim: int = 1,
                 use_rel_bias: bool = False):
        super().__init__()
        if pos_enc not in ('none', 'add', 'rope'):
            raise ValueError("GAU pos_enc must be 'none', 'add' or 'rope', "
                             f'got {pos_enc!r}')
        if act_fn not in ('SiLU', 'ReLU'):
            raise ValueError(f"GAU act_fn must be 'SiLU' or 'ReLU', got "
                             f'{act_fn!r}')
        if use_rel_bias:
            raise ValueError("RTMO's GAU has no relative position bias: "
                             'use_rel_bias must be False')
        self.s, self.pos_enc, self.spatial_dim = s, pos_enc, spatial_dim
        self.drop_path = DropPath(drop_path) if drop_path > 0. \
            else nn.Identity()
        self.e = int(in_token_dims * expansion_factor)
        self.o = nn.Linear(self.e, out_token_dims, bias=bias)
        self.uv = nn.Linear(in_token_dims, 2 * self.e + s, bias=bias)
        self.gamma = nn.Parameter(torch.rand((2, s)))
        self.beta = nn.Parameter(torch.rand((2, s)))
        self.ln = ScaleNorm(in_token_dims, eps=eps)
        nn.init.xavier_uniform_(self.uv.weight)
        if act_fn not in ('SiLU', 'ReLU'):
            raise ValueError(f"act_fn must be 'SiLU' or 'ReLU', got {act_fn!r}")
        self.act_fn = nn.SiLU(True) if act_fn == 'SiLU' else nn.ReLU(True)
        self.shortcut = in_token_dims == out_token_dims
        if self.shortcut:
            self.res_scale = Scale(in_token_dims)
        self.sqrt_s = math.sqrt(s)
        self.dropout_rate = dropout_rate
        if dropout_rate > 0.:
            self.dropout = nn.Dropout(dropout_rate)

    def _forward(self, x: Tensor, mask: Optional[Tensor] = None,
                 pos_enc: Optional[Tensor] = None) -> Tensor:
        uv = self.act_fn(self.uv(self.ln(x)))
        u, v, base = torch.split(uv, [self.e, self.e, self.s], dim=-1)
        folded = getattr(self, 'folded_affine', None)
        if folded is not None:
            gamma_q, gamma_k, beta_q, beta_k = (t.to(base) for t in folded)
            q, k = base * gamma_q + beta_q, base * gamma_k + beta_k
            pos_enc = None
        else:
            lead = (1, ) * (base.ndim - 1)
            # one shared base -> q and k by per-channel affine maps
            base = base.unsqueeze(-2) * self.gamma.view(*lead, 2, self.s) + \
                self.beta.view(*lead, 2, self.s)
            q, k = torch.unbind(base, dim=-2)
        if pos_enc is None:
            pass
        elif self.pos_enc == 'rope':
            q = rotary_pos_enc(q, pos_enc, self.spatial_dim)
            k = rotary_pos_enc(k, pos_enc, self.spatial_dim)
        elif self.pos_enc == 'add':
            pos_enc = pos_enc.reshape(*((1, ) * (q.ndim - 2)), q.size(-2),
                                      q.size(-1))
            q, k = q + pos_enc, k + pos_enc
        kernel = torch.square(F.relu(
            torch.matmul(q, k.transpose(-1, -2)) / self.sqrt_s))
        if mask is not None:
            kernel = kernel * mask
        if self.dropout_rate > 0.:
            kernel = self.dropout(kernel)
        return self.o(u * torch.matmul(kernel, v))

    def fold_pos_enc(self, pos_enc: Optional[Tensor]) -> None:
        """Freeze q/k's affine maps with the additive ``pos_enc`` (T, s)
        folded into the offsets (MMPose's deploy form; same values up to
        float rounding). Afterwards ``pos_enc`` arguments are ignored."""
        s = self.s
        beta_q, beta_k = self.beta[0].view(1, s), self.beta[1].view(1, s)
        if pos_enc is not None:
            beta_q, beta_k = beta_q + pos_enc, beta_k + pos_enc
        self.folded_affine = tuple(t.detach().cpu() for t in (
            self.gamma[0].view(1, s), self.gamma[1].view(1, s), beta_q,
            beta_k))

    def forward(self, x: Tensor, mask: Optional[Tensor] = None,
                pos_enc: Optional[Tensor] = None) -> Tensor:
        out = self.drop_path(self._forward(x, mask=mask, pos_enc=pos_enc))
        return self.res_scale(x) + out if self.shortcut else out
