"""Peak finding and the Gaussian modulation used before DARK/UDP refinement.

Heatmaps are ``(K, H, W)`` (or ``(B, K, H, W)``); locations come back as
``(x, y)`` = (column, row) float32 pixel indices. A map whose maximum is
<= 0 has no peak: its location is ``(-1, -1)``, as in MMPose.
"""
from typing import Tuple

import cv2
import numpy as np


def blur_channels_last(img: np.ndarray, ksize: Tuple[int, int],
                        border: int = cv2.BORDER_DEFAULT) -> np.ndarray:
    """cv2.GaussianBlur (sigma from ksize) of an (H, W, C) array, any C."""
    out = np.empty_like(img)
    step = 512  # OpenCV's channel limit
    for c0 in range(0, img.shape[2], step):
        part = np.ascontiguousarray(img[:, :, c0:c0 + step])
        res = cv2.GaussianBlur(part, ksize, 0, borderType=border)
        out[:, :, c0:c0 + step] = res.reshape(part.shape)
    return out


def get_heatmap_maximum(heatmaps: np.ndarray
                        ) -> Tuple[np.ndarray, np.ndarray]:
    """Location and value of each heatmap's maximum (first one on ties).

    Args:
        heatmaps (np.ndarray): (K, H, W) or (B, K, H, W) float.

    Returns:
        tuple:
        - locs (np.ndarray): (K, 2) or (B, K, 2) float32 ``(x, y)``;
          ``-1`` where the maximum is <= 0.
        - vals (np.ndarray): (K,) or (B, K), the maxima (heatmap dtype).
    """
    if not isinstance(heatmaps, np.ndarray) or heatmaps.ndim not in (3, 4):
        raise ValueError('heatmaps must be a (K, H, W) or (B, K, H, W) numpy '
                         f'array, got {getattr(heatmaps, "shape", heatmaps)}')
    *lead, H, W = heatmaps.shape
    flat = heatmaps.reshape(-1, H * W)
    idx = np.argmax(flat, axis=1)
    vals = flat[np.arange(len(flat)), idx]
    locs = np.stack((idx % W, idx // W), axis=-1).astype(np.float32)
    locs[vals <= 0.] = -1
    return locs.reshape(*lead, 2), vals.reshape(lead)


def get_simcc_maximum(simcc_x: np.ndarray, simcc_y: np.ndarray,
                      apply_softmax: bool = False
                      ) -> Tuple[np.ndarray, np.ndarray]:
    """Argmax of 1-D x and y classification vectors.

    The score of a keypoint is the smaller of its x and y maxima.

    Args:
        simcc_x (np.ndarray): (K, Wx) or (N, K, Wx) float.
        simcc_y (np.ndarray): (K, Wy) or (N, K, Wy) float, same ndim.
        apply_softmax (bool): Take the softmax along the last axis first.

    Returns:
        tuple:
        - locs (np.ndarray): (K, 2) or (N, K, 2) float32 bin indices
          ``(x, y)``; ``-1`` where the score is <= 0.
        - vals (np.ndarray): (K,) or (N, K) scores.
    """
    for name, arr in (('simcc_x', simcc_x), ('simcc_y', simcc_y)):
        if not isinstance(arr, np.ndarray) or arr.ndim not in (2, 3):
            raise ValueError(f'{name} must be a (K, W) or (N, K, W) numpy '
                             f'array, got {getattr(arr, "shape", arr)}')
    if simcc_x.ndim != simcc_y.ndim:
        raise ValueError(f'simcc_x {simcc_x.shape} and simcc_y '
                         f'{simcc_y.shape} differ in ndim')
    lead = simcc_x.shape[:-1]
    sx = simcc_x.reshape(-1, simcc_x.shape[-1])
    sy = simcc_y.reshape(-1, simcc_y.shape[-1])
    if apply_softmax:
        sx, sy = _softmax(sx), _softmax(sy)
    rows = np.arange(len(sx))
    ix, iy = np.argmax(sx, axis=1), np.argmax(sy, axis=1)
    locs = np.stack((ix, iy), axis=-1).astype(np.float32)
    vx, vy = sx[rows, ix], sy[rows, iy]
    vals = np.where(vx > vy, vy, vx)
    locs[vals <= 0.] = -1
    return locs.reshape(*lead, 2), vals.reshape(lead)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def gaussian_blur(heatmaps: np.ndarray, kernel: int = 11) -> np.ndarray:
    """Smooth heatmaps with a Gaussian, keeping each map's maximum.

    The map is zero-padded (pixels beyond the border count as 0) and blurred
    with ``cv2.GaussianBlur`` (``kernel`` x ``kernel``, sigma derived from the
    size by OpenCV: 2 for 11, about 3 for 17), then rescaled so its maximum
    equals the original one. An all-zero map becomes NaN (0/0), as in MMPose.

    Args:
        heatmaps (np.ndarray): (K, H, W) float. Not modified.
        kernel (int): Odd kernel size.

    Returns:
        np.ndarray: (K, H, W), same dtype, a new array.
    """
    if kernel % 2 != 1:
        raise ValueError(f'blur kernel size must be odd, got {kernel}')
    peak = heatmaps.max(axis=(1, 2))
    img = heatmaps.transpose(1, 2, 0).astype(np.float32)
    blurred = blur_channels_last(img, (kernel, kernel), cv2.BORDER_CONSTANT)
    blurred = blurred.transpose(2, 0, 1).astype(heatmaps.dtype)
    with np.errstate(divide='ignore', invalid='ignore'):
        blurred *= (peak / blurred.max(axis=(1, 2)))[:, None, None]
    return blurred


def gaussian_blur1d(simcc: np.ndarray, kernel: int = 11) -> np.ndarray:
    """1-D version of :func:`gaussian_blur` along the last axis.

    Args:
        simcc (np.ndarray): (N, K, Wx) or (K, Wx) float. Not modified.
        kernel (int): Odd kernel size.

    Returns:
        np.ndarray: same shape and dtype, a new array.
    """
    if kernel % 2 != 1:
        raise ValueError(f'blur kernel size must be odd, got {kernel}')
    rows = simcc.reshape(-1, simcc.shape[-1])
    peak = rows.max(axis=1)
    # each row is an image row; a (kernel, 1) kernel never mixes rows
    blurred = cv2.GaussianBlur(rows.astype(np.float32), (kernel, 1), 0,
                               borderType=cv2.BORDER_CONSTANT)
    blurred = blurred.astype(simcc.dtype)
    with np.errstate(divide='ignore', invalid='ignore'):
        blurred *= (peak / blurred.max(axis=1))[:, None]
    return blurred.reshape(simcc.shape)
