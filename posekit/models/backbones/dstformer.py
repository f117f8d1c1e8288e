"""DSTFormer, the dual-stream spatio-temporal transformer of MotionBERT
(Zhu et al., 2023), as MMPose 1.3.2 builds it (same arguments, state_dict
keys and computation).

Input: a clip of 2D keypoints, (B, T, K, C_in) (a (T, K, C_in) clip is given
a batch axis), e.g. C_in = 3 for normalised (x, y) plus a visibility score.
Each keypoint of each frame is a token. Every depth level runs two blocks on
the same tokens: ``blocks_st`` (spatial attention over the K joints of a
frame, then temporal attention over the T frames of a joint) and
``blocks_ts`` (the other order); their outputs are fused per token by
softmax weights from ``attn_regress`` (``att_fuse=True``) or averaged.
Output: (B, T, K, feat_size), a tensor (not a tuple: the MotionBERT head and
PoseLifter take it as it is, as in MMPose).
"""
from __future__ import annotations

from typing import Mapping, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from posekit.registry import MODELS
from ..utils import DropPath, trunc_normal_
from .base_backbone import BaseBackbone


class Attention(nn.Module):
    """Multi-head self-attention over the joints of a frame (``spatial``) or
    the frames of a joint (``temporal``).

    Tokens come in as (B*T, K, dim), frame-major; ``temporal`` regroups them
    into per-joint sequences of length ``seq_len`` (the clip's T).
    Submodule order (hence state_dict order) is MMPose's: ``proj`` before
    ``qkv``.
    """

    def __init__(self, dim: int, num_heads: int = 8, qkv_bias: bool = False,
                 qk_scale: Optional[float] = None, attn_drop: float = 0.,
                 proj_drop: float = 0., mode: str = 'spatial'):
        super().__init__()
        if mode not in ('spatial', 'temporal'):
            raise ValueError(f"Attention mode must be 'spatial' or 'temporal', got {mode!r}")
        if dim % num_heads:
            raise ValueError(f'feat_size {dim} is not divisible by num_heads {num_heads}')
        self.num_heads = num_heads
        # ``or``, as MMPose: qk_scale=0 also means the default
        self.scale = qk_scale or (dim // num_heads)**-0.5
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.mode = mode
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: Tensor, seq_len: int = 1) -> Tensor:
        """(B*T, K, dim) -> (B*T, K, dim); ``seq_len`` is T."""
        BT, K, C = x.shape
        H = self.num_heads
        # (3, B*T, H, K, C/H)
        q, k, v = self.qkv(x).reshape(BT, K, 3, H, C // H).permute(2, 0, 3, 1, 4)
        if self.mode == 'temporal':
            # (B, T, H, K, c) -> (B, H * K, T, c): attend over T (4D, as ONNX
            # export takes attention)
            q, k, v = (t.reshape(-1, seq_len, H, K, C // H).permute(0, 2, 3, 1, 4)
                       .reshape(-1, H * K, seq_len, C // H) for t in (q, k, v))
        drop = self.attn_drop.p if self.training else 0.
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=drop, scale=self.scale)
        if self.mode == 'temporal':
            # (B, H, K, T, c) -> (B, T, K, H, c)
            out = out.reshape(-1, H, K, seq_len, C // H).permute(0, 3, 2, 1, 4)
        else:
            out = out.transpose(1, 2)               # (B*T, K, H, c)
        return self.proj_drop(self.proj(out.reshape(BT, K, C)))


def _mlp(dim: int, hidden: int, out: int, drop: float) -> nn.Sequential:
    return nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, out),
                         nn.Dropout(drop))


class AttentionBlock(nn.Module):
    """Pre-norm residual block: spatial attention + MLP and temporal
    attention + MLP, in the order ``st_mode`` says (``'st'`` or ``'ts'``).
    LayerNorms use eps 1e-6."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.,
                 mlp_out_ratio: float = 1., qkv_bias: bool = True,
                 qk_scale: Optional[float] = None, drop: float = 0.,
                 attn_drop: float = 0., drop_path: float = 0., st_mode: str = 'st'):
        super().__init__()
        if st_mode not in ('st', 'ts'):
            raise ValueError(f"st_mode must be 'st' or 'ts', got {st_mode!r}")
        self.st_mode = st_mode
        self.norm1_s = nn.LayerNorm(dim, eps=1e-06)
        self.norm1_t = nn.LayerNorm(dim, eps=1e-06)
        attn = dict(num_heads=num_heads, qkv_bias=qkv_bias, qk_scale=qk_scale,
                    attn_drop=attn_drop, proj_drop=drop)
        self.attn_s = Attention(dim, mode='spatial', **attn)
        self.attn_t = Attention(dim, mode='temporal', **attn)
        self.drop_path = DropPath(drop_path) if drop_path > 0. else nn.Identity()
        self.norm2_s = nn.LayerNorm(dim, eps=1e-06)
        self.norm2_t = nn.LayerNorm(dim, eps=1e-06)
        hidden, out = int(dim * mlp_ratio), int(dim * mlp_out_ratio)
        self.mlp_s = _mlp(dim, hidden, out, drop)
        self.mlp_t = _mlp(dim, hidden, out, drop)

    def _spatial(self, x: Tensor, seq_len: int) -> Tensor:
        x = x + self.drop_path(self.attn_s(self.norm1_s(x), seq_len))
        return x + self.drop_path(self.mlp_s(self.norm2_s(x)))

    def _temporal(self, x: Tensor, seq_len: int) -> Tensor:
        x = x + self.drop_path(self.attn_t(self.norm1_t(x), seq_len))
        return x + self.drop_path(self.mlp_t(self.norm2_t(x)))

    def forward(self, x: Tensor, seq_len: int = 1) -> Tensor:
        """(B*T, K, dim) -> (B*T, K, dim); ``seq_len`` is T."""
        if self.st_mode == 'st':
            return self._temporal(self._spatial(x, seq_len), seq_len)
        return self._spatial(self._temporal(x, seq_len), seq_len)


@MODELS.register_module()
class DSTFormer(BaseBackbone):
    """Dual-stream spatio-temporal transformer (MotionBERT).

    Args:
        in_channels (int): C_in, values per input keypoint.
        feat_size (int): Token width. Default 256.
        depth (int): Number of (st, ts) block pairs. Default 5.
        num_heads (int): Attention heads; must divide ``feat_size``.
        mlp_ratio (float): MLP hidden width / ``feat_size``. Default 4.
        num_keypoints (int): K (size of the spatial embedding). Default 17.
        seq_len (int): Longest clip T (size of the temporal embedding);
            shorter clips use its first T rows. Default 243.
        qkv_bias (bool): Bias in the q, k, v projection. Default True.
        qk_scale (float, optional): Attention scale; default
            ``(feat_size / num_heads) ** -0.5``.
        drop_rate (float): Dropout after the embeddings, the attention
            projection and the MLPs.
        attn_drop_rate (float): Dropout on the attention weights.
        drop_path_rate (float): Stochastic depth of the last level, rising
            linearly from 0 at the first.
        att_fuse (bool): Fuse the two streams with learnt per-token softmax
            weights (``attn_regress``); else average them. Default True.
        init_cfg (dict | list[dict], optional): E.g. Pretrained. Without a
            Pretrained entry :meth:`init_weights` draws Linear weights from
            N(0, 0.02) truncated to [-2, 2], as MMPose (this also replaces
            ``attn_regress``'s construction-time weight 0; its bias stays
            0.5).
    """

    def __init__(self, in_channels: int, feat_size: int = 256, depth: int = 5,
                 num_heads: int = 8, mlp_ratio: float = 4, num_keypoints: int = 17,
                 seq_len: int = 243, qkv_bias: bool = True, qk_scale: Optional[float] = None,
                 drop_rate: float = 0., attn_drop_rate: float = 0., drop_path_rate: float = 0.,
                 att_fuse: bool = True,
                 init_cfg: Optional[Union[Mapping, Sequence[Mapping]]] = None):
        super().__init__(init_cfg=init_cfg)
        self.in_channels = in_channels
        self.feat_size = feat_size
        self.seq_len = seq_len
        self.joints_embed = nn.Linear(in_channels, feat_size)
        self.pos_drop = nn.Dropout(p=drop_rate)
        # stochastic depth grows linearly with depth
        dpr = torch.linspace(0, drop_path_rate, depth, device='cpu').tolist()
        block = dict(dim=feat_size, num_heads=num_heads, mlp_ratio=mlp_ratio,
                     qkv_bias=qkv_bias, qk_scale=qk_scale, drop=drop_rate,
                     attn_drop=attn_drop_rate)
        self.blocks_st = nn.ModuleList(
            [AttentionBlock(drop_path=dpr[i], st_mode='st', **block) for i in range(depth)])
        self.blocks_ts = nn.ModuleList(
            [AttentionBlock(drop_path=dpr[i], st_mode='ts', **block) for i in range(depth)])
        self.norm = nn.LayerNorm(feat_size, eps=1e-06)
        self.temp_embed = nn.Parameter(torch.zeros(1, seq_len, 1, feat_size))
        self.spat_embed = nn.Parameter(torch.zeros(1, num_keypoints, feat_size))
        trunc_normal_(self.temp_embed, std=.02)
        trunc_normal_(self.spat_embed, std=.02)
        self.att_fuse = att_fuse
        if att_fuse:
            self.attn_regress = nn.ModuleList(
                [nn.Linear(feat_size * 2, 2) for _ in range(depth)])
            for layer in self.attn_regress:
                # equal weights (softmax of 0.5, 0.5) until trained
                nn.init.zeros_(layer.weight)
                nn.init.constant_(layer.bias, 0.5)

    def embed(self, x: Tensor) -> Tensor:
        """(B, T, K, C_in) -> (B*T, K, feat_size) tokens with the joint and
        frame embeddings added."""
        B, T, K, _ = x.shape
        if T > self.seq_len:
            raise ValueError(f'DSTFormer got a clip of {T} frames, longer than its '
                             f'seq_len {self.seq_len}')
        x = self.joints_embed(x.reshape(B * T, K, -1)) + self.spat_embed
        x = x.reshape(B, T, K, -1) + self.temp_embed[:, :T]
        return self.pos_drop(x.reshape(B * T, K, -1))

    def forward(self, x: Tensor) -> Tensor:
        """(B, T, K, C_in) or (T, K, C_in) -> (B, T, K, feat_size)."""
        if x.ndim == 3:
            x = x[None]
        if x.ndim != 4:
            raise ValueError(f'DSTFormer takes (B, T, K, C) keypoints, got {tuple(x.shape)}')
        B, T, K, _ = x.shape
        x = self.embed(x)
        for i, (blk_st, blk_ts) in enumerate(zip(self.blocks_st, self.blocks_ts)):
            x_st, x_ts = blk_st(x, T), blk_ts(x, T)
            if self.att_fuse:
                alpha = self.attn_regress[i](torch.cat([x_st, x_ts], dim=-1)).softmax(dim=-1)
                x = x_st * alpha[..., 0:1] + x_ts * alpha[..., 1:2]
            else:
                x = (x_st + x_ts) * 0.5
        return self.norm(x).reshape(B, T, K, -1)

    def init_weights(self) -> None:
        """init_cfg first; unless it is Pretrained, every Linear weight is
        redrawn from N(0, 0.02) truncated to [-2, 2].

        Biases and LayerNorms keep their construction values: MMPose means
        to zero / reset them, but its ``constant_init`` is given tensors,
        not modules, and does nothing; seeded runs give MMPose's weights.
        """
        super().init_weights()
        cfgs = self.init_cfg or []
        cfgs = [cfgs] if isinstance(cfgs, Mapping) else list(cfgs)
        if any(c.get('type') == 'Pretrained' for c in cfgs):
            return
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=.02)
