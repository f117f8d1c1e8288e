"""Dense displacement fields of DEKR's SPR codec (Geng et al., CVPR 2021).

All coordinates are heatmap pixels, x first; pixel ``(row i, column j)`` is
the point ``(x, y) = (j, i)``. A displacement map stores, at each pixel
``p`` near an instance root, ``keypoint - p`` for every keypoint, as
``(2K, H, W)`` with channel ``2k`` = x and ``2k + 1`` = y of keypoint k.
"""
from typing import Tuple

import numpy as np

from .grouping import heatmap_nms, topk_flat


def _window(root: np.ndarray, radius: float, size: Tuple[int, int]):
    """Pixel ranges ``[x0, x1) x [y0, y1)`` of MMPose's square around a
    root: ``int(root -/+ radius)`` (truncation), clipped into the map."""
    W, H = size
    x0, y0 = (max(int(root[i] - radius), 0) for i in (0, 1))
    return x0, min(int(root[0] + radius), W), y0, min(int(root[1] + radius),
                                                      H)


def generate_displacement_heatmap(
        heatmap_size: Tuple[int, int], keypoints: np.ndarray,
        keypoints_visible: np.ndarray, roots: np.ndarray,
        roots_visible: np.ndarray, diagonal_lengths: np.ndarray,
        radius: float) -> Tuple[np.ndarray, np.ndarray]:
    """Displacements of each instance's keypoints from the pixels around
    its root, weighted by ``1 / diagonal length``.

    Instances are drawn in order. A pixel already holding a (non-zero)
    displacement of keypoint k keeps it when the new instance is larger
    than the one recorded at that pixel (``instance_size_map``, shared by
    all keypoints). Within one instance the record changes as soon as one
    of its keypoints is written, so from then on it writes every later
    keypoint there: MMPose's loop, evaluated per instance with a running
    ``or`` over keypoints instead of per pixel.

    Args:
        heatmap_size (tuple[int, int]): (W, H).
        keypoints (np.ndarray): (N, K, 2) float, heatmap pixels.
        keypoints_visible (np.ndarray): (N, K); keypoints with visibility
            < 1 or off the map are skipped.
        roots (np.ndarray): (N, 2) float instance roots.
        roots_visible (np.ndarray): (N,); instances with < 1 or a root off
            the map are skipped.
        diagonal_lengths (np.ndarray): (N,) float32 instance sizes.
        radius (float): Half-size of the square around the root.

    Returns:
        tuple: displacements and displacement_weights, (2K, H, W) float32.
    """
    N, K = keypoints.shape[:2]
    W, H = heatmap_size
    disp = np.zeros((K, 2, H, W), dtype=np.float32)
    weights = np.zeros((K, 2, H, W), dtype=np.float32)
    size_map = np.zeros((H, W), dtype=np.float32)
    kpts = np.asarray(keypoints)[..., :2]
    on_map = ((kpts >= 0).all(-1) & (kpts[..., 0] < W) & (kpts[..., 1] < H))
    use_kpt = (np.asarray(keypoints_visible) >= 1) & on_map
    for n in range(N):
        root = roots[n]
        if (roots_visible[n] < 1 or root[0] < 0 or root[1] < 0
                or root[0] >= W or root[1] >= H):
            continue
        ks = np.flatnonzero(use_kpt[n])
        x0, x1, y0, y1 = _window(root, radius, heatmap_size)
        if len(ks) == 0 or x1 <= x0 or y1 <= y0:
            continue
        win = (slice(y0, y1), slice(x0, x1))
        diag = diagonal_lengths[n]
        old = disp[ks, :, y0:y1, x0:x1]                   # (k, 2, h, w)
        written = (old != 0).any(axis=1)
        larger = diag > size_map[win]
        write = ~larger | np.logical_or.accumulate(~written, axis=0)
        xs = np.arange(x0, x1, dtype=np.float64)
        ys = np.arange(y0, y1, dtype=np.float64)
        kp = kpts[n, ks].astype(np.float64)
        new = np.stack(np.broadcast_arrays(
            kp[:, 0, None, None] - xs, kp[:, 1, None, None] - ys[:, None]), 1)
        with np.errstate(divide='ignore'):
            inv = np.float32(1) / diag
        disp[ks, :, y0:y1, x0:x1] = np.where(write[:, None], new, old)
        weights[ks, :, y0:y1, x0:x1] = np.where(
            write[:, None], inv, weights[ks, :, y0:y1, x0:x1])
        size_map[win] = np.where(write.any(axis=0), diag, size_map[win])
    return disp.reshape(2 * K, H, W), weights.reshape(2 * K, H, W)


