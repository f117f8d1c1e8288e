"""TASK_UTILS of the one-stage heads: MlvlPointGenerator, box overlaps and
NMS, PoseOKS and SimOTAAssigner, on hand-checkable cases.

(The same modules were compared with MMPose 1.3.2's inside the heads' loss
and predict; see test_onestage_heads.py.)"""
import math

import numpy as np
import pytest
import torch

import posekit.models  # noqa: F401  (registers TASK_UTILS)
from posekit.models.task_modules import (BBoxOverlaps2D, MlvlPointGenerator,
                                         PoseOKS, SimOTAAssigner,
                                         bbox_overlaps, nms)
from posekit.registry import TASK_UTILS
from posekit.structures import InstanceData

COCO_SIGMAS = np.array([.26, .25, .25, .35, .35, .79, .79, .72, .72, .62,
                        .62, 1.07, 1.07, .87, .87, .89, .89]) / 10.0


def test_registered():
    for name in ('MlvlPointGenerator', 'SimOTAAssigner', 'PoseOKS',
                 'BBoxOverlaps2D'):
        assert name in TASK_UTILS


def test_point_generator_grid_by_formula():
    """Cell (i, j) of stride (s_w, s_h): ((j + offset) s_w, (i + offset)
    s_h), x fastest; levels in order."""
    gen = MlvlPointGenerator(strides=[8, (16, 4)], offset=0.5)
    lvl0, lvl1 = gen.grid_priors([(2, 3), (1, 2)], device='cpu',
                                 with_stride=True)
    expected0 = [[(j + .5) * 8, (i + .5) * 8, 8, 8]
                 for i in range(2) for j in range(3)]
    np.testing.assert_array_equal(lvl0, expected0)
    np.testing.assert_array_equal(lvl1, [[8, 2, 16, 4], [24, 2, 16, 4]])
    assert gen.num_levels == 2 and gen.num_base_priors == [1, 1]
    # offset 0 (YOLOX-Pose) and centralised points (RTMO: offset 0 plus
    # (s - 1) / 2, the centre of the s x s pixel block)
    (pts, ) = MlvlPointGenerator([8], offset=0).grid_priors([(1, 2)],
                                                            device='cpu')
    np.testing.assert_array_equal(pts, [[0, 0], [8, 0]])
    gen = MlvlPointGenerator([16], offset=0.5, centralize_points=True)
    assert gen.offset == 0.0
    (pts, ) = gen.grid_priors([(2, 1)], dtype=torch.float64, device='cpu')
    assert pts.dtype == torch.float64
    np.testing.assert_array_equal(pts, [[7.5, 7.5], [7.5, 23.5]])
    with pytest.raises(ValueError, match='2 strides'):
        MlvlPointGenerator([8, 16]).grid_priors([(1, 1)], device='cpu')


def test_bbox_overlaps_hand_cases():
    a = torch.tensor([[0., 0., 10., 10.], [0., 0., 1., 1.]])
    b = torch.tensor([[5., 0., 15., 10.], [2., 0., 3., 1.]])
    # overlap 50, union 150; enclosing box = union for the first pair
    np.testing.assert_allclose(bbox_overlaps(a, b, is_aligned=True),
                               [1 / 3, 0], rtol=1e-6)
    np.testing.assert_allclose(bbox_overlaps(a, b, 'iof', is_aligned=True),
                               [0.5, 0], rtol=1e-6)
    # disjoint unit boxes 1 apart: GIoU = 0 - (3 - 2) / 3
    np.testing.assert_allclose(bbox_overlaps(a, b, 'giou', is_aligned=True),
                               [1 / 3, -1 / 3], rtol=1e-6)
    pair = bbox_overlaps(a, b)
    assert pair.shape == (2, 2)
    np.testing.assert_allclose(pair[0, 0], 1 / 3, rtol=1e-6)
    # [0,0,10,10] vs [2,0,3,1]: overlap 1, union 100
    np.testing.assert_allclose(pair[0, 1], 0.01, rtol=1e-6)
    assert bbox_overlaps(a, b[:0]).shape == (2, 0)
    # the calculator drops a 5th (score) column
    calc = BBoxOverlaps2D()
    scored = torch.cat([b, torch.ones(2, 1)], 1)
    torch.testing.assert_close(calc(a, scored), pair)
    with pytest.raises(ValueError, match='mode'):
        bbox_overlaps(a, b, 'dice')


