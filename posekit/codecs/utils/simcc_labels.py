"""SimCC targets: one 1-D classification vector per axis and keypoint.

Keypoints are in input-image pixels; bin ``i`` of an axis stands for the
coordinate ``i / split_ratio``. A keypoint maps to bin
``round(kp * split_ratio)`` (numpy's round half to even). The label lengths
are ``Wx = round(w * split_ratio)`` and ``Wy = round(h * split_ratio)``.

Weights are a copy of ``keypoints_visible`` with off-range keypoints set to
0; keypoints with visibility < 0.5 get all-zero labels and keep their
visibility value as weight (MMPose 1.x behaviour).
"""
import functools
from typing import Tuple

import numpy as np


def simcc_label_sizes(input_size: Tuple[int, int],
                      split_ratio: float) -> Tuple[int, int]:
    """(Wx, Wy): label lengths for an input of size (w, h)."""
    w, h = input_size
    return (int(np.around(w * split_ratio)), int(np.around(h * split_ratio)))


def _bins(keypoints: np.ndarray, split_ratio: float) -> np.ndarray:
    """(N, K, 2) int64 bin of each keypoint."""
    return np.around(keypoints[..., :2] * split_ratio).astype(np.int64)


def generate_simcc_standard_labels(
        input_size: Tuple[int, int], keypoints: np.ndarray,
        keypoints_visible: np.ndarray, split_ratio: float,
        label_smooth_weight: float = 0.
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One-hot labels, optionally label-smoothed.

    The keypoint's bin holds ``1 - label_smooth_weight``; with smoothing
    every bin first gets ``label_smooth_weight / (L - 1)`` (L the axis
    length), including the keypoint's bin before it is overwritten. A bin
    outside ``[0, L)`` on either axis gives weight 0 and empty labels.

    Args:
        input_size (tuple[int, int]): (w, h) of the input image.
        keypoints (np.ndarray): (N, K, 2) float, input pixels.
        keypoints_visible (np.ndarray): (N, K) float visibility.
        split_ratio (float): Bins per input pixel.
        label_smooth_weight (float): In [0, 1].

    Returns:
        tuple:
        - x_labels (np.ndarray): (N, K, Wx) float32.
        - y_labels (np.ndarray): (N, K, Wy) float32.
        - keypoint_weights (np.ndarray): (N, K), keypoints_visible's dtype.
    """
    Wx, Wy = simcc_label_sizes(input_size, split_ratio)
    mu = _bins(keypoints, split_ratio)
    weights = np.array(keypoints_visible, copy=True)
    drawn = keypoints_visible >= 0.5
    inside = ((mu[..., 0] >= 0) & (mu[..., 0] < Wx) &
              (mu[..., 1] >= 0) & (mu[..., 1] < Wy))
    weights[drawn & ~inside] = 0
    drawn &= inside
    labels = []
    for axis, length in ((0, Wx), (1, Wy)):
        lab = np.zeros(drawn.shape + (length,), dtype=np.float32)
        if label_smooth_weight > 0:
            lab[drawn] = label_smooth_weight / (length - 1)
        n, k = np.nonzero(drawn)
        lab[n, k, mu[n, k, axis]] = 1.0 - label_smooth_weight
        labels.append(lab)
    return labels[0], labels[1], weights


def generate_simcc_gaussian_labels(
        input_size: Tuple[int, int], keypoints: np.ndarray,
        keypoints_visible: np.ndarray, split_ratio: float,
        sigma: np.ndarray, normalize: bool = True
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gaussian labels ``exp(-(i - bin)^2 / (2 sigma^2))`` on each axis.

    The weight is 0 when ``[bin - 3 sigma, bin + 3 sigma + 1)`` misses the
    axis in x or in y; otherwise the Gaussian covers the whole axis. With
    ``normalize`` the labels are divided by ``sigma * sqrt(2 pi)``.

    Args:
        input_size (tuple[int, int]): (w, h) of the input image.
        keypoints (np.ndarray): (N, K, 2) float, input pixels.
        keypoints_visible (np.ndarray): (N, K) float visibility.
        split_ratio (float): Bins per input pixel.
        sigma (np.ndarray): (2,) float, sigma in bins for x and y.
        normalize (bool): Divide by the Gaussian's normaliser.

    Returns:
        Same as :func:`generate_simcc_standard_labels`.
    """
    Wx, Wy = simcc_label_sizes(input_size, split_ratio)
    sigma = np.asarray(sigma, dtype=np.float64).reshape(2)
    mu = _bins(keypoints, split_ratio)
    weights = np.array(keypoints_visible, copy=True)
    drawn = keypoints_visible >= 0.5
    radius = 3 * sigma
    lo, hi = mu - radius, mu + radius + 1
    misses = ((lo[..., 0] >= Wx) | (lo[..., 1] >= Wy) |
              (hi[..., 0] < 0) | (hi[..., 1] < 0))
    weights[drawn & misses] = 0
    drawn &= ~misses
    labels = []
    for axis, length in ((0, Wx), (1, Wy)):
        # bins are integers, so a label depends only on (bin - mu): look
        # the values up in a table instead of re-evaluating exp per keypoint
        table, reach = _gaussian_table(length, float(sigma[axis]), normalize)
        offset = np.arange(length) - mu[..., axis, None]
        lab = table[np.clip(offset, -reach, reach) + reach]
        lab[~drawn] = 0
        labels.append(lab)
    return labels[0], labels[1], weights


@functools.lru_cache(maxsize=32)
def _gaussian_table(length: int, sigma: float,
                    normalize: bool) -> Tuple[np.ndarray, int]:
    """Label values for every integer offset a drawn keypoint can produce.

    A drawn keypoint's bin lies within ``3 sigma + 1`` of the axis, so offsets
    stay within ``reach = length + 3 sigma + 2``. Values are computed as
    MMPose computes them (float64 exp cast to float32, then the float64
    division cast to float32), so they agree bit for bit.

    Returns:
        tuple: (2 reach + 1,) read-only float32 table indexed by
        ``offset + reach``, and reach.
    """
    reach = int(length + 3 * sigma + 2)
    d = np.arange(-reach, reach + 1, dtype=np.float64)
    table = np.exp(-d * d / (2 * sigma ** 2)).astype(np.float32)
    if normalize:
        table = (table / (sigma * np.sqrt(np.pi * 2))).astype(np.float32)
    table.flags.writeable = False
    return table, reach
