"""The pure functions behind the codecs."""
import numpy as np
import pytest

from posekit.codecs.utils import (gaussian_blur, gaussian_blur1d,
                                  generate_gaussian_heatmaps,
                                  generate_offset_heatmap,
                                  generate_udp_gaussian_heatmaps,
                                  generate_unbiased_gaussian_heatmaps,
                                  get_heatmap_maximum, get_simcc_maximum,
                                  refine_keypoints, refine_keypoints_dark,
                                  refine_keypoints_dark_udp,
                                  refine_simcc_dark)

GENERATORS = [generate_gaussian_heatmaps, generate_udp_gaussian_heatmaps,
              generate_unbiased_gaussian_heatmaps]


def gaussian_map(center, size=(48, 64), sigma=2.):
    """(1, H, W) float32 Gaussian at a sub-pixel (x, y) centre."""
    W, H = size
    x, y = np.arange(W), np.arange(H)[:, None]
    g = np.exp(-((x - center[0]) ** 2 + (y - center[1]) ** 2) /
               (2 * sigma ** 2))
    return g[None].astype(np.float32)


def test_get_heatmap_maximum():
    hm = np.zeros((3, 4, 5), np.float32)
    hm[0, 2, 3] = 0.7
    hm[1] = -1.                      # no positive value: no peak
    hm[2, 1, 1] = hm[2, 3, 4] = 0.5  # tie: the first in row-major order
    locs, vals = get_heatmap_maximum(hm)
    np.testing.assert_array_equal(locs, [[3, 2], [-1, -1], [1, 1]])
    np.testing.assert_allclose(vals, [0.7, -1., 0.5])
    assert locs.dtype == np.float32
    locs_b, vals_b = get_heatmap_maximum(np.stack([hm, hm]))
    assert locs_b.shape == (2, 3, 2) and vals_b.shape == (2, 3)
    with pytest.raises(ValueError):
        get_heatmap_maximum(np.zeros((4, 5)))


def test_get_simcc_maximum():
    x = np.array([[0., 3., 1.], [0., 0., 0.]])
    y = np.array([[2., 0., 0., 0.], [0., 1., 0., 0.]])
    locs, vals = get_simcc_maximum(x, y)
    np.testing.assert_array_equal(locs, [[1, 0], [-1, -1]])
    np.testing.assert_array_equal(vals, [2., 0.])    # min of the two maxima
    _, soft = get_simcc_maximum(x, y, apply_softmax=True)
    e = np.exp([0., 3., 1.])
    assert soft[0] == pytest.approx(min(e[1] / e.sum(),
                                        np.exp(2) / (np.exp(2) + 3)))
    with pytest.raises(ValueError, match='ndim'):
        get_simcc_maximum(x, y[None])


def test_gaussian_blur_keeps_max_and_input():
    rng = np.random.default_rng(0)
    hm = rng.random((3, 16, 12)).astype(np.float32)
    before = hm.copy()
    out = gaussian_blur(hm, 5)
    np.testing.assert_array_equal(hm, before)
    np.testing.assert_allclose(out.max(axis=(1, 2)), hm.max(axis=(1, 2)),
                               rtol=1e-6)
    assert out.std() < hm.std()     # smoothed
    assert np.isnan(gaussian_blur(np.zeros((1, 8, 8), np.float32), 3)).all()
    with pytest.raises(ValueError, match='odd'):
        gaussian_blur(hm, 4)
    vec = rng.random((2, 3, 40)).astype(np.float32)
    out1 = gaussian_blur1d(vec, 7)
    assert out1.shape == vec.shape
    np.testing.assert_allclose(out1.max(-1), vec.max(-1), rtol=1e-6)


@pytest.mark.parametrize('generate', GENERATORS)
def test_instances_combine_by_maximum(generate):
    rng = np.random.default_rng(0)
    kp = rng.uniform(-5, 50, (3, 6, 2))
    vis = rng.choice([0., 1.], (3, 6), p=[0.2, 0.8])
    together, weights = generate((48, 64), kp, vis, 2.)
    single = [generate((48, 64), kp[n:n + 1], vis[n:n + 1], 2.)
              for n in range(3)]
    np.testing.assert_array_equal(together,
                                  np.max([s[0] for s in single], axis=0))
    np.testing.assert_array_equal(weights,
                                  np.concatenate([s[1] for s in single]))


def test_per_instance_sigma():
    kp = np.array([[[10., 10.]], [[30., 40.]]])
    hm, _ = generate_gaussian_heatmaps((48, 64), kp, np.ones((2, 1)),
                                       [1., 3.])
    assert np.count_nonzero(hm[0, :, :20]) == 7 * 7      # radius 3
    assert np.count_nonzero(hm[0, 20:, 20:]) == 19 * 19  # radius 9


def test_offset_last_visible_instance_wins():
    kp = np.array([[[5., 5.]], [[20., 30.]], [[40., 40.]]])
    vis = np.array([[1.], [1.], [0.]])
    hm, _ = generate_offset_heatmap((48, 64), kp, vis, 0.0546875)
    assert hm[0, 30, 20] == 1 and hm[0, 5, 5] == 0
    assert hm[1, 0, 20] == 0 and hm[2, 30, 0] == 0


def test_refine_keypoints_guards():
    hm = np.zeros((1, 8, 8), np.float32)
    hm[0, :, 2] = 1.                     # everything right of column 1
    kp = np.array([[[1., 3.], [2., 3.]]], np.float32)
    hm2 = np.repeat(hm, 2, 0)
    out = refine_keypoints(kp, hm2)
    # x = 1 is never stepped (MMPose requires 1 < x); x = 2 sees equal
    # neighbours (0 and 0) in x and equal ones in y
    np.testing.assert_array_equal(out, kp)
    hm2[1, 3, 3] = 0.5
    out = refine_keypoints(kp, hm2)
    np.testing.assert_array_equal(out[0, 1], [2.25, 3.])


@pytest.mark.parametrize('centre', [(20.3, 30.8), (10.5, 40.1),
                                    (33.9, 12.45)])
def test_dark_refinements_recover_sub_pixel_centre(centre):
    hm = gaussian_map(centre)
    locs, _ = get_heatmap_maximum(hm)
    dark = refine_keypoints_dark(locs[None], hm, 11)
    udp = refine_keypoints_dark_udp(locs[None], hm, 11)
    np.testing.assert_allclose(dark[0, 0], centre, atol=0.01)
    np.testing.assert_allclose(udp[0, 0], centre, atol=0.01)


def test_dark_leaves_border_keypoints():
    hm = gaussian_map((1.2, 30.))
    locs, _ = get_heatmap_maximum(hm)      # column 1: not 1 < x
    np.testing.assert_array_equal(refine_keypoints_dark(locs[None], hm, 11),
                                  locs[None])


def test_refine_simcc_dark():
    bins = np.arange(100)
    simcc = np.exp(-(bins - np.array([[30.3], [61.7]])) ** 2 / 72)[None]
    locs = np.argmax(simcc, -1).astype(np.float32)          # (1, 2)
    before = simcc.copy()
    out = refine_simcc_dark(locs, simcc, 37)
    np.testing.assert_allclose(out, [[30.3, 61.7]], atol=0.02)
    np.testing.assert_array_equal(simcc, before)
