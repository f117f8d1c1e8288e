"""Gaussian heatmap targets: MSRA, unbiased (DARK), UDP and Megvii styles.

Coordinate convention: ``keypoints`` are in *heatmap* pixels (the codec has
already divided input-image pixels by its stride), x first. Heatmaps are
``(K, H, W)`` float32 arrays and ``heatmap_size`` is ``(W, H)``, as in MMPose
configs. Pixel ``(i, j)`` of a heatmap is the point ``x = j, y = i``.

Every function returns ``keypoint_weights``: a copy of ``keypoints_visible``
(same dtype, same values) in which keypoints whose Gaussian cannot touch the
heatmap are set to 0. Keypoints with visibility < 0.5 draw nothing and keep
their visibility value as weight, exactly as MMPose 1.x does.

All keypoints of an instance are drawn at once with numpy; only instances
(N, 1 for the top-down codecs) are looped over, to take the maximum where two
instances' Gaussians overlap.
"""
from typing import Sequence, Tuple, Union

import numpy as np

from .post_processing import blur_channels_last

SigmaLike = Union[float, Sequence[float], np.ndarray]


def _profiles(coords: np.ndarray, center: np.ndarray,
              sigma: float) -> np.ndarray:
    """1-D Gaussians ``exp(-(coords - center)^2 / (2 sigma^2))``.

    Args:
        coords (np.ndarray): (L,) pixel indices.
        center (np.ndarray): (M,) float64 centres.
        sigma (float): Standard deviation.

    Returns:
        np.ndarray: (M, L) float64.
    """
    d = coords[None, :] - center[:, None]
    return np.exp(-d * d / (2 * sigma ** 2))


def _window_patches(keypoints: np.ndarray, mu: np.ndarray, sigma,
                    sub_pixel: bool) -> np.ndarray:
    """The Gaussian patch each keypoint paints, evaluated as MMPose does.

    MMPose samples a kernel on ``g = arange(0, 2r + 1)`` (r = 3 sigma, so
    ``G = ceil(2r + 1)`` samples) centred at ``c = (2r + 1) // 2``, shifted
    by ``kp - mu`` for UDP. The expression and the scalar types are kept so
    numpy promotes exactly as in MMPose and the values agree bit for bit.

    Args:
        keypoints (np.ndarray): (M, 2) float, heatmap pixels.
        mu (np.ndarray): (M, 2) int64 rounded keypoints.
        sigma (float): Gaussian sigma.
        sub_pixel (bool): UDP centre shift.

    Returns:
        np.ndarray: (M, G, G) or, without the shift, (G, G) (same for every
        keypoint); float32 or float64, row = y offset, column = x offset.
    """
    size = 2 * (sigma * 3) + 1
    grid = np.arange(0, size, 1, dtype=np.float32)
    half = size // 2
    if not sub_pixel:
        d2 = (grid - half) ** 2
        return np.exp(-(d2 + d2[:, None]) / (2 * sigma ** 2))
    center = half + (keypoints - mu)
    dx2 = (grid - center[:, 0:1]) ** 2
    dy2 = (grid - center[:, 1:2]) ** 2
    return np.exp(-(dx2[:, None, :] + dy2[:, :, None]) / (2 * sigma ** 2))


def _touches(left, right, heatmap_size) -> np.ndarray:
    """(..., K) bool: the window ``[left, right)`` (x, y last) is not entirely
    right of / below the map nor left of / above it. ``right`` is exclusive,
    yet MMPose tests ``right < 0`` (not ``<= 0``): a window ending exactly at
    0 keeps its weight while painting nothing.
    """
    W, H = heatmap_size
    return ((left[..., 0] < W) & (left[..., 1] < H) &
            (right[..., 0] >= 0) & (right[..., 1] >= 0))


