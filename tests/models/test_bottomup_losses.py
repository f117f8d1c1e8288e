"""Losses of the bottom-up heads: hand-derived cases, and values measured
on MMPose 1.3.2 for the same seeded inputs (float32; they agreed to the
last printed digit, so 1e-6 relative is left for CPU summation order)."""
import math

import pytest
import torch

from posekit.models.losses import (AssociativeEmbeddingLoss,
                                   FocalHeatmapLoss, KeypointMSELoss,
                                   SoftWeightSmoothL1Loss)
from posekit.registry import MODELS

REL = 1e-6


def _ae_inputs():
    """Tags (3, 2*3, 4, 5): L = 2, K = 3; image 0 has 4 instances (one with
    no visible keypoint, its indices out of range), image 1 one, image 2
    none."""
    g = torch.Generator().manual_seed(0)
    tags = torch.randn(3, 6, 4, 5, generator=g)
    idx0 = torch.tensor([[[3, 1], [7, 1], [19, 0]],
                         [[0, 1], [12, 1], [5, 1]],
                         [[999, 0], [999, 0], [999, 0]],
                         [[8, 0], [15, 1], [2, 1]]])
    idx1 = torch.tensor([[[4, 1], [9, 1], [11, 0]]])
    idx2 = torch.zeros(0, 3, 2, dtype=torch.long)
    return tags, [idx0, idx1, idx2]


def test_associative_embedding_loss_by_hand():
    """L = 1, K = 2 on a 1x4 map of tags [1, 3, 5, 0]. Instance A at
    pixels 0 and 1 (mean 2, squared deviations 1 and 1: pull 1); instance
    B at pixel 2 only (mean 5, pull 0); instance C has nothing visible and
    is left out, so N = 2. pull = 1 / (2 + 1e-6); push sums exp(-d^2)
    over the 4 ordered pairs (d = 0, 0, 3, -3) over N (N - 1) + 1e-6,
    times 0.5."""
    tags = torch.tensor([1., 3., 5., 0.]).reshape(1, 1, 1, 4).repeat(
        1, 2, 1, 1)
    idx = torch.tensor([[[0, 1], [1, 1]], [[2, 1], [3, 0]], [[7, 0], [9, 0]]])
    pull, push = AssociativeEmbeddingLoss()(tags, [idx])
    assert pull.item() == pytest.approx(1 / (2 + 1e-6), rel=REL)
    expected_push = 0.5 * (2 + 2 * math.exp(-9)) / (2 + 1e-6)
    assert push.item() == pytest.approx(expected_push, rel=REL)
    # one instance: push 0; no instance: both 0, still differentiable
    tags.requires_grad_()
    pull, push = AssociativeEmbeddingLoss()(tags, [idx[1:2]])
    assert pull.item() == 0 and push.item() == 0
    pull, push = AssociativeEmbeddingLoss()(tags, [idx[2:]])
    (pull + push).backward()
    assert tags.grad.abs().sum() == 0


def test_associative_embedding_loss_matches_mmpose():
    tags, idx = _ae_inputs()
    pull, push = AssociativeEmbeddingLoss(loss_weight=0.001)(tags, idx)
    assert pull.item() == pytest.approx(0.0007361457101069391, rel=REL)
    assert push.item() == pytest.approx(0.0012737842043861747, rel=REL)
    g = torch.Generator().manual_seed(1)
    tags = torch.randn(2, 4, 3, 3, generator=g)   # L = 1, K = 4
    idx = [torch.tensor([[[0, 1], [4, 1], [8, 1], [2, 1]],
                         [[1, 1], [3, 0], [5, 1], [7, 1]]]),
           torch.tensor([[[6, 1], [6, 1], [0, 0], [1, 1]],
                         [[2, 1], [3, 1], [4, 1], [5, 1]],
                         [[8, 1], [7, 1], [0, 1], [1, 0]]])]
    pull, push = AssociativeEmbeddingLoss(push_loss_factor=0.25)(tags, idx)
    assert pull.item() == pytest.approx(1.7964750528335571, rel=REL)
    assert push.item() == pytest.approx(0.5603850483894348, rel=REL)
    with pytest.raises(ValueError, match='keypoint_indices'):
        AssociativeEmbeddingLoss()(tags, idx[:1])