def test_nms_hand_cases():
    """Box 1 overlaps box 0 with IoU 90 / 110 = 0.818; box 2 is apart."""
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 0., 11., 10.],
                          [20., 20., 30., 30.]])
    scores = torch.tensor([0.8, 0.9, 0.7])
    assert nms(boxes, scores, 0.5).tolist() == [1, 2]
    assert nms(boxes, scores, 0.85).tolist() == [1, 0, 2]
    empty = nms(boxes[:0], scores[:0], 0.5)
    assert empty.dtype == torch.long and empty.numel() == 0


def test_pose_oks_formula():
    """OKS = sum_k w_k exp(-d_k^2 / (2 area (2 sigma_k)^2)), w normalised."""
    oks = PoseOKS()  # COCO sigmas by default
    np.testing.assert_allclose(oks.sigmas, COCO_SIGMAS, rtol=1e-6)
    target = torch.zeros(1, 17, 2)
    pred = target.clone()
    pred[0, 0, 0] = 3.0  # keypoint 0 off by 3 px
    area = torch.tensor([400.])
    weights = torch.ones(1, 17)
    e0 = math.exp(-9 / (2 * 400 * (2 * COCO_SIGMAS[0])**2))
    np.testing.assert_allclose(oks(pred, target, weights, area),
                               [(16 + e0) / 17], rtol=1e-6)
    # invisible keypoints do not count
    weights[0, 1:] = 0
    np.testing.assert_allclose(oks(pred, target, weights, area), [e0],
                               rtol=1e-6)
    # without metainfo there is no sigma: exp(-d^2 / (2 area))
    plain = PoseOKS(metainfo=None)
    np.testing.assert_allclose(plain(pred, target, weights, area),
                               [math.exp(-9 / 800)], rtol=1e-6)
    # pairwise: preds (P, 1, K, 2) against targets (1, G, K, 2) -> (P, G)
    pairs = oks(pred[:, None].repeat(3, 1, 1, 1), target[None].repeat(
        1, 2, 1, 1), torch.ones(1, 2, 17), torch.tensor([[400., 100.]]))
    assert pairs.shape == (3, 2)


def gt_one_person():
    return InstanceData(
        bboxes=torch.tensor([[0., 0., 16., 8.]]), labels=torch.tensor([0]),
        keypoints=torch.tensor([[[4., 4.], [12., 4.]]]),
        keypoints_visible=torch.ones(1, 2), areas=torch.tensor([128.]))


def preds_four_priors():
    """Priors at x = 4, 12, 20, 28 (y 4, stride 8). Gt box [0,0,16,8],
    centre (8, 4), centre square +-20 px: priors 0, 1 are in the box
    (and the square), prior 2 only in the square, prior 3 in neither."""
    priors = torch.tensor([[4., 4., 8., 8.], [12., 4., 8., 8.],
                           [20., 4., 8., 8.], [28., 4., 8., 8.]])
    bboxes = torch.tensor([[0., 0., 16., 8.],    # IoU 1
                           [0., 0., 8., 8.],     # IoU 0.5
                           [0., 0., 16., 7.2],   # IoU 0.9, out of the box
                           [0., 0., 16., 8.]])
    return InstanceData(
        priors=priors, bboxes=bboxes, scores=torch.full((4, 1), 0.5),
        keypoints=torch.zeros(4, 2, 2), keypoints_visible=torch.ones(4, 2))


