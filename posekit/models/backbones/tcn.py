"""TCN: VideoPose3D's temporal convolutional network (Pavllo et al., CVPR
2019), on sequences of 2D poses.

Input ``(N, C, T)``: C = K * 2 coordinates of K keypoints (the lifting
codecs flatten keypoints and coordinates into channels), T frames. Each block
``i`` convolves with kernel ``kernel_sizes[i]`` dilated by the product of the
kernel sizes before it, so the receptive field is ``prod(kernel_sizes)``
frames (243 for five kernels of 3) and a clip of T frames gives
``T - prod + 1`` outputs.

With ``use_stride_conv`` the dilated convolutions become strided ones (stride
= kernel, no dilation): for a clip of exactly the receptive field, the one
output equals the dilated network's, without computing the frames that only
the neighbouring outputs need. The weights are the same in both forms.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import torch
from torch import Tensor, nn

from posekit.registry import MODELS
from ..utils import BaseModule, ConvModule, build_conv_layer
from .base_backbone import BaseBackbone

_CONV1D = dict(type='Conv1d')
_BN1D = dict(type='BN1d')
_TCN_INIT = (dict(type='Kaiming', mode='fan_in', nonlinearity='relu',
                  layer=['Conv2d']),
             dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm']))


class BasicTemporalBlock(BaseModule):
    """Dilated conv + BN + ReLU, 1x1 conv + BN + ReLU, dropout after each,
    plus the centre crop of the input as a residual.

    Args:
        in_channels (int), out_channels (int), mid_channels (int): Channels.
        kernel_size (int): Odd temporal kernel.
        dilation (int): Dilation of the first conv (ignored, as 1, with
            ``use_stride_conv``).
        dropout (float): Dropout probability; 0 for none.
        causal (bool): Outputs depend on past frames only: the residual crop
            moves ``kernel_size // 2 * dilation`` frames later.
        residual (bool): Add the (cropped) input.
        use_stride_conv (bool): Stride = kernel_size instead of dilation.
        conv_cfg (dict), norm_cfg (dict): Conv and norm layer configs.
        init_cfg (dict | list[dict], optional): Initialisation config.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 mid_channels: int = 1024, kernel_size: int = 3,
                 dilation: int = 3, dropout: float = 0.25,
                 causal: bool = False, residual: bool = True,
                 use_stride_conv: bool = False,
                 conv_cfg: Mapping = _CONV1D, norm_cfg: Mapping = _BN1D,
                 init_cfg: Mapping | list | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.mid_channels, self.kernel_size = mid_channels, kernel_size
        self.causal, self.residual = causal, residual
        self.use_stride_conv = use_stride_conv
        self.pad = (kernel_size - 1) * dilation // 2
        if use_stride_conv:
            self.stride, self.dilation = kernel_size, 1
            self.causal_shift = kernel_size // 2 if causal else 0
        else:
            self.stride, self.dilation = 1, dilation
            self.causal_shift = kernel_size // 2 * dilation if causal else 0
        conv_cfg, norm_cfg = dict(conv_cfg), dict(norm_cfg)
        # nn.Sequential around each ConvModule: MMPose's keys conv1.0.conv...
        self.conv1 = nn.Sequential(ConvModule(
            in_channels, mid_channels, kernel_size=kernel_size,
            stride=self.stride, dilation=self.dilation, conv_cfg=conv_cfg,
            norm_cfg=norm_cfg))
        self.conv2 = nn.Sequential(ConvModule(
            mid_channels, out_channels, kernel_size=1, conv_cfg=conv_cfg,
            norm_cfg=norm_cfg))
        self.short_cut = (build_conv_layer(conv_cfg, in_channels, out_channels, 1)
                          if residual and in_channels != out_channels else None)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else None

    def _residual(self, x: Tensor) -> Tensor:
        """The input frames aligned with the outputs."""
        if self.use_stride_conv:
            start = self.causal_shift + self.kernel_size // 2
            return x[:, :, start::self.kernel_size]
        start = self.pad + self.causal_shift
        return x[:, :, start:x.shape[2] - self.pad + self.causal_shift]

    def forward(self, x: Tensor) -> Tensor:
        """(N, C_in, T) -> (N, C_out, T'), T' = T - 2 pad, or T // kernel
        with ``use_stride_conv``."""
        needed = (self.kernel_size if self.use_stride_conv
                  else 2 * self.pad + 1)
        if x.shape[2] < needed:
            raise ValueError(f'TCN block: {x.shape[2]} frames, fewer than its '
                             f'receptive field of {needed}')
        out = self.conv1(x)
        if self.dropout is not None:
            out = self.dropout(out)
        out = self.conv2(out)
        if self.dropout is not None:
            out = self.dropout(out)
        if self.residual:
            res = self._residual(x)
            if self.short_cut is not None:
                res = self.short_cut(res)
            out = out + res
        return out


