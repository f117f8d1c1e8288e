"""Vision Transformer (Dosovitskiy et al., 2021) as mmpretrain 1.x builds it
for ViTPose (``type='mmpretrain.VisionTransformer'`` in MMPose 1.3.2 configs):
same arguments, state_dict keys and computation.

Tokens are (B, L, C) with L = extra tokens (the class token, if any) followed
by the h * w patch tokens in row-major order; ``patch_resolution`` is (h, w).
Keys: ``patch_embed.projection``, ``cls_token``, ``pos_embed``,
``layers.i.{ln1, attn.qkv, attn.proj, ln2, ffn.layers.0.0, ffn.layers.1}``,
``ln1`` (final norm), ``ln2`` (only for ``out_type='avg_featmap'``).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from posekit.registry import MODELS
from ..utils import BaseModule, DropPath, build_norm_layer, load_state_dict, trunc_normal_
from ..utils.checkpoint import load_checkpoint_file, select_prefix
from ..utils.transformer import FFN, LayerScale
from .base_backbone import BaseBackbone, freeze
from .patch_layers import PatchEmbed, to_2tuple


def resize_pos_embed(pos_embed: Tensor, src_shape: Sequence[int], dst_shape: Sequence[int],
                     mode: str = 'bicubic', num_extra_tokens: int = 1) -> Tensor:
    """Interpolate a (1, extra + h * w, C) position embedding to another grid.

    The extra (class) tokens are kept as they are; the patch part, seen as a
    (1, C, h, w) image, is resized to ``dst_shape`` (h', w') with
    ``F.interpolate(mode, align_corners=False)`` in float32 (bicubic needs it).
    """
    if tuple(src_shape) == tuple(dst_shape):
        return pos_embed
    _, length, channels = pos_embed.shape
    src_h, src_w = src_shape
    if length != src_h * src_w + num_extra_tokens:
        raise ValueError(f'pos_embed has {length} tokens, expected {src_h}x{src_w} + '
                         f'{num_extra_tokens}: check img_size')
    grid = pos_embed[:, num_extra_tokens:].reshape(1, src_h, src_w, channels).permute(0, 3, 1, 2)
    grid = F.interpolate(grid.float(), size=tuple(dst_shape), mode=mode, align_corners=False)
    grid = grid.flatten(2).transpose(1, 2).to(pos_embed.dtype)
    return torch.cat((pos_embed[:, :num_extra_tokens], grid), dim=1)


class ViTAttention(nn.Module):
    """Multi-head self-attention with fused ``qkv`` (mmpretrain's layout).

    ``qkv`` is one Linear C -> 3C whose output is ordered (q | k | v), each
    split into heads; then ``proj``, ``proj_drop``, an optional layer scale
    ``gamma1`` and stochastic depth (``out_drop``, no parameters).
    """

    def __init__(self, embed_dims: int, num_heads: int, attn_drop: float = 0.,
                 proj_drop: float = 0., drop_path_rate: float = 0., qkv_bias: bool = True,
                 layer_scale_init_value: float = 0.):
        super().__init__()
        if embed_dims % num_heads:
            raise ValueError(f'embed_dims {embed_dims} is not divisible by num_heads {num_heads}')
        self.embed_dims, self.num_heads = embed_dims, num_heads
        self.head_dims = embed_dims // num_heads
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        self.attn_drop = attn_drop
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop)
        self.out_drop = DropPath(drop_path_rate)
        self.gamma1 = (LayerScale(embed_dims, layer_scale_init_value)
                       if layer_scale_init_value > 0 else nn.Identity())

    def forward(self, x: Tensor) -> Tensor:
        """(B, N, C) -> (B, N, C), without the residual."""
        B, N, _ = x.shape
        q, k, v = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dims).permute(2, 0, 3, 1, 4)
        x = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.attn_drop if self.training else 0.)
        x = self.proj(x.transpose(1, 2).reshape(B, N, self.embed_dims))
        return self.out_drop(self.gamma1(self.proj_drop(x)))


class TransformerEncoderLayer(BaseModule):
    """Pre-norm block: x + attn(ln1(x)), then x + ffn(ln2(x)).

    Args:
        embed_dims (int), num_heads (int), feedforward_channels (int): Widths.
        layer_scale_init_value (float): > 0 adds learned per-channel scales
            (``attn.gamma1``, ``ffn.gamma2``) starting at this value.
        drop_rate (float): Dropout after the projections. attn_drop_rate
            (float): on the attention weights. drop_path_rate (float):
            stochastic depth of both branches.
        num_fcs (int): Linear layers in the FFN. qkv_bias (bool): Bias of qkv.
        ffn_type (str): 'origin' (mmpretrain's 'swiglu_fused' is not ported).
        act_cfg (dict): FFN activation. norm_cfg (dict): Norm of ln1 / ln2.
    """

    def __init__(self, embed_dims: int, num_heads: int, feedforward_channels: int,
                 layer_scale_init_value: float = 0., drop_rate: float = 0.,
                 attn_drop_rate: float = 0., drop_path_rate: float = 0., num_fcs: int = 2,
                 qkv_bias: bool = True, ffn_type: str = 'origin',
                 act_cfg: dict = dict(type='GELU'),  # noqa: B006 (never mutated)
                 norm_cfg: dict = dict(type='LN'),  # noqa: B006
                 init_cfg: dict | None = None):
        super().__init__(init_cfg)
        if ffn_type != 'origin':
            raise NotImplementedError(f'VisionTransformer: ffn_type={ffn_type!r} is not '
                                      "supported by posekit; use 'origin'")
        self.embed_dims = embed_dims
        self.ln1 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.attn = ViTAttention(embed_dims, num_heads, attn_drop_rate, drop_rate,
                                 drop_path_rate, qkv_bias, layer_scale_init_value)
        self.ln2 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.ffn = FFN(embed_dims, feedforward_channels, num_fcs, act_cfg, ffn_drop=drop_rate,
                       layer_scale_init_value=layer_scale_init_value)
        # posekit's FFN builds only Dropout dropout_layers; DropPath has no params
        self.ffn.dropout_layer = DropPath(drop_path_rate)

    def init_weights(self) -> None:
        super().init_weights()
        # mmpretrain's scheme for the FFN: Xavier-uniform weights, ~0 biases
        for m in self.ffn.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.normal_(m.bias, std=1e-6)

    def forward(self, x: Tensor) -> Tensor:
        """(B, N, C) -> (B, N, C)."""
        x = x + self.attn(self.ln1(x))
        return self.ffn(self.ln2(x), identity=x)


def _arch(embed_dims: int, num_layers: int, num_heads: int, ffn: int) -> dict:
    return dict(embed_dims=embed_dims, num_layers=num_layers, num_heads=num_heads,
                feedforward_channels=ffn)


@MODELS.register_module()
class VisionTransformer(BaseBackbone):
    """Plain ViT; ViTPose reads its last layer's patch tokens as a feature map.

    Args:
        arch (str | dict): A name of :attr:`arch_zoo` ('small', 'base',
            'large', 'huge', 'deit-tiny', ...) or a dict with ``embed_dims``,
            ``num_layers``, ``num_heads``, ``feedforward_channels``.
        img_size (int | tuple[int, int]): (H, W) the ``pos_embed`` grid is
            made for; other sizes interpolate it (``interpolate_mode``).
        patch_size (int): Kernel and stride of the patch conv.
        in_channels (int): Input channels.
        out_indices (int | Sequence[int]): Layers whose output is returned
            (negative counts from the end). Default -1, the last.
        drop_rate (float): Dropout after pos_embed and in each layer.
        drop_path_rate (float): Stochastic depth, 0 at the first layer rising
            linearly to this at the last.
        qkv_bias (bool): Bias of the qkv projections.
        norm_cfg (dict): Norm of every layer and of ``ln1`` / ``ln2`` / ``pre_norm``.
        final_norm (bool): Normalise the last layer's output (``ln1``).
        out_type (str): 'featmap' (B, C, h, w) patch tokens, 'cls_token'
            (B, C), 'avg_featmap' (B, C) mean of the patch tokens through
            ``ln2``, or 'raw' (B, L, C).
        with_cls_token (bool): Prepend a learned class token.
        frozen_stages (int): Freeze the embeddings (> 0) and the first
            ``frozen_stages`` layers (all of them also freezes the final norms).
        interpolate_mode (str): ``F.interpolate`` mode for pos_embed.
        layer_scale_init_value (float): See :class:`TransformerEncoderLayer`.
        patch_cfg (dict): Overrides of the :class:`PatchEmbed` arguments
            (ViTPose: ``dict(padding=2)``).
        layer_cfgs (dict | Sequence[dict]): Overrides of every (or each)
            layer's arguments.
        pre_norm (bool): Normalise the tokens before the first layer (and
            drop the patch conv bias), as CLIP does.
        init_cfg (dict, optional): ``Pretrained`` loads a checkpoint; its
            ``pos_embed`` is resized to this grid (see :meth:`_prepare_pos_embed`).
        output_cls_token (bool, optional): mmcls 1.0 rc's argument, kept
            because MMPose configs still pass it: False means
            ``out_type='featmap'``; True is not supported.
    """

    arch_zoo = {
        **dict.fromkeys(['s', 'small'], _arch(768, 8, 8, 768 * 3)),
        **dict.fromkeys(['b', 'base'], _arch(768, 12, 12, 3072)),
        **dict.fromkeys(['l', 'large'], _arch(1024, 24, 16, 4096)),
        **dict.fromkeys(['h', 'huge'], _arch(1280, 32, 16, 5120)),
        **dict.fromkeys(['eva-g', 'eva-giant'], _arch(1408, 40, 16, 6144)),
        **dict.fromkeys(['deit-t', 'deit-tiny'], _arch(192, 12, 3, 192 * 4)),
        **dict.fromkeys(['deit-s', 'deit-small', 'dinov2-s', 'dinov2-small'],
                        _arch(384, 12, 6, 384 * 4)),
        **dict.fromkeys(['deit-b', 'deit-base'], _arch(768, 12, 12, 768 * 4)),
        **dict.fromkeys(['dinov2-g', 'dinov2-giant'], _arch(1536, 40, 24, 6144)),
    }
    OUT_TYPES = ('raw', 'cls_token', 'featmap', 'avg_featmap')

    def __init__(self, arch: str | Mapping = 'base', img_size: int | Sequence[int] = 224,
                 patch_size: int = 16, in_channels: int = 3,
                 out_indices: int | Sequence[int] = -1, drop_rate: float = 0.,
                 drop_path_rate: float = 0., qkv_bias: bool = True,
                 norm_cfg: dict = dict(type='LN', eps=1e-6),  # noqa: B006 (never mutated)
                 final_norm: bool = True, out_type: str = 'cls_token',
                 with_cls_token: bool = True, frozen_stages: int = -1,
                 interpolate_mode: str = 'bicubic', layer_scale_init_value: float = 0.,
                 patch_cfg: dict | None = None, layer_cfgs: dict | Sequence[dict] | None = None,
                 pre_norm: bool = False, init_cfg: dict | None = None,
                 output_cls_token: bool | None = None):
        super().__init__(init_cfg)
        if output_cls_token is not None:
            # mmcls 1.0 rc's flag (MMPose's humanart ViTPose-large/huge configs):
            # False returned the patch feature map, what out_type='featmap' does.
            if output_cls_token:
                raise NotImplementedError('VisionTransformer: output_cls_token=True (mmcls '
                                          "1.0 rc) is not supported; use out_type='cls_token'")
            out_type = 'featmap'
        if isinstance(arch, str):
            if arch.lower() not in self.arch_zoo:
                raise ValueError(f'VisionTransformer: arch {arch!r} is not one of '
                                 f'{sorted(self.arch_zoo)}')
            self.arch_settings = self.arch_zoo[arch.lower()]
        else:
            missing = {'embed_dims', 'num_layers', 'num_heads', 'feedforward_channels'} - set(arch)
            if missing:
                raise ValueError(f'VisionTransformer: arch dict lacks {sorted(missing)}')
            self.arch_settings = dict(arch)
        if out_type not in self.OUT_TYPES:
            raise ValueError(f'VisionTransformer: out_type {out_type!r} is not one of '
                             f'{self.OUT_TYPES}')
        if out_type == 'cls_token' and not with_cls_token:
            raise ValueError("VisionTransformer: out_type='cls_token' needs with_cls_token=True")
        self.embed_dims = self.arch_settings['embed_dims']
        self.num_layers = self.arch_settings['num_layers']
        self.img_size = to_2tuple(img_size)
        self.out_type, self.with_cls_token = out_type, with_cls_token
        self.frozen_stages, self.final_norm = frozen_stages, final_norm
        self.interpolate_mode = interpolate_mode

        embed_cfg = dict(in_channels=in_channels, input_size=img_size, embed_dims=self.embed_dims,
                         conv_type='Conv2d', kernel_size=patch_size, stride=patch_size,
                         bias=not pre_norm)  # CLIP-style pre_norm has no conv bias
        embed_cfg.update(patch_cfg or {})
        self.patch_embed = PatchEmbed(**embed_cfg)
        self.patch_resolution = self.patch_embed.init_out_size
        num_patches = self.patch_resolution[0] * self.patch_resolution[1]

        self.num_extra_tokens = 1 if with_cls_token else 0
        self.cls_token = (nn.Parameter(torch.zeros(1, 1, self.embed_dims))
                          if with_cls_token else None)
        self.pos_embed = nn.Parameter(
            torch.zeros(1, num_patches + self.num_extra_tokens, self.embed_dims))
        self._register_load_state_dict_pre_hook(self._prepare_pos_embed)
        self.drop_after_pos = nn.Dropout(p=drop_rate)

        indices = [out_indices] if isinstance(out_indices, int) else list(out_indices)
        self.out_indices = [i + self.num_layers if i < 0 else i for i in indices]
        for given, index in zip(indices, self.out_indices):
            if not 0 <= index < self.num_layers:
                raise ValueError(f'VisionTransformer: out_indices entry {given} is out of '
                                 f'range for {self.num_layers} layers')

        if isinstance(layer_cfgs, Mapping) or layer_cfgs is None:
            layer_cfgs = [dict(layer_cfgs or {})] * self.num_layers
        if len(layer_cfgs) != self.num_layers:
            raise ValueError(f'VisionTransformer: layer_cfgs has {len(layer_cfgs)} entries '
                             f'for {self.num_layers} layers')
        # np.linspace's values, computed without tensors (works under a meta device)
        rates = [drop_path_rate * i / max(self.num_layers - 1, 1) for i in range(self.num_layers)]
        self.layers = nn.ModuleList()
        for rate, overrides in zip(rates, layer_cfgs):
            layer_cfg = dict(embed_dims=self.embed_dims, num_heads=self.arch_settings['num_heads'],
                             feedforward_channels=self.arch_settings['feedforward_channels'],
                             layer_scale_init_value=layer_scale_init_value, drop_rate=drop_rate,
                             drop_path_rate=rate, qkv_bias=qkv_bias, norm_cfg=norm_cfg)
            layer_cfg.update(overrides)
            self.layers.append(TransformerEncoderLayer(**layer_cfg))

        self.pre_norm = build_norm_layer(norm_cfg, self.embed_dims)[1] if pre_norm \
            else nn.Identity()
        if final_norm:
            self.ln1 = build_norm_layer(norm_cfg, self.embed_dims)[1]
        if out_type == 'avg_featmap':
            self.ln2 = build_norm_layer(norm_cfg, self.embed_dims)[1]
        self._freeze_stages()

    def _freeze_stages(self) -> None:
        if self.frozen_stages <= 0:
            return
        self.pos_embed.requires_grad = False
        if self.cls_token is not None:
            self.cls_token.requires_grad = False
        freeze([self.drop_after_pos, self.patch_embed, self.pre_norm], eval_mode=True)
        freeze(self.layers[:self.frozen_stages])
        if self.frozen_stages == len(self.layers):
            freeze([getattr(self, name) for name in ('ln1', 'ln2') if hasattr(self, name)])

    def init_weights(self) -> None:
        if isinstance(self.init_cfg, Mapping) and self.init_cfg.get('type') == 'Pretrained':
            # loaded here, not by the generic loader, which would skip a
            # pos_embed of another shape before _prepare_pos_embed could fit it;
            # children are initialised first, as MMEngine does, for missing keys
            for layer in self.layers:
                layer.init_weights()
            self._load_pretrained(**{k: v for k, v in self.init_cfg.items() if k != 'type'})
            self._is_init = True
            return
        super().init_weights()
        trunc_normal_(self.pos_embed, std=.02)

    def _load_pretrained(self, checkpoint: str, prefix: str | None = None,
                         map_location: str = 'cpu') -> None:
        state_dict = load_checkpoint_file(checkpoint, map_location=map_location)
        state_dict = dict(select_prefix(state_dict, prefix) if prefix else state_dict)
        self._prepare_pos_embed(state_dict, '')
        load_state_dict(self, state_dict, strict=False)

    def _prepare_pos_embed(self, state_dict: dict, prefix: str, *args) -> None:
        """Fit a checkpoint's pos_embed to this model before loading it.

        A class-token row is dropped when this model has none; a square grid
        of another size (e.g. MAE's 14x14) is interpolated to ours.
        """
        name = prefix + 'pos_embed'
        if name not in state_dict:
            return
        weight = state_dict[name]
        if not self.with_cls_token and weight.shape[1] == self.pos_embed.shape[1] + 1:
            weight = weight[:, 1:]
        if weight.shape != self.pos_embed.shape:
            # mmpretrain assumes the checkpoint's grid is square
            side = int((weight.shape[1] - self.num_extra_tokens) ** 0.5)
            weight = resize_pos_embed(weight, (side, side), self.patch_resolution,
                                      self.interpolate_mode, self.num_extra_tokens)
        state_dict[name] = weight

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        """(B, C_in, H, W) -> one output per ``out_indices`` entry (see ``out_type``)."""
        B = x.shape[0]
        x, patch_resolution = self.patch_embed(x)
        if self.cls_token is not None:
            x = torch.cat((self.cls_token.expand(B, -1, -1), x), dim=1)
        x = x + resize_pos_embed(self.pos_embed, self.patch_resolution, patch_resolution,
                                 self.interpolate_mode, self.num_extra_tokens)
        x = self.pre_norm(self.drop_after_pos(x))
        outs = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i == len(self.layers) - 1 and self.final_norm:
                x = self.ln1(x)
            if i in self.out_indices:
                outs.append(self._format_output(x, patch_resolution))
        return tuple(outs)

    def _format_output(self, x: Tensor, hw: Sequence[int]) -> Tensor:
        if self.out_type == 'raw':
            return x
        if self.out_type == 'cls_token':
            return x[:, 0]
        patches = x[:, self.num_extra_tokens:]
        if self.out_type == 'featmap':
            return patches.reshape(x.shape[0], *hw, -1).permute(0, 3, 1, 2)
        return self.ln2(patches.mean(dim=1))
