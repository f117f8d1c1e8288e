"""Sub-pixel refinement of argmax locations (MMPose 1.x numerics).

``keypoints`` are ``(N, K, 2)`` float32 heatmap pixels ``(x, y)``, normally
the integer argmax from :func:`get_heatmap_maximum` (``-1`` for no peak);
``heatmaps`` are ``(K, H, W)`` and shared by all N rows. Every function
returns a new array and leaves its inputs untouched.
"""
import numpy as np

from .post_processing import gaussian_blur, gaussian_blur1d


def _gather(maps: np.ndarray, k: np.ndarray, y: np.ndarray,
            x: np.ndarray) -> np.ndarray:
    """maps[k, y, x] with indices clipped into range (callers mask the
    out-of-range ones)."""
    K, H, W = maps.shape
    return maps[k, np.clip(y, 0, H - 1), np.clip(x, 0, W - 1)]


def refine_keypoints(keypoints: np.ndarray,
                     heatmaps: np.ndarray) -> np.ndarray:
    """Move each location 0.25 px toward its higher neighbour, per axis.

    MMPose's exact guards are kept: the x step needs ``1 < x < W - 1`` and
    ``0 < y < H``; the y step needs ``1 < y < H - 1`` and ``0 < x < W``
    (so column 1 and row 0 are never refined). Equal neighbours: no step.

    Args:
        keypoints (np.ndarray): (N, K, 2) float32.
        heatmaps (np.ndarray): (K, H, W) float.

    Returns:
        np.ndarray: (N, K, 2), keypoints' dtype.
    """
    K, H, W = heatmaps.shape
    x = keypoints[..., 0].astype(int)
    y = keypoints[..., 1].astype(int)
    k = np.broadcast_to(np.arange(K), x.shape)
    ok_x = (1 < x) & (x < W - 1) & (0 < y) & (y < H)
    ok_y = (1 < y) & (y < H - 1) & (0 < x) & (x < W)
    dx = _gather(heatmaps, k, y, x + 1) - _gather(heatmaps, k, y, x - 1)
    dy = _gather(heatmaps, k, y + 1, x) - _gather(heatmaps, k, y - 1, x)
    step = np.stack((np.where(ok_x, dx, 0.), np.where(ok_y, dy, 0.)), -1)
    return keypoints + np.sign(step).astype(np.float32) * np.float32(0.25)


def refine_keypoints_dark(keypoints: np.ndarray, heatmaps: np.ndarray,
                          blur_kernel_size: int) -> np.ndarray:
    """DARK: one Newton step on the log of the blurred heatmap.

    The maps are blurred (:func:`gaussian_blur`), floored at 1e-10 and
    logged; at the peak the gradient uses central differences with step 1
    and the Hessian step 2. Keypoints need ``1 < x < W - 2`` and
    ``1 < y < H - 2`` and a non-zero Hessian determinant, else they stay.
    Arithmetic is in the heatmap dtype (float32 for network outputs).

    Args:
        keypoints (np.ndarray): (N, K, 2) float32.
        heatmaps (np.ndarray): (K, H, W) float.
        blur_kernel_size (int): Odd blur kernel size.

    Returns:
        np.ndarray: (N, K, 2), keypoints' dtype.
    """
    K, H, W = heatmaps.shape
    logm = np.log(np.maximum(gaussian_blur(heatmaps, blur_kernel_size),
                             heatmaps.dtype.type(1e-10)))
    x = keypoints[..., 0].astype(int)
    y = keypoints[..., 1].astype(int)
    k = np.broadcast_to(np.arange(K), x.shape)

    def at(dy, dx):
        return _gather(logm, k, y + dy, x + dx)

    c = at(0, 0)
    dx = 0.5 * (at(0, 1) - at(0, -1))
    dy = 0.5 * (at(1, 0) - at(-1, 0))
    dxx = 0.25 * (at(0, 2) - 2 * c + at(0, -2))
    dxy = 0.25 * (at(1, 1) - at(-1, 1) - at(1, -1) + at(-1, -1))
    dyy = 0.25 * (at(2, 0) - 2 * c + at(-2, 0))
    inside = (1 < x) & (x < W - 2) & (1 < y) & (y < H - 2)
    use = inside & (dxx * dyy - dxy ** 2 != 0)
    out = np.array(keypoints, copy=True)
    if use.any():
        hess = np.stack((np.stack((dxx, dxy), -1),
                         np.stack((dxy, dyy), -1)), -2)[use]
        grad = np.stack((dx, dy), -1)[use][..., None]
        out[use] += (-np.linalg.inv(hess) @ grad)[..., 0]
    return out


