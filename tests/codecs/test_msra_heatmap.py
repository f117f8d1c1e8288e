"""MSRAHeatmap (plain and DARK) against hand-computed values."""
import numpy as np
import pytest

from posekit.codecs import MSRAHeatmap

STRIDE = 4  # 192 x 256 input, 48 x 64 heatmaps


def make(**kwargs):
    return MSRAHeatmap(input_size=(192, 256), heatmap_size=(48, 64),
                       sigma=2, **kwargs)


def interior_keypoints(rng, n, margin):
    """(1, n, 2) float32 input pixels at least ``margin`` heatmap pixels
    inside the 48 x 64 heatmap."""
    hm = rng.uniform([margin, margin], [47 - margin, 63 - margin], (1, n, 2))
    return (hm * STRIDE).astype(np.float32)


def test_gaussian_values_by_hand():
    # input (40, 80) -> heatmap pixel (10, 20)
    enc = make().encode(np.array([[[40., 80.]]]))
    hm = enc['heatmaps'][0]
    assert hm.shape == (64, 48) and hm.dtype == np.float32
    s2 = 2 * 2. ** 2
    assert hm[20, 10] == 1.0
    assert hm[20, 11] == pytest.approx(np.exp(-1 / s2), rel=1e-6)
    assert hm[21, 11] == pytest.approx(np.exp(-2 / s2), rel=1e-6)
    assert hm[20, 16] == pytest.approx(np.exp(-36 / s2), rel=1e-6)
    # the 3-sigma window is [4, 17) x [14, 27): nothing outside it
    assert hm[20, 17] == 0 and hm[20, 3] == 0 and hm[27, 10] == 0
    assert np.count_nonzero(hm) == 13 * 13
    assert enc['keypoint_weights'].tolist() == [[1.]]


def test_plain_centre_is_the_rounded_pixel():
    # heatmap x = 10.6 -> peak at int(10.6 + 0.5) = 11
    hm = make().encode(np.array([[[42.4, 80.]]]))['heatmaps'][0]
    assert hm[20, 11] == 1.0 and hm[20, 10] < 1


def test_unbiased_values_by_hand():
    # heatmap (10.25, 20): exact sub-pixel centre, no window
    hm = make(unbiased=True).encode(np.array([[[41., 80.]]]))['heatmaps'][0]
    s2 = 2 * 2. ** 2
    assert hm[20, 10] == pytest.approx(np.exp(-0.25 ** 2 / s2), rel=1e-6)
    assert hm[20, 11] == pytest.approx(np.exp(-0.75 ** 2 / s2), rel=1e-6)
    assert hm[20, 30] == pytest.approx(np.exp(-19.75 ** 2 / s2), rel=1e-5)


@pytest.mark.parametrize('x_hm, weight, painted', [
    (-6.4, 1., True),    # mu = int(-5.9) = -5, window [-11, 2): partly in
    (-7.6, 1., False),   # mu = -7, window [-13, 0): empty, yet MMPose only
                         # zeroes the weight when right < 0
    (-8.6, 0., False),   # mu = -8, window ends at -1 < 0: weight 0
    (52.9, 1., True),    # mu = 53, left = 47 < W = 48: column 47 painted
    (53.9, 0., False),   # mu = 54, left = 48 >= W: weight 0
])
def test_window_rule_at_the_border(x_hm, weight, painted):
    enc = make().encode(np.array([[[x_hm * STRIDE, 80.]]]))
    assert enc['keypoint_weights'][0, 0] == weight
    assert bool(enc['heatmaps'].any()) == painted


def test_invisible_and_outside_weights():
    kp = np.array([[[40., 80.], [40., 80.], [-100., 80.], [40., 400.]]])
    vis = np.array([[1., 0., 1., 1.]], np.float32)
    for codec in (make(), make(unbiased=True)):
        enc = codec.encode(kp, vis)
        np.testing.assert_array_equal(enc['keypoint_weights'],
                                      [[1., 0., 0., 0.]])
        assert enc['heatmaps'][0].max() == 1.0
        assert not enc['heatmaps'][1:].any()
    # weights copy the visibility value (MMPose): 0.5 counts as visible
    enc = make().encode(kp[:, :1], np.array([[0.5]], np.float32))
    assert enc['keypoint_weights'].tolist() == [[0.5]]


def test_single_instance_only():
    with pytest.raises(ValueError, match='one instance'):
        make().encode(np.zeros((2, 3, 2)))


def test_round_trip_plain_is_the_rounded_pixel():
    """Plain decoding returns the argmax, stepped 0.25 px toward the higher
    neighbour; an encoded Gaussian is symmetric about its (rounded) peak, so
    the step is 0 and the result is round(kp / stride) * stride exactly: the
    error bound is half a heatmap pixel, 0.5 * stride = 2 input px."""
    rng = np.random.default_rng(0)
    kp = interior_keypoints(rng, 17, margin=2)
    out, scores = make().decode(make().encode(kp)['heatmaps'])
    expected = np.floor(kp / STRIDE + 0.5) * STRIDE
    np.testing.assert_array_equal(out, expected)
    assert np.abs(out - kp).max() <= 0.5 * STRIDE
    np.testing.assert_array_equal(scores, np.ones((1, 17)))


def test_round_trip_dark_sub_pixel():
    """DARK recovers the sub-pixel position to well under 0.05 input px at
    least 5 heatmap px from the border (closer, the zero-padded blur biases
    it, in MMPose too)."""
    rng = np.random.default_rng(1)
    codec = make(unbiased=True)
    for _ in range(20):
        kp = interior_keypoints(rng, 17, margin=5)
        out, scores = codec.decode(codec.encode(kp)['heatmaps'])
        assert out.dtype == np.float32 and out.shape == (1, 17, 2)
        np.testing.assert_allclose(out, kp, atol=0.05)
        assert np.all(scores > 0.9)


def test_plain_refinement_steps_quarter_pixel():
    hm = np.zeros((1, 64, 48), np.float32)
    hm[0, 20, 10] = 1.0
    hm[0, 20, 11] = 0.5   # right neighbour higher: +0.25 in x
    hm[0, 19, 10] = 0.3   # upper neighbour higher: -0.25 in y
    out, scores = make().decode(hm)
    np.testing.assert_allclose(out, [[[10.25 * 4, 19.75 * 4]]])
    assert scores.tolist() == [[1.0]]


def test_decode_empty_heatmap_and_input_untouched():
    hm = np.zeros((2, 64, 48), np.float32)
    hm[1, 30, 20] = 1.
    before = hm.copy()
    out, scores = make(unbiased=True).decode(hm)
    np.testing.assert_array_equal(hm, before)
    np.testing.assert_array_equal(out[0, 0], [-4., -4.])  # -1 px * stride
    assert scores[0, 0] == 0
