"""Per-instance geometry used by the bottom-up codecs: root point, the box
spanned by the visible keypoints, and its diagonal.

Coordinates are whatever space the caller works in (the codecs pass heatmap
pixels), x first. A keypoint counts as visible when its visibility is > 0
(not >= 0.5 as when drawing Gaussians), as in MMPose.
"""
from typing import Tuple

import numpy as np

ROOT_TYPES = ('kpt_center', 'bbox_center')


def check_root_type(root_type: str) -> None:
    """Raise ValueError naming ``root_type`` unless it is a known one."""
    if root_type not in ROOT_TYPES:
        raise ValueError(f'root_type must be one of {ROOT_TYPES}, got '
                         f'{root_type!r}')


def get_instance_root(keypoints: np.ndarray, keypoints_visible: np.ndarray,
                      root_type: str = 'kpt_center'
                      ) -> Tuple[np.ndarray, np.ndarray]:
    """The root point of each instance, from its visible keypoints.

    ``'kpt_center'``: the mean of the visible keypoints; ``'bbox_center'``:
    the centre of the box they span. Each instance's mean is taken with
    ``np.mean`` on its own visible rows, so the float32 result is the one
    MMPose stores (a masked vectorised sum can differ in the last ulp).

    Args:
        keypoints (np.ndarray): (N, K, 2) float.
        keypoints_visible (np.ndarray): (N, K) float.
        root_type (str): ``'kpt_center'`` or ``'bbox_center'``.

    Returns:
        tuple:
        - roots (np.ndarray): (N, 2) float32, 0 for instances without a
          visible keypoint.
        - roots_visible (np.ndarray): (N,) float32, 1 or 0.
    """
    check_root_type(root_type)
    n_inst = len(keypoints)
    roots = np.zeros((n_inst, 2), dtype=np.float32)
    visible = np.asarray(keypoints_visible) > 0
    roots_visible = visible.any(axis=1).astype(np.float32)
    for n in np.flatnonzero(roots_visible):
        pts = keypoints[n, :, :2][visible[n]]
        if root_type == 'kpt_center':
            roots[n] = pts.mean(axis=0)
        else:
            roots[n] = (pts.max(axis=0) + pts.min(axis=0)) / 2.0
    return roots, roots_visible


def get_instance_bbox(keypoints: np.ndarray,
                      keypoints_visible: np.ndarray) -> np.ndarray:
    """The xyxy box spanned by each instance's visible keypoints.

    Args:
        keypoints (np.ndarray): (N, K, 2) float.
        keypoints_visible (np.ndarray): (N, K) float.

    Returns:
        np.ndarray: (N, 4) float32 ``x1, y1, x2, y2``; zeros for instances
        without a visible keypoint.
    """
    pts = np.asarray(keypoints)[..., :2]
    visible = (np.asarray(keypoints_visible) > 0)[..., None]
    low = np.where(visible, pts, np.inf).min(axis=1, initial=np.inf)
    high = np.where(visible, pts, -np.inf).max(axis=1, initial=-np.inf)
    bbox = np.concatenate((low, high), axis=1)
    bbox[~visible[..., 0].any(axis=1)] = 0
    return bbox.astype(np.float32)


def get_diagonal_lengths(keypoints: np.ndarray,
                         keypoints_visible: np.ndarray) -> np.ndarray:
    """Diagonal of :func:`get_instance_bbox`, (N,) float32 (0 when empty)."""
    bbox = get_instance_bbox(keypoints, keypoints_visible).reshape(-1, 2, 2)
    diff = bbox[:, 1] - bbox[:, 0]
    return np.sqrt(np.power(diff, 2).sum(axis=1))


def bbox_xyxy_to_corners(bbox: np.ndarray) -> np.ndarray:
    """(N, 4) xyxy -> (N, 4, 2) corners in MMPose's order: left-top,
    left-bottom, right-top, right-bottom."""
    x1, y1, x2, y2 = np.asarray(bbox).T
    return np.stack((np.stack((x1, y1), -1), np.stack((x1, y2), -1),
                     np.stack((x2, y1), -1), np.stack((x2, y2), -1)), 1)
