"""Losses on heatmaps (B, K, H, W), with per-keypoint weights (B, K)."""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from posekit.registry import MODELS
from .utils import expand_weight


def check_heatmap_shapes(loss: nn.Module, output: Tensor,
                         target: Tensor) -> None:
    """ValueError unless the head's heatmaps and the codec's targets have
    the same shape (a config whose codec and head disagree on the number of
    keypoints or the heatmap size)."""
    if output.shape != target.shape:
        raise ValueError(
            f'{type(loss).__name__}: the head outputs heatmaps of shape '
            f'{tuple(output.shape)} but the targets are '
            f'{tuple(target.shape)} (B, K, H, W): the codec of GenerateTarget '
            'must use the heatmap_size (W, H) and number of keypoints of the '
            'head')


@MODELS.register_module()
class KeypointMSELoss(nn.Module):
    """Mean squared error between heatmaps, optionally masked.

    ``loss = mean((output - target)**2 * mask) * loss_weight`` where the mask
    is the product of ``mask``, ``target_weights`` and, with
    ``skip_empty_channel``, whether the target channel has any non-zero
    pixel; with no mask at all, the plain mean.

    Args:
        use_target_weight (bool): Kept for config compatibility: as in MMPose
            1.x, ``target_weights`` is applied whenever it is passed.
        skip_empty_channel (bool): Leave out all-zero target channels (no
            visible keypoint).
        loss_weight (float): Factor on the loss.
    """

    def __init__(self, use_target_weight: bool = False,
                 skip_empty_channel: bool = False, loss_weight: float = 1.):
        super().__init__()
        self.use_target_weight = use_target_weight
        self.skip_empty_channel = skip_empty_channel
        self.loss_weight = loss_weight

    def forward(self, output: Tensor, target: Tensor,
                target_weights: Optional[Tensor] = None,
                mask: Optional[Tensor] = None) -> Tensor:
        """Args:
            output (Tensor): (B, K, H, W) predicted heatmaps.
            target (Tensor): (B, K, H, W) target heatmaps.
            target_weights (Tensor, optional): (B, K) per keypoint or
                (B, K, H, W) per pixel.
            mask (Tensor, optional): (B, K, H, W) or (B, 1, H, W) valid pixels.

        Returns:
            Tensor: scalar loss.
        """
        check_heatmap_shapes(self, output, target)
        full_mask = self._get_mask(target, target_weights, mask)
        if full_mask is None:
            loss = F.mse_loss(output, target)
        else:
            loss = (F.mse_loss(output, target, reduction='none')
                    * full_mask).mean()
        return loss * self.loss_weight

    def _get_mask(self, target: Tensor, target_weights: Optional[Tensor],
                  mask: Optional[Tensor]) -> Optional[Tensor]:
        """The product of all masks that apply, broadcastable to target."""
        if mask is not None and (mask.ndim != target.ndim or any(
                m not in (t, 1) for m, t in zip(mask.shape, target.shape))):
            raise ValueError(f'mask {tuple(mask.shape)} does not broadcast '
                             f'to target {tuple(target.shape)}')
        if target_weights is not None:
            if (target_weights.ndim not in (2, 4) or target_weights.shape
                    != target.shape[:target_weights.ndim]):
                raise ValueError(
                    f'target_weights {tuple(target_weights.shape)} must be '
                    f'(B, K) or (B, K, H, W) of target {tuple(target.shape)}')
            weights = expand_weight(target_weights, target.ndim)
            mask = weights if mask is None else mask * weights
        if self.skip_empty_channel:
            nonempty = (target != 0).flatten(2).any(dim=2)
            nonempty = expand_weight(nonempty, target.ndim)
            mask = nonempty if mask is None else mask * nonempty
        return mask


