"""Losses on coordinates (N, K, D), with keypoint weights (N, K) or
(N, K, 1)/(N, K, D)."""
import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from posekit.datasets.metainfo import parse_pose_metainfo
from posekit.registry import MODELS
from .realnvp import RealNVP
from .utils import (SCALE_MODES, check_choice, expand_weight, reduce_loss,
                    scale_by_mode)

_REDUCTIONS = ('mean', 'sum', 'none')


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f'reduction must be one of {_REDUCTIONS}, got '
                         f'{reduction!r}')


def _need_weight(weight: Optional[Tensor], name: str) -> Tensor:
    if weight is None:
        raise ValueError(f'{name}(use_target_weight=True) needs target '
                         'weights')
    return weight


@MODELS.register_module()
class RLELoss(nn.Module):
    """Residual log-likelihood estimation loss (Li et al., ICCV 2021).

    With ``s = sigmoid(sigma)`` and ``e = (pred - target) / (s + 1e-9)``,
    per keypoint: ``log s - log p_flow(e)`` plus, with ``residual``, the
    negative log density of a fixed Q (``log(2 s) + |e|`` for 'laplace',
    ``log(s sqrt(2 pi)) + e**2 / 2`` for 'gaussian'). Summed over
    everything, divided by N with ``size_average``.

    The flow (:class:`RealNVP`) is a submodule named ``flow_model``, so its
    weights sit in the head's state_dict under ``loss_module.flow_model``.

    Args:
        use_target_weight (bool): Multiply by the (N, K, 1) weights.
        size_average (bool): Divide by the batch size.
        residual (bool): Add the Q term.
        q_distribution (str): 'laplace' or 'gaussian'.
    """

    def __init__(self, use_target_weight: bool = False,
                 size_average: bool = True, residual: bool = True,
                 q_distribution: str = 'laplace'):
        super().__init__()
        if q_distribution not in ('laplace', 'gaussian'):
            raise ValueError("q_distribution must be 'laplace' or 'gaussian',"
                             f' got {q_distribution!r}')
        self.use_target_weight = use_target_weight
        self.size_average = size_average
        self.residual = residual
        self.q_distribution = q_distribution
        self.flow_model = RealNVP()

    def forward(self, pred: Tensor, sigma: Tensor, target: Tensor,
                target_weight: Optional[Tensor] = None) -> Tensor:
        """pred, sigma (raw, before sigmoid), target: (N, K, 2);
        target_weight (N, K, 1) or (N, K, 2)."""
        N, K = target.shape[:2]
        sigma = sigma.sigmoid()
        error = (pred - target) / (sigma + 1e-9)
        log_phi = self.flow_model.log_prob(error.reshape(-1, 2))
        loss = torch.log(sigma) - log_phi.reshape(N, K, 1)
        if self.residual:
            if self.q_distribution == 'laplace':
                loss = loss + torch.log(sigma * 2) + error.abs()
            else:
                loss = loss + (torch.log(sigma * math.sqrt(2 * math.pi))
                               + 0.5 * error**2)
        if self.use_target_weight:
            loss = loss * _need_weight(target_weight, 'RLELoss')
        if self.size_average:
            loss = loss / len(loss)
        return loss.sum()


@MODELS.register_module()
class SmoothL1Loss(nn.Module):
    """Smooth L1 (beta 1), mean over all elements.

    With ``use_target_weight`` output and target are multiplied by the
    weights (given trailing axes as needed) before the loss.
    """

    def __init__(self, use_target_weight: bool = False,
                 loss_weight: float = 1.):
        super().__init__()
        self.use_target_weight = use_target_weight
        self.loss_weight = loss_weight

    def forward(self, output: Tensor, target: Tensor,
                target_weight: Optional[Tensor] = None) -> Tensor:
        if self.use_target_weight:
            w = expand_weight(_need_weight(target_weight, 'SmoothL1Loss'),
                              output.ndim)
            loss = F.smooth_l1_loss(output * w, target * w)
        else:
            loss = F.smooth_l1_loss(output, target)
        return loss * self.loss_weight