class WeightNormClip:
    """Forward pre-hook: rescale a module's ``weight`` so that its L2 norm
    (over all elements) is at most ``max_norm`` before each forward.

    The factor is ``max_norm / (norm + 1e-6)``, as MMPose's
    ``WeightNormClipHook``, so clipped weights land just under ``max_norm``.
    """

    def __init__(self, max_norm: float) -> None:
        self.max_norm = max_norm

    def __call__(self, module: nn.Module, _inputs) -> None:
        weight = module.weight
        with torch.no_grad():
            norm = weight.norm().item()
            if norm > self.max_norm:
                weight.mul_(self.max_norm / (norm + 1e-6))


@MODELS.register_module()
class TCN(BaseBackbone):
    """Temporal convolutional network (VideoPose3D).

    Args:
        in_channels (int): K * 2 for K keypoints with (x, y).
        stem_channels (int): Channels of every layer.
        num_blocks (int): Residual blocks; ``len(kernel_sizes) - 1``.
        kernel_sizes (Sequence[int]): Odd kernels of the expansion conv and
            of each block.
        dropout (float): Dropout probability; 0 for none.
        causal (bool): Outputs depend on past frames only.
        residual (bool): Residual connections in the blocks.
        use_stride_conv (bool): Strided instead of dilated convs (input of
            exactly ``prod(kernel_sizes)`` frames, one output).
        conv_cfg (dict), norm_cfg (dict): Conv and norm layer configs.
        max_norm (float, optional): Clip each conv weight's norm to this
            before every forward.
        init_cfg (dict | list[dict], optional): MMPose's default (Kaiming
            for Conv2d layers, which a TCN has none of; BN weights 1).

    Returns from forward:
        tuple[Tensor]: the output of each block, (N, stem_channels, T_i).
    """

    def __init__(self, in_channels: int, stem_channels: int = 1024,
                 num_blocks: int = 2, kernel_sizes: Sequence[int] = (3, 3, 3),
                 dropout: float = 0.25, causal: bool = False,
                 residual: bool = True, use_stride_conv: bool = False,
                 conv_cfg: Mapping = _CONV1D, norm_cfg: Mapping = _BN1D,
                 max_norm: float | None = None,
                 init_cfg: Mapping | list | None = _TCN_INIT) -> None:
        super().__init__(init_cfg=list(init_cfg) if isinstance(init_cfg, tuple)
                         else init_cfg)
        if num_blocks != len(kernel_sizes) - 1:
            raise ValueError(f'TCN: num_blocks ({num_blocks}) must be '
                             f'len(kernel_sizes) - 1 ({len(kernel_sizes) - 1})')
        if any(k % 2 == 0 for k in kernel_sizes):
            raise ValueError(f'TCN: kernel_sizes must be odd, got {kernel_sizes}')
        self.in_channels, self.stem_channels = in_channels, stem_channels
        self.num_blocks, self.kernel_sizes = num_blocks, tuple(kernel_sizes)
        self.causal, self.residual = causal, residual
        self.use_stride_conv, self.max_norm = use_stride_conv, max_norm
        conv_cfg, norm_cfg = dict(conv_cfg), dict(norm_cfg)
        self.expand_conv = ConvModule(
            in_channels, stem_channels, kernel_size=kernel_sizes[0],
            stride=kernel_sizes[0] if use_stride_conv else 1,
            conv_cfg=conv_cfg, norm_cfg=norm_cfg)
        self.tcn_blocks = nn.ModuleList()
        dilation = kernel_sizes[0]
        for kernel in kernel_sizes[1:]:
            self.tcn_blocks.append(BasicTemporalBlock(
                stem_channels, stem_channels, mid_channels=stem_channels,
                kernel_size=kernel, dilation=dilation, dropout=dropout,
                causal=causal, residual=residual,
                use_stride_conv=use_stride_conv, conv_cfg=conv_cfg,
                norm_cfg=norm_cfg))
            dilation *= kernel
        if max_norm is not None:
            clip = WeightNormClip(max_norm)
            for module in self.modules():
                if isinstance(module, nn.modules.conv._ConvNd):
                    module.register_forward_pre_hook(clip)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else None

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        """(N, in_channels, T) -> the output of each block."""
        x = self.expand_conv(x)
        if self.dropout is not None:
            x = self.dropout(x)
        outs = []
        for block in self.tcn_blocks:
            x = block(x)
            outs.append(x)
        return tuple(outs)