def _windowed_heatmaps(heatmap_size, keypoints, keypoints_visible, sigma,
                       sub_pixel: bool):
    """Shared body of the MSRA and UDP generators (see those).

    The window of a keypoint is MMPose's integer one: ``mu = int(kp + 0.5)``,
    ``[left, right) = [int(mu - r), int(mu + r + 1))`` with ``int``
    truncating toward zero (numpy ``astype``), so a keypoint in (-1.5, -0.5)
    rounds to pixel 0, as in MMPose. Patch sample ``i`` lands on pixel
    ``left + i``. All painted pixels of an instance are written with one
    scatter into the flat heatmap stack; masked-out samples go to a spare
    slot at the end.
    """
    keypoints = np.asarray(keypoints)[..., :2]
    n_inst, n_kpt = keypoints_visible.shape
    W, H = heatmap_size
    area = W * H
    spare = n_kpt * area
    flat = np.zeros(spare + 1, dtype=np.float32)
    weights = np.array(keypoints_visible, copy=True)
    sigmas = _per_instance(sigma, n_inst)
    for n in range(n_inst):
        radius = sigmas[n] * 3
        mu = (keypoints[n] + 0.5).astype(np.int64)
        left = (mu - radius).astype(np.int64)
        right = (mu + radius + 1).astype(np.int64)
        draw = keypoints_visible[n] >= 0.5
        touches = _touches(left, right, heatmap_size)
        weights[n, draw & ~touches] = 0
        ks = np.flatnonzero(draw & touches)
        if len(ks) == 0:
            continue
        patch = _window_patches(keypoints[n, ks], mu[ks], sigmas[n],
                                sub_pixel)
        pos = left[ks, None, :] + np.arange(patch.shape[-1])[:, None]
        end = np.minimum(right[ks], (W, H))[:, None, :]
        # one unsigned compare tests 0 <= pos < end (negatives wrap high)
        ok = pos.view(np.uint64) < end.view(np.uint64)
        px, py = pos[..., 0], pos[..., 1]
        index = ((ks * area)[:, None, None] + py[:, :, None] * W +
                 px[:, None, :])
        index = np.where(ok[:, :, None, 1] & ok[:, None, :, 0], index, spare)
        if n > 0:  # overlapping instances keep the larger value
            patch = np.maximum(flat[index], patch)
        flat[index] = patch
    return flat[:spare].reshape(n_kpt, H, W), weights


def _per_instance(sigma: SigmaLike, n_inst: int) -> list:
    """One sigma per instance, keeping each value's scalar type."""
    if np.ndim(sigma) == 0:
        return [sigma] * n_inst
    if len(sigma) != n_inst:
        raise ValueError(f'got {len(sigma)} sigmas for {n_inst} instances')
    return list(sigma)


def generate_gaussian_heatmaps(
        heatmap_size: Tuple[int, int], keypoints: np.ndarray,
        keypoints_visible: np.ndarray,
        sigma: SigmaLike) -> Tuple[np.ndarray, np.ndarray]:
    """MSRA heatmaps: a Gaussian of peak 1 at the *rounded* keypoint.

    Each Gaussian is cut to MMPose's integer window of half-width ``3 sigma``
    around ``int(kp + 0.5)``; outside it the map is 0. Overlapping instances
    combine by maximum.

    Args:
        heatmap_size (tuple[int, int]): (W, H).
        keypoints (np.ndarray): (N, K, 2) float, heatmap pixels.
        keypoints_visible (np.ndarray): (N, K) float visibility.
        sigma (float | sequence): Gaussian sigma in heatmap pixels, one value
            or one per instance.

    Returns:
        tuple:
        - heatmaps (np.ndarray): (K, H, W) float32.
        - keypoint_weights (np.ndarray): (N, K), dtype of keypoints_visible.
    """
    return _windowed_heatmaps(heatmap_size, keypoints, keypoints_visible,
                              sigma, sub_pixel=False)


def generate_udp_gaussian_heatmaps(
        heatmap_size: Tuple[int, int], keypoints: np.ndarray,
        keypoints_visible: np.ndarray,
        sigma: float) -> Tuple[np.ndarray, np.ndarray]:
    """UDP heatmaps: a Gaussian centred at the exact sub-pixel keypoint.

    The window (which pixels are painted) is MSRA's integer one around the
    rounded keypoint; only the centre moves by the rounding residual.
    Shapes as in :func:`generate_gaussian_heatmaps` (sigma is one float).
    """
    return _windowed_heatmaps(heatmap_size, keypoints, keypoints_visible,
                              sigma, sub_pixel=True)


