"""Losses: values computed by hand on tiny inputs."""
import inspect
import math
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from posekit.models import losses as losses_pkg
from posekit.models.losses import (AdaptiveWingLoss, BCELoss, CombinedLoss,
                                   CombinedTargetMSELoss, JSDiscretLoss,
                                   KeypointMSELoss, KeypointOHKMMSELoss,
                                   KLDiscretLoss, L1Loss, MSELoss,
                                   MultipleLossWrapper, RLELoss, SmoothL1Loss,
                                   SoftWeightSmoothL1Loss, SoftWingLoss,
                                   WingLoss)
from posekit.registry import MODELS


def test_keypoint_mse_loss_with_target_weights():
    out = torch.zeros(1, 2, 1, 2)
    target = torch.tensor([[[[1., 1.]], [[2., 2.]]]])
    # squared errors 1, 1 (kpt 0) and 4, 4 (kpt 1)
    assert KeypointMSELoss()(out, target) == pytest.approx(2.5)
    w = torch.tensor([[1., 0.]])
    assert KeypointMSELoss(use_target_weight=True)(out, target, w) == \
        pytest.approx(0.5)  # (1 + 1 + 0 + 0) / 4
    assert KeypointMSELoss(loss_weight=2.)(out, target, w) == \
        pytest.approx(1.0)
    # a spatial mask keeps the first column only: (1 + 0 + 4 + 0) / 4
    mask = torch.tensor([[[[1., 0.]]]])
    assert KeypointMSELoss()(out, target, mask=mask) == pytest.approx(1.25)


def test_keypoint_mse_loss_skip_empty_channel():
    out = torch.ones(1, 2, 1, 2)
    target = torch.tensor([[[[1., 3.]], [[0., 0.]]]])
    # channel 1 is all zero and skipped: (0 + 4 + 0 + 0) / 4
    assert KeypointMSELoss(skip_empty_channel=True)(out, target) == \
        pytest.approx(1.0)
    assert KeypointMSELoss()(out, target) == pytest.approx(1.5)
    with pytest.raises(ValueError, match='target_weights'):
        KeypointMSELoss()(out, target, torch.ones(2, 2))


def test_ohkm_keeps_the_hardest_keypoints():
    out = torch.zeros(2, 3, 1, 1)
    target = torch.tensor([1., 2., 3., 4., 0., 1.]).reshape(2, 3, 1, 1)
    # per keypoint MSE: [1, 4, 9] and [16, 0, 1]; top 2: 13 / 2, 17 / 2
    loss = KeypointOHKMMSELoss(topk=2)(out, target, torch.ones(2, 3))
    assert loss == pytest.approx((6.5 + 8.5) / 2)
    w = torch.tensor([[1., 1., 0.], [1., 1., 1.]])
    loss = KeypointOHKMMSELoss(use_target_weight=True, topk=2)(out, target, w)
    assert loss == pytest.approx((2.5 + 8.5) / 2)
    with pytest.raises(ValueError, match='topk'):
        KeypointOHKMMSELoss(topk=4)(out, target, w)


def test_combined_target_mse_loss():
    # one keypoint: heatmap, x offset, y offset over 2 pixels
    out = torch.zeros(1, 3, 1, 2)
    target = torch.tensor([[[[1., 0.]], [[2., 5.]], [[0., 0.]]]])
    # 0.5 * (mean(1, 0) + mean((1*2)^2, 0) + 0) = 0.5 * (0.5 + 2)
    loss = CombinedTargetMSELoss()(out, target, torch.ones(1, 1))
    assert loss == pytest.approx(1.25)
    loss = CombinedTargetMSELoss(use_target_weight=True)(
        out, target, torch.full((1, 1), 0.5))
    # heatmaps scaled by 0.5: 0.5 * (mean(.25, 0) + mean((.5*2)^2, 0))
    assert loss == pytest.approx(0.5 * (0.125 + 0.5))


def test_coordinate_losses_with_weights():
    out = torch.tensor([[[0., 0.], [2., 0.]]])
    target = torch.tensor([[[1., 0.], [0., 0.]]])
    w = torch.tensor([[1., 0.]])
    # SmoothL1 (beta 1): element losses 0.5, 0, 0, 0 after weighting
    assert SmoothL1Loss(use_target_weight=True)(out, target, w) == \
        pytest.approx(0.5 / 4)
    assert SmoothL1Loss()(out, target) == pytest.approx((0.5 + 1.5) / 4)
    assert L1Loss(use_target_weight=True)(out, target, w) == \
        pytest.approx(1 / 4)
    assert L1Loss(reduction='sum')(out, target) == pytest.approx(3.)
    assert MSELoss(use_target_weight=True, loss_weight=2.)(
        out, target, w.unsqueeze(-1)) == pytest.approx(2 * 1 / 4)