@MODELS.register_module()
class CombinedTargetMSELoss(nn.Module):
    """MSE on UDP 'combined' targets: (heatmap, x offset, y offset) per
    keypoint, C = 3K channels.

    ``0.5 * (mse(heatmap) + mse(gt_heatmap * dx) + mse(gt_heatmap * dy))``,
    each averaged over all keypoints, pixels and instances. With
    ``use_target_weight`` both heatmaps are first scaled by the weight (so
    the offset terms are too, through the gt heatmap).

    Args:
        use_target_weight (bool): Scale by the (B, K) weights.
        loss_weight (float): Factor on the loss.
    """

    def __init__(self, use_target_weight: bool = False,
                 loss_weight: float = 1.):
        super().__init__()
        self.use_target_weight = use_target_weight
        self.loss_weight = loss_weight

    def forward(self, output: Tensor, target: Tensor,
                target_weights: Tensor) -> Tensor:
        """output, target (B, 3K, H, W); target_weights (B, K)."""
        B, C = output.shape[:2]
        pred = output.reshape(B, C // 3, 3, -1)
        gt = target.reshape(B, C // 3, 3, -1)
        hm_pred, hm_gt = pred[:, :, 0], gt[:, :, 0]
        if self.use_target_weight:
            w = target_weights[:, :, None]
            hm_pred, hm_gt = hm_pred * w, hm_gt * w
        loss = 0.5 * (F.mse_loss(hm_pred, hm_gt)
                      + F.mse_loss(hm_gt * pred[:, :, 1], hm_gt * gt[:, :, 1])
                      + F.mse_loss(hm_gt * pred[:, :, 2], hm_gt * gt[:, :, 2]))
        return loss * self.loss_weight


@MODELS.register_module()
class KeypointOHKMMSELoss(nn.Module):
    """Heatmap MSE with online hard keypoint mining.

    Per instance, the per-keypoint MSEs (averaged over pixels) are computed,
    the ``topk`` largest are averaged, and the result is averaged over the
    batch.

    Args:
        use_target_weight (bool): Scale output and target by the (B, K)
            weights first.
        topk (int): Keypoints kept per instance.
        loss_weight (float): Factor on the loss.
    """

    def __init__(self, use_target_weight: bool = False, topk: int = 8,
                 loss_weight: float = 1.):
        super().__init__()
        if topk <= 0:
            raise ValueError(f'topk must be positive, got {topk}')
        self.use_target_weight = use_target_weight
        self.topk = topk
        self.loss_weight = loss_weight

    def forward(self, output: Tensor, target: Tensor,
                target_weights: Tensor) -> Tensor:
        """output, target (B, K, H, W); target_weights (B, K)."""
        K = output.size(1)
        if K < self.topk:
            raise ValueError(f'topk ({self.topk}) is larger than the number '
                             f'of keypoints ({K})')
        if self.use_target_weight:
            w = target_weights[:, :, None, None]
            output, target = output * w, target * w
        per_kpt = F.mse_loss(output, target, reduction='none').mean(dim=(2, 3))
        hardest = per_kpt.topk(self.topk, dim=1, sorted=False).values
        return (hardest.sum(dim=1) / self.topk).mean() * self.loss_weight


@MODELS.register_module()
class AdaptiveWingLoss(nn.Module):
    """Adaptive Wing loss on heatmaps (Wang et al., ICCV 2019).

    With ``d = |target - output|`` and ``p = alpha - target``:
    ``omega * log(1 + (d / epsilon)**p)`` where ``d < theta``, else
    ``A * d - C``, where A and C make the two pieces meet at theta. The
    mean over all elements.

    Args:
        alpha, omega, epsilon, theta (float): Shape parameters.
        use_target_weight (bool): Scale output and target by the (B, K) or
            (B, K, H, W) weights first.
        loss_weight (float): Factor on the loss.
    """

    def __init__(self, alpha: float = 2.1, omega: float = 14,
                 epsilon: float = 1, theta: float = 0.5,
                 use_target_weight: bool = False, loss_weight: float = 1.):
        super().__init__()
        self.alpha, self.omega = float(alpha), float(omega)
        self.epsilon, self.theta = float(epsilon), float(theta)
        self.use_target_weight = use_target_weight
        self.loss_weight = loss_weight

    def criterion(self, pred: Tensor, target: Tensor) -> Tensor:
        delta = (target - pred).abs()
        power = self.alpha - target
        ratio = self.theta / self.epsilon
        A = (self.omega / (1 + torch.pow(ratio, power)) * power
             * torch.pow(ratio, power - 1) / self.epsilon)
        C = self.theta * A - self.omega * torch.log(1 + torch.pow(ratio, power))
        losses = torch.where(
            delta < self.theta,
            self.omega * torch.log(1 + torch.pow(delta / self.epsilon, power)),
            A * delta - C)
        return losses.mean()

    def forward(self, output: Tensor, target: Tensor,
                target_weights: Optional[Tensor] = None) -> Tensor:
        if self.use_target_weight:
            if (target_weights is None or target_weights.ndim not in (2, 4)
                    or target_weights.shape
                    != target.shape[:target_weights.ndim]):
                raise ValueError('target_weights must be (B, K) or '
                                 f'(B, K, H, W) of target {tuple(target.shape)}')
            w = expand_weight(target_weights, target.ndim)
            loss = self.criterion(output * w, target * w)
        else:
            loss = self.criterion(output, target)
        return loss * self.loss_weight


@MODELS.register_module()
class FocalHeatmapLoss(KeypointMSELoss):
    """CornerNet's focal loss on heatmaps (Law and Deng, ECCV 2018).

    With p the output (in (0, 1)) and t the target, positives where
    ``t == 1`` and negatives where ``t < 1``, both times the mask of
    :class:`KeypointMSELoss` (``mask`` x ``target_weights`` x, with
    ``skip_empty_channel``, non-empty channels):

    ``pos = log(p) (1 - p)**alpha``, ``neg = log(1 - p) p**alpha
    (1 - t)**beta``; the loss is ``-(sum pos + sum neg) / num_pos``, or
    ``-sum neg`` when there is no positive, times ``loss_weight``.

    Args:
        alpha (int): Focusing power on the prediction.
        beta (int): Power of ``1 - t`` that lowers negatives near a peak.
        use_target_weight (bool): Kept for config compatibility (weights
            apply whenever given, as in :class:`KeypointMSELoss`).
        skip_empty_channel (bool): Leave out all-zero target channels.
        loss_weight (float): Factor on the loss.
    """

    def __init__(self, alpha: int = 2, beta: int = 4,
                 use_target_weight: bool = False,
                 skip_empty_channel: bool = False, loss_weight: float = 1.0):
        super().__init__(use_target_weight, skip_empty_channel, loss_weight)
        self.alpha = alpha
        self.beta = beta

    def forward(self, output: Tensor, target: Tensor,
                target_weights: Optional[Tensor] = None,
                mask: Optional[Tensor] = None) -> Tensor:
        """output, target (B, K, H, W); target_weights (B, K) or
        (B, K, H, W); mask (B, K or 1, H, W)."""
        check_heatmap_shapes(self, output, target)
        full_mask = self._get_mask(target, target_weights, mask)
        pos = target.eq(1).to(output.dtype)
        neg = target.lt(1).to(output.dtype)
        if full_mask is not None:
            pos, neg = pos * full_mask, neg * full_mask
        pos_loss = torch.log(output) * torch.pow(1 - output, self.alpha) * pos
        neg_loss = (torch.log(1 - output) * torch.pow(output, self.alpha)
                    * torch.pow(1 - target, self.beta) * neg)
        num_pos = pos.sum()
        if num_pos == 0:
            loss = -neg_loss.sum()
        else:
            loss = -(pos_loss.sum() + neg_loss.sum()) / num_pos
        return loss * self.loss_weight
