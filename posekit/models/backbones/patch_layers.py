"""Patch embedding and patch merging, the token-grid layers of Swin and PVT,
named as MMPose names them (``projection``, ``norm``, ``reduction``).

Tokens are (B, L, C) with L = H * W in row-major order; ``hw_shape`` is (H, W).
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..utils import build_norm_layer


def to_2tuple(v) -> tuple[int, int]:
    """An int n -> (n, n); a pair stays as it is."""
    return (v, v) if isinstance(v, int) else tuple(v)


def _pad_to_cover(x: Tensor, kernel, stride, dilation, mode: str) -> Tensor:
    """Zero-pad (B, C, H, W) so that a sliding window covers every pixel
    (``ceil(H / stride)`` positions per axis). 'corner' pads bottom/right,
    'same' splits the padding around the map (TensorFlow's SAME)."""
    pads = []
    for size, k, s, d in zip(x.shape[-2:], kernel, stride, dilation):
        pads.append(max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0))
    (pad_h, pad_w) = pads
    if not pad_h and not pad_w:
        return x
    if mode == 'corner':
        return F.pad(x, [0, pad_w, 0, pad_h])
    return F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])


def _check_padding(padding, owner: str):
    if isinstance(padding, str) and padding not in ('corner', 'same'):
        raise ValueError(f'{owner}: padding must be an int, a pair, "corner" or '
                         f'"same"; got {padding!r}')


class PatchEmbed(nn.Module):
    """A conv ``projection`` (B, C_in, H, W) -> tokens (B, h * w, embed_dims),
    then an optional ``norm``.

    Args:
        in_channels (int), embed_dims (int): Channels in and out.
        conv_type (str): 'Conv2d' (the only conv MMPose uses here).
        kernel_size, stride, dilation (int | tuple[int, int]): Of the conv;
            ``stride`` None means ``kernel_size``.
        padding (int | tuple | str): Conv padding, or 'corner' / 'same':
            pad the input so the kernel covers it (see :func:`_pad_to_cover`).
        bias (bool): Conv bias.
        norm_cfg (dict, optional): Norm over the tokens (e.g. LN).
        input_size: Accepted for MMPose's signature; sets ``init_out_size``.
    """

    def __init__(self, in_channels: int = 3, embed_dims: int = 768, conv_type: str = 'Conv2d',
                 kernel_size=16, stride=16, padding='corner', dilation=1, bias: bool = True,
                 norm_cfg: dict | None = None, input_size=None, init_cfg: dict | None = None):
        super().__init__()
        if init_cfg is not None:
            raise NotImplementedError('PatchEmbed: init_cfg is not supported; '
                                      "give it to the backbone")
        if conv_type != 'Conv2d':
            raise ValueError(f'PatchEmbed: conv_type must be "Conv2d", got {conv_type!r}')
        _check_padding(padding, 'PatchEmbed')
        self.embed_dims = embed_dims
        kernel, stride = to_2tuple(kernel_size), to_2tuple(kernel_size if stride is None else stride)
        dilation = to_2tuple(dilation)
        self.adaptive = padding if isinstance(padding, str) else None
        conv_padding = (0, 0) if self.adaptive else to_2tuple(padding)
        self.projection = nn.Conv2d(in_channels, embed_dims, kernel, stride, conv_padding,
                                    dilation, bias=bias)
        self.norm = build_norm_layer(norm_cfg, embed_dims)[1] if norm_cfg else None
        self.init_input_size = self.init_out_size = None
        if input_size:
            self.init_input_size = to_2tuple(input_size)
            probe = torch.empty(1, 1, *self.init_input_size, device='meta')
            if self.adaptive:
                probe = _pad_to_cover(probe, kernel, stride, dilation, self.adaptive)
            self.init_out_size = tuple(
                (n + 2 * p - d * (k - 1) - 1) // s + 1 for n, p, d, k, s in
                zip(probe.shape[-2:], conv_padding, dilation, kernel, stride))

    def forward(self, x: Tensor) -> tuple[Tensor, tuple[int, int]]:
        """(B, C_in, H, W) -> ((B, h * w, embed_dims), (h, w))."""
        if self.adaptive:
            c = self.projection
            x = _pad_to_cover(x, c.kernel_size, c.stride, c.dilation, self.adaptive)
        x = self.projection(x)
        hw_shape = (x.shape[2], x.shape[3])
        x = x.flatten(2).transpose(1, 2)
        return (x if self.norm is None else self.norm(x)), hw_shape


class PatchMerging(nn.Module):
    """Group each ``kernel_size`` neighbourhood of tokens into one token
    (channels ordered as ``F.unfold`` orders them: channel-major, then kernel
    row, then column), normalise, project by ``reduction`` (a Linear).

    Args:
        in_channels (int), out_channels (int): Token widths.
        kernel_size, stride, dilation (int | tuple): Of the unfold; stride
            None means ``kernel_size``.
        padding (int | tuple | str): As :class:`PatchEmbed`.
        bias (bool): Bias of ``reduction``. Default False.
        norm_cfg (dict, optional): Norm of the merged tokens. Default LN.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size=2, stride=None,
                 padding='corner', dilation=1, bias: bool = False,
                 norm_cfg: dict | None = dict(type='LN'),  # noqa: B006 (never mutated)
                 init_cfg: dict | None = None):
        super().__init__()
        if init_cfg is not None:
            raise NotImplementedError('PatchMerging: init_cfg is not supported')
        _check_padding(padding, 'PatchMerging')
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = to_2tuple(kernel_size)
        self.stride = to_2tuple(stride or kernel_size)
        self.dilation = to_2tuple(dilation)
        self.adaptive = padding if isinstance(padding, str) else None
        self.padding = (0, 0) if self.adaptive else to_2tuple(padding)
        sample_dim = self.kernel_size[0] * self.kernel_size[1] * in_channels
        self.norm = build_norm_layer(norm_cfg, sample_dim)[1] if norm_cfg else None
        self.reduction = nn.Linear(sample_dim, out_channels, bias=bias)

    def forward(self, x: Tensor, input_size: Sequence[int]) -> tuple[Tensor, tuple[int, int]]:
        """(B, H * W, C_in), (H, W) -> ((B, h * w, out_channels), (h, w))."""
        B, L, C = x.shape
        H, W = input_size
        if L != H * W:
            raise ValueError(f'PatchMerging got {L} tokens for a {H}x{W} map')
        x = x.view(B, H, W, C).permute(0, 3, 1, 2)
        if self.adaptive:
            x = _pad_to_cover(x, self.kernel_size, self.stride, self.dilation, self.adaptive)
        H, W = x.shape[-2:]
        x = F.unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)
        out_hw = tuple((n + 2 * p - d * (k - 1) - 1) // s + 1 for n, p, d, k, s in zip(
            (H, W), self.padding, self.dilation, self.kernel_size, self.stride))
        x = x.transpose(1, 2)
        x = x if self.norm is None else self.norm(x)
        return self.reduction(x), out_hw