def test_soft_weight_smooth_l1_loss():
    out = torch.tensor([[[0.5, 0.], [3., 0.]]])
    target = torch.zeros(1, 2, 2)
    w = torch.tensor([[[1.], [0.]]])
    # beta 1: 0.5^2 / 2 = 0.125 for the one non-zero weighted element
    loss = SoftWeightSmoothL1Loss(use_target_weight=True)(out, target, w)
    assert loss == pytest.approx(0.125 / 4)
    loss = SoftWeightSmoothL1Loss(use_target_weight=True,
                                  supervise_empty=False)(out, target, w)
    assert loss == pytest.approx(0.125 / 1)  # one positive weight entry
    assert SoftWeightSmoothL1Loss(beta=2.)(out, target) == \
        pytest.approx((0.0625 + 2.0) / 4)


def test_rle_loss_with_an_identity_flow():
    """With a zeroed flow, log p(e) is the standard normal's; a perfect
    prediction with sigma = sigmoid(0) = 0.5 then costs, per keypoint,
    2 * (log 0.5 + log 2 pi) + 2 * log(2 * 0.5) = 2 log(pi)."""
    loss = RLELoss(use_target_weight=True)
    for p in loss.flow_model.parameters():
        torch.nn.init.zeros_(p)
    N, K = 2, 3
    target = torch.rand(N, K, 2)
    sigma = torch.zeros(N, K, 2)
    w = torch.ones(N, K, 1)
    value = loss(target.clone(), sigma, target, w)
    assert value.item() == pytest.approx(N * K * 2 * math.log(math.pi) / N,
                                         rel=1e-5)
    w[0, 0] = 0
    value = loss(target.clone(), sigma, target, w)
    assert value.item() == pytest.approx((N * K - 1) * 2 * math.log(math.pi)
                                         / N, rel=1e-5)
    # Gaussian Q: log(0.5 sqrt(2 pi)) per coordinate instead of log(1)
    g = RLELoss(q_distribution='gaussian', size_average=False)
    g.flow_model.load_state_dict(loss.flow_model.state_dict())
    value = g(target.clone(), sigma, target)
    per_kpt = 2 * math.log(math.pi) + 2 * math.log(0.5 * math.sqrt(2 *
                                                                   math.pi))
    assert value.item() == pytest.approx(N * K * per_kpt, rel=1e-5)


def test_rle_flow_state_dict_names():
    keys = RLELoss().state_dict().keys()
    assert {'flow_model.loc', 'flow_model.cov', 'flow_model.mask',
            'flow_model.s.0.0.weight', 'flow_model.t.5.4.bias'} <= set(keys)
    assert len(keys) == 3 + 2 * 6 * 6


def test_kl_discret_loss_tiny_case():
    # N = K = 1; uniform prediction over 2 bins, one-hot labels
    pred = (torch.zeros(1, 1, 2), torch.zeros(1, 1, 2))
    gt = (torch.tensor([[[1., 0.]]]), torch.tensor([[[0., 1.]]]))
    w = torch.ones(1, 1)
    # KL per axis = 1 * log(1 / 0.5), averaged over 2 bins; 2 axes; / K
    assert KLDiscretLoss()(pred, gt, w) == pytest.approx(math.log(2))
    assert KLDiscretLoss()(pred, gt, torch.zeros(1, 1)) == 0
    # label softmax with beta 10 on [1, 0]: q = [s, 1 - s], s = sigmoid(10)
    s = torch.sigmoid(torch.tensor(10.)).item()
    kl = s * math.log(s / 0.5) + (1 - s) * math.log((1 - s) / 0.5)
    value = KLDiscretLoss(label_softmax=True)(pred, gt, w)
    assert value == pytest.approx(kl, rel=1e-5)


def test_kl_discret_loss_weights_and_mask():
    pred = (torch.zeros(1, 2, 2), torch.zeros(1, 2, 2))
    gt = (torch.tensor([[[1., 0.], [1., 0.]]]),) * 2
    w = torch.tensor([[1., 0.5]])
    per_row = math.log(2) / 2
    assert KLDiscretLoss()(pred, gt, w) == pytest.approx(
        2 * per_row * 1.5 / 2)
    loss = KLDiscretLoss(use_target_weight=False, mask=[1], mask_weight=3.)
    assert loss(pred, gt, w) == pytest.approx(2 * per_row * (1 + 3) / 2)


