"""Pose-lifting losses: hand-derived values on tiny inputs, and MMPose
1.3.2's values on seeded random inputs (REFERENCE: computed there from the
same generator draws; posekit matched them exactly on this CPU)."""
import pytest
import torch

from posekit.models.losses import (BoneLoss, MPJPELoss, MPJPEVelocityJointLoss,
                                   SemiSupervisionLoss)
from posekit.registry import MODELS

H36M_PARENTS = [0, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15]
# MMPose 1.3.2 on the draws of _random_inputs()
REFERENCE = dict(mpjpe=(2.1967837810516357, 2.1841022968292236),
                 velocity=(68.06073760986328, 7.028750419616699),
                 bone=(0.3592192232608795, 0.5714269876480103),
                 proj4=0.6716967821121216, proj9=0.6741689443588257,
                 semi_bone=2.1599485874176025)


def test_mpjpe_loss_by_hand():
    out = torch.zeros(1, 2, 3)
    target = torch.tensor([[[3., 4., 0.], [0., 0., 1.]]])
    # distances 5 and 1
    assert MPJPELoss()(out, target).item() == pytest.approx(3.)
    weight = torch.tensor([[[0.5], [0.]]])   # the weight scales the vector
    assert MPJPELoss(use_target_weight=True, loss_weight=2.)(
        out, target, weight).item() == pytest.approx(2 * (2.5 + 0) / 2)
    with pytest.raises(ValueError, match='target weights'):
        MPJPELoss(use_target_weight=True)(out, target)


def test_mpjpe_velocity_joint_loss_by_hand():
    """One sample, 2 frames, 1 joint: output (1,0,0),(2,0,0); target
    (2,0,0),(2,0,0). MPJPE (1 + 0) / 2; N-MPJPE scales each frame by
    <t,o>/|o|^2 (2 and 1) so both frames hit the target: 0; velocity
    |(1,0,0) - 0| = 1 over one frame pair."""
    out = torch.tensor([[[[1., 0., 0.]], [[2., 0., 0.]]]])
    target = torch.full((1, 2, 1, 3), 0.)
    target[..., 0] = 2.
    loss = MPJPEVelocityJointLoss(lambda_scale=0.5, lambda_3d_velocity=20.)
    assert loss(out, target).item() == pytest.approx(0.5 + 0.5 * 0 + 20 * 1)
    weighted = MPJPEVelocityJointLoss(use_target_weight=True, loss_weight=0.1)
    w = torch.full((1, 1, 1, 1), 3.)
    assert weighted(out, target, w).item() == pytest.approx(0.1 * (1.5 + 20 * 3))


def test_bone_loss_by_hand():
    """Chain 0-1-2: output bones 1 and 2, target bones 2 and 2 (one
    sample): mean(|1 - 2|, |2 - 2|) = 0.5. The root has no bone."""
    out = torch.tensor([[[0., 0, 0], [1., 0, 0], [3., 0, 0]]])
    target = torch.tensor([[[0., 0, 0], [0., 2, 0], [0., 4, 0]]])
    loss = BoneLoss([0, 0, 1])
    assert loss.non_root_indices == [1, 2] and loss.loss_name == 'loss_bone'
    assert loss(out, target).item() == pytest.approx(0.5)
    weighted = BoneLoss([0, 0, 1], use_target_weight=True, loss_weight=2.)
    w = torch.tensor([[9., 1., 0.]])     # indexed by joint: root's unused
    assert weighted(out, target, w).item() == pytest.approx(2 * (1 + 0) / 2)


def test_semi_supervision_loss_by_hand_and_warmup():
    """A pose at depth 2 with f = 1, c = 0 projects to x / 2; bone loss
    compares with the labelled pose. No loss during warm-up."""
    loss = SemiSupervisionLoss([0, 0], projection_loss_weight=2.,
                               bone_loss_weight=3., warmup_iterations=1)
    pose = torch.tensor([[[0., 0, 0], [1., 0, 0]]])
    traj = torch.tensor([[[0., 0, 2]]])
    output = dict(labeled_pose=torch.tensor([[[0., 0, 0], [0., 3, 0]]]),
                  unlabeled_pose=pose, unlabeled_traj=traj)
    target = dict(unlabeled_target_2d=torch.tensor([[[0., 0], [0.5, 1.]]]),
                  intrinsics=torch.tensor([[1., 1., 0., 0.]]))
    assert loss(output, target) == {}
    losses = loss(output, target)
    # projections (0, 0) and (0.5, 0): distances 0 and 1, mean 0.5
    assert losses['proj_loss'].item() == pytest.approx(2 * 0.5)
    assert losses['bone_loss'].item() == pytest.approx(3 * abs(1 - 3))


