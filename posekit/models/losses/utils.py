"""Small helpers shared by the losses."""
from torch import Tensor


def expand_weight(weight: Tensor, ndim: int) -> Tensor:
    """Append size-1 axes to ``weight`` until it has ``ndim`` axes.

    E.g. keypoint weights (B, K) against heatmaps (B, K, H, W) become
    (B, K, 1, 1), which broadcasts.
    """
    if weight.ndim > ndim:
        raise ValueError(f'weights {tuple(weight.shape)} have more axes than '
                         f'the {ndim}-d prediction')
    return weight.reshape(weight.shape + (1, ) * (ndim - weight.ndim))
