"""MegviiHeatmap against hand-computed values."""
import cv2
import numpy as np
import pytest

from posekit.codecs import MegviiHeatmap


def make(kernel_size=11):
    return MegviiHeatmap(input_size=(192, 256), heatmap_size=(48, 64),
                         kernel_size=kernel_size)


def test_peak_255_and_blur_profile():
    # input (43.9, 81) -> heatmap pixel (int(10.975), int(20.25)) = (10, 20)
    hm = make().encode(np.array([[[43.9, 81.]]]))['heatmaps'][0]
    assert hm.dtype == np.float32
    assert hm[20, 10] == pytest.approx(255.)
    assert np.unravel_index(hm.argmax(), hm.shape) == (20, 10)
    # separable blur: neighbours scale by the 1-D kernel's ratios
    g = cv2.getGaussianKernel(11, 0)[:, 0]    # sigma 2 for size 11
    assert hm[20, 11] == pytest.approx(255 * g[6] / g[5], rel=1e-5)
    assert hm[22, 13] == pytest.approx(255 * g[7] * g[8] / g[5] ** 2,
                                       rel=1e-5)
    assert hm[20, 16] == 0          # beyond the 11 x 11 kernel


def test_weights():
    kp = np.array([[[40., 80.], [40., 80.], [-5., 80.], [40., 256.]]])
    vis = np.array([[1., 0., 1., 1.]], np.float32)
    enc = make().encode(kp, vis)
    # x = -5 -> heatmap -1.25 -> int() = -1: off the map; y 256 -> 64 >= H
    np.testing.assert_array_equal(enc['keypoint_weights'],
                                  [[1., 0., 0., 0.]])
    assert not enc['heatmaps'][1:].any()
    # int() truncates toward zero: heatmap x = -0.75 still lands on column 0
    enc = make().encode(np.array([[[-3., 80.]]]))
    assert enc['keypoint_weights'][0, 0] == 1
    assert enc['heatmaps'][0, 20, 0] == pytest.approx(255.)


def test_round_trip_is_the_pixel_centre():
    """Decoding adds half a pixel to the argmax plus a 0.25 px step toward
    the higher neighbour. Away from the border (6 heatmap px: the kernel
    radius plus one) the blob is symmetric, the step is 0 and a keypoint
    decodes to (int(kp / 4) + 0.5) * 4: error <= 0.5 * stride = 2 px. Near
    the border the reflected blur tilts the blob, so the bound there is
    (0.5 + 0.25) * stride = 3 px."""
    rng = np.random.default_rng(0)
    codec = make()
    kp = (rng.uniform([24, 24], [168, 232], (1, 17, 2))).astype(np.float32)
    out, scores = codec.decode(codec.encode(kp)['heatmaps'])
    expected = (np.floor(kp / 4) + 0.5) * 4
    np.testing.assert_allclose(out, expected, atol=1e-4)
    assert np.abs(out - kp).max() <= 2.0
    # blurring keeps the maximum: 255 / 255 + 0.5
    np.testing.assert_allclose(scores, 1.5, rtol=1e-6)

    kp = (rng.uniform([8, 8], [184, 248], (1, 17, 2))).astype(np.float32)
    out, _ = codec.decode(codec.encode(kp)['heatmaps'])
    assert np.abs(out - kp).max() <= 3.0


def test_decode_quarter_step():
    hm = np.zeros((1, 64, 48), np.float32)
    hm[0, 20, 10] = 255.
    hm[0, 20, 9] = 200.     # left neighbour higher after the blur
    out, _ = make(kernel_size=3).decode(hm)
    np.testing.assert_allclose(out, [[[(10 + 0.5 - 0.25) * 4,
                                       (20 + 0.5) * 4]]])