@MODELS.register_module()
class SoftWeightSmoothL1Loss(nn.Module):
    """Smooth L1 with threshold ``beta``, weighted element-wise.

    Without weights: the mean. With ``use_target_weight``: the loss times
    the weights, then the mean (``supervise_empty``) or the sum divided by
    the number of positive weight entries (at least 1).

    Args:
        use_target_weight (bool): Weight the elements.
        supervise_empty (bool): Average over all elements, including those
            of weight 0.
        beta (float): Where L2 turns into L1.
        loss_weight (float): Factor on the loss.
    """

    def __init__(self, use_target_weight: bool = False,
                 supervise_empty: bool = True, beta: float = 1.0,
                 loss_weight: float = 1.):
        super().__init__()
        self.use_target_weight = use_target_weight
        self.supervise_empty = supervise_empty
        self.beta = beta
        self.loss_weight = loss_weight

    @staticmethod
    def smooth_l1_loss(input: Tensor, target: Tensor, reduction: str = 'none',
                       beta: float = 1.0) -> Tensor:
        """``d**2 / (2 beta)`` where ``|d| < beta``, else ``|d| - beta / 2``."""
        _check_reduction(reduction)
        d = (input - target).abs()
        loss = torch.where(d < beta, d.pow(2) / (2 * beta), d - beta / 2)
        if reduction == 'mean':
            return loss.mean()
        return loss.sum() if reduction == 'sum' else loss

    def forward(self, output: Tensor, target: Tensor,
                target_weight: Optional[Tensor] = None) -> Tensor:
        if not self.use_target_weight:
            loss = self.smooth_l1_loss(output, target, 'mean', self.beta)
            return loss * self.loss_weight
        w = expand_weight(_need_weight(target_weight, 'SoftWeightSmoothL1Loss'),
                          output.ndim)
        loss = self.smooth_l1_loss(output, target, 'none', self.beta) * w
        if self.supervise_empty:
            loss = loss.mean()
        else:
            loss = loss.sum() / max(int((w > 0).sum()), 1.0)
        return loss * self.loss_weight


@MODELS.register_module()
class L1Loss(nn.Module):
    """L1 loss with a reduction ('mean', 'sum', 'none'); weights multiply
    output and target first."""

    def __init__(self, reduction: str = 'mean',
                 use_target_weight: bool = False, loss_weight: float = 1.):
        super().__init__()
        _check_reduction(reduction)
        self.reduction = reduction
        self.use_target_weight = use_target_weight
        self.loss_weight = loss_weight

    def forward(self, output: Tensor, target: Tensor,
                target_weight: Optional[Tensor] = None) -> Tensor:
        if self.use_target_weight:
            w = expand_weight(_need_weight(target_weight, 'L1Loss'),
                              target.ndim)
            output, target = output * w, target * w
        loss = F.l1_loss(output, target, reduction=self.reduction)
        return loss * self.loss_weight


@MODELS.register_module()
class MSELoss(nn.Module):
    """Mean squared error of coordinates; weights multiply output and
    target first."""

    def __init__(self, use_target_weight: bool = False,
                 loss_weight: float = 1.):
        super().__init__()
        self.use_target_weight = use_target_weight
        self.loss_weight = loss_weight

    def forward(self, output: Tensor, target: Tensor,
                target_weight: Optional[Tensor] = None) -> Tensor:
        if self.use_target_weight:
            w = expand_weight(_need_weight(target_weight, 'MSELoss'),
                              output.ndim)
            output, target = output * w, target * w
        return F.mse_loss(output, target) * self.loss_weight


@MODELS.register_module()
class WingLoss(nn.Module):
    """Wing loss (Feng et al., CVPR 2018): ``omega * log(1 + d / epsilon)``
    for ``d < omega``, else ``d - C``; summed over keypoints and
    coordinates, averaged over the batch."""

    def __init__(self, omega: float = 10.0, epsilon: float = 2.0,
                 use_target_weight: bool = False, loss_weight: float = 1.):
        super().__init__()
        self.omega, self.epsilon = omega, epsilon
        self.use_target_weight = use_target_weight
        self.loss_weight = loss_weight
        # Joins the log and linear pieces continuously at d = omega.
        self.C = omega * (1.0 - math.log(1.0 + omega / epsilon))

    def criterion(self, pred: Tensor, target: Tensor) -> Tensor:
        d = (target - pred).abs()
        losses = torch.where(d < self.omega,
                             self.omega * torch.log(1.0 + d / self.epsilon),
                             d - self.C)
        return losses.sum(dim=[1, 2]).mean(dim=0)

    def forward(self, output: Tensor, target: Tensor,
                target_weight: Optional[Tensor] = None) -> Tensor:
        if self.use_target_weight:
            w = _need_weight(target_weight, 'WingLoss')
            output, target = output * w, target * w
        return self.criterion(output, target) * self.loss_weight


