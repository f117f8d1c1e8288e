"""Losses on distributions: SimCC vectors, DSNT heatmaps, binary labels,
scores (varifocal), coordinate classification (MLE-CC)."""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from posekit.registry import MODELS
from .utils import (SCALE_MODES, check_choice, expand_weight, reduce_loss,
                    scale_by_mode)

_REDUCTIONS = ('mean', 'sum', 'none')


@MODELS.register_module()
class KLDiscretLoss(nn.Module):
    """KL divergence between SimCC label vectors and predicted softmaxes.

    For each axis (x, then y) and each keypoint row: ``log_softmax(pred *
    beta)`` against the labels (``softmax(labels * label_beta)`` with
    ``label_softmax``), KL averaged over the bins, times the keypoint
    weight and, for keypoints in ``mask``, ``mask_weight``. Rows are summed
    over both axes and instances, then divided by K.

    Args:
        beta (float): Temperature on the predictions.
        label_softmax (bool): Softmax the labels first.
        label_beta (float): Temperature on the labels.
        use_target_weight (bool): Weight rows by the (N, K) weights.
        mask (list[int], optional): Keypoints whose loss is scaled.
        mask_weight (float): Scale of the masked keypoints.
    """

    def __init__(self, beta: float = 1.0, label_softmax: bool = False,
                 label_beta: float = 10.0, use_target_weight: bool = True,
                 mask: Optional[Sequence[int]] = None,
                 mask_weight: float = 1.0):
        super().__init__()
        self.beta = beta
        self.label_softmax = label_softmax
        self.label_beta = label_beta
        self.use_target_weight = use_target_weight
        self.mask = mask
        self.mask_weight = mask_weight

    def criterion(self, dec_outs: Tensor, labels: Tensor) -> Tensor:
        """Per-row KL, averaged over bins: (M, W), (M, W) -> (M,)."""
        log_pt = F.log_softmax(dec_outs * self.beta, dim=1)
        if self.label_softmax:
            labels = F.softmax(labels * self.label_beta, dim=1)
        return F.kl_div(log_pt, labels, reduction='none').mean(dim=1)

    def forward(self, pred_simcc: Tuple[Tensor, Tensor],
                gt_simcc: Tuple[Tensor, Tensor],
                target_weight: Optional[Tensor]) -> Tensor:
        """pred_simcc, gt_simcc: x (N, K, Wx) and y (N, K, Wy);
        target_weight (N, K)."""
        N, K, _ = pred_simcc[0].shape
        weight = target_weight.reshape(-1) if self.use_target_weight else 1.
        if self.mask is not None:
            scale = pred_simcc[0].new_ones(K)
            scale[list(self.mask)] = self.mask_weight
            weight = weight * scale.repeat(N)
        loss = 0
        for pred, target in zip(pred_simcc, gt_simcc):
            row_loss = self.criterion(pred.reshape(-1, pred.size(-1)),
                                      target.reshape(-1, target.size(-1)))
            loss = loss + (row_loss * weight).sum()
        return loss / K


