"""Losses on bounding boxes: IoU of predicted and target boxes (YOLOX-Pose,
RTMO)."""
from typing import Optional

from torch import Tensor, nn

from posekit.registry import MODELS
from posekit.models.task_modules.bbox_ops import bbox_overlaps

from .utils import SCALE_MODES, check_choice, reduce_loss, scale_by_mode

_REDUCTIONS = ('mean', 'sum', 'none')


@MODELS.register_module()
class IoULoss(nn.Module):
    """IoU loss of aligned ``xyxy`` boxes.

    ``iou = max(IoU(output_i, target_i), eps)``, then ``1 - iou``
    ('linear'), ``1 - iou**2`` ('square') or ``-log iou`` ('log'); times
    the target weight (given trailing size-1 axes) when one is passed; then
    the reduction and ``loss_weight``.

    Args:
        reduction (str): 'mean', 'sum' or 'none'. Defaults to 'mean'.
        mode (str): 'linear', 'square' or 'log'. Defaults to 'log'.
        eps (float): Floor of the IoU (keeps ``log`` finite). Defaults to
            1e-16.
        loss_weight (float): Factor on the loss. Defaults to 1.
    """

    def __init__(self, reduction: str = 'mean', mode: str = 'log',
                 eps: float = 1e-16, loss_weight: float = 1.):
        super().__init__()
        check_choice('IoULoss', 'reduction', reduction, _REDUCTIONS)
        check_choice('IoULoss', 'mode', mode, SCALE_MODES)
        self.reduction = reduction
        self.mode = mode
        self.eps = eps
        self.loss_weight = loss_weight

    def forward(self, output: Tensor, target: Tensor,
                target_weight: Optional[Tensor] = None) -> Tensor:
        """output, target: (N, 4) ``xyxy`` pixels; target_weight (N,)."""
        ious = bbox_overlaps(output, target, is_aligned=True).clamp(min=self.eps)
        loss = scale_by_mode(ious, self.mode)
        if target_weight is not None:
            extra = loss.ndim - target_weight.ndim
            loss = loss * target_weight.reshape(
                target_weight.shape + (1, ) * max(extra, 0))
        return reduce_loss(loss, self.reduction) * self.loss_weight