@MODELS.register_module()
class SoftWingLoss(nn.Module):
    """Soft Wing loss (Lin et al., TIP 2021): ``d`` for ``d < omega1``, else
    ``omega2 * log(1 + d / epsilon) + B``; summed over keypoints and
    coordinates, averaged over the batch."""

    def __init__(self, omega1: float = 2.0, omega2: float = 20.0,
                 epsilon: float = 0.5, use_target_weight: bool = False,
                 loss_weight: float = 1.):
        super().__init__()
        self.omega1, self.omega2, self.epsilon = omega1, omega2, epsilon
        self.use_target_weight = use_target_weight
        self.loss_weight = loss_weight
        # Joins the two pieces continuously at d = omega1.
        self.B = omega1 - omega2 * math.log(1.0 + omega1 / epsilon)

    def criterion(self, pred: Tensor, target: Tensor) -> Tensor:
        d = (target - pred).abs()
        losses = torch.where(
            d < self.omega1, d,
            self.omega2 * torch.log(1.0 + d / self.epsilon) + self.B)
        return losses.sum(dim=[1, 2]).mean(dim=0)

    def forward(self, output: Tensor, target: Tensor,
                target_weight: Optional[Tensor] = None) -> Tensor:
        if self.use_target_weight:
            w = _need_weight(target_weight, 'SoftWingLoss')
            output, target = output * w, target * w
        return self.criterion(output, target) * self.loss_weight


@MODELS.register_module()
class OKSLoss(nn.Module):
    """Object keypoint similarity loss (YOLO-Pose, Maji et al., 2022).

    Per keypoint, ``d = |output - target|`` (Euclidean, pixels), divided by
    ``sqrt(area)`` (floored at ``eps``) when ``areas`` are passed and by
    ``2 * sigma_k`` when the metainfo gives sigmas; ``oks_k = exp(-d**2 /
    2)``. With weights, ``oks_k`` is multiplied by ``w_k / K`` (or, with
    ``norm_target_weight``, by ``w_k / max(sum_k w_k, eps)``); then summed
    over keypoints (without weights the plain sum, which can exceed 1). The
    instance OKS becomes ``1 - oks`` ('linear'), ``1 - oks**2`` ('square')
    or ``-log oks`` ('log'), then the reduction and ``loss_weight``.

    The sigmas are a buffer named ``sigmas``, so they appear in the head's
    state_dict (``loss_oks.sigmas``) as in MMPose checkpoints.

    Args:
        metainfo (str, optional): Path of a dataset meta file (e.g.
            ``'configs/_base_/datasets/coco.py'``), read for its ``sigmas``.
            ``None``: distances are not divided by sigmas.
        reduction (str): 'mean', 'sum' or 'none' (per instance). Defaults
            to 'mean'.
        mode (str): 'linear', 'square' or 'log'. Defaults to 'linear'.
        eps (float): Floor of ``sqrt(area)`` and of the weight sums.
        norm_target_weight (bool): Normalise the weights by their sum over
            keypoints instead of by K. Defaults to False.
        loss_weight (float): Factor on the loss.
    """

    def __init__(self, metainfo: Optional[str] = None,
                 reduction: str = 'mean', mode: str = 'linear',
                 eps: float = 1e-8, norm_target_weight: bool = False,
                 loss_weight: float = 1.):
        super().__init__()
        check_choice('OKSLoss', 'reduction', reduction, _REDUCTIONS)
        check_choice('OKSLoss', 'mode', mode, SCALE_MODES)
        self.reduction = reduction
        self.mode = mode
        self.eps = eps
        self.norm_target_weight = norm_target_weight
        self.loss_weight = loss_weight
        if metainfo is not None:
            sigmas = parse_pose_metainfo(dict(from_file=metainfo))['sigmas']
            if len(sigmas) == 0:
                raise ValueError(f'OKSLoss: the metainfo {metainfo!r} defines '
                                 'no sigmas')
            self.register_buffer('sigmas', torch.as_tensor(sigmas))

    def forward(self, output: Tensor, target: Tensor,
                target_weight: Optional[Tensor] = None,
                areas: Optional[Tensor] = None) -> Tensor:
        """output, target: (N, K, 2) pixels; target_weight (N, K); areas
        (N,) pixels squared. Returns (N,) for 'none', else a scalar."""
        dist = torch.norm(output - target, dim=-1)
        if areas is not None:
            dist = dist / areas.pow(0.5).clip(min=self.eps).unsqueeze(-1)
        if hasattr(self, 'sigmas'):
            dist = dist / (self.sigmas * 2)
        oks = torch.exp(-dist.pow(2) / 2)
        if target_weight is not None:
            if self.norm_target_weight:
                norm = target_weight.sum(dim=-1, keepdim=True).clip(
                    min=self.eps)
            else:
                norm = target_weight.size(-1)
            oks = oks * (target_weight / norm)
        loss = scale_by_mode(oks.sum(dim=-1), self.mode)
        return reduce_loss(loss, self.reduction) * self.loss_weight
