"""posekit.evaluation.functional: AUC, EPE, NME, multi-label accuracy, MPJPE,
OKS and NMS against values computed by hand."""
import math

import numpy as np
import pytest

from posekit.evaluation.functional import (compute_similarity_transform,
                                           keypoint_auc, keypoint_epe,
                                           keypoint_mpjpe, keypoint_nme,
                                           keypoint_pck_accuracy,
                                           multilabel_classification_accuracy,
                                           nms, oks_iou, oks_nms, soft_oks_nms)
from posekit.evaluation.functional.nms import oks_matrix


def test_three_keypoint_pck():
    # normalised distances: instance 0: 0, 0.5, 1.0; instance 1: 0.05,
    # (masked), 1.0
    pred = np.array([[[0, 0], [3, 4], [10, 0]],
                     [[1, 0], [0, 0], [0, 20]]], dtype=np.float32)
    gt = np.zeros_like(pred)
    mask = np.array([[True, True, True], [True, False, True]])
    norm = np.array([[10, 10], [20, 20]], dtype=np.float32)
    acc, avg, cnt = keypoint_pck_accuracy(pred, gt, mask, 0.6, norm)
    np.testing.assert_allclose(acc, [1, 1, 0])
    assert avg == pytest.approx(2 / 3) and cnt == 3


def test_keypoint_auc_is_mmposes_rectangle_sum():
    # distances 0, 10, 16 px over 30 px: 0, 0.333, 0.533. MMPose's AUC is
    # (1/20) * sum over thr = 0, 0.05, ..., 0.95 of the mean PCK (a left
    # Riemann sum, not the trapezoid rule): keypoint 0 is correct at 19
    # thresholds, keypoint 1 at 13 (> 0.333), keypoint 2 at 9 (> 0.533).
    pred = np.array([[[0, 0], [10, 0], [0, 16]]], dtype=np.float32)
    gt = np.zeros_like(pred)
    mask = np.ones((1, 3), dtype=bool)
    assert keypoint_auc(pred, gt, mask, 30) == pytest.approx(
        (19 + 13 + 9) / 3 / 20)
    # a masked keypoint is left out; everything correct from the 2nd thr on
    assert keypoint_auc(pred, gt, np.array([[True, False, False]]),
                        30) == pytest.approx(19 / 20)
    # the trapezoid rule over the same points would give another number
    pcks = [np.mean([d < t for d in (0, 1 / 3, 16 / 30)])
            for t in np.arange(20) / 20]
    assert np.trapezoid(pcks, dx=1 / 20) != pytest.approx(41 / 60)


def test_keypoint_epe_and_nme():
    pred = np.array([[[0, 0], [3, 4], [6, 8], [100, 100]]], dtype=np.float32)
    gt = np.zeros_like(pred)
    mask = np.array([[True, True, True, False]])
    assert keypoint_epe(pred, gt, mask) == pytest.approx(5.0)
    assert keypoint_nme(pred, gt, mask, np.array([[10., 10.]])) == \
        pytest.approx(0.5)
    # an instance with a zero normaliser is left out
    two = np.concatenate([pred, pred + 1])
    assert keypoint_nme(two, np.zeros_like(two), np.ones((2, 4), bool),
                        np.array([[0., 0.], [10., 10.]])) == pytest.approx(
        np.mean([np.hypot(x + 1, y + 1) / 10
                 for x, y in ((0, 0), (3, 4), (6, 8), (100, 100))]))
    assert keypoint_epe(pred, gt, np.zeros((1, 4), bool)) == 0


def test_multilabel_classification_accuracy():
    pred = np.array([[0.9, 0.1], [0.6, 0.7], [0.2, 0.3]])
    gt = np.array([[1, 0], [1, 0], [0, 0]])
    assert multilabel_classification_accuracy(
        pred, gt, np.array([1, 1, 0])) == pytest.approx(0.5)
    # a sample with any unreliable label is left out
    assert multilabel_classification_accuracy(
        pred, gt, np.array([[1, 1], [1, 0], [1, 1]])) == pytest.approx(1.0)
    assert multilabel_classification_accuracy(pred, gt, np.zeros(3)) == 0