@MODELS.register_module()
class JSDiscretLoss(nn.Module):
    """Jensen-Shannon divergence between heatmaps, element-wise, summed.

    ``js = (kl(p, m) + kl(q, m)) / 2`` with ``m = (p + q) / 2`` and
    ``kl(a, b) = a * (log a - log(b + 1e-24))``. With ``use_target_weight``
    both heatmaps are scaled by the weights first; with ``size_average`` the
    sum is divided by the batch size.

    Args:
        use_target_weight (bool): Scale by the (N, K) weights.
        size_average (bool): Divide by the batch size.
    """

    def __init__(self, use_target_weight: bool = True,
                 size_average: bool = True):
        super().__init__()
        self.use_target_weight = use_target_weight
        self.size_average = size_average

    @staticmethod
    def kl(p: Tensor, q: Tensor) -> Tensor:
        return F.kl_div((q + 1e-24).log(), p, reduction='none')

    def js(self, pred_hm: Tensor, gt_hm: Tensor) -> Tensor:
        m = 0.5 * (pred_hm + gt_hm)
        return 0.5 * (self.kl(pred_hm, m) + self.kl(gt_hm, m))

    def forward(self, pred_hm: Tensor, gt_hm: Tensor,
                target_weight: Optional[Tensor] = None) -> Tensor:
        """pred_hm, gt_hm (N, K, H, W); target_weight (N, K)."""
        if self.use_target_weight:
            if target_weight is None:
                raise ValueError('JSDiscretLoss(use_target_weight=True) needs '
                                 'target weights')
            w = expand_weight(target_weight, pred_hm.ndim)
            loss = self.js(pred_hm * w, gt_hm * w)
        else:
            loss = self.js(pred_hm, gt_hm)
        if self.size_average:
            loss = loss / len(gt_hm)
        return loss.sum()


@MODELS.register_module()
class BCELoss(nn.Module):
    """Binary cross entropy.

    Args:
        use_target_weight (bool): Weight the (N, K) losses by (N, K) or (N,)
            weights.
        loss_weight (float): Factor on the loss.
        reduction (str): 'mean', 'sum' or 'none'.
        use_sigmoid (bool): True if the output already went through a
            sigmoid (probabilities); False for logits.
    """

    def __init__(self, use_target_weight: bool = False,
                 loss_weight: float = 1., reduction: str = 'mean',
                 use_sigmoid: bool = False):
        super().__init__()
        if reduction not in ('mean', 'sum', 'none'):
            raise ValueError("reduction must be 'mean', 'sum' or 'none', got "
                             f'{reduction!r}')
        self.use_target_weight = use_target_weight
        self.loss_weight = loss_weight
        self.reduction = reduction
        self.use_sigmoid = use_sigmoid

    def forward(self, output: Tensor, target: Tensor,
                target_weight: Optional[Tensor] = None) -> Tensor:
        bce = (F.binary_cross_entropy if self.use_sigmoid
               else F.binary_cross_entropy_with_logits)
        loss = bce(output, target, reduction='none')
        if self.use_target_weight:
            if target_weight is None:
                raise ValueError('BCELoss(use_target_weight=True) needs '
                                 'target weights')
            if target_weight.dim() == 1:
                target_weight = target_weight[:, None]
            loss = loss * target_weight
        if self.reduction == 'sum':
            loss = loss.sum()
        elif self.reduction == 'mean':
            loss = loss.mean()
        return loss * self.loss_weight


@MODELS.register_module()
class VariFocalLoss(nn.Module):
    """Varifocal loss (Zhang et al., VarifocalNet, CVPR 2021) on logits.

    With ``p = sigmoid(output)`` and ``label = target > 1e-4``, each element
    costs ``BCE(clip(output, -10, 10), target) * w`` where ``w = alpha *
    p**gamma`` for negatives and ``w = target`` (the IoU-aware score) for
    positives; ``w`` is computed from the unclipped logits and is not
    detached. Then the target weights, inf/NaN set to 0, the reduction and
    ``loss_weight``.

    Args:
        use_target_weight (bool): Weight by (N, K) or (N,) weights.
        loss_weight (float): Factor on the loss.
        reduction (str): 'mean', 'sum' or 'none'. Defaults to 'mean'.
        alpha (float): Weight of the negatives. Defaults to 0.75.
        gamma (float): Focusing power on the negatives. Defaults to 2.
    """

    def __init__(self, use_target_weight: bool = False,
                 loss_weight: float = 1., reduction: str = 'mean',
                 alpha: float = 0.75, gamma: float = 2.0):
        super().__init__()
        check_choice('VariFocalLoss', 'reduction', reduction, _REDUCTIONS)
        self.use_target_weight = use_target_weight
        self.loss_weight = loss_weight
        self.reduction = reduction
        self.alpha = alpha
        self.gamma = gamma

    def criterion(self, output: Tensor, target: Tensor) -> Tensor:
        """Element-wise loss of logits ``output`` against scores ``target``."""
        negative = (target <= 1e-4).to(target)
        weight = self.alpha * output.sigmoid().pow(self.gamma) * negative \
            + target
        # Clipped only inside the BCE: saturated logits give bounded losses.
        bce = F.binary_cross_entropy_with_logits(
            output.clip(min=-10, max=10), target, reduction='none')
        return bce * weight

    def forward(self, output: Tensor, target: Tensor,
                target_weight: Optional[Tensor] = None) -> Tensor:
        """output (logits), target (scores in [0, 1]): (N, K) or (N,);
        target_weight (N, K) or (N,)."""
        loss = self.criterion(output, target)
        if self.use_target_weight:
            if target_weight is None:
                raise ValueError('VariFocalLoss(use_target_weight=True) needs '
                                 'target weights')
            if target_weight.dim() == 1:
                target_weight = target_weight.unsqueeze(1)
            loss = loss * target_weight
        loss = torch.where(torch.isfinite(loss), loss, torch.zeros_like(loss))
        return reduce_loss(loss, self.reduction) * self.loss_weight


