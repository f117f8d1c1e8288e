"""PCK accuracy functions on hand-made arrays."""
import numpy as np

from posekit.evaluation.functional import (_calc_distances, _distance_acc,
                                           keypoint_pck_accuracy,
                                           pose_pck_accuracy,
                                           simcc_pck_accuracy)


def test_calc_distances_masks_and_normalises():
    gt = np.zeros((2, 3, 2), dtype=np.float32)
    pred = np.array([[[3, 4], [1, 0], [0, 0]],
                     [[0, 2], [6, 8], [1, 1]]], dtype=np.float32)
    mask = np.array([[True, True, False], [True, True, True]])
    norm = np.array([[1., 1.], [2., 2.]], dtype=np.float32)
    d = _calc_distances(pred, gt, mask, norm)
    assert d.shape == (3, 2)  # (K, N)
    np.testing.assert_allclose(d, [[5., 1.], [1., 5.], [-1., np.sqrt(.5)]],
                               rtol=1e-6)


def test_calc_distances_zero_and_negative_norm_factor():
    gt = np.zeros((2, 1, 2), dtype=np.float32)
    pred = np.full((2, 1, 2), 3., dtype=np.float32)
    norm = np.array([[0., 1.], [-1., 1.]], dtype=np.float32)
    d = _calc_distances(pred, gt, np.ones((2, 1), bool), norm)
    assert d[0, 0] == -1  # a zero factor leaves the instance out
    # a negative factor becomes 1e6: x contributes ~0
    np.testing.assert_allclose(d[0, 1], 3., rtol=1e-5)
    np.testing.assert_array_equal(norm, [[0., 1.], [-1., 1.]])  # untouched


def test_distance_acc():
    assert _distance_acc(np.array([0.1, 0.6, -1, 0.4]), thr=0.5) == 2 / 3
    assert _distance_acc(np.array([-1., -1.])) == -1


def test_keypoint_pck_accuracy_by_hand():
    gt = np.zeros((2, 3, 2), dtype=np.float32)
    pred = np.array([[[0.01, 0], [0.2, 0], [0, 0]],
                     [[0.03, 0.05], [0, 0.01], [5, 5]]], dtype=np.float32)
    mask = np.array([[True, True, False], [True, True, False]])
    acc, avg, cnt = keypoint_pck_accuracy(pred, gt, mask, thr=0.05,
                                          norm_factor=np.ones((2, 2)))
    # keypoint 0: distances 0.01, 0.058; keypoint 1: 0.2, 0.01
    np.testing.assert_allclose(acc, [0.5, 0.5, -1])
    assert avg == 0.5 and cnt == 2
    _, avg, cnt = keypoint_pck_accuracy(pred, gt, np.zeros((2, 3), bool),
                                        0.05, np.ones((2, 2)))
    assert avg == 0 and cnt == 0


def _peaks(locs, K, H=8, W=6):
    """Heatmaps (N, K, H, W) with value 1 at (x, y) locs (N, K, 2)."""
    hm = np.zeros((len(locs), K, H, W), dtype=np.float32)
    for n, inst in enumerate(locs):
        for k, (x, y) in enumerate(inst):
            hm[n, k, y, x] = 1.
    return hm


def test_pose_pck_accuracy_from_heatmap_peaks():
    gt = _peaks([[(1, 1), (2, 3)]], K=2)
    pred = _peaks([[(1, 1), (2, 6)]], K=2)
    mask = np.ones((1, 2), bool)
    # default normalisation [H, W] = [8, 6]: keypoint 1 is 3/6 = 0.5 away
    acc, avg, cnt = pose_pck_accuracy(pred, gt, mask, thr=0.4)
    np.testing.assert_allclose(acc, [1., 0.])
    assert avg == 0.5 and cnt == 2
    _, avg, _ = pose_pck_accuracy(pred, gt, mask, thr=0.6)
    assert avg == 1.
    acc, avg, cnt = pose_pck_accuracy(np.zeros((1, 0, 4, 4)),
                                      np.zeros((1, 0, 4, 4)),
                                      np.ones((1, 0), bool))
    assert acc is None and avg == 0 and cnt == 0


def test_simcc_pck_accuracy_from_one_hot_vectors():
    ratio = 2.0  # input 8x10 -> 16 x bins, 20 y bins
    def vec(n, i):
        v = np.zeros((1, 1, n), dtype=np.float32)
        v[0, 0, i] = 1.
        return v
    pred = (vec(16, 4), vec(20, 10))
    gt = (vec(16, 4), vec(20, 14))  # 2 input pixels apart in y
    mask = np.ones((1, 1), bool)
    # default normalisation [H, W] = [10, 8] -> x / 10, y / 8: 2 / 8 = 0.25
    _, avg, _ = simcc_pck_accuracy(pred, gt, ratio, mask, thr=0.2)
    assert avg == 0.
    _, avg, _ = simcc_pck_accuracy(pred, gt, ratio, mask, thr=0.3)
    assert avg == 1.
