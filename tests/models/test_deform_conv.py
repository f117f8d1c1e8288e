"""DeformConv2d against a per-pixel, per-tap loop of mmcv's formula."""
import math

import pytest
import torch
import torch.nn.functional as F

from posekit.models.utils.deform_conv import DeformConv2d, deform_conv2d


def _bilinear(img, y, x):
    """mmcv's deformable_im2col_bilinear on one (H, W) plane: 0 unless
    -1 < y < H and -1 < x < W; corners outside the plane count as 0."""
    H, W = img.shape
    if not (-1 < y < H and -1 < x < W):
        return 0.0
    y0, x0 = math.floor(y), math.floor(x)
    ly, lx = y - y0, x - x0
    value = 0.0
    for yy, wy in ((y0, 1 - ly), (y0 + 1, ly)):
        for xx, wx in ((x0, 1 - lx), (x0 + 1, lx)):
            if 0 <= yy < H and 0 <= xx < W:
                value += wy * wx * float(img[yy, xx])
    return value


def loop_deform_conv(x, offset, weight, stride, padding, dilation, groups,
                     deform_groups):
    """Direct sum over output pixels, output channels, input channels and
    taps, in float64 Python arithmetic."""
    B, C, H, W = x.shape
    O, cg, kh, kw = weight.shape
    Ho, Wo = offset.shape[2:]
    og = O // groups
    cdg = C // deform_groups
    out = torch.zeros(B, O, Ho, Wo, dtype=torch.float64)
    for b in range(B):
        for ho in range(Ho):
            for wo in range(Wo):
                # sampled value per (input channel, tap)
                cols = {}
                for c in range(C):
                    g = c // cdg
                    for i in range(kh):
                        for j in range(kw):
                            k = i * kw + j
                            dy = float(offset[b, g * 2 * kh * kw + 2 * k, ho, wo])
                            dx = float(offset[b, g * 2 * kh * kw + 2 * k + 1, ho, wo])
                            y = ho * stride[0] - padding[0] + i * dilation[0] + dy
                            xx = wo * stride[1] - padding[1] + j * dilation[1] + dx
                            cols[c, i, j] = _bilinear(x[b, c], y, xx)
                for o in range(O):
                    gi = o // og
                    total = 0.0
                    for cl in range(cg):
                        for i in range(kh):
                            for j in range(kw):
                                total += float(weight[o, cl, i, j]) * \
                                    cols[gi * cg + cl, i, j]
                    out[b, o, ho, wo] = total
    return out


SETTINGS = [
    # stride, padding, dilation, groups, deform_groups, kernel, (H, W)
    ((1, 1), (1, 1), (1, 1), 1, 1, (3, 3), (5, 6)),
    ((2, 1), (1, 0), (1, 2), 2, 1, (3, 3), (6, 7)),
    ((1, 2), (2, 1), (2, 1), 1, 2, (3, 2), (5, 5)),
    ((1, 1), (0, 0), (1, 1), 2, 2, (2, 2), (4, 5)),
    ((1, 1), (1, 1), (1, 1), 4, 4, (3, 3), (4, 4)),
    ((1, 1), (1, 1), (1, 1), 1, 1, (3, 3), (1, 3)),  # a 1-pixel-high plane
]


@pytest.mark.parametrize('stride,padding,dilation,groups,dgroups,kernel,hw',
                         SETTINGS)
def test_deform_conv_matches_the_loop(stride, padding, dilation, groups,
                                      dgroups, kernel, hw):
    """Offsets up to +-3 px, fractional, with taps landing outside the
    image; float32 result within 2e-5 of the float64 loop (sums of ~40
    products of values below ~3)."""
    gen = torch.Generator().manual_seed(sum(hw) + groups + 3 * dgroups)
    B, C, O = 2, 4, 4
    H, W = hw
    kh, kw = kernel
    x = torch.randn(B, C, H, W, generator=gen)
    weight = torch.randn(O, C // groups, kh, kw, generator=gen)
    Ho = (H + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    Wo = (W + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    offset = (torch.rand(B, dgroups * 2 * kh * kw, Ho, Wo, generator=gen)
              - 0.5) * 6
    got = deform_conv2d(x, offset, weight, stride, padding, dilation, groups,
                        dgroups)
    expected = loop_deform_conv(x, offset, weight, stride, padding, dilation,
                                groups, dgroups)
    assert got.shape == expected.shape == (B, O, Ho, Wo)
    torch.testing.assert_close(got.double(), expected, rtol=0, atol=2e-5)


def test_zero_offsets_give_a_plain_convolution():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 6, 7, 8, generator=gen)
    conv = DeformConv2d(6, 4, 3, stride=2, padding=1, dilation=1, groups=2,
                        deform_groups=3)
    offset = torch.zeros(2, 3 * 18, 4, 4)
    torch.testing.assert_close(
        conv(x, offset), F.conv2d(x, conv.weight, None, 2, 1, 1, 2),
        rtol=0, atol=1e-5)


def test_integer_offsets_shift_the_input():
    """dy = 1, dx = -2 everywhere on a 1x1 kernel reads x[y + 1, x - 2],
    and 0 past the border."""
    x = torch.arange(20.).reshape(1, 1, 4, 5)
    offset = torch.tensor([1., -2.]).reshape(1, 2, 1, 1).expand(1, 2, 4, 5)
    out = deform_conv2d(x, offset, torch.ones(1, 1, 1, 1))
    expected = torch.zeros(1, 1, 4, 5)
    expected[0, 0, :3, 2:] = x[0, 0, 1:, :3]
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-5)


def test_half_pixel_outside_is_half_the_border_value():
    """x = -0.5 on a 1x1 kernel: half of column 0, the other corner being
    outside; x = -1 reads 0 exactly."""
    x = torch.full((1, 1, 2, 2), 4.)
    offset = torch.zeros(1, 2, 2, 2)
    offset[0, 1, :, 0] = -0.5
    offset[0, 1, :, 1] = -2.0  # column 1 - 2 = -1
    out = deform_conv2d(x, offset, torch.ones(1, 1, 1, 1))
    torch.testing.assert_close(out[0, 0], torch.tensor([[2., 0.], [2., 0.]]))


def test_mmcv_state_dict_and_errors():
    conv = DeformConv2d(30, 30, 3, padding=1, groups=15, deform_groups=15)
    assert list(conv.state_dict()) == ['weight']
    assert conv.weight.shape == (30, 2, 3, 3)
    # kaiming uniform for ReLU: bound sqrt(6 / fan_in), fan_in = 2 * 9
    assert conv.weight.abs().max() <= math.sqrt(6 / 18)
    with pytest.raises(ValueError, match='bias'):
        DeformConv2d(4, 4, 3, bias=True)
    with pytest.raises(ValueError, match='deform_groups'):
        DeformConv2d(4, 4, 3, deform_groups=3)
    with pytest.raises(ValueError, match='offset must be'):
        conv(torch.zeros(1, 30, 4, 4), torch.zeros(1, 18, 4, 4))


def test_gradients_flow_to_input_offsets_and_weight():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(1, 2, 4, 4, generator=gen, dtype=torch.float64,
                    requires_grad=True)
    offset = (0.3 + torch.rand(1, 18, 4, 4, generator=gen,
                               dtype=torch.float64)).requires_grad_()
    weight = torch.randn(2, 2, 3, 3, generator=gen, dtype=torch.float64,
                         requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda a, b, c: deform_conv2d(a, b, c, padding=1), (x, offset, weight))
