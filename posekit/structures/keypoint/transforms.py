"""Keypoint flips and border clipping.

Conventions (MMPose 1.x): keypoints are ``(..., K, D)`` arrays of pixel
coordinates with x first, y second (D = 2, or 3 with depth); x grows to the
right, y downwards. Flipping maps a coordinate to ``w - 1 - x``: pixel index
``i`` swaps with pixel index ``w - 1 - i``, matching ``cv2.flip`` of the image.
``flip_indices[k]`` is the index of keypoint ``k``'s mirror partner (e.g.
left eye <-> right eye), so ``flip_indices[flip_indices[k]] == k``.
"""
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np


def flip_keypoints(keypoints: np.ndarray,
                   keypoints_visible: Optional[np.ndarray],
                   image_size: Tuple[int, int],
                   flip_indices: Sequence[int],
                   direction: str = 'horizontal'
                   ) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """Mirror keypoints in an image and relabel left/right partners.

    ``'horizontal'`` maps ``x -> w - 1 - x`` and ``'vertical'`` maps
    ``y -> h - 1 - y``; both swap the ``flip_indices`` partners (a mirror
    turns a left wrist into a right one). ``'diagonal'`` does both flips at
    once, i.e. a 180 degree rotation, which keeps left and right: no swap.
    Coordinates beyond the first two (depth) are unchanged.

    Args:
        keypoints (np.ndarray): (..., K, D) float pixels.
        keypoints_visible (np.ndarray, optional): (..., K) or (..., K, 2)
            visibility (the last axis may hold visibility and a weight);
            reordered like the keypoints. ``None`` if unavailable.
        image_size (tuple[int, int]): Image size ``(w, h)``.
        flip_indices (Sequence[int]): K partner indices.
        direction (str): ``'horizontal'``, ``'vertical'`` or ``'diagonal'``.

    Returns:
        tuple:
        - keypoints (np.ndarray): (..., K, D), a new array.
        - keypoints_visible (np.ndarray | None): reordered visibility (a new
          array, or the input itself for ``'diagonal'``), or None.
    """
    if direction not in ('horizontal', 'vertical', 'diagonal'):
        raise ValueError(f'invalid flip direction {direction!r}; expected '
                         "'horizontal', 'vertical' or 'diagonal'")
    keypoint_axis = keypoints.ndim - 2
    if keypoints_visible is not None and \
            keypoints_visible.shape[:keypoint_axis + 1] != \
            keypoints.shape[:-1]:
        raise ValueError(
            f'keypoints {keypoints.shape} and keypoints_visible '
            f'{keypoints_visible.shape} do not match')
    w, h = image_size
    if direction == 'diagonal':
        flipped = np.array(keypoints, copy=True)
        flipped[..., 0] = w - 1 - keypoints[..., 0]
        flipped[..., 1] = h - 1 - keypoints[..., 1]
        return flipped, keypoints_visible
    # take() copies, so the in-place edit below leaves the input untouched.
    flipped = keypoints.take(flip_indices, axis=keypoint_axis)
    if keypoints_visible is not None:
        keypoints_visible = keypoints_visible.take(
            flip_indices, axis=keypoint_axis)
    if direction == 'horizontal':
        flipped[..., 0] = w - 1 - flipped[..., 0]
    else:
        flipped[..., 1] = h - 1 - flipped[..., 1]
    return flipped, keypoints_visible


def flip_keypoints_custom_center(keypoints: np.ndarray,
                                 keypoints_visible: np.ndarray,
                                 flip_indices: Sequence[int],
                                 center_mode: str = 'static',
                                 center_x: float = 0.5,
                                 center_index: Union[int, List[int]] = 0
                                 ) -> Tuple[np.ndarray, np.ndarray]:
    """Mirror keypoints about a vertical line ``x = x_c`` (used for 3D).

    Maps ``x -> 2 * x_c - x`` (no ``- 1``: these are usually normalised or
    camera coordinates, not pixel indices) and swaps the ``flip_indices``
    partners. Other coordinates are unchanged.

    Args:
        keypoints (np.ndarray): (..., K, D) float coordinates, x first.
        keypoints_visible (np.ndarray): (..., K) visibility.
        flip_indices (Sequence[int]): K partner indices.
        center_mode (str): ``'static'``: ``x_c = center_x``; ``'root'``:
            ``x_c`` is the mean x of the keypoints in ``center_index``, per
            pose (shape ``(...)``).
        center_x (float): The flip line for ``'static'``. Defaults to 0.5.
        center_index (int | list[int]): Root keypoint(s) for ``'root'``.

    Returns:
        tuple:
        - keypoints (np.ndarray): (..., K, D) flipped, a new array.
        - keypoints_visible (np.ndarray): (..., K) reordered, a new array.
    """
    if keypoints.ndim < 2:
        raise ValueError(f'keypoints must be (..., K, D), got '
                         f'{keypoints.shape}')
    if center_mode == 'static':
        x_c = center_x
    elif center_mode == 'root':
        roots = [center_index] if isinstance(center_index, int) else \
            list(center_index)
        if max(roots) >= keypoints.shape[-2]:
            raise IndexError(f'center_index {center_index} is out of range '
                             f'for {keypoints.shape[-2]} keypoints')
        # (...,) -> (..., 1) so it broadcasts over the K keypoints.
        x_c = keypoints[..., roots, 0].mean(axis=-1)[..., None]
    else:
        raise ValueError(f"center_mode must be 'static' or 'root', got "
                         f'{center_mode!r}')
    index = np.asarray(flip_indices)
    flipped = keypoints[..., index, :].copy()
    visible = keypoints_visible[..., index].copy()
    flipped[..., 0] = x_c * 2 - flipped[..., 0]
    return flipped, visible


def keypoint_clip_border(keypoints: np.ndarray, keypoints_visible: np.ndarray,
                         shape: Tuple[int, int]
                         ) -> Tuple[np.ndarray, np.ndarray]:
    """Mark keypoints outside ``[0, w] x [0, h]`` as invisible, in place.

    Coordinates are not changed; only the visibility of outside points is
    set to 0 (the first channel when visibility is (N, K, 2)).

    Args:
        keypoints (np.ndarray): (N, K, 2) float pixels.
        keypoints_visible (np.ndarray): (N, K) or (N, K, 2) float.
        shape (tuple[int, int]): Image size ``(w, h)`` (width first).

    Returns:
        tuple: ``(keypoints, keypoints_visible)``, the same arrays.
    """
    width, height = shape[:2]
    x, y = keypoints[..., 0], keypoints[..., 1]
    outside = (x < 0) | (x > width) | (y < 0) | (y > height)
    if keypoints_visible.ndim == keypoints.ndim - 1:
        keypoints_visible[outside] = 0.0
    else:
        keypoints_visible[outside, 0] = 0.0
    return keypoints, keypoints_visible
