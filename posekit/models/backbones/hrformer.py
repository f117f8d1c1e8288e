"""HRFormer (Yuan et al. 2021): HRNet whose stages 2-4 use transformer blocks.

Same layout as :mod:`.hrnet` (stem, ``layer1`` of Bottlenecks,
``transition1..3``, ``stage2..4`` of modules with ``branches`` and
``fuse_layers``); a branch block is :class:`HRFormerBlock`: local-window
self-attention (``attn.attn`` holds MMPose's window attention keys) and a
feed-forward net of 1x1 conv, depthwise 3x3 conv, 1x1 conv, each followed by
a norm. Fusions downsample with depthwise stride-2 3x3 + 1x1 convs, and
upsample bilinearly by default.

Tokens are (B, L, C) with L = H * W in row-major order.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from posekit.registry import MODELS

from ..utils import DropPath, build_activation_layer, build_conv_layer, build_norm_layer
from .hrnet import HRModule, HRNet
from .resnet import Bottleneck
from .swin import WindowMSA


class LocalWindowMSA(WindowMSA):
    """:class:`WindowMSA` with an optional relative position bias (``with_rpe``).

    Without it the table and index do not exist (as in MMPose's state_dict).
    """

    def __init__(self, embed_dims: int, num_heads: int, window_size: tuple[int, int],
                 qkv_bias: bool = True, qk_scale: float | None = None,
                 attn_drop_rate: float = 0., proj_drop_rate: float = 0., with_rpe: bool = True):
        super().__init__(embed_dims, num_heads, window_size, qkv_bias, qk_scale,
                         attn_drop_rate, proj_drop_rate)
        self.with_rpe = with_rpe
        if not with_rpe:
            del self.relative_position_bias_table
            del self._buffers['relative_position_index']

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """x (B * nW, N, C) windows of N tokens; mask (nW, N, N), 0 or -inf."""
        B, N, C = x.shape
        q, k, v = self.qkv(x).reshape(B, N, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        bias = x.new_zeros(self.num_heads, N, N)
        if self.with_rpe:
            bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
            bias = bias.view(N, N, -1).permute(2, 0, 1)
        if mask is not None:
            bias = (bias[None] + mask[:, None]).repeat(B // mask.shape[0], 1, 1, 1)
        drop = self.attn_drop.p if self.training else 0.
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype),
                                             dropout_p=drop, scale=self.scale)
        return self.proj_drop(self.proj(out.transpose(1, 2).reshape(B, N, C)))


class LocalWindowSelfAttention(nn.Module):
    """Attention inside non-overlapping windows of a (B, H * W, C) map.

    The map is zero-padded evenly on both sides up to a multiple of the
    window; with ``with_pad_mask`` padded keys are masked out, but (as in
    MMPose) only when both H and W needed padding.
    """

    def __init__(self, embed_dims: int, num_heads: int, window_size: int | Sequence[int],
                 qkv_bias: bool = True, qk_scale: float | None = None,
                 attn_drop_rate: float = 0., proj_drop_rate: float = 0.,
                 with_rpe: bool = True, with_pad_mask: bool = False):
        super().__init__()
        if isinstance(window_size, int):
            window_size = (window_size, window_size)
        self.window_size = tuple(window_size)
        self.with_pad_mask = with_pad_mask
        self.attn = LocalWindowMSA(embed_dims, num_heads, self.window_size, qkv_bias, qk_scale,
                                   attn_drop_rate, proj_drop_rate, with_rpe)

    def forward(self, x: Tensor, H: int, W: int) -> Tensor:
        """x (B, H * W, C) -> (B, H * W, C)."""
        B, N, C = x.shape
        Wh, Ww = self.window_size
        nh, nw = math.ceil(H / Wh), math.ceil(W / Ww)
        pad_h, pad_w = nh * Wh - H, nw * Ww - W
        pads = (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2)
        x = F.pad(x.view(B, H, W, C), (0, 0) + pads)
        windows = x.view(B, nh, Wh, nw, Ww, C).permute(0, 1, 3, 2, 4, 5).reshape(-1, Wh * Ww, C)
        mask = None
        if self.with_pad_mask and pad_h > 0 and pad_w > 0:
            keys = F.pad(x.new_zeros(1, 1, H, W), pads, value=-math.inf)   # (1, 1, Hp, Wp)
            keys = keys.view(nh, Wh, nw, Ww).permute(0, 2, 1, 3).reshape(-1, 1, Wh * Ww)
            mask = keys.expand(-1, Wh * Ww, -1)                               # (nW, N, N)
        out = self.attn(windows, mask)
        out = out.view(B, nh, nw, Wh, Ww, C).permute(0, 1, 3, 2, 4, 5).reshape(B, nh * Wh, nw * Ww, C)
        out = out[:, pad_h // 2:pad_h // 2 + H, pad_w // 2:pad_w // 2 + W]
        return out.reshape(B, N, C)


class CrossFFN(nn.Module):
    """1x1 conv, depthwise 3x3 conv, 1x1 conv on the (B, C, H, W) map, each
    followed by ``norm_cfg`` then ``act_cfg`` (``dw_act_cfg`` after the 3x3)."""

    def __init__(self, in_features: int, hidden_features: int | None = None,
                 out_features: int | None = None, act_cfg: Mapping = dict(type='GELU'),  # noqa: B006
                 dw_act_cfg: Mapping = dict(type='GELU'),  # noqa: B006
                 norm_cfg: Mapping = dict(type='SyncBN')):  # noqa: B006
        super().__init__()
        hidden = hidden_features or in_features
        out_features = out_features or in_features
        self.fc1 = nn.Conv2d(in_features, hidden, kernel_size=1)
        self.act1 = build_activation_layer(act_cfg)
        self.norm1 = build_norm_layer(norm_cfg, hidden)[1]
        self.dw3x3 = nn.Conv2d(hidden, hidden, kernel_size=3, padding=1, groups=hidden)
        self.act2 = build_activation_layer(dw_act_cfg)
        self.norm2 = build_norm_layer(norm_cfg, hidden)[1]
        self.fc2 = nn.Conv2d(hidden, out_features, kernel_size=1)
        self.act3 = build_activation_layer(act_cfg)
        self.norm3 = build_norm_layer(norm_cfg, out_features)[1]

    def forward(self, x: Tensor, H: int, W: int) -> Tensor:
        """x (B, H * W, C_in) -> (B, H * W, C_out)."""
        x = x.transpose(1, 2).reshape(x.shape[0], -1, H, W)
        x = self.act1(self.norm1(self.fc1(x)))
        x = self.act2(self.norm2(self.dw3x3(x)))
        x = self.act3(self.norm3(self.fc2(x)))
        return x.flatten(2).transpose(1, 2)


class HRFormerBlock(nn.Module):
    """Pre-norm transformer block on a (B, C, H, W) map: window attention,
    then :class:`CrossFFN`, each a residual with stochastic depth.

    ``**kwargs`` go to :class:`LocalWindowSelfAttention` (``with_rpe``,
    ``with_pad_mask``, ``qkv_bias``...). ``with_cp`` recomputes the block in
    the backward pass (posekit's addition: MMPose ignores it here).
    """

    expansion = 1

    def __init__(self, in_features: int, out_features: int, num_heads: int,
                 window_size: int = 7, mlp_ratio: float = 4.0, drop_path: float = 0.0,
                 act_cfg: Mapping = dict(type='GELU'),  # noqa: B006
                 norm_cfg: Mapping = dict(type='SyncBN'),  # noqa: B006
                 transformer_norm_cfg: Mapping = dict(type='LN', eps=1e-6),  # noqa: B006
                 with_cp: bool = False, **kwargs):
        super().__init__()
        if in_features != out_features:
            # the attention residual needs equal widths (MMPose asserts it too)
            raise ValueError(f'HRFormerBlock: in_features {in_features} != out_features '
                             f'{out_features}')
        self.with_cp = with_cp
        self.norm1 = build_norm_layer(transformer_norm_cfg, in_features)[1]
        self.attn = LocalWindowSelfAttention(in_features, num_heads, window_size, **kwargs)
        self.norm2 = build_norm_layer(transformer_norm_cfg, out_features)[1]
        self.ffn = CrossFFN(in_features, int(in_features * mlp_ratio), out_features,
                            act_cfg=act_cfg, dw_act_cfg=act_cfg, norm_cfg=norm_cfg)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def _inner(self, x: Tensor) -> Tensor:
        B, C, H, W = x.shape
        x = x.flatten(2).transpose(1, 2)
        x = x + self.drop_path(self.attn(self.norm1(x), H, W))
        x = x + self.drop_path(self.ffn(self.norm2(x), H, W))
        return x.transpose(1, 2).reshape(B, C, H, W)

    def forward(self, x: Tensor) -> Tensor:
        """x (B, C, H, W) -> same shape."""
        if self.with_cp and x.requires_grad:
            return checkpoint(self._inner, x, use_reentrant=False)
        return self._inner(x)


class HRFormerModule(nn.Module):
    """Branches of :class:`HRFormerBlock`, fused as in :class:`HRModule`.

    Fusion paths: a lower-resolution branch j > i goes through 1x1 conv, norm,
    upsampling; a higher one j < i through (i - j) steps of depthwise stride-2
    3x3 conv, norm, 1x1 conv, norm (+ ReLU except on the last step).
    """

    forward = HRModule.forward   # same summation order and final ReLU

    def __init__(self, num_branches: int, num_blocks: Sequence[int], in_channels: Sequence[int],
                 num_channels: Sequence[int], num_heads: Sequence[int],
                 window_sizes: Sequence[int], mlp_ratios: Sequence[float],
                 multiscale_output: bool = True, drop_paths: Sequence[float] = (0.0,),
                 with_rpe: bool = True, with_pad_mask: bool = False, conv_cfg: dict | None = None,
                 norm_cfg: Mapping = dict(type='BN'),  # noqa: B006
                 transformer_norm_cfg: Mapping = dict(type='LN', eps=1e-6),  # noqa: B006
                 with_cp: bool = False,
                 upsample_cfg: Mapping = dict(mode='bilinear', align_corners=False)):  # noqa: B006
        super().__init__()
        for name, value in (('num_blocks', num_blocks), ('num_channels', num_channels),
                            ('in_channels', in_channels), ('num_heads', num_heads),
                            ('window_sizes', window_sizes), ('mlp_ratios', mlp_ratios)):
            if len(value) != num_branches:
                raise ValueError(f'HRFormer: num_branches is {num_branches} but {name} has '
                                 f'{len(value)} entries: {list(value)}')
        if max(num_blocks) > len(drop_paths):
            raise ValueError(f'HRFormer: num_blocks {list(num_blocks)} exceeds num_blocks[0] '
                             f'(drop path rates are laid out by the first branch, as in MMPose)')
        self.num_branches, self.multiscale_output = num_branches, multiscale_output
        self.branches = nn.ModuleList(
            nn.Sequential(*(HRFormerBlock(
                c, c, num_heads=num_heads[b], window_size=window_sizes[b],
                mlp_ratio=mlp_ratios[b], drop_path=drop_paths[k], norm_cfg=norm_cfg,
                transformer_norm_cfg=transformer_norm_cfg, with_cp=with_cp,
                with_rpe=with_rpe, with_pad_mask=with_pad_mask) for k in range(num_blocks[b])))
            for b, c in enumerate(num_channels))
        if list(in_channels) != list(num_channels):
            raise ValueError(f'HRFormer: module input widths {list(in_channels)} must equal '
                             f'num_channels {list(num_channels)}')
        self.in_channels = list(num_channels)   # what the next module receives
        self.fuse_layers = None
        if num_branches > 1:
            self.fuse_layers = nn.ModuleList(
                nn.ModuleList(self._fuse_path(j, i, self.in_channels, conv_cfg, norm_cfg,
                                              upsample_cfg) for j in range(num_branches))
                for i in range(num_branches if multiscale_output else 1))
        self.relu = nn.ReLU(inplace=True)

    @staticmethod
    def _fuse_path(j: int, i: int, ch: list[int], conv_cfg, norm_cfg,
                   upsample_cfg: Mapping) -> nn.Module | None:
        if j == i:
            return None
        if j > i:
            return nn.Sequential(
                build_conv_layer(conv_cfg, ch[j], ch[i], kernel_size=1, bias=False),
                build_norm_layer(norm_cfg, ch[i])[1],
                nn.Upsample(scale_factor=2 ** (j - i), mode=upsample_cfg['mode'],
                            align_corners=upsample_cfg.get('align_corners')))
        steps = []
        for k in range(i - j):
            last = k == i - j - 1
            cout = ch[i] if last else ch[j]
            step = [build_conv_layer(conv_cfg, ch[j], ch[j], kernel_size=3, stride=2, padding=1,
                                     groups=ch[j], bias=False),
                    build_norm_layer(norm_cfg, ch[j])[1],
                    build_conv_layer(conv_cfg, ch[j], cout, kernel_size=1, bias=False),
                    build_norm_layer(norm_cfg, cout)[1]]
            if not last:
                step.append(nn.ReLU())
            steps.append(nn.Sequential(*step))
        return nn.Sequential(*steps)


@MODELS.register_module()
class HRFormer(HRNet):
    """HRFormer backbone, as MMPose builds it.

    Args:
        extra (dict): As :class:`HRNet`'s, with stage 1 of 'BOTTLENECK' blocks
            and stages 2-4 of 'HRFORMERBLOCK' blocks, each of those with
            per-branch ``num_heads``, ``window_sizes`` and ``mlp_ratios``.
            Also ``drop_path_rate`` (default 0; spread linearly over the
            blocks of stages 2-4, block k of every branch of a module sharing
            a rate), ``with_rpe`` (default True), ``with_pad_mask`` (default
            False) and ``upsample`` (default bilinear, align_corners=False).
        in_channels, conv_cfg, norm_cfg, norm_eval, with_cp,
            zero_init_residual, frozen_stages, init_cfg: as :class:`HRNet`.
        transformer_norm_cfg (dict): Norm before attention and FFN. Default
            LN with eps 1e-6.

    Input (N, in_channels, H, W); output a tuple of (N, C_b, H / 2**(b + 2),
    W / 2**(b + 2)) per returned branch b (only b = 0 unless
    ``stage4.multiscale_output``).
    """

    BLOCKS = {'BOTTLENECK': Bottleneck, 'HRFORMERBLOCK': HRFormerBlock}

    def __init__(self, extra: Mapping, in_channels: int = 3, conv_cfg: dict | None = None,
                 norm_cfg: dict | None = None,
                 transformer_norm_cfg: Mapping = dict(type='LN', eps=1e-6),  # noqa: B006
                 norm_eval: bool = False, with_cp: bool = False,
                 zero_init_residual: bool = False, frozen_stages: int = -1,
                 init_cfg: dict | list[dict] | None = (
                     dict(type='Normal', std=0.001, layer=['Conv2d']),
                     dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm']))):
        for s, cfg in enumerate(extra[f'stage{i}'] for i in range(1, 5)):
            want = 'BOTTLENECK' if s == 0 else 'HRFORMERBLOCK'
            if cfg['block'] != want:
                raise ValueError(f"HRFormer: extra.stage{s + 1}.block must be {want!r}, "
                                 f"got {cfg['block']!r}")
        depths = [extra[f'stage{s}']['num_blocks'][0] * extra[f'stage{s}']['num_modules']
                  for s in (2, 3, 4)]
        rates = torch.linspace(0, extra.get('drop_path_rate', 0.0), sum(depths), device='cpu').tolist()
        # read by _make_stage while HRNet.__init__ builds the stages
        self.drop_path_rates = [rates[sum(depths[:s]):sum(depths[:s + 1])] for s in range(3)]
        self.transformer_norm_cfg = dict(transformer_norm_cfg)
        self.with_rpe = extra.get('with_rpe', True)
        self.with_pad_mask = extra.get('with_pad_mask', False)
        extra = dict(extra)
        extra.setdefault('upsample', dict(mode='bilinear', align_corners=False))
        super().__init__(extra, in_channels, conv_cfg, norm_cfg, norm_eval, with_cp,
                         zero_init_residual, frozen_stages, init_cfg)

    def _make_stage(self, cfg: Mapping, in_channels: list[int], multiscale_output: bool,
                    stage: int) -> tuple[nn.Sequential, list[int]]:
        rates, per_module = self.drop_path_rates[stage - 2], cfg['num_blocks'][0]
        modules = []
        for k in range(cfg['num_modules']):
            last = k == cfg['num_modules'] - 1
            modules.append(HRFormerModule(
                cfg['num_branches'], cfg['num_blocks'], in_channels, cfg['num_channels'],
                cfg['num_heads'], cfg['window_sizes'], cfg['mlp_ratios'],
                multiscale_output=multiscale_output or not last,
                drop_paths=rates[per_module * k:per_module * (k + 1)],
                with_rpe=self.with_rpe, with_pad_mask=self.with_pad_mask,
                conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg,
                transformer_norm_cfg=self.transformer_norm_cfg, with_cp=self.with_cp,
                upsample_cfg=self.upsample_cfg))
            in_channels = modules[-1].in_channels
        return nn.Sequential(*modules), in_channels
