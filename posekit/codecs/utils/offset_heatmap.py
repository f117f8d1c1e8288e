"""UDP 'combined' targets: a binary disc map plus x and y offset maps.

Coordinates are heatmap pixels, ``heatmap_size`` is ``(W, H)``, maps are
``(3K, H, W)`` ordered ``[disc_0, dx_0, dy_0, disc_1, ...]``.
"""
from typing import Tuple

import numpy as np

from .post_processing import blur_channels_last, get_heatmap_maximum


def generate_offset_heatmap(
        heatmap_size: Tuple[int, int], keypoints: np.ndarray,
        keypoints_visible: np.ndarray,
        radius_factor: float) -> Tuple[np.ndarray, np.ndarray]:
    """Disc and offset maps of each keypoint.

    With ``r = radius_factor * max(W, H)``, pixel ``(x, y)`` gets
    ``dx = (kx - x) / r``, ``dy = (ky - y) / r`` and the disc value
    ``1 if dx**2 + dy**2 <= 1 else 0``. Keypoints with visibility < 0.5 leave
    their three maps at 0. With several instances the *last* visible one
    owns the maps (no maximum, as in MMPose). Weights are never zeroed here,
    even for keypoints off the map.

    Args:
        heatmap_size (tuple[int, int]): (W, H).
        keypoints (np.ndarray): (N, K, 2) float, heatmap pixels.
        keypoints_visible (np.ndarray): (N, K) float visibility.
        radius_factor (float): Disc radius as a fraction of ``max(W, H)``.

    Returns:
        tuple:
        - heatmaps (np.ndarray): (3K, H, W) float32.
        - keypoint_weights (np.ndarray): (N, K), a copy of keypoints_visible.
    """
    W, H = heatmap_size
    n_inst, n_kpt = keypoints_visible.shape
    radius = radius_factor * max(W, H)
    drawn = keypoints_visible >= 0.5
    if n_inst == 0:
        return (np.zeros((n_kpt * 3, H, W), dtype=np.float32),
                np.array(keypoints_visible, copy=True))
    # index of the last visible instance of each keypoint
    last = n_inst - 1 - np.argmax(drawn[::-1], axis=0)
    mu = np.asarray(keypoints)[last, np.arange(n_kpt), :2].astype(np.float64)
    dx = (mu[:, 0, None] - np.arange(W)) / radius       # (K, W)
    dy = (mu[:, 1, None] - np.arange(H)) / radius       # (K, H)
    heatmaps = np.empty((n_kpt, 3, H, W), dtype=np.float32)
    # float64 like MMPose, so the disc edge (<= 1) is decided identically
    dist2 = np.add((dx * dx)[:, None, :], (dy * dy)[:, :, None])
    np.less_equal(dist2, 1, out=heatmaps[:, 0], casting='unsafe')
    heatmaps[:, 1] = dx[:, None, :]
    heatmaps[:, 2] = dy[:, :, None]
    heatmaps[~drawn.any(axis=0)] = 0
    return (heatmaps.reshape(n_kpt * 3, H, W),
            np.array(keypoints_visible, copy=True))


def decode_offset_heatmap(heatmaps: np.ndarray, radius_factor: float,
                          blur_size: int) -> Tuple[np.ndarray, np.ndarray]:
    """Locate keypoints in disc + offset maps (heatmap pixels).

    Each disc map is blurred by ``cv2.GaussianBlur`` (``blur_size`` square
    kernel, OpenCV's reflected border, no rescaling); the argmax pixel plus
    ``r * (dx, dy)`` read there is the keypoint. Offsets are read through
    the flattened stack, as MMPose does, so a map with no positive value
    (argmax ``-1``) reads a wrapped pixel like it.

    Args:
        heatmaps (np.ndarray): (3K, H, W) float, ``[disc, dx, dy] * K``.
        radius_factor (float): Disc radius over ``max(W, H)``.
        blur_size (int): Odd kernel size.

    Returns:
        tuple: keypoints (K, 2) float32 and scores (K,) (blurred disc maxima).
    """
    n_maps, H, W = heatmaps.shape
    K = n_maps // 3
    discs = blur_channels_last(
        np.ascontiguousarray(heatmaps[0::3].transpose(1, 2, 0)),
        (blur_size, blur_size)).transpose(2, 0, 1)
    locs, scores = get_heatmap_maximum(discs)
    radius = radius_factor * max(W, H)
    index = locs[:, 0] + locs[:, 1] * W + W * H * np.arange(K)
    index = index.astype(np.float32).astype(int)
    offsets = np.stack((heatmaps[1::3].reshape(-1)[index],
                        heatmaps[2::3].reshape(-1)[index]), -1) * radius
    return (locs + offsets).astype(np.float32), scores
