"""DWPose's distillation losses (Yang et al., 2023): a feature loss and a
logit loss, used by :class:`posekit.models.distillers.DWPoseDistiller`.

Both take MMPose's constructor arguments, including ``name`` and
``use_this``, which only the distiller reads (the loss's key in the loss dict,
and whether to build it).
"""
from __future__ import annotations

from typing import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from posekit.registry import MODELS


@MODELS.register_module()
class FeaLoss(nn.Module):
    """Squared distance between the student's and the teacher's last
    feature maps::

        loss = alpha_fea * sum((align(f_s) - f_t) ** 2) / N

    summed over channels and pixels, averaged over the N images. ``align``
    is a 1x1 convolution (with bias) from the student's to the teacher's
    channels, present only when they differ; it is trained with the student
    (state_dict keys ``align.weight``, ``align.bias``).

    Args:
        name (str): Key of this loss in the distiller's loss dict.
            Defaults to 'loss_fea'.
        use_this (bool): Whether the distiller builds it. Defaults to True.
        student_channels (int, optional): C of the student's feature map.
        teacher_channels (int, optional): C of the teacher's feature map
            (MMPose's configs give both; without them there is no ``align``).
        alpha_fea (float): Weight. Defaults to 0.00007.
    """

    def __init__(self, name: str = 'loss_fea', use_this: bool = True,
                 student_channels: int | None = None,
                 teacher_channels: int | None = None,
                 alpha_fea: float = 0.00007) -> None:
        super().__init__()
        self.name = name
        self.use_this = use_this
        self.alpha_fea = alpha_fea
        if (student_channels is None) != (teacher_channels is None):
            raise ValueError('FeaLoss: give both student_channels and '
                             'teacher_channels, or neither')
        self.align = (nn.Conv2d(student_channels, teacher_channels, 1)
                      if student_channels != teacher_channels else None)

    def forward(self, preds_S: Tensor, preds_T: Tensor) -> Tensor:
        """Args:
            preds_S (Tensor): (N, C_s, H, W) student features.
            preds_T (Tensor): (N, C_t, H, W) teacher features.

        Returns:
            Tensor: scalar loss.
        """
        if self.align is not None:
            preds_S = self.align(preds_S)
        if preds_S.shape != preds_T.shape:
            raise ValueError(f'FeaLoss: student features {tuple(preds_S.shape)} '
                             f'(after alignment) and teacher features '
                             f'{tuple(preds_T.shape)} differ in shape')
        num = preds_T.shape[0]
        return F.mse_loss(preds_S, preds_T, reduction='sum') / num * self.alpha_fea


@MODELS.register_module()
class KDLoss(nn.Module):
    """KL divergence from the teacher's SimCC distributions to the
    student's, at temperature ``1 / beta``. For each axis (x, then y) with
    logits (N, K, W)::

        p_t = softmax(beta * logit_t)          over the W bins
        kl  = sum_w p_t * (log p_t - log_softmax(beta * logit_s))
        L   = weight * mean_n(sum_k kl)

    and ``loss = (L_x + L_y) / K``. The teacher's logits are detached. As in
    MMPose, keypoint weights are accepted but not applied: invisible
    keypoints are distilled too.

    Args:
        name (str): Key of this loss in the distiller's loss dict.
            Defaults to 'loss_logit'.
        use_this (bool): Whether the distiller builds it. Defaults to True.
        weight (float): Weight. Defaults to 1.0.
    """

    def __init__(self, name: str = 'loss_logit', use_this: bool = True,
                 weight: float = 1.0) -> None:
        super().__init__()
        self.name = name
        self.use_this = use_this
        self.weight = weight

    def forward(self, pred: Sequence[Tensor], pred_t: Sequence[Tensor],
                beta: float, target_weight: Tensor | None = None) -> Tensor:
        """Args:
            pred (tuple[Tensor, Tensor]): Student's x (N, K, Wx) and
                y (N, K, Wy) logits.
            pred_t (tuple[Tensor, Tensor]): Teacher's, same shapes.
            beta (float): Inverse temperature (the student head's
                ``loss_module.beta`` in the distiller).
            target_weight (Tensor, optional): (N, K); unused (see above).

        Returns:
            Tensor: scalar loss.
        """
        (ls_x, ls_y), (lt_x, lt_y) = pred, pred_t
        if ls_x.dim() != 3:
            raise ValueError('KDLoss expects SimCC logits of shape (N, K, W), '
                             f'got {tuple(ls_x.shape)}')
        num_keypoints = ls_x.shape[1]
        loss = (self._axis_loss(ls_x, lt_x.detach(), beta)
                + self._axis_loss(ls_y, lt_y.detach(), beta))
        return loss / num_keypoints

    def _axis_loss(self, logit_s: Tensor, logit_t: Tensor, beta: float) -> Tensor:
        log_p_s = F.log_softmax(logit_s * beta, dim=-1)
        p_t = F.softmax(logit_t * beta, dim=-1)
        kl = F.kl_div(log_p_s, p_t, reduction='none').sum(dim=-1)  # (N, K)
        return self.weight * kl.sum(dim=1).mean()
