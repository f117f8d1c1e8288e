"""Deformable 2D convolution (Dai et al., ICCV 2017) in plain PyTorch.

Same semantics, argument names and ``weight`` shape as mmcv's
``DeformConv2d`` (no compiled op): output pixel ``(ho, wo)`` and kernel tap
``(i, j)`` read the input at

    y = ho * stride_h - pad_h + i * dilation_h + dy
    x = wo * stride_w - pad_w + j * dilation_w + dx

in input pixel indices (pixel centres at integers), by bilinear
interpolation of the four neighbours; neighbours outside the image count as
0 (so a point at or beyond -1 or H/W reads 0). ``(dy, dx)`` come from the
offset tensor, laid out per deformable group, then per tap ``k = i * kW + j``,
as the pair ``(dy, dx)``: channel ``g * 2 * kH * kW + 2 * k`` is dy.

The sampling is one ``grid_sample`` (zeros padding); then a matmul per
convolution group over the sampled columns.
"""
from typing import Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

IntPair = Union[int, Tuple[int, int]]


def _pair(v: IntPair) -> Tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


def _tap_positions(offset: Tensor, kernel: Tuple[int, int],
                   stride: Tuple[int, int], padding: Tuple[int, int],
                   dilation: Tuple[int, int]) -> Tuple[Tensor, Tensor]:
    """Sampling positions (y, x), each (B, G, kH*kW, Ho, Wo), in input
    pixel indices, from the offsets (B, G*2*kH*kW, Ho, Wo)."""
    B, _, Ho, Wo = offset.shape
    kh, kw = kernel
    off = offset.reshape(B, -1, kh * kw, 2, Ho, Wo)
    dev, dt = offset.device, offset.dtype
    tap_y = torch.arange(kh, device=dev, dtype=dt).repeat_interleave(kw)
    tap_x = torch.arange(kw, device=dev, dtype=dt).repeat(kh)
    out_y = torch.arange(Ho, device=dev, dtype=dt) * stride[0] - padding[0]
    out_x = torch.arange(Wo, device=dev, dtype=dt) * stride[1] - padding[1]
    base_y = out_y[None, :, None] + tap_y[:, None, None] * dilation[0]
    base_x = out_x[None, None, :] + tap_x[:, None, None] * dilation[1]
    return base_y + off[:, :, :, 0], base_x + off[:, :, :, 1]