def test_js_discret_loss():
    p = torch.tensor([[[[1., 0.]]]])
    q = torch.tensor([[[[0., 1.]]]])
    # disjoint distributions: JS = log 2
    assert JSDiscretLoss()(p, q, torch.ones(1, 1)) == pytest.approx(
        math.log(2))
    assert JSDiscretLoss()(p, p, torch.ones(1, 1)) == pytest.approx(0.)
    # size_average divides by the batch size
    two = torch.cat([p, p]), torch.cat([q, q])
    assert JSDiscretLoss()(*two, torch.ones(2, 1)) == pytest.approx(
        math.log(2))


def test_bce_loss():
    logits = torch.zeros(2, 2)
    target = torch.tensor([[1., 0.], [1., 1.]])
    assert BCELoss()(logits, target) == pytest.approx(math.log(2))
    w = torch.tensor([1., 0.])  # per instance
    assert BCELoss(use_target_weight=True)(logits, target, w) == \
        pytest.approx(math.log(2) / 2)
    probs = torch.full((2, 2), 0.5)
    assert BCELoss(use_sigmoid=True, reduction='sum')(probs, target) == \
        pytest.approx(4 * math.log(2))


def test_multiple_loss_wrapper_builds_from_configs_and_modules():
    wrapper = MultipleLossWrapper(losses=[
        dict(type='SmoothL1Loss', use_target_weight=True), MSELoss()])
    a, b = torch.zeros(1, 1, 2), torch.ones(1, 1, 2)
    out = wrapper([a, a], [b, b], torch.ones(1, 1))
    assert [round(x.item(), 6) for x in out] == [0.5, 1.0]
    with pytest.raises(ValueError, match='2 losses'):
        wrapper([a], [b])


def test_wing_loss_both_pieces():
    """omega 10, epsilon 2: d = 1 costs 10 log(1.5); d = 20 (>= omega) costs
    20 - C with C = 10 (1 - log 6), the line meeting the log at d = 10.
    Summed over keypoints and coordinates, averaged over the batch."""
    out = torch.zeros(1, 2, 2, dtype=torch.float64)
    target = torch.tensor([[[1., 0.], [20., 0.]]], dtype=torch.float64)
    log_part, line_part = 10 * math.log(1.5), 20 - 10 * (1 - math.log(6))
    assert WingLoss()(out, target).item() == pytest.approx(
        log_part + line_part, rel=1e-12)
    # weights (N, K, 1) zero keypoint 1; a batch of two halves nothing
    w = torch.tensor([[[1.], [0.]]], dtype=torch.float64)
    assert WingLoss(use_target_weight=True, loss_weight=3.)(
        out, target, w).item() == pytest.approx(3 * log_part, rel=1e-12)
    two = WingLoss()(torch.cat([out, out]), torch.cat([target, 0 * target]))
    assert two.item() == pytest.approx((log_part + line_part) / 2, rel=1e-12)
    with pytest.raises(ValueError, match='target weights'):
        WingLoss(use_target_weight=True)(out, target)


def test_soft_wing_loss_both_pieces():
    """omega1 2, omega2 20, epsilon 0.5: d = 1 (< omega1) costs 1; d = 3
    costs 20 log(1 + 3 / 0.5) + B, B = 2 - 20 log(1 + 2 / 0.5)."""
    out = torch.zeros(1, 1, 2, dtype=torch.float64)
    target = torch.tensor([[[1., -3.]]], dtype=torch.float64)
    expected = 1 + 20 * math.log(7) + 2 - 20 * math.log(5)
    assert SoftWingLoss()(out, target).item() == pytest.approx(expected,
                                                               rel=1e-12)
    # continuity at omega1: d = 2 costs 2 on both pieces
    at_join = SoftWingLoss()(out, torch.tensor([[[2., 0.]]],
                                               dtype=torch.float64))
    assert at_join.item() == pytest.approx(2., rel=1e-12)
    w = torch.zeros(1, 1, 1, dtype=torch.float64)
    assert SoftWingLoss(use_target_weight=True)(out, target, w).item() == 0


