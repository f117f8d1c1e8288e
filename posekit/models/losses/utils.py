"""Small helpers shared by the losses."""
from torch import Tensor

# how a similarity in [0, 1] (IoU, OKS, likelihood) becomes a loss
SCALE_MODES = ('linear', 'square', 'log')


def expand_weight(weight: Tensor, ndim: int) -> Tensor:
    """Append size-1 axes to ``weight`` until it has ``ndim`` axes.

    E.g. keypoint weights (B, K) against heatmaps (B, K, H, W) become
    (B, K, 1, 1), which broadcasts.
    """
    if weight.ndim > ndim:
        raise ValueError(f'weights {tuple(weight.shape)} have more axes than '
                         f'the {ndim}-d prediction')
    return weight.reshape(weight.shape + (1, ) * (ndim - weight.ndim))


def scale_by_mode(similarity: Tensor, mode: str) -> Tensor:
    """A similarity in [0, 1] to a loss: ``1 - s`` ('linear'), ``1 - s**2``
    ('square') or ``-log s`` ('log')."""
    if mode == 'linear':
        return 1 - similarity
    if mode == 'square':
        return 1 - similarity.pow(2)
    if mode == 'log':
        return -similarity.log()
    raise ValueError(f'mode must be one of {SCALE_MODES}, got {mode!r}')


def check_choice(owner: str, name: str, value: str, choices: tuple) -> None:
    """Raise ``ValueError`` naming ``owner`` and ``name`` for a bad option."""
    if value not in choices:
        raise ValueError(f'{owner}: {name} must be one of {choices}, got '
                         f'{value!r}')


def reduce_loss(loss: Tensor, reduction: str) -> Tensor:
    """'mean' or 'sum' over every element; 'none' keeps the shape."""
    if reduction == 'mean':
        return loss.mean()
    if reduction == 'sum':
        return loss.sum()
    return loss