def deform_conv2d(x: Tensor, offset: Tensor, weight: Tensor,
                  stride: IntPair = 1, padding: IntPair = 0,
                  dilation: IntPair = 1, groups: int = 1,
                  deform_groups: int = 1) -> Tensor:
    """Deformable convolution (no bias), mmcv's semantics (module docstring).

    Args:
        x (Tensor): (B, C, H, W) input.
        offset (Tensor): (B, deform_groups * 2 * kH * kW, Ho, Wo), in input
            pixels, (dy, dx) per tap.
        weight (Tensor): (O, C // groups, kH, kW).
        stride, padding, dilation (int | tuple[int, int]): (h, w).
        groups (int): Convolution groups (split C and O).
        deform_groups (int): Offset groups (split C).

    Returns:
        Tensor: (B, O, Ho, Wo), ``Ho = (H + 2 pad_h - dil_h (kH - 1) - 1)
        // stride_h + 1`` (same for W).
    """
    stride, padding, dilation = _pair(stride), _pair(padding), _pair(dilation)
    B, C, H, W = x.shape
    O, c_per_group, kh, kw = weight.shape
    Ho = (H + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    Wo = (W + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    _check_shapes(x, offset, weight, groups, deform_groups, (Ho, Wo))
    G, K = deform_groups, kh * kw
    y, xs = _tap_positions(offset.to(x.dtype), (kh, kw), stride, padding,
                           dilation)
    # align_corners=False maps normalised u to pixel index ((u+1) W - 1) / 2,
    # so index p is u = (2p + 1) / W - 1; exact for W = 1 too.
    grid = torch.stack(((2 * xs + 1) / W - 1, (2 * y + 1) / H - 1), dim=-1)
    grid = grid.reshape(B * G, K * Ho, Wo, 2)
    sampled = F.grid_sample(x.reshape(B * G, C // G, H, W), grid,
                            mode='bilinear', padding_mode='zeros',
                            align_corners=False)
    # (B*G, C/G, K*Ho, Wo) -> columns (B, groups, C/groups * K, Ho * Wo),
    # channel-major then tap, as weight.flatten(1) is laid out.
    cols = sampled.reshape(B, C, K, Ho * Wo).reshape(
        B, groups, c_per_group * K, Ho * Wo)
    w = weight.reshape(groups, O // groups, c_per_group * K)
    out = torch.einsum('goc,bgcl->bgol', w, cols)
    return out.reshape(B, O, Ho, Wo)


def _check_shapes(x: Tensor, offset: Tensor, weight: Tensor, groups: int,
                  deform_groups: int, out_size: Tuple[int, int]) -> None:
    C = x.shape[1]
    O, c_per_group, kh, kw = weight.shape
    if C % groups or O % groups or c_per_group * groups != C:
        raise ValueError(f'deform_conv2d: {C} input channels, weight '
                         f'{tuple(weight.shape)} and groups={groups} do not '
                         'agree')
    if C % deform_groups:
        raise ValueError(f'deform_conv2d: {C} input channels are not '
                         f'divisible by deform_groups={deform_groups}')
    expected = (x.shape[0], deform_groups * 2 * kh * kw) + tuple(out_size)
    if min(out_size) <= 0 or tuple(offset.shape) != expected:
        raise ValueError(f'deform_conv2d: offset must be {expected} for input '
                         f'{tuple(x.shape)} and kernel {(kh, kw)}, got '
                         f'{tuple(offset.shape)}')


class DeformConv2d(nn.Module):
    """Deformable convolution with mmcv's constructor and state_dict
    (``weight`` (O, C // groups, kH, kW), no bias).

    Args:
        in_channels (int), out_channels (int): C and O.
        kernel_size (int | tuple[int, int]): (kH, kW).
        stride, padding, dilation (int | tuple[int, int]): As for Conv2d.
        groups (int): Convolution groups.
        deform_groups (int): Offset groups (each has its own 2 * kH * kW
            offset channels).
        bias (bool): Must be False (mmcv has no bias either).
        im2col_step (int): Accepted for config compatibility; it only
            chunks the batch in mmcv's CUDA kernel and changes no value.

    ``forward(x, offset)``: x (B, C, H, W), offset (B, deform_groups * 2 *
    kH * kW, Ho, Wo) in input pixels -> (B, O, Ho, Wo).
    """

    def __init__(self, in_channels: int, out_channels: int,
                 kernel_size: IntPair, stride: IntPair = 1,
                 padding: IntPair = 0, dilation: IntPair = 1,
                 groups: int = 1, deform_groups: int = 1, bias: bool = False,
                 im2col_step: int = 32):
        super().__init__()
        if bias:
            raise ValueError('DeformConv2d has no bias (as in mmcv): pass '
                             'bias=False')
        if in_channels % groups or out_channels % groups:
            raise ValueError(f'in_channels {in_channels} and out_channels '
                             f'{out_channels} must be divisible by groups '
                             f'{groups}')
        if in_channels % deform_groups:
            raise ValueError(f'in_channels {in_channels} must be divisible '
                             f'by deform_groups {deform_groups}')
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _pair(kernel_size)
        self.stride, self.padding = _pair(stride), _pair(padding)
        self.dilation = _pair(dilation)
        self.groups, self.deform_groups = groups, deform_groups
        self.im2col_step = im2col_step
        self.weight = nn.Parameter(torch.empty(
            out_channels, in_channels // groups, *self.kernel_size))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Kaiming-uniform for ReLU, as mmcv initialises it."""
        nn.init.kaiming_uniform_(self.weight, a=0, nonlinearity='relu')

    def forward(self, x: Tensor, offset: Tensor) -> Tensor:
        return deform_conv2d(x, offset, self.weight, self.stride,
                             self.padding, self.dilation, self.groups,
                             self.deform_groups)

    def extra_repr(self) -> str:
        return (f'{self.in_channels}, {self.out_channels}, kernel_size='
                f'{self.kernel_size}, stride={self.stride}, padding='
                f'{self.padding}, dilation={self.dilation}, groups='
                f'{self.groups}, deform_groups={self.deform_groups}, '
                'bias=False')