@MODELS.register_module()
class MLECCLoss(nn.Module):
    """Maximum likelihood loss of coordinate classification (RTMO's DCC).

    ``prob = prod_axes sum_bins(output * target)``: the probability the
    predicted per-axis distributions give to the target ones, (N, K) or
    whatever the leading shape is. Then ``1 - prob`` ('linear'),
    ``1 - prob**2`` ('square') or ``-log(prob + 1e-4)`` ('log'), NaN set
    to 0, times the target weights (given trailing axes), and the
    reduction **per instance**: 'mean' and 'sum' reduce all axes but the
    first, so the result is (N,), not a scalar (as in MMPose).

    Args:
        reduction (str): 'mean', 'sum' or 'none'. Defaults to 'mean'.
        mode (str): 'linear', 'square' or 'log'. Defaults to 'log'.
        use_target_weight (bool): Weight by the target weights.
        loss_weight (float): Factor on the loss.
    """

    def __init__(self, reduction: str = 'mean', mode: str = 'log',
                 use_target_weight: bool = False, loss_weight: float = 1.0):
        super().__init__()
        check_choice('MLECCLoss', 'reduction', reduction, _REDUCTIONS)
        check_choice('MLECCLoss', 'mode', mode, SCALE_MODES)
        self.reduction = reduction
        self.mode = mode
        self.use_target_weight = use_target_weight
        self.loss_weight = loss_weight

    def forward(self, outputs: Sequence[Tensor], targets: Sequence[Tensor],
                target_weight: Optional[Tensor] = None) -> Tensor:
        """outputs, targets: per axis (x, y) (N, K, W_axis) probabilities;
        target_weight (N, K). Returns (N,) ('mean', 'sum') or (N, K)."""
        if len(outputs) != len(targets):
            raise ValueError(f'MLECCLoss: {len(outputs)} outputs but '
                             f'{len(targets)} targets (one per axis each)')
        prob = 1.0
        for out, target in zip(outputs, targets):
            prob = prob * (out * target).sum(dim=-1)
        if self.mode == 'log':
            loss = -torch.log(prob + 1e-4)
        else:
            loss = scale_by_mode(prob, self.mode)
        loss = torch.where(torch.isnan(loss), torch.zeros_like(loss), loss)
        if self.use_target_weight:
            if target_weight is None:
                raise ValueError('MLECCLoss(use_target_weight=True) needs '
                                 'target weights')
            loss = loss * expand_weight(target_weight, loss.ndim)
        if self.reduction == 'sum':
            loss = loss.flatten(1).sum(dim=1)
        elif self.reduction == 'mean':
            loss = loss.flatten(1).mean(dim=1)
        return loss * self.loss_weight
