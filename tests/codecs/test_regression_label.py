"""RegressionLabel and IntegralRegressionLabel."""
import numpy as np
import pytest

from posekit.codecs import IntegralRegressionLabel, RegressionLabel


def test_labels_are_normalised_by_input_size():
    codec = RegressionLabel(input_size=(192, 256))
    kp = np.array([[[96., 64.], [0., 255.], [191., 0.], [192., 10.],
                    [-0.1, 10.], [50., 50.], [50., 50.]]])
    vis = np.array([[1., 1., 1., 1., 1., 0.5, 0.6]])
    enc = codec.encode(kp, vis)
    np.testing.assert_allclose(enc['keypoint_labels'][0, 0], [0.5, 0.25])
    np.testing.assert_allclose(enc['keypoint_labels'][0, 3], [1., 10 / 256])
    # inside [0, w - 1] x [0, h - 1] and visibility strictly above 0.5
    np.testing.assert_array_equal(enc['keypoint_weights'],
                                  [[1., 1., 1., 0., 0., 0., 1.]])
    assert enc['keypoint_labels'].dtype == np.float32
    assert enc['keypoint_weights'].dtype == np.float32


def test_round_trip_and_multi_instance():
    rng = np.random.default_rng(0)
    codec = RegressionLabel(input_size=(192, 256))
    kp = (rng.random((3, 17, 2)) * [192, 256]).astype(np.float32)
    enc = codec.encode(kp)
    out, scores = codec.decode(enc['keypoint_labels'])
    np.testing.assert_allclose(out, kp, atol=1e-4)   # float32 rounding
    np.testing.assert_array_equal(scores, np.ones((3, 17)))


def test_decode_with_sigma():
    codec = RegressionLabel(input_size=(200, 100))
    out, scores = codec.decode(np.array([[[0.5, 0.5, 0.2, 0.4]]]))
    np.testing.assert_allclose(out, [[[100., 50.]]])
    np.testing.assert_allclose(scores, [[0.7]])
    with pytest.raises(ValueError, match='2 .* or 4'):
        codec.decode(np.zeros((1, 2, 3)))


def test_integral_regression():
    codec = IntegralRegressionLabel(input_size=(256, 256),
                                    heatmap_size=(64, 64), sigma=2)
    kp = np.array([[[128., 64.], [-20., 10.], [20., 20.]]])
    vis = np.array([[1., 1., 0.]])
    enc = codec.encode(kp, vis)
    assert set(enc) == {'keypoint_labels', 'heatmaps', 'keypoint_weights'}
    sums = enc['heatmaps'].sum(axis=(1, 2))
    # keypoint 1 is off the image (regression weight 0) but its Gaussian
    # still reaches the heatmap, so its map is drawn and sums to 1 too
    np.testing.assert_allclose(sums, [1., 1., 0.], atol=1e-6)
    np.testing.assert_array_equal(enc['keypoint_weights'], [[1., 0., 0.]])
    np.testing.assert_allclose(enc['keypoint_labels'][0, 0], [0.5, 0.25])
    out, _ = codec.decode(enc['keypoint_labels'])
    np.testing.assert_allclose(out, kp, atol=1e-4)
    raw = IntegralRegressionLabel(input_size=(256, 256),
                                  heatmap_size=(64, 64), sigma=2,
                                  normalize=False).encode(kp, vis)
    assert raw['heatmaps'][0].max() == 1.0