def refine_keypoints_dark_udp(keypoints: np.ndarray, heatmaps: np.ndarray,
                              blur_kernel_size: int) -> np.ndarray:
    """UDP's DARK variant: Newton step on the clipped log heatmap.

    The maps are blurred, clipped to [1e-3, 50], logged and edge-padded by 1
    pixel; derivatives use step-1 differences (the mixed one averages two
    one-sided estimates). The Hessian gets ``eps(float32) * I`` added and
    is inverted in float64. Every keypoint is updated, borders included.
    Values are read through the flattened padded stack, as MMPose does, so
    a ``-1`` location reads (wrapped) neighbours just like it.

    Args:
        keypoints (np.ndarray): (N, K, 2) float32.
        heatmaps (np.ndarray): (K, H, W) float.
        blur_kernel_size (int): Odd blur kernel size.

    Returns:
        np.ndarray: (N, K, 2), keypoints' dtype.
    """
    K, H, W = heatmaps.shape
    logm = np.log(np.clip(gaussian_blur(heatmaps, blur_kernel_size),
                          1e-3, 50.))
    flat = np.pad(logm, ((0, 0), (1, 1), (1, 1)), mode='edge').reshape(-1)
    row = W + 2
    base = (keypoints[..., 0] + 1 + (keypoints[..., 1] + 1) * row +
            row * (H + 2) * np.arange(K))
    # MMPose accumulates this index in the keypoints' dtype, then truncates
    base = base.astype(keypoints.dtype).astype(int)

    def at(offset):
        return flat[base + offset]

    i0, ix1, ix1_ = at(0), at(1), at(-1)
    iy1, iy1_ = at(row), at(-row)
    ix1y1, ix1_y1_ = at(row + 1), at(-row - 1)
    dx = 0.5 * (ix1 - ix1_)
    dy = 0.5 * (iy1 - iy1_)
    dxx = ix1 - 2 * i0 + ix1_
    dyy = iy1 - 2 * i0 + iy1_
    # summed left to right as written, for float32 agreement with MMPose
    dxy = 0.5 * (ix1y1 - ix1 - iy1 + i0 + i0 - ix1_ - iy1_ + ix1_y1_)
    hess = np.stack((np.stack((dxx, dxy), -1), np.stack((dxy, dyy), -1)), -2)
    hess = hess + np.finfo(np.float32).eps * np.eye(2)
    grad = np.stack((dx, dy), -1)[..., None]
    out = np.array(keypoints, copy=True)
    out -= (np.linalg.inv(hess) @ grad)[..., 0]
    return out


def refine_simcc_dark(keypoints: np.ndarray, simcc: np.ndarray,
                      blur_kernel_size: int) -> np.ndarray:
    """DARK for one SimCC axis: 1-D Newton step on the clipped log vector.

    The vectors are blurred (:func:`gaussian_blur1d`), clipped to
    [1e-3, 50], logged and edge-padded by 2 bins; the slope uses step-1 and
    the curvature step-2 differences (plus 1e-9). A ``-1`` location reads
    wrapped bins, as in MMPose.

    Args:
        keypoints (np.ndarray): (N, K) float32 bin indices on this axis.
        simcc (np.ndarray): (N, K, Wx) float.
        blur_kernel_size (int): Odd blur kernel size.

    Returns:
        np.ndarray: (N, K), keypoints' dtype.
    """
    logv = np.log(np.clip(gaussian_blur1d(simcc, blur_kernel_size),
                          1e-3, 50.))
    logv = np.pad(logv, ((0, 0), (0, 0), (2, 2)), mode='edge')
    px = (keypoints + 2.5).astype(np.int64)[..., None]

    def at(offset):
        return np.take_along_axis(logv, px + offset, axis=-1)[..., 0]

    slope = 0.5 * (at(1) - at(-1))
    curv = 1e-9 + 0.25 * (at(2) - 2 * at(0) + at(-2))
    out = np.array(keypoints, copy=True)
    out -= slope / curv
    return out


def refine_keypoints_megvii(keypoints: np.ndarray,
                            heatmaps: np.ndarray) -> np.ndarray:
    """Megvii (CPN/MSPN) shift: +0.5 px to the pixel centre, then 0.25 px
    toward the higher neighbour, only where ``1 < x < W - 1`` and
    ``1 < y < H - 1`` (elsewhere the location is unchanged).

    Args:
        keypoints (np.ndarray): (K, 2) float32 argmax locations.
        heatmaps (np.ndarray): (K, H, W) float (already blurred).

    Returns:
        np.ndarray: (K, 2), keypoints' dtype.
    """
    K, H, W = heatmaps.shape
    x = keypoints[:, 0].astype(int)
    y = keypoints[:, 1].astype(int)
    k = np.arange(K)
    inside = (1 < x) & (x < W - 1) & (1 < y) & (y < H - 1)
    diff = np.stack((_gather(heatmaps, k, y, x + 1) -
                     _gather(heatmaps, k, y, x - 1),
                     _gather(heatmaps, k, y + 1, x) -
                     _gather(heatmaps, k, y - 1, x)), -1)
    shift = np.sign(diff) * 0.25 + 0.5
    out = np.array(keypoints, copy=True)
    out[inside] += shift[inside]
    return out