def test_adaptive_wing_loss_both_pieces():
    """Adaptive Wing with its defaults (alpha 2.1, omega 14, epsilon 1,
    theta 0.5), target 0 so the power is p = 2.1: d = 0.25 (< theta)
    costs 14 log(1 + 0.25^p); d = 1 costs A - C, where
    A = 14 p 0.5^(p-1) / (1 + 0.5^p) and C = 0.5 A - 14 log(1 + 0.5^p)
    (the line tangent to the log piece at theta). Mean over elements."""
    p = 2.1
    A = 14 * p * 0.5 ** (p - 1) / (1 + 0.5 ** p)
    C = 0.5 * A - 14 * math.log(1 + 0.5 ** p)
    out = torch.tensor([[[[0.25, 1.0]]]], dtype=torch.float64)
    target = torch.zeros_like(out)
    expected = (14 * math.log(1 + 0.25 ** p) + (A - C)) / 2
    assert AdaptiveWingLoss()(out, target).item() == pytest.approx(expected,
                                                                   rel=1e-12)
    # the target enters the power: target 1, output 1 costs 0
    one = torch.ones(1, 1, 1, 2, dtype=torch.float64)
    assert AdaptiveWingLoss()(one, one).item() == 0
    w = torch.tensor([[0.]], dtype=torch.float64)
    assert AdaptiveWingLoss(use_target_weight=True)(out, target, w).item() == 0
    assert AdaptiveWingLoss(loss_weight=2.)(out, target).item() == \
        pytest.approx(2 * expected, rel=1e-12)
    with pytest.raises(ValueError, match='target_weights'):
        AdaptiveWingLoss(use_target_weight=True)(out, target)


def test_combined_loss_calls_each_named_loss():
    combined = CombinedLoss(losses=dict(
        mse=dict(type='MSELoss'), l1=L1Loss(loss_weight=2.)))
    assert list(combined) == ['mse', 'l1']
    out = torch.zeros(1, 1, 2)
    target = torch.tensor([[[1., 3.]]])
    assert combined.mse(out, target).item() == pytest.approx((1 + 9) / 2)
    assert combined['l1'](out, target).item() == pytest.approx(2 * (1 + 3) / 2)


# every registered loss -> a test above (or in test_distiller.py) that
# asserts its values by hand
VALUE_TESTS = {
    'AdaptiveWingLoss': test_adaptive_wing_loss_both_pieces,
    'AssociativeEmbeddingLoss': 'test_bottomup_losses.py',
    'BCELoss': test_bce_loss,
    'BoneLoss': 'test_pose3d_losses.py',
    'CombinedLoss': test_combined_loss_calls_each_named_loss,
    'CombinedTargetMSELoss': test_combined_target_mse_loss,
    'FeaLoss': 'test_distiller.py',
    'FocalHeatmapLoss': 'test_bottomup_losses.py',
    'InfoNCELoss': 'test_cid_head.py',
    'IoULoss': 'test_onestage_losses.py',
    'JSDiscretLoss': test_js_discret_loss,
    'KDLoss': 'test_distiller.py',
    'KLDiscretLoss': test_kl_discret_loss_tiny_case,
    'KeypointMSELoss': test_keypoint_mse_loss_with_target_weights,
    'KeypointOHKMMSELoss': test_ohkm_keeps_the_hardest_keypoints,
    'L1Loss': test_coordinate_losses_with_weights,
    'MLECCLoss': 'test_onestage_losses.py',
    'MPJPELoss': 'test_pose3d_losses.py',
    'MPJPEVelocityJointLoss': 'test_pose3d_losses.py',
    'MSELoss': test_coordinate_losses_with_weights,
    'MultipleLossWrapper': test_multiple_loss_wrapper_builds_from_configs_and_modules,
    'OKSLoss': 'test_onestage_losses.py',
    'RLELoss': test_rle_loss_with_an_identity_flow,
    'SemiSupervisionLoss': 'test_pose3d_losses.py',
    'SmoothL1Loss': test_coordinate_losses_with_weights,
    'SoftWeightSmoothL1Loss': test_soft_weight_smooth_l1_loss,
    'SoftWingLoss': test_soft_wing_loss_both_pieces,
    'VariFocalLoss': 'test_onestage_losses.py',
    'WingLoss': test_wing_loss_both_pieces,
}


