"""Associative embedding loss (Newell et al., NeurIPS 2017): the grouping
term of bottom-up Associative Embedding models."""
from typing import Sequence, Tuple, Union

import torch
from torch import Tensor, nn

from posekit.registry import MODELS

# Keeps the normalisations finite for images with no (or one) instance.
_EPS = 1e-6


@MODELS.register_module()
class AssociativeEmbeddingLoss(nn.Module):
    """Pull the tags of one person together, push different people apart.

    Per image, with the N instances that have at least one visible keypoint,
    ``t_nk`` (L values) the predicted tag at instance n's keypoint k and
    ``m_n`` the mean of its visible ``t_nk``:

    - pull = sum_n mean_{visible k, l} (t_nkl - m_nl)**2 / (N + eps)
    - push = sum_{n, n', l} exp(-(m_nl - m_n'l)**2) / (N (N - 1) + eps),
      the sum taken over all ordered pairs including n = n' (N * L ones);
      0 when N < 2.

    Both are summed over the images of the batch (not averaged), times
    ``loss_weight``; push also times ``push_loss_factor``.

    Args:
        loss_weight (float): Factor on both terms.
        push_loss_factor (float): Extra factor on the push term.
    """

    def __init__(self, loss_weight: float = 1.0,
                 push_loss_factor: float = 0.5):
        super().__init__()
        self.loss_weight = loss_weight
        self.push_loss_factor = push_loss_factor

    def forward(self, tags: Tensor,
                keypoint_indices: Union[Sequence[Tensor], Tensor]
                ) -> Tuple[Tensor, Tensor]:
        """Args:
            tags (Tensor): (B, L*K, H, W) tag maps, channel ``l * K + k``.
            keypoint_indices (Tensor | list[Tensor]): per image (N_i, K, 2)
                int: ``[y * W + x, visible]`` of each keypoint, in heatmap
                pixels (as the AssociativeEmbedding codec encodes them).

        Returns:
            tuple: (pull, push) scalar tensors.
        """
        if tags.shape[0] != len(keypoint_indices):
            raise ValueError(f'{tags.shape[0]} tag maps for '
                             f'{len(keypoint_indices)} keypoint_indices')
        pull = push = tags.new_zeros(())
        for image_tags, indices in zip(tags, keypoint_indices):
            p, q = self._image_loss(image_tags, torch.as_tensor(
                indices, device=tags.device))
            pull = pull + p * self.loss_weight
            push = push + q * self.loss_weight * self.push_loss_factor
        return pull, push

    @staticmethod
    def _image_loss(tags: Tensor, indices: Tensor) -> Tuple[Tensor, Tensor]:
        """(pull, push) of one image: tags (L*K, H, W), indices (N, K, 2)."""
        K = indices.shape[1]
        if tags.shape[0] % K:
            raise ValueError(f'{tags.shape[0]} tag channels are not a '
                             f'multiple of {K} keypoints')
        flat = tags.reshape(tags.shape[0] // K, K, -1)          # (L, K, HW)
        visible = indices[..., 1] != 0                           # (N, K)
        # invisible keypoints may index outside the map: read pixel 0
        pos = torch.where(visible, indices[..., 0], 0).long()
        values = flat[:, torch.arange(K, device=tags.device), pos]  # (L,N,K)
        values = values.permute(1, 2, 0)                         # (N, K, L)
        counts = visible.sum(dim=1)
        keep = counts > 0
        values, vis, counts = values[keep], visible[keep], counts[keep]
        N = values.shape[0]
        zero = tags.sum() * 0  # keeps the graph when nothing is supervised
        if N == 0:
            return zero, zero
        w = vis[..., None].to(values.dtype)                      # (N, K, 1)
        means = (values * w).sum(dim=1) / counts[:, None]        # (N, L)
        sq = ((values - means[:, None]) ** 2 * w).sum(dim=(1, 2))
        pull = (sq / (counts * values.shape[2])).sum() / (N + _EPS)
        if N == 1:
            return pull, zero
        diff = means[None] - means[:, None]                      # (N, N, L)
        push = torch.exp(-diff.pow(2)).sum() / ((N - 1) * N + _EPS)
        return pull, push