def decode_root_displacements(root_heatmap: np.ndarray,
                              displacements: np.ndarray, nms_kernel: int,
                              max_instances: int, thr: float
                              ) -> Tuple[np.ndarray, np.ndarray]:
    """Instances from root-heatmap peaks and the displacements there.

    The root heatmap is NMS-ed (:func:`heatmap_nms`), its ``max_instances``
    largest values above ``thr`` are the instance roots, and each keypoint
    is the root pixel plus its displacement.

    Args:
        root_heatmap (np.ndarray): (H, W) float.
        displacements (np.ndarray): (2K, H, W) float.
        nms_kernel (int): Odd NMS window.
        max_instances (int): Most roots kept.
        thr (float): Minimum root response (exclusive).

    Returns:
        tuple: keypoints (N, K, 2) heatmap pixels (displacements' dtype)
        and root_scores (N,).
    """
    H, W = root_heatmap.shape
    peaks = heatmap_nms(root_heatmap[None], nms_kernel)[0]
    scores, index = topk_flat(peaks.reshape(-1), max_instances)
    keep = scores > thr
    scores, index = scores[keep], index[keep]
    y, x = np.divmod(index, W)
    disp = displacements.reshape(-1, 2, H, W)[:, :, y, x]     # (K, 2, N)
    grid = np.stack((x, y)).astype(displacements.dtype)        # (2, N)
    return (grid + disp).transpose(2, 0, 1), scores


def sample_heatmaps(heatmaps: np.ndarray, keypoints: np.ndarray
                    ) -> np.ndarray:
    """Bilinear heatmap values at keypoints, as MMPose's SPR scores them.

    MMPose normalises ``x`` by ``W - 1`` but samples with
    ``grid_sample(align_corners=False, padding_mode='border')``, so the
    value is read at pixel ``x * W / (W - 1) - 0.5`` (and likewise y),
    clamped into ``[0, W - 1]``: up to half a pixel away from ``x``. That
    offset is kept, since DEKR checkpoints were evaluated with it.

    Args:
        heatmaps (np.ndarray): (K, H, W) float32 keypoint heatmaps.
        keypoints (np.ndarray): (N, K, 2) float32 heatmap pixels.

    Returns:
        np.ndarray: (N, K) float32.
    """
    K, H, W = heatmaps.shape
    kp = np.asarray(keypoints, dtype=np.float32)
    f32 = np.float32

    def source(coord, size):
        norm = coord / f32(size - 1) * f32(2) - f32(1)
        # PyTorch's CPU kernel unnormalises as (g + 1) * size / 2 - 0.5
        pix = (norm + f32(1)) * f32(size / 2) - f32(0.5)
        return np.clip(pix, f32(0), f32(size - 1))

    ix, iy = source(kp[..., 0], W), source(kp[..., 1], H)
    x0, y0 = np.floor(ix), np.floor(iy)
    fx, fy = ix - x0, iy - y0
    k = np.broadcast_to(np.arange(K), ix.shape)
    x0, y0 = x0.astype(np.int64), y0.astype(np.int64)
    out = np.zeros(ix.shape, dtype=np.float32)
    for dy, wy in ((0, f32(1) - fy), (1, fy)):
        for dx, wx in ((0, f32(1) - fx), (1, fx)):
            xx, yy = x0 + dx, y0 + dy
            inside = (xx < W) & (yy < H)
            val = heatmaps[k, np.minimum(yy, H - 1), np.minimum(xx, W - 1)]
            out += np.where(inside, val * (wx * wy), f32(0))
    return out