def test_every_registered_loss_has_a_value_test():
    registered = {n for n in MODELS.keys()
                  if MODELS.get(n).__module__.startswith('posekit.models.losses')}
    assert registered == set(VALUE_TESTS), sorted(registered ^ set(VALUE_TESTS))
    for name, test in VALUE_TESTS.items():
        if isinstance(test, str):       # another file: it must name the loss
            path = Path(__file__).with_name(test)
            assert re.search(rf'\b{name}\(', path.read_text()), (name, test)
        else:
            assert name in inspect.getsource(test), (name, test.__name__)


LOSS_NAMES = [n for n in losses_pkg.__all__ if n != 'RealNVP']


@pytest.mark.parametrize('name', LOSS_NAMES)
def test_every_loss_is_registered_and_builds(name):
    """Built by name (and with MMPose's scope prefix) to the same class,
    with the config's loss_weight where it takes one."""
    cfg = dict(type=name)
    if name == 'MultipleLossWrapper':
        cfg['losses'] = [dict(type='MSELoss')]
    if name == 'CombinedLoss':
        cfg['losses'] = dict(mse=dict(type='MSELoss'))
    if name in ('BoneLoss', 'SemiSupervisionLoss'):
        cfg['joint_parents'] = [0, 0, 1]
    if name in ('FeaLoss', 'KDLoss'):
        cfg.update(name='loss_x', use_this=True)
    loss = MODELS.build(cfg)
    assert type(loss) is getattr(losses_pkg, name)
    scoped = MODELS.build(dict(cfg, type=f'mmpose.{name}'))
    assert type(scoped) is type(loss)
    if 'loss_weight' in inspect.signature(type(loss)).parameters:
        assert MODELS.build(dict(cfg, loss_weight=0.25)).loss_weight == 0.25


def test_keypoint_mse_gradient_is_2_error_over_n():
    """d/do mean((o - t)^2) = 2 (o - t) / n, n = 4 elements."""
    out = torch.tensor([[[[0., 1.]], [[3., -1.]]]], requires_grad=True)
    target = torch.tensor([[[[1., 1.]], [[2., 0.]]]])
    KeypointMSELoss()(out, target, torch.ones(1, 2)).backward()
    expected = 2 * (out.detach() - target) / 4
    torch.testing.assert_close(out.grad, expected, rtol=0, atol=1e-7)


def test_rle_gradients_with_an_identity_flow():
    """Zeroed flow: -log p(e) = |e|^2 / 2 + log 2 pi, subtracted once per
    coordinate (as MMPose broadcasts it), plus the Laplace residual
    log 2s + |e_c|. With s = sigmoid(0) = 0.5 and pred - target = 0.25,
    e = 0.5 and d loss / d pred_c = (2 e + sign e) / s / N = 4 / N."""
    loss = RLELoss()
    for p in loss.flow_model.parameters():
        torch.nn.init.zeros_(p)
    N, K = 2, 3
    target = torch.rand(N, K, 2, generator=torch.Generator().manual_seed(0))
    pred = (target + 0.25).requires_grad_()
    sigma = torch.zeros(N, K, 2, requires_grad=True)
    loss(pred, sigma, target).backward()
    torch.testing.assert_close(pred.grad, torch.full((N, K, 2), 4. / N),
                               rtol=1e-5, atol=0)
    # per keypoint, with r = pred - target and e_c = r / s_c, the loss is
    # sum_c [log s_c + log 2 s_c + |e_c|] + e_1^2 + e_2^2 + const, so
    # d/ds_c = 2 / s - r / s^2 - 2 r^2 / s^3 = 4 - 1 - 1 = 2, and through
    # s = sigmoid(sigma), ds/dsigma = s (1 - s) = 1/4: 0.5 / N.
    torch.testing.assert_close(sigma.grad, torch.full((N, K, 2), 0.5 / N),
                               rtol=1e-5, atol=0)


def test_kl_discret_gradient_matches_finite_differences():
    """In float64, autograd's gradient agrees with central differences
    (torch.autograd.gradcheck, its default 1e-5/1e-3 tolerances)."""
    gen = torch.Generator().manual_seed(0)
    logits = torch.rand(2, 3, 8, generator=gen, dtype=torch.float64,
                        requires_grad=True)
    labels = F.softmax(torch.rand(2, 3, 8, generator=gen,
                                  dtype=torch.float64), -1)
    weights = torch.rand(2, 3, generator=gen, dtype=torch.float64)
    loss = KLDiscretLoss(use_target_weight=True, beta=2.)
    assert torch.autograd.gradcheck(
        lambda x: loss((x, x), (labels, labels), weights), (logits, ))