def generate_unbiased_gaussian_heatmaps(
        heatmap_size: Tuple[int, int], keypoints: np.ndarray,
        keypoints_visible: np.ndarray,
        sigma: float) -> Tuple[np.ndarray, np.ndarray]:
    """DARK heatmaps: an uncut Gaussian at the exact sub-pixel keypoint.

    The weight is 0 when ``[kp - 3 sigma, kp + 3 sigma + 1)`` misses the map
    (MMPose's comparisons, in the keypoints' dtype); otherwise the Gaussian
    covers the whole map. It is evaluated as the outer product of a y and an
    x profile (float64, then float32): MMPose takes the exponential of the
    2-D exponent, K * H * W of them, so values differ from its by float32
    rounding (< 2e-7) at a fraction of the cost. Shapes as in
    :func:`generate_gaussian_heatmaps`.
    """
    keypoints = np.asarray(keypoints)[..., :2]
    W, H = heatmap_size
    radius = 3 * sigma
    weights = np.array(keypoints_visible, copy=True)
    draw = keypoints_visible >= 0.5
    touches = _touches(keypoints - radius, keypoints + radius + 1,
                       heatmap_size)
    weights[draw & ~touches] = 0
    draw &= touches
    n_inst, n_kpt = draw.shape
    heatmaps = np.zeros((n_kpt, H, W), dtype=np.float32)
    scratch = np.empty_like(heatmaps) if n_inst > 1 else heatmaps
    centers = keypoints.astype(np.float64)
    for n in range(n_inst):
        if not draw[n].any():
            continue
        # undrawn keypoints get all-zero profiles, hence all-zero maps
        gx = _profiles(np.arange(W), centers[n, :, 0], sigma)
        gy = _profiles(np.arange(H), centers[n, :, 1], sigma)
        gx = (gx * draw[n, :, None]).astype(np.float32)
        gy = gy.astype(np.float32)
        # products straight into preallocated maps: large temporaries cost
        # more (fresh pages) than the arithmetic
        np.multiply(gy[:, :, None], gx[:, None, :], out=scratch)
        if scratch is not heatmaps:
            np.maximum(heatmaps, scratch, out=heatmaps)
    return heatmaps, weights


def generate_megvii_heatmaps(
        heatmap_size: Tuple[int, int], keypoints: np.ndarray,
        keypoints_visible: np.ndarray,
        kernel_size: int) -> Tuple[np.ndarray, np.ndarray]:
    """Megvii (CPN/MSPN) heatmaps: a blurred one-hot scaled to peak 255.

    Each visible keypoint becomes a 1 at pixel ``(int(x), int(y))``
    (truncation toward zero), blurred by ``cv2.GaussianBlur`` with a
    ``kernel_size`` square kernel and OpenCV's default reflected border, then
    scaled so that pixel reads 255. A keypoint whose pixel is off the map
    gets weight 0. One instance only.

    Args:
        heatmap_size (tuple[int, int]): (W, H).
        keypoints (np.ndarray): (1, K, 2) float, heatmap pixels.
        keypoints_visible (np.ndarray): (1, K) float visibility.
        kernel_size (int): Odd blur kernel size.

    Returns:
        tuple:
        - heatmaps (np.ndarray): (K, H, W) float32.
        - keypoint_weights (np.ndarray): (1, K), dtype of keypoints_visible.
    """
    W, H = heatmap_size
    n_kpt = keypoints.shape[1]
    pix = np.asarray(keypoints)[0, :, :2].astype(np.int64)
    weights = np.array(keypoints_visible, copy=True)
    draw = keypoints_visible[0] >= 0.5
    inside = ((pix[:, 0] >= 0) & (pix[:, 0] < W) &
              (pix[:, 1] >= 0) & (pix[:, 1] < H))
    weights[0, draw & ~inside] = 0
    ks = np.flatnonzero(draw & inside)
    heatmaps = np.zeros((n_kpt, H, W), dtype=np.float32)
    if len(ks) == 0:
        return heatmaps, weights
    xs, ys = pix[ks, 0], pix[ks, 1]
    # OpenCV blurs each channel alike: one call for every keypoint
    onehot = np.zeros((H, W, len(ks)), dtype=np.float32)
    onehot[ys, xs, np.arange(len(ks))] = 1.
    blurred = blur_channels_last(onehot, (kernel_size, kernel_size))
    blurred = blurred.transpose(2, 0, 1)
    peak = blurred[np.arange(len(ks)), ys, xs]
    heatmaps[ks] = blurred / peak[:, None, None] * 255.
    return heatmaps, weights

