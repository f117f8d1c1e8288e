"""CID's decoupled heatmaps (Wang et al., CVPR 2022): per-instance sigmas,
the choice of training instances, and decoding of instance heatmaps.

Coordinates are heatmap pixels, x first; heatmaps are ``(K, H, W)``.
"""
import random
from typing import Tuple

import numpy as np

from .post_processing import get_heatmap_maximum
from .refinement import refine_keypoints


def get_instance_wise_sigmas(corners: np.ndarray,
                             min_overlap: float) -> np.ndarray:
    """Gaussian sigma of each instance from its box size.

    The radius is CornerNet's: the smallest of the three radii at which a
    box shifted by it still overlaps the original by ``min_overlap`` (IoU);
    sigma is a third of it. Height is ``|corner0 - corner1|`` and width
    ``|corner0 - corner2|`` (corners as :func:`bbox_xyxy_to_corners`
    orders them). The arithmetic is float32, term by term as in MMPose.

    Args:
        corners (np.ndarray): (N, 4, 2) float32 box corners.
        min_overlap (float): IoU in (0, 1).

    Returns:
        np.ndarray: (N,) float32 sigmas.
    """
    h = np.sqrt(np.power(corners[:, 0] - corners[:, 1], 2).sum(axis=-1))
    w = np.sqrt(np.power(corners[:, 0] - corners[:, 2], 2).sum(axis=-1))
    mo = min_overlap
    # the three quadratics a r^2 - b r + c = 0 (CornerNet's cases)
    b1 = h + w
    c1 = w * h * (1 - mo) / (1 + mo)
    r1 = (b1 + np.sqrt(b1**2 - 4 * 1 * c1)) / 2
    b2 = 2 * (h + w)
    c2 = (1 - mo) * w * h
    r2 = (b2 + np.sqrt(b2**2 - 4 * 4 * c2)) / 2
    a3 = 4 * mo
    b3 = -2 * mo * (h + w)
    c3 = (mo - 1) * w * h
    r3 = (b3 + np.sqrt(b3**2 - 4 * a3 * c3)) / 2
    radius = np.minimum(np.minimum(r1, r2), r3)
    return (radius / 3).astype(np.float32)


def select_instances(roots: np.ndarray, roots_visible: np.ndarray,
                     diagonal_lengths: np.ndarray,
                     heatmap_size: Tuple[int, int], max_instances: int,
                     np_rng=np.random, py_rng=random
                     ) -> Tuple[list, np.ndarray]:
    """Training instances of CID and their jittered root pixels.

    Instances are visited from small to large; each visible one draws a
    jitter in {-1, 0, 1}^2 (``np_rng.randint``), is clipped into the map
    and kept unless an earlier one landed on the same (float) point. If
    more than ``max_instances`` remain, ``py_rng.sample`` picks that many.
    The default generators are the global ones MMPose draws from, so seeded
    runs draw the same values.

    Args:
        roots (np.ndarray): (N, 2) float32 roots.
        roots_visible (np.ndarray): (N,) float; < 1 means skipped.
        diagonal_lengths (np.ndarray): (N,) float32 instance sizes.
        heatmap_size (tuple[int, int]): (W, H).
        max_instances (int): Most instances kept.
        np_rng: Object with numpy's ``randint(low, high, size)``.
        py_rng: Object with ``random.sample``.

    Returns:
        tuple: instance indices (list of int) and their root pixels (M, 2)
        int32 (truncated).
    """
    W, H = heatmap_size
    points, indices = [], []
    for i in np.argsort(diagonal_lengths):
        if roots_visible[i] < 1:
            continue
        x, y = roots[i] + np_rng.randint(-1, 2, (2, ))
        point = (max(0, min(x, W - 1)), max(0, min(y, H - 1)))
        if point not in points:
            points.append(point)
            indices.append(int(i))
    if len(indices) > max_instances:
        chosen = py_rng.sample(range(len(indices)), max_instances)
        points = [points[i] for i in chosen]
        indices = [indices[i] for i in chosen]
    coords = np.array(points, dtype=np.int32).reshape(-1, 2)
    return indices, coords


def decode_instance_heatmaps(instance_heatmaps: np.ndarray
                             ) -> Tuple[np.ndarray, np.ndarray]:
    """Argmax of each instance's heatmaps, moved 0.25 px toward the higher
    neighbour (:func:`refine_keypoints`).

    Args:
        instance_heatmaps (np.ndarray): (N, K, H, W) float.

    Returns:
        tuple: keypoints (N, K, 2) float32 heatmap pixels (-1 where a map
        has no positive value) and scores (N, K), the maxima.
    """
    N, K, H, W = instance_heatmaps.shape
    locs, vals = get_heatmap_maximum(instance_heatmaps)
    # every (instance, keypoint) has its own map: refine them as one row
    refined = refine_keypoints(locs.reshape(1, N * K, 2),
                               instance_heatmaps.reshape(N * K, H, W))
    return refined.reshape(N, K, 2), vals