def test_project_joints_distortion_by_hand():
    """u = (0.5, 0) (clamped to [-1, 1]); r2 = 0.25; k = (1, 0, 0):
    radial 1.25; p = (0.2, 0): tangential 0.1, plus p r2 = (0.05, 0).
    x = f (0.5 * 1.35 + 0.05) + c = 2 * 0.725 + 1."""
    x = torch.tensor([[[1., 0., 2.], [8., 0., 2.]]])
    intr = torch.tensor([[2., 2., 1., 1., 1., 0., 0., 0.2, 0.]])
    proj = SemiSupervisionLoss.project_joints(x, intr)
    assert proj[0, 0].tolist() == pytest.approx([2 * 0.725 + 1, 1.])
    # u = clamp(4) = 1: r2 = 1, radial 2, tangential 0.2, + p = (0.2, 0)
    assert proj[0, 1].tolist() == pytest.approx([2 * (2.2 + 0.2) + 1, 1.])
    with pytest.raises(ValueError, match='intrinsics'):
        SemiSupervisionLoss.project_joints(x, intr[:, :5])


def _random_inputs():
    g = torch.Generator().manual_seed(1)
    o, t = torch.randn(4, 17, 3, generator=g), torch.randn(4, 17, 3, generator=g)
    w = torch.rand(4, 17, 1, generator=g)
    o4, t4 = (torch.randn(2, 5, 17, 3, generator=g),
              torch.randn(2, 5, 17, 3, generator=g))
    w4 = torch.rand(2, 1, 17, 1, generator=g)
    wb = torch.rand(4, 17, generator=g)
    lab = torch.randn(4, 17, 3, generator=g)
    up = torch.randn(3, 17, 3, generator=g) * 0.3
    tr = torch.randn(3, 1, 3, generator=g) * 0.2 + torch.tensor([0, 0, 4.])
    t2 = torch.rand(3, 17, 2, generator=g)
    i4 = torch.rand(3, 4, generator=g) + 0.5
    i9 = torch.cat([i4, torch.randn(3, 5, generator=g) * 0.1], 1)
    return o, t, w, o4, t4, w4, wb, lab, up, tr, t2, i4, i9


def test_losses_equal_mmpose_on_random_inputs():
    o, t, w, o4, t4, w4, wb, lab, up, tr, t2, i4, i9 = _random_inputs()
    ref = REFERENCE
    # float32 means of ~100 terms: a few ulps apart across CPUs
    close = dict(rel=1e-5)
    assert MPJPELoss()(o, t).item() == pytest.approx(ref['mpjpe'][0], **close)
    assert MPJPELoss(True, 2.)(o, t, w).item() == pytest.approx(ref['mpjpe'][1], **close)
    vel = MPJPEVelocityJointLoss(True, 0.5, 0.3, 7.)(o4, t4, w4)
    assert MPJPEVelocityJointLoss()(o4, t4).item() == pytest.approx(
        ref['velocity'][0], **close)
    assert vel.item() == pytest.approx(ref['velocity'][1], **close)
    assert BoneLoss(H36M_PARENTS)(o, t).item() == pytest.approx(ref['bone'][0], **close)
    assert BoneLoss(H36M_PARENTS, True, 3.)(o, t, wb).item() == pytest.approx(
        ref['bone'][1], **close)
    semi = SemiSupervisionLoss(H36M_PARENTS, 0.7, 1.3)
    output = dict(labeled_pose=lab, unlabeled_pose=up, unlabeled_traj=tr)
    for intr, proj in ((i4, ref['proj4']), (i9, ref['proj9'])):
        losses = semi(output, dict(unlabeled_target_2d=t2, intrinsics=intr))
        assert losses['proj_loss'].item() == pytest.approx(proj, **close)
        assert losses['bone_loss'].item() == pytest.approx(ref['semi_bone'], **close)


@pytest.mark.parametrize('cfg', [
    dict(type='MPJPELoss', use_target_weight=True),
    dict(type='mmpose.MPJPEVelocityJointLoss', lambda_scale=0.5),
    dict(type='BoneLoss', joint_parents=[0, 0]),
    dict(type='SemiSupervisionLoss', joint_parents=[0, 0], warmup_iterations=5),
])
def test_build_from_config(cfg):
    loss = MODELS.build(dict(cfg))
    assert type(loss).__name__ == cfg['type'].split('.')[-1]
