"""Losses of the pose lifters (VideoPose3D, Pavllo et al., CVPR 2019).

Coordinates are (N, K, D) tensors, D = 3 for poses (metres or millimetres,
root-relative as the lifting codecs make them) and D = 2 for the projected
poses of the semi-supervised loss (normalised image coordinates). Target
weights broadcast against (N, K, D): (N, K, 1) from the heads.
"""
from typing import Mapping, Optional, Sequence

import torch
from torch import Tensor, nn

from posekit.registry import MODELS


def _need_weight(weight: Optional[Tensor], name: str) -> Tensor:
    if weight is None:
        raise ValueError(f'{name}(use_target_weight=True) needs target '
                         'weights')
    return weight


def mean_joint_distance(output: Tensor, target: Tensor,
                        weight: Optional[Tensor] = None) -> Tensor:
    """Mean over all joints of ``|(output - target) * weight|_2`` (norm over
    the last axis); the weight scales the difference vector, so a weight
    of 0 drops a joint from the sum but not from the count (MMPose's)."""
    diff = output - target
    if weight is not None:
        diff = diff * weight
    return torch.linalg.vector_norm(diff, dim=-1).mean()


@MODELS.register_module()
class MPJPELoss(nn.Module):
    """Mean per-joint position error: ``mean |output - target|_2``.

    Args:
        use_target_weight (bool): Multiply the difference by the target
            weights (N, K, 1) or (N, K, D) first.
        loss_weight (float): Factor of the loss.
    """

    def __init__(self, use_target_weight: bool = False,
                 loss_weight: float = 1.):
        super().__init__()
        self.use_target_weight = use_target_weight
        self.loss_weight = loss_weight

    def forward(self, output: Tensor, target: Tensor,
                target_weight: Optional[Tensor] = None) -> Tensor:
        """(N, K, D) output and target -> scalar loss."""
        weight = (_need_weight(target_weight, 'MPJPELoss')
                  if self.use_target_weight else None)
        return mean_joint_distance(output, target, weight) * self.loss_weight


@MODELS.register_module()
class MPJPEVelocityJointLoss(nn.Module):
    """MPJPE + ``lambda_scale`` N-MPJPE + ``lambda_3d_velocity`` velocity
    error (MotionBERT's training loss).

    N-MPJPE scales the whole output by ``s = mean_k <target, output> /
    mean_k |output|^2`` (per sample and frame: the mean runs over joints,
    axis -2) before the error. The velocity error compares differences of
    consecutive frames along axis -3, so inputs are (N, T, K, D).

    Args:
        use_target_weight (bool): Multiply each difference by the target
            weights first (they must broadcast to the velocities too).
        loss_weight (float): Factor of the total.
        lambda_scale (float): Factor of the N-MPJPE term.
        lambda_3d_velocity (float): Factor of the velocity term.
    """

    def __init__(self, use_target_weight: bool = False,
                 loss_weight: float = 1., lambda_scale: float = 0.5,
                 lambda_3d_velocity: float = 20.0):
        super().__init__()
        self.use_target_weight = use_target_weight
        self.loss_weight = loss_weight
        self.lambda_scale = lambda_scale
        self.lambda_3d_velocity = lambda_3d_velocity

    def forward(self, output: Tensor, target: Tensor,
                target_weight: Optional[Tensor] = None) -> Tensor:
        """(N, T, K, D) output and target -> scalar loss."""
        weight = (_need_weight(target_weight, 'MPJPEVelocityJointLoss')
                  if self.use_target_weight else None)
        out_sq = (output * output).sum(-1, keepdim=True).mean(-2, keepdim=True)
        cross = (target * output).sum(-1, keepdim=True).mean(-2, keepdim=True)
        mpjpe = mean_joint_distance(output, target, weight)
        nmpjpe = mean_joint_distance(cross / out_sq * output, target, weight)
        velocity = mean_joint_distance(output[..., 1:, :, :] - output[..., :-1, :, :],
                                       target[..., 1:, :, :] - target[..., :-1, :, :],
                                       weight)
        loss = (mpjpe + nmpjpe * self.lambda_scale
                + velocity * self.lambda_3d_velocity)
        return loss * self.loss_weight


def non_root_joints(joint_parents: Sequence[int]) -> list:
    """Indices of the joints that are not their own parent (the bones)."""
    return [i for i, parent in enumerate(joint_parents) if i != parent]