def test_simota_hand_case():
    """Candidates: priors 0, 1, 2. k = int(1 + 0.5 + 0.9) = 2. Costs
    3 * -log(IoU): prior 0 ~0, prior 1 2.08, prior 2 1e5 + 0.32 (not in
    both box and centre): priors 0 and 1 win."""
    assigner = SimOTAAssigner(cls_weight=0., oks_weight=0.,
                              dynamic_k_indicator='iou',
                              oks_calculator=dict(type='PoseOKS',
                                                  metainfo=None))
    out = assigner.assign(preds_four_priors(), gt_one_person())
    assert out['num_gts'] == 1
    assert out['gt_inds'].tolist() == [1, 1, 0, 0]
    assert out['labels'].tolist() == [0, 0, -1, -1]
    np.testing.assert_allclose(out['max_overlaps'], [1, 0.5, -1e5, -1e5],
                               rtol=1e-5)
    # candidate_topk 1: k = int(1.0) = 1, only the cheapest prior
    assigner.candidate_topk = 1
    assert assigner.assign(preds_four_priors(), gt_one_person()
                           )['gt_inds'].tolist() == [1, 0, 0, 0]


def test_simota_prior_claimed_twice_goes_to_cheaper_gt():
    """Two identical gts want prior 0; the second is cheaper for it (its
    box matches the prediction exactly), so prior 0 goes to gt 2."""
    gt = gt_one_person()
    gt = InstanceData(
        bboxes=torch.tensor([[0., 0., 16., 8.], [0., 0., 15., 8.]]),
        labels=torch.tensor([0, 0]), keypoints=gt.keypoints.repeat(2, 1, 1),
        keypoints_visible=torch.ones(2, 2), areas=torch.tensor([128., 120.]))
    pred = preds_four_priors()
    pred.bboxes[0] = torch.tensor([0., 0., 15., 8.])
    assigner = SimOTAAssigner(cls_weight=0., oks_weight=0., candidate_topk=1,
                              oks_calculator=dict(type='PoseOKS',
                                                  metainfo=None))
    out = assigner.assign(pred, gt)
    assert out['gt_inds'][0] == 2


def test_simota_keypoint_centres_and_empty_cases():
    assigner = SimOTAAssigner(center_radius=0.5, use_keypoints_for_center=True)
    priors = torch.tensor([[4., 4., 8., 8.], [12., 4., 8., 8.]])
    gt_boxes = torch.tensor([[0., 0., 16., 8.]])
    # keypoint mean (4, 4): centre square [0, 8] x [0, 8] holds prior 0 only
    kpts = torch.tensor([[[2., 4.], [6., 4.], [50., 50.]]])
    vis = torch.tensor([[1., 1., 0.]])
    valid, both = assigner.get_in_gt_and_in_center_info(priors, gt_boxes,
                                                        kpts, vis)
    assert valid.tolist() == [True, True]  # both are inside the box
    assert both.tolist() == [[True], [False]]
    # box centre (8, 4) when no keypoint is visible: neither is within 4 px
    valid, both = assigner.get_in_gt_and_in_center_info(
        priors, gt_boxes, kpts, torch.zeros(1, 3))
    assert both.tolist() == [[False], [False]]
    # no gt: everything background
    empty = InstanceData(bboxes=torch.zeros(0, 4),
                         labels=torch.zeros(0, dtype=torch.long),
                         keypoints=torch.zeros(0, 2, 2),
                         keypoints_visible=torch.zeros(0, 2),
                         areas=torch.zeros(0))
    out = SimOTAAssigner().assign(preds_four_priors(), empty)
    assert out['gt_inds'].tolist() == [0] * 4
    assert out['labels'].tolist() == [-1] * 4
    with pytest.raises(ValueError, match='dynamic_k_indicator'):
        SimOTAAssigner(dynamic_k_indicator='cost')
