"""Pure numpy helpers of the pose-lifting codecs (2D keypoints -> 3D pose).

Conventions (as in MMPose 1.3.2's Human3.6M pipelines):

- 2D ``keypoints`` are ``(T, K, 2)`` image pixels of ``T`` frames (``T = 1``
  for single-image lifting), x first.
- ``lifting_target`` is ``(T', K, 3)``: camera-space joints in metres for
  H3.6M (``T'`` target frames, 1 unless the dataset sets
  ``multiple_target``), with visibility ``(T', K)``.
- "Root-relative" means every joint minus the mean of the root joint(s)
  of the same frame; the root itself is stored as ``target_root`` ``(T', 3)``
  so decoding can put the pose back.
- Camera dicts hold ``w``, ``h`` (image size, pixels), ``f`` and ``c``
  (``(2, 1)`` focal length and principal point, pixels) and optionally
  ``p`` (tangential distortion, ``(2, 1)``).
"""
from copy import deepcopy
from typing import Optional, Sequence, Tuple

import numpy as np

from posekit.structures.keypoint import camera_to_pixel


def lifting_target_weights(lifting_target: np.ndarray,
                           lifting_target_visible: Optional[np.ndarray]
                           ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Visibility, per-joint loss weights and trajectory weights.

    Without a visibility, every joint counts and the trajectory weights are
    ``1 / lifting_target[:, 2]``. For a ``(T', K, 3)`` target this is row 2
    (keypoint 2's xyz) of every frame, not the depth: MMPose 1.3.2 indexes it
    so, and it is kept for identical targets (datasets always give a
    visibility, so it only matters for hand-made samples).

    Args:
        lifting_target (np.ndarray): (T', K, C) float.
        lifting_target_visible (np.ndarray, optional): (T', K) float.

    Returns:
        tuple: visibility (T', K), weights (T', K) float32 (visibility > 0.5
        as 1/0) and trajectory weights (weights, or the array above).
    """
    if lifting_target_visible is None:
        visible = np.ones(lifting_target.shape[:-1], dtype=np.float32)
        return visible, visible, 1 / lifting_target[:, 2]
    weights = np.where(lifting_target_visible > 0.5, 1., 0.).astype(
        np.float32)
    return lifting_target_visible, weights, weights


def remove_root_joint(label: np.ndarray, visible: np.ndarray,
                      weights: np.ndarray, root_index: int
                      ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Drop the root joint from a root-relative target (it is all zeros).

    Args:
        label (np.ndarray): (..., K, C) root-relative target.
        visible (np.ndarray): (..., K) visibility.
        weights (np.ndarray): (T', K) or (T', K, C) weights.
        root_index (int): The joint to drop.

    Returns:
        tuple: the three arrays with K - 1 joints.
    """
    if weights.ndim not in (2, 3):
        raise ValueError('lifting_target_weight must be (T, K) or (T, K, C), '
                         f'got {weights.shape}')
    weight_axis = -2 if weights.ndim == 3 else -1
    return (np.delete(label, root_index, axis=-2),
            np.delete(visible, root_index, axis=-2),
            np.delete(weights, root_index, axis=weight_axis))


def check_root_index(lifting_target: np.ndarray,
                     root_index: Sequence[int]) -> None:
    """Raise unless the target is (..., K, C) with every root index < K."""
    if lifting_target.ndim < 2 or lifting_target.shape[-2] <= max(root_index):
        raise ValueError(f'lifting_target {lifting_target.shape} is not '
                         f'(..., K, C) with K > root_index {list(root_index)}')


def flatten_keypoint_labels(labels: np.ndarray, visible: np.ndarray,
                            concat_vis: bool, reshape: bool) -> np.ndarray:
    """Network input layout of the 2D keypoints.

    Args:
        labels (np.ndarray): (T, K, D) or (K, D) normalised keypoints.
        visible (np.ndarray): (T, K) or (T, K, 1) visibility.
        concat_vis (bool): Append the visibility as channel D.
        reshape (bool): Return ``(K * D', T)`` (joint-major, channel
            next, frames last: the TCN's Conv1d layout) instead of
            ``(T, K, D')``.

    Returns:
        np.ndarray: (T, K, D') or (K * D', T).
    """
    if labels.ndim not in (2, 3):
        raise ValueError(f'keypoint labels must be (T, K, D) or (K, D), got '
                         f'{labels.shape}')
    if labels.ndim == 2:
        labels = labels[None]
    if concat_vis:
        vis = visible[..., None] if visible.ndim == 2 else visible
        labels = np.concatenate((labels, vis), axis=2)
    if reshape:
        labels = labels.transpose(1, 2, 0).reshape(-1, labels.shape[0])
    return labels


def normalize_camera_param(camera_param: dict, center: np.ndarray,
                           scale: np.ndarray) -> dict:
    """Express intrinsics in the normalised frame ``(p - center) / scale``.

    Args:
        camera_param (dict): with ``f`` and ``c`` (2, 1), pixels.
        center (np.ndarray): (2,) float32, ``(w / 2, h / 2)``.
        scale (np.ndarray): () float32, ``w / 2``.

    Returns:
        dict: a deep copy with ``f / scale`` and ``(c - center) / scale``.
    """
    if 'f' not in camera_param or 'c' not in camera_param:
        raise KeyError('normalize_camera=True needs camera_param "f" and "c"')
    param = deepcopy(camera_param)
    param['f'] = param['f'] / scale
    param['c'] = (param['c'] - center[:, None]) / scale
    return param


def camera_to_image_coord(root_index: int, points: np.ndarray,
                          camera_param: dict
                          ) -> Tuple[np.ndarray, np.ndarray]:
    """MotionBERT's "image coordinates" of camera-space joints.

    x, y are the pinhole projections with the intrinsics divided by 1000
    (pixels / 1000 for metre inputs); z is the depth relative to the root
    times ``ratio``, the projected size of one camera unit at the root's
    depth (half the width of a 2 x 2 square about the root). ``factor =
    1 / ratio`` maps these image units back to camera units.

    Args:
        root_index (int): The root joint.
        points (np.ndarray): (T, K, 3) camera coordinates.
        camera_param (dict): with ``f`` and ``c`` (2, 1), pixels.

    Returns:
        tuple: image coordinates (T, K, 3) (dtype of ``points``) and factor
        (T,).
    """
    fx, fy = camera_param['f'] / 1000.
    cx, cy = camera_param['c'] / 1000.
    root = points[..., root_index, :].reshape(-1, 3)
    # a 2 x 2 unit square about the root: its projected width is the scale
    left = root.copy()
    left[:, :2] -= 1.0
    right = root.copy()
    right[:, :2] += 1.0
    width = (camera_to_pixel(right, fx, fy, cx, cy)[:, 0] -
             camera_to_pixel(left, fx, fy, cx, cy)[:, 0] + 0.001)
    image = np.zeros_like(points)
    image[..., :2] = camera_to_pixel(points.copy(), fx, fy, cx, cy)
    depth = points[..., 2] - points[..., root_index:root_index + 1, 2]
    image[..., 2] = (width / 2.0)[:, None] * depth
    return image, 2.0 / width
