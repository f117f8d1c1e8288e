"""UDPHeatmap ('gaussian' and 'combined') against hand-computed values."""
import numpy as np
import pytest

from posekit.codecs import UDPHeatmap

INPUT, HEATMAP = (192, 256), (48, 64)
# UDP stride: (w - 1) / (W - 1) per axis
STRIDE = np.array([191 / 47, 255 / 63])


def make(**kwargs):
    return UDPHeatmap(input_size=INPUT, heatmap_size=HEATMAP, **kwargs)


def interior(rng, n, margin):
    hm = rng.uniform([margin, margin], [47 - margin, 63 - margin], (1, n, 2))
    return (hm * STRIDE).astype(np.float32)


def test_gaussian_is_centred_sub_pixel():
    # heatmap (10.25, 20): window around pixel 10, centre at 10.25
    kp = np.array([[[10.25, 20.]]]) * STRIDE
    hm = make().encode(kp)['heatmaps'][0]
    s2 = 2 * 2. ** 2
    assert hm[20, 10] == pytest.approx(np.exp(-0.25 ** 2 / s2), rel=1e-5)
    assert hm[20, 11] == pytest.approx(np.exp(-0.75 ** 2 / s2), rel=1e-5)
    assert hm[21, 9] == pytest.approx(np.exp(-(1.25 ** 2 + 1) / s2),
                                      rel=1e-5)
    assert hm[20, 17] == 0 and hm[20, 4] > 0   # window [4, 17)


def test_weights():
    kp = np.array([[[40., 80.], [40., 80.], [-60., 80.], [40., 300.]]])
    vis = np.array([[1., 0., 1., 1.]])
    enc = make().encode(kp, vis)
    np.testing.assert_array_equal(enc['keypoint_weights'],
                                  [[1., 0., 0., 0.]])
    assert not enc['heatmaps'][1:].any()


def test_round_trip_gaussian_sub_pixel():
    """UDP decoding returns ``q / (W - 1) * w`` for heatmap pixel q, i.e.
    the input coordinate times w / (w - 1) (MMPose's convention, undone by
    the top-down estimator); after undoing that factor the error is well
    under 0.05 px at least 5 heatmap px from the border."""
    rng = np.random.default_rng(0)
    codec = make()
    undo = np.array([191 / 192, 255 / 256])
    for _ in range(20):
        kp = interior(rng, 17, margin=5)
        out, scores = codec.decode(codec.encode(kp)['heatmaps'])
        assert out.shape == (1, 17, 2) and out.dtype == np.float64
        np.testing.assert_allclose(out * undo, kp, atol=0.05)
        assert np.all(scores > 0.9)


def test_combined_maps_by_hand():
    codec = make(heatmap_type='combined')
    kp = np.array([[[10., 20.]]]) * STRIDE
    hm = codec.encode(kp)['heatmaps']
    assert hm.shape == (3, 64, 48) and hm.dtype == np.float32
    r = 0.0546875 * 64   # 3.5 heatmap px
    disc, dx, dy = hm
    assert disc[20, 13] == 1 and disc[22, 12] == 1      # 3 and 2.83 px
    assert disc[20, 14] == 0 and disc[23, 13] == 0      # 4 and 4.24 px
    assert disc.sum() == 37                             # pixels within 3.5
    assert dx[5, 12] == pytest.approx((10 - 12) / r, abs=1e-5)
    assert dy[5, 12] == pytest.approx((20 - 5) / r, abs=1e-5)


def test_combined_round_trip():
    """Offsets are exact, so after the w / (w - 1) factor the decoded
    keypoints match to float32 precision, border included."""
    rng = np.random.default_rng(1)
    codec = make(heatmap_type='combined')
    kp = interior(rng, 17, margin=0)
    out, _ = codec.decode(codec.encode(kp)['heatmaps'])
    np.testing.assert_allclose(out * [191 / 192, 255 / 256], kp, atol=1e-3)


def test_combined_weights_not_zeroed_off_map():
    # MMPose only checks visibility for 'combined'
    enc = make(heatmap_type='combined').encode(
        np.array([[[-500., 80.], [40., 80.]]]), np.array([[1., 0.]]))
    np.testing.assert_array_equal(enc['keypoint_weights'], [[1., 0.]])
    assert not enc['heatmaps'][3:].any()


def test_invalid_type():
    with pytest.raises(ValueError, match='heatmap_type'):
        make(heatmap_type='offset')
