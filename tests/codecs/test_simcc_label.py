"""SimCCLabel against hand-computed values."""
import numpy as np
import pytest

from posekit.codecs import SimCCLabel


def test_gaussian_labels_by_hand():
    codec = SimCCLabel(input_size=(192, 256), sigma=6.0, simcc_split_ratio=2.)
    enc = codec.encode(np.array([[[50.3, 100.7]]]))
    x, y = enc['keypoint_x_labels'], enc['keypoint_y_labels']
    assert x.shape == (1, 1, 384) and y.shape == (1, 1, 512)
    assert x.dtype == y.dtype == np.float32
    # argmax at round(kp * split_ratio): 100.6 -> 101, 201.4 -> 201
    assert x.argmax() == 101 and y.argmax() == 201
    peak = 1 / (6 * np.sqrt(2 * np.pi))       # normalised Gaussian
    assert x[0, 0, 101] == pytest.approx(peak, rel=1e-6)
    assert x[0, 0, 104] == pytest.approx(peak * np.exp(-9 / 72), rel=1e-6)
    # the label is not cut at 3 sigma
    assert x[0, 0, 0] == pytest.approx(peak * np.exp(-101 ** 2 / 72),
                                       rel=1e-5)


def test_unnormalised_and_per_axis_sigma():
    codec = SimCCLabel(input_size=(192, 256), sigma=(4., 8.),
                       normalize=False)
    enc = codec.encode(np.array([[[10., 20.]]]))
    assert enc['keypoint_x_labels'][0, 0, 20] == 1.0
    assert enc['keypoint_x_labels'][0, 0, 22] == pytest.approx(
        np.exp(-4 / 32), rel=1e-6)
    assert enc['keypoint_y_labels'][0, 0, 42] == pytest.approx(
        np.exp(-4 / 128), rel=1e-6)


def test_standard_and_label_smoothing():
    codec = SimCCLabel(input_size=(192, 256), smoothing_type='standard',
                       label_smooth_weight=0.1)
    enc = codec.encode(np.array([[[10.2, 20.]]]))
    x = enc['keypoint_x_labels'][0, 0]
    assert x[20] == pytest.approx(0.9)
    assert x[0] == pytest.approx(0.1 / 383)
    onehot = SimCCLabel(input_size=(192, 256), smoothing_type='standard')
    x = onehot.encode(np.array([[[10.2, 20.]]]))['keypoint_x_labels'][0, 0]
    assert x[20] == 1 and x.sum() == 1


@pytest.mark.parametrize('smoothing', ['gaussian', 'standard'])
def test_weights(smoothing):
    codec = SimCCLabel(input_size=(192, 256), smoothing_type=smoothing)
    kp = np.array([[[10., 10.], [10., 10.], [-30., 10.], [10., 300.]],
                   [[10., 10.], [-3., 10.], [200., 10.], [10., 10.]]])
    vis = np.array([[1., 0., 1., 1.], [1., 1., 1., 0.]])
    enc = codec.encode(kp, vis)
    if smoothing == 'gaussian':
        # a Gaussian label only needs its 3-sigma window (18 bins) to touch
        # the axis: bin -6 and bin 400 (x 384 bins) still count
        expected = [[1., 0., 0., 0.], [1., 1., 1., 0.]]
    else:
        # a one-hot label needs its bin on the axis
        expected = [[1., 0., 0., 0.], [1., 0., 0., 0.]]
    np.testing.assert_array_equal(enc['keypoint_weights'], expected)
    assert enc['keypoint_x_labels'].shape == (2, 4, 384)
    assert not enc['keypoint_x_labels'][0, 1:].any()


@pytest.mark.parametrize('use_dark', [False, True])
def test_round_trip_is_the_nearest_bin(use_dark):
    """Encoding puts the label on bin round(kp * 2); decoding returns that
    bin / 2 exactly (the labels are symmetric, so DARK moves nothing): the
    error bound is half a bin, 0.5 / simcc_split_ratio = 0.25 px."""
    rng = np.random.default_rng(0)
    codec = SimCCLabel(input_size=(192, 256), use_dark=use_dark)
    kp = (rng.uniform([10, 10], [182, 246], (2, 17, 2))).astype(np.float32)
    enc = codec.encode(kp)
    out, scores = codec.decode(enc['keypoint_x_labels'],
                               enc['keypoint_y_labels'])
    assert out.shape == (2, 17, 2) and out.dtype == np.float32
    np.testing.assert_allclose(out, np.round(kp * 2) / 2, atol=1e-3)
    assert np.abs(out - kp).max() <= 0.25 + 1e-3
    np.testing.assert_allclose(scores, 1 / (6 * np.sqrt(2 * np.pi)),
                               rtol=1e-6)


def test_dark_finds_sub_bin_peak():
    """DARK locates a Gaussian centred between bins to within 0.05 px."""
    rng = np.random.default_rng(1)
    codec = SimCCLabel(input_size=(192, 256), use_dark=True)
    centres = rng.uniform([20, 20], [170, 230], (1, 17, 2)) * 2   # in bins
    bins_x, bins_y = np.arange(384), np.arange(512)
    simcc_x = np.exp(-(bins_x - centres[..., :1]) ** 2 / 72).astype(
        np.float32)
    simcc_y = np.exp(-(bins_y - centres[..., 1:]) ** 2 / 72).astype(
        np.float32)
    out, _ = codec.decode(simcc_x[0], simcc_y[0])    # per-sample (K, W)
    np.testing.assert_allclose(out, centres / 2, atol=0.05)
    plain, _ = SimCCLabel(input_size=(192, 256)).decode(simcc_x, simcc_y)
    assert np.abs(plain - centres / 2).max() > 0.1    # DARK did the work


def test_decode_visibility_shapes():
    codec = SimCCLabel(input_size=(192, 256), decode_visibility=True)
    enc = codec.encode(np.array([[[50., 60.], [70., 80.]]]))
    keypoints, (scores, visibility) = codec.decode(
        enc['keypoint_x_labels'][0], enc['keypoint_y_labels'][0])
    assert keypoints.shape == (1, 2, 2)
    assert scores.shape == visibility.shape == (1, 2)
    assert np.all((visibility > 0) & (visibility <= 1))


def test_decode_no_peak():
    codec = SimCCLabel(input_size=(192, 256))
    out, scores = codec.decode(np.zeros((3, 384)), np.zeros((3, 512)))
    np.testing.assert_array_equal(out, np.full((1, 3, 2), -0.5))
    np.testing.assert_array_equal(scores, np.zeros((1, 3)))


def test_invalid_arguments():
    with pytest.raises(ValueError, match='smoothing_type'):
        SimCCLabel(input_size=(192, 256), smoothing_type='laplace')
    with pytest.raises(ValueError, match='standard'):
        SimCCLabel(input_size=(192, 256), label_smooth_weight=0.1)
    with pytest.raises(ValueError, match=r'\[0, 1\]'):
        SimCCLabel(input_size=(192, 256), smoothing_type='standard',
                   label_smooth_weight=1.5)