@MODELS.register_module()
class BoneLoss(nn.Module):
    """Difference of the batch-mean bone lengths:
    ``mean_bones |mean_N |out_j - out_parent(j)| - mean_N |tgt_j - tgt_parent(j)||``.

    Args:
        joint_parents (list[int]): Parent of each joint; a joint that is its
            own parent (the root) has no bone.
        use_target_weight (bool): Weight each bone length by the target
            weights (N, K), indexed by joint, before the batch means.
        loss_weight (float): Factor of the loss.
        loss_name (str): Name of the loss item (``loss_name`` property).
    """

    def __init__(self, joint_parents: Sequence[int],
                 use_target_weight: bool = False, loss_weight: float = 1.,
                 loss_name: str = 'loss_bone'):
        super().__init__()
        self.joint_parents = list(joint_parents)
        self.use_target_weight = use_target_weight
        self.loss_weight = loss_weight
        self.non_root_indices = non_root_joints(self.joint_parents)
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        """str: The name of this loss item."""
        return self._loss_name

    def _bones(self, pose: Tensor) -> Tensor:
        """(N, K, D) -> (N, B) lengths of the non-root joints' bones."""
        lengths = torch.linalg.vector_norm(
            pose - pose[:, self.joint_parents, :], dim=-1)
        return lengths[:, self.non_root_indices]

    def forward(self, output: Tensor, target: Tensor,
                target_weight: Optional[Tensor] = None) -> Tensor:
        """(N, K, D) output and target, optional (N, K) weights -> scalar."""
        out_bones, tgt_bones = self._bones(output), self._bones(target)
        if self.use_target_weight:
            weight = _need_weight(target_weight, 'BoneLoss')
            weight = weight[:, self.non_root_indices]
            out_bones, tgt_bones = out_bones * weight, tgt_bones * weight
        loss = (out_bones.mean(0) - tgt_bones.mean(0)).abs().mean()
        return loss * self.loss_weight


def project_joints(x: Tensor, intrinsics: Tensor) -> Tensor:
    """Pinhole projection of camera-space joints, with optional distortion.

    Args:
        x (Tensor): (N, K, 3) joints in camera coordinates (z forward).
        intrinsics (Tensor): (N, 4) ``f (2), c (2)`` or (N, 9) ``f, c, k (3)
            radial, p (2) tangential``, in the normalised image units of the
            2D targets.

    Returns:
        Tensor: (N, K, 2) projected points ``f * distort(clamp(x/z, -1, 1)) +
        c``, with ``distort(u) = u (1 + k.(r2, r2^2, r2^3) + p.u) + p r2``.
    """
    intrinsics = intrinsics.reshape(intrinsics.shape[0], 1, -1)  # over joints
    f, c = intrinsics[..., :2], intrinsics[..., 2:4]
    # the clamp keeps points behind or near the image plane finite
    u = torch.clamp(x[:, :, :2] / x[:, :, 2:], -1, 1)
    if intrinsics.shape[-1] == 9:
        k, p = intrinsics[..., 4:7], intrinsics[..., 7:9]
        r2 = (u[:, :, :2] ** 2).sum(-1, keepdim=True)
        radial = 1 + (k * torch.cat((r2, r2 ** 2, r2 ** 3), dim=-1)).sum(
            -1, keepdim=True)
        tangential = (p * u).sum(-1, keepdim=True)
        u = u * (radial + tangential) + p * r2
    elif intrinsics.shape[-1] != 4:
        raise ValueError('intrinsics must have 4 (f, c) or 9 (f, c, k, p) '
                         f'values per sample, got {intrinsics.shape[-1]}')
    return f * u + c


@MODELS.register_module()
class SemiSupervisionLoss(nn.Module):
    """VideoPose3D's loss on unlabelled clips: 2D reprojection MPJPE of the
    predicted pose + trajectory, and the bone-length loss against the
    labelled poses of the batch.

    Args:
        joint_parents (list[int]): Parent of each joint (for the bones).
        projection_loss_weight (float): Factor of ``proj_loss``.
        bone_loss_weight (float): Factor of ``bone_loss``.
        warmup_iterations (int): Calls that return no loss (an empty dict)
            before the loss starts; counted by this module, so the number
            depends on batch size and number of processes.
    """

    def __init__(self, joint_parents: Sequence[int],
                 projection_loss_weight: float = 1.,
                 bone_loss_weight: float = 1., warmup_iterations: int = 0):
        super().__init__()
        self.criterion_projection = MPJPELoss(
            loss_weight=projection_loss_weight)
        self.criterion_bone = BoneLoss(joint_parents,
                                       loss_weight=bone_loss_weight)
        self.warmup_iterations = warmup_iterations
        self.num_iterations = 0

    project_joints = staticmethod(project_joints)

    def forward(self, output: Mapping, target: Mapping) -> dict:
        """Losses of one batch.

        Args:
            output (dict): ``labeled_pose`` (N, K, 3), ``unlabeled_pose``
                (M, K, 3) root-relative, ``unlabeled_traj`` (M, 1, 3).
            target (dict): ``unlabeled_target_2d`` (M, K, 2), ``intrinsics``
                (M, 4) or (M, 9).

        Returns:
            dict: ``proj_loss`` and ``bone_loss``; empty during warm-up.
        """
        self.num_iterations += 1
        if self.num_iterations <= self.warmup_iterations:
            return {}
        unlabeled = output['unlabeled_pose'] + output['unlabeled_traj']
        projected = project_joints(unlabeled, target['intrinsics'])
        return dict(
            proj_loss=self.criterion_projection(
                projected, target['unlabeled_target_2d'], None),
            bone_loss=self.criterion_bone(output['unlabeled_pose'],
                                          output['labeled_pose'], None))