def _rotation(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def test_keypoint_mpjpe_alignments():
    rng = np.random.default_rng(0)
    gt = rng.normal(0, 100, (4, 17, 3))
    mask = np.ones((4, 17), dtype=bool)
    assert keypoint_mpjpe(gt + [3, 4, 0], gt, mask) == pytest.approx(5.0)
    assert keypoint_mpjpe(2.5 * gt, gt, mask, 'scale') == pytest.approx(
        0, abs=1e-9)
    moved = 1.7 * gt @ _rotation(0.8).T + [10, -20, 5]
    assert keypoint_mpjpe(moved, gt, mask, 'procrustes') == pytest.approx(
        0, abs=1e-9)
    assert keypoint_mpjpe(moved, gt, mask) > 100
    # masked keypoints are left out of the mean
    pred = gt.copy()
    pred[:, 0] += 1000
    mask[:, 0] = False
    assert keypoint_mpjpe(pred, gt, mask) == pytest.approx(0)
    with pytest.raises(ValueError, match='alignment'):
        keypoint_mpjpe(gt, gt, mask, 'rigid')
    with pytest.raises(ValueError, match='no keypoint'):
        keypoint_mpjpe(gt, gt, np.zeros_like(mask))


def test_similarity_transform_single_and_batched():
    rng = np.random.default_rng(1)
    src = rng.normal(size=(10, 3))
    dst = 0.5 * src @ _rotation(-1.2).T + 3
    np.testing.assert_allclose(compute_similarity_transform(src, dst), dst,
                               atol=1e-10)
    # a reflection is not a rotation: the best proper rotation cannot undo it
    mirrored = src * [1, 1, -1]
    assert np.abs(compute_similarity_transform(src, mirrored) -
                  mirrored).max() > 0.1
    batch = np.stack([src, 2 * src])
    out = compute_similarity_transform(batch, np.stack([dst, dst]))
    np.testing.assert_allclose(out, np.stack([dst, dst]), atol=1e-10)


def test_oks_iou_formula():
    sigmas = np.array([0.1, 0.2])
    g = np.array([0., 0., 1., 10., 10., 1.])
    d = np.array([[2., 0., 1., 13., 14., 1.]])      # distances^2: 4, 25
    # e = d^2 / (2 sigma)^2 / ((a_g + a_d) / 2) / 2, mean of exp(-e)
    e = np.array([4 / 0.04 / 200 / 2, 25 / 0.16 / 200 / 2])
    expected = np.exp(-e).mean()
    out = oks_iou(g, d, 100.0, np.array([300.0]), sigmas)
    assert out.dtype == np.float32
    assert out[0] == pytest.approx(expected, rel=1e-6)
    # vis_thr: only keypoints scored above it in both count
    d_low = d.copy()
    d_low[0, 5] = 0.1
    assert oks_iou(g, d_low, 100.0, np.array([300.0]), sigmas,
                   vis_thr=0.5)[0] == pytest.approx(np.exp(-e[0]), rel=1e-6)
    assert oks_iou(g, np.zeros((0, 6)), 1.0, np.zeros(0), sigmas).shape == (0,)
    # identical instances: OKS 1; default sigmas are COCO's 17
    kpts = np.random.default_rng(0).uniform(0, 50, (1, 17, 3))
    assert oks_matrix(np.repeat(kpts, 2, 0), np.array([50., 50.]))[0, 1] == 1


def test_box_nms_keeps_the_right_boxes():
    dets = np.array([[0, 0, 9, 9, 0.9],       # kept
                     [1, 1, 10, 10, 0.8],     # IoU 81/119 with the first
                     [20, 20, 29, 29, 0.7],   # kept: no overlap
                     [0, 0, 9, 9, 0.95]])     # kept first, drops box 0 too
    assert nms(dets, 0.5) == [3, 2]
    assert nms(dets[:3], 0.7) == [0, 1, 2]
    assert nms(np.zeros((0, 5)), 0.5) == []


def _instance(x, y, score, area=400.0):
    kpts = np.stack([x + np.arange(17.0), y + np.zeros(17), np.ones(17)], 1)
    return dict(keypoints=kpts, score=score, area=area)


def test_oks_nms_keeps_the_right_instances():
    a = _instance(100, 100, 0.9)
    b = _instance(100.5, 100, 0.8)       # nearly on top of a: OKS ~ 0.99
    c = _instance(300, 300, 0.95)        # far away
    assert oks_nms([a, b, c], 0.9).tolist() == [2, 0]
    assert oks_nms([a, b, c], 1.0).tolist() == [2, 0, 1]
    assert oks_nms([], 0.9) == []
    # per-joint scores: the mean decides the order
    a_j = dict(a, score=np.full(17, 0.5))
    b_j = dict(b, score=np.full(17, 0.6))
    assert oks_nms([a_j, b_j], 0.9, score_per_joint=True).tolist() == [1]


def test_soft_oks_nms_decays_instead_of_dropping():
    a = _instance(100, 100, 0.9)
    b = _instance(100.5, 100, 0.85)
    c = _instance(200, 100, 0.8)         # partly overlapping a's scale
    keep = soft_oks_nms([a, b, c], 0.3)
    # b's score decays by exp(-oks^2 / 0.3) ~ 0.04 and falls behind c
    assert keep.tolist() == [0, 2, 1]
    assert soft_oks_nms([a, b, c], 0.3, max_dets=2).tolist() == [0, 2]
    assert keep.dtype == np.intp