def _focal_inputs():
    g = torch.Generator().manual_seed(2)
    out = torch.rand(2, 3, 4, 5, generator=g) * 0.98 + 0.01
    target = torch.rand(2, 3, 4, 5, generator=g)
    target[0, 0, 1, 2] = 1
    target[0, 2, 3, 3] = 1
    target[1, 1, 0, 0] = 1
    target[1, 2] = 0
    w = torch.tensor([[1., 0.5, 1.], [0., 1., 1.]])
    mask = (torch.rand(2, 1, 4, 5, generator=g) > 0.3).float()
    return out, target, w, mask


def test_focal_heatmap_loss_by_hand():
    """Two pixels: a positive (t = 1) predicted 0.5 costs
    log(0.5) * 0.5^2; a negative t = 0.5 predicted 0.5 costs
    log(0.5) * 0.5^2 * 0.5^4. One positive: the loss is minus their sum.
    With no positive, minus the negative sum alone."""
    out = torch.full((1, 1, 1, 2), 0.5, dtype=torch.float64)
    target = torch.tensor([[[[1., 0.5]]]], dtype=torch.float64)
    pos, neg = math.log(0.5) * 0.25, math.log(0.5) * 0.25 * 0.0625
    assert FocalHeatmapLoss()(out, target).item() == pytest.approx(
        -(pos + neg), rel=1e-12)
    no_pos = torch.tensor([[[[0.5, 0.5]]]], dtype=torch.float64)
    assert FocalHeatmapLoss()(out, no_pos).item() == pytest.approx(
        -2 * neg, rel=1e-12)


def test_focal_heatmap_loss_matches_mmpose():
    out, target, w, mask = _focal_inputs()
    assert FocalHeatmapLoss()(out, target).item() == pytest.approx(
        8.26913070678711, rel=REL)
    loss = FocalHeatmapLoss(alpha=3, beta=2, use_target_weight=True,
                            skip_empty_channel=True, loss_weight=0.5)
    assert loss(out, target, w, mask).item() == pytest.approx(
        0.844434916973114, rel=REL)
    target[target == 1] = 0.9
    assert FocalHeatmapLoss()(out, target, w).item() == pytest.approx(
        17.96808624267578, rel=REL)


def test_soft_weight_smooth_l1_loss_matches_mmpose():
    """DEKR's displacement loss (beta 1/9, supervise_empty False)."""
    g = torch.Generator().manual_seed(3)
    out = torch.randn(2, 6, 4, 5, generator=g) * 0.3
    target = torch.randn(2, 6, 4, 5, generator=g) * 0.3
    w = ((torch.rand(2, 6, 4, 5, generator=g) > 0.6).float()
         * torch.rand(2, 6, 4, 5, generator=g))
    loss = SoftWeightSmoothL1Loss(use_target_weight=True,
                                  supervise_empty=False, beta=1 / 9,
                                  loss_weight=0.002)
    assert loss(out, target, w).item() == pytest.approx(
        0.00027603842318058014, rel=REL)
    loss = SoftWeightSmoothL1Loss(use_target_weight=True, beta=1 / 9)
    assert loss(out, target, w).item() == pytest.approx(
        0.05348243936896324, rel=REL)
    assert SoftWeightSmoothL1Loss(beta=0.5)(out, target).item() == \
        pytest.approx(0.1409134417772293, rel=REL)


def test_masked_keypoint_mse_loss_matches_mmpose():
    """The ``mask`` argument the bottom-up heads pass (heatmap_mask)."""
    g = torch.Generator().manual_seed(4)
    out = torch.randn(2, 3, 4, 5, generator=g)
    target = torch.rand(2, 3, 4, 5, generator=g)
    target[1, 0] = 0
    w = torch.tensor([[1., 0.5, 0.], [1., 1., 2.]])
    mask = (torch.rand(2, 1, 4, 5, generator=g) > 0.3).float()
    assert KeypointMSELoss(use_target_weight=True)(
        out, target, w, mask).item() == pytest.approx(1.1434417963027954,
                                                      rel=REL)
    assert KeypointMSELoss(skip_empty_channel=True, loss_weight=2.)(
        out, target, None, mask).item() == pytest.approx(2.3252196311950684,
                                                         rel=REL)


def test_bottomup_losses_build_from_mmpose_configs():
    ae = MODELS.build(dict(type='AssociativeEmbeddingLoss', loss_weight=0.001))
    assert (ae.loss_weight, ae.push_loss_factor) == (0.001, 0.5)
    focal = MODELS.build(dict(type='mmpose.FocalHeatmapLoss'))
    assert (focal.alpha, focal.beta, focal.loss_weight) == (2, 4, 1.0)
