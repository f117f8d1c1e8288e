"""Flip test: map the outputs of a horizontally flipped input back.

A top-down model in flip test runs on the image and on its mirror; each
function here turns the mirror's output into what the original image would
have given, so the two can be averaged. Two things change under a flip: the x
axis is reversed, and left/right keypoints trade places (``flip_indices[k]``
is the keypoint that k becomes).

None of these functions modifies its input.
"""
from typing import List, Optional, Sequence, Tuple

import torch
from torch import Tensor

FLIP_MODES = ('heatmap', 'udp_combined', 'offset')


def flip_heatmaps(heatmaps: Tensor,
                  flip_indices: Optional[Sequence[int]] = None,
                  flip_mode: str = 'heatmap',
                  shift_heatmap: bool = True) -> Tensor:
    """Un-flip the heatmaps predicted for a mirrored input.

    Args:
        heatmaps (Tensor): (B, C, H, W).
        flip_indices (list[int], optional): Symmetric keypoint of each
            keypoint; None keeps the channel order.
        flip_mode (str):
            - ``'heatmap'``: C = K heatmaps; reverse W, swap channels.
            - ``'udp_combined'``: C = 3K, (heatmap, x offset, y offset) per
              keypoint; as 'heatmap' per group of 3, and the x offsets change
              sign.
            - ``'offset'``: C = 2K, (x, y) offset fields per keypoint; as
              'heatmap' per group of 2, and the x component changes sign.
        shift_heatmap (bool): Move the result one pixel to the right
            (column j takes column j - 1, column 0 is kept), which aligns it
            with the original when the flip is ``x -> w - 1 - x`` on the
            image but pixel centres are not symmetric in the heatmap.

    Returns:
        Tensor: (B, C, H, W), a new tensor.
    """
    if flip_mode not in FLIP_MODES:
        raise ValueError(f'flip_mode must be one of {FLIP_MODES}, got '
                         f'{flip_mode!r}')
    B, C, H, W = heatmaps.shape
    group = {'heatmap': 1, 'udp_combined': 3, 'offset': 2}[flip_mode]
    if C % group:
        raise ValueError(f'{flip_mode!r} flip needs a multiple of {group} '
                         f'channels, got {C}')
    out = heatmaps.reshape(B, C // group, group, H, W).flip(-1)
    if flip_indices is not None:
        if len(flip_indices) != C // group:
            raise ValueError(f'flip_indices has {len(flip_indices)} entries '
                             f'for {C // group} keypoints')
        out = out[:, list(flip_indices)]
    if flip_mode == 'udp_combined':
        out[:, :, 1] = -out[:, :, 1]
    elif flip_mode == 'offset':
        out[:, :, 0] = -out[:, :, 0]
    out = out.reshape(B, C, H, W)
    if shift_heatmap:
        out = torch.cat([out[..., :1], out[..., :-1]], dim=-1)
    return out


def flip_vectors(x_labels: Tensor, y_labels: Tensor,
                 flip_indices: Sequence[int]) -> Tuple[Tensor, Tensor]:
    """Un-flip SimCC vectors: swap keypoints, reverse the x bins.

    Args:
        x_labels (Tensor): (B, K, Wx).
        y_labels (Tensor): (B, K, Wy).
        flip_indices (list[int]): K entries.

    Returns:
        tuple: x (B, K, Wx) and y (B, K, Wy), new tensors.
    """
    if x_labels.ndim != 3 or y_labels.ndim != 3:
        raise ValueError('SimCC vectors must be (B, K, W), got '
                         f'{tuple(x_labels.shape)} and {tuple(y_labels.shape)}')
    _check_indices(flip_indices, x_labels.shape[1])
    _check_indices(flip_indices, y_labels.shape[1])
    idx = list(flip_indices)
    return x_labels[:, idx].flip(-1), y_labels[:, idx]


def flip_coordinates(coords: Tensor, flip_indices: Sequence[int],
                     shift_coords: bool,
                     input_size: Tuple[int, int]) -> Tensor:
    """Un-flip coordinates normalised to [0, 1] by the input size.

    ``x -> 1 - x`` (then ``- 1 / w`` with ``shift_coords``, which is the
    normalised form of the pixel flip ``x -> w - 1 - x``), then keypoints
    are swapped. Only channel 0 (x) changes; any further channels (y, RLE
    sigmas) are only swapped.

    Args:
        coords (Tensor): (B, K, D).
        flip_indices (list[int]): K entries.
        shift_coords (bool): Subtract one input pixel from x.
        input_size (tuple[int, int]): (w, h) of the network input.

    Returns:
        Tensor: (B, K, D), a new tensor.
    """
    if coords.ndim != 3:
        raise ValueError(f'coords must be (B, K, D), got {tuple(coords.shape)}')
    _check_indices(flip_indices, coords.shape[1])
    x = 1.0 - coords[..., :1]
    if shift_coords:
        x = x - 1.0 / input_size[0]
    out = torch.cat([x, coords[..., 1:]], dim=-1)
    return out[:, list(flip_indices)]


def flip_visibility(vis: Tensor, flip_indices: Sequence[int]) -> Tensor:
    """Swap the (B, K) visibility of symmetric keypoints."""
    if vis.ndim != 2:
        raise ValueError(f'visibility must be (B, K), got {tuple(vis.shape)}')
    _check_indices(flip_indices, vis.shape[1])
    return vis[:, list(flip_indices)]


def _check_indices(flip_indices: List[int], num_keypoints: int) -> None:
    if len(flip_indices) != num_keypoints:
        raise ValueError(f'flip_indices has {len(flip_indices)} entries for '
                         f'{num_keypoints} keypoints')
