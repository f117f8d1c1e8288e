"""Contrastive losses on embedding vectors (CID's instance features)."""
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from posekit.registry import MODELS


@MODELS.register_module()
class InfoNCELoss(nn.Module):
    """InfoNCE (van den Oord et al., 2018) where each vector's only positive
    is itself: the vectors of different instances are pushed apart.

    With ``f_i`` the L2-normalised rows and ``s_ij = f_i . f_j / T``::

        loss = loss_weight * sum_i [ log(sum_j exp(s_ij)) - s_ii ]

    A sum over the N rows, not a mean: CIDHead divides by the number of
    instances in the batch itself. N = 0 gives 0; N = 1 gives 0 too
    (one logit, its own).

    Args:
        temperature (float): T > 0; smaller T sharpens the softmax.
        loss_weight (float): Factor on the loss.
    """

    def __init__(self, temperature: float = 1.0, loss_weight: float = 1.0):
        super().__init__()
        if not temperature > 0:
            raise ValueError('InfoNCELoss: temperature must be positive, got '
                             f'{temperature}')
        self.temp = temperature
        self.loss_weight = loss_weight

    def forward(self, features: Tensor) -> Tensor:
        """(N, C) float vectors -> the scalar loss (a 0-dim tensor)."""
        if features.ndim != 2:
            raise ValueError('InfoNCELoss takes (N, C) features, got shape '
                             f'{tuple(features.shape)}')
        unit = F.normalize(features, dim=1)
        logits = unit @ unit.t() / self.temp
        own = torch.arange(features.size(0), device=features.device)
        loss = F.cross_entropy(logits, own, reduction='sum')
        return loss * self.loss_weight
