"""Losses: values computed by hand on tiny inputs."""
import math

import pytest
import torch
import torch.nn.functional as F

from posekit.models import losses as losses_pkg
from posekit.models.losses import (BCELoss, CombinedTargetMSELoss,
                                   JSDiscretLoss, KeypointMSELoss,
                                   KeypointOHKMMSELoss, KLDiscretLoss, L1Loss,
                                   MSELoss, MultipleLossWrapper, RLELoss,
                                   SmoothL1Loss, SoftWeightSmoothL1Loss)
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


LOSS_NAMES = [n for n in losses_pkg.__all__ if n != 'RealNVP']


@pytest.mark.parametrize('name', LOSS_NAMES)
def test_every_loss_is_registered_and_builds(name):
    cfg = dict(type=name)
    if name == 'MultipleLossWrapper':
        cfg['losses'] = [dict(type='MSELoss')]
    if name == 'CombinedLoss':
        cfg['losses'] = dict(mse=dict(type='MSELoss'))
    assert isinstance(MODELS.build(cfg), getattr(losses_pkg, name))
    assert isinstance(MODELS.build(dict(type=f'mmpose.{name}', **{
        k: v for k, v in cfg.items() if k != 'type'})), torch.nn.Module)


def test_losses_backpropagate():
    out = torch.rand(2, 3, 4, 4, requires_grad=True)
    KeypointMSELoss()(out, torch.rand(2, 3, 4, 4), torch.ones(2, 3)).backward()
    assert out.grad is not None and torch.isfinite(out.grad).all()
    pred = torch.zeros(2, 3, 2, requires_grad=True)
    sigma = torch.zeros(2, 3, 2, requires_grad=True)
    RLELoss()(pred, sigma, torch.rand(2, 3, 2)).backward()
    assert torch.isfinite(pred.grad).all() and torch.isfinite(sigma.grad).all()
    logits = torch.zeros(2, 3, 8, requires_grad=True)
    KLDiscretLoss()((logits, logits), (F.softmax(torch.rand(2, 3, 8), -1), ) * 2,
                    torch.ones(2, 3)).backward()
    assert torch.isfinite(logits.grad).all()
