"""PCK accuracy of keypoints, from coordinates, heatmaps or SimCC vectors.

Pure numpy. Shapes: N instances, K keypoints, D coordinate dims. A masked
keypoint (mask False) is left out of every count; a keypoint with no
unmasked instance gets accuracy -1 and is left out of the average.
"""
from typing import Optional, Tuple

import numpy as np

from posekit.codecs.utils import get_heatmap_maximum, get_simcc_maximum


def _calc_distances(preds: np.ndarray, gts: np.ndarray, mask: np.ndarray,
                    norm_factor: np.ndarray) -> np.ndarray:
    """Normalised distances between predictions and ground truth.

    Args:
        preds (np.ndarray): (N, K, D) predicted keypoints.
        gts (np.ndarray): (N, K, D) ground-truth keypoints.
        mask (np.ndarray): (N, K) bool, False to leave a keypoint out.
        norm_factor (np.ndarray): (N, D) divisor of each coordinate. An
            instance with a zero factor is left out; a negative factor is
            replaced by 1e6 (MMPose's rule). Not modified.

    Returns:
        np.ndarray: (K, N) float32 distances, -1 where left out.
    """
    norm_factor = np.array(norm_factor)  # a copy, in its own dtype
    keep = np.array(mask, dtype=bool)
    keep[(norm_factor == 0).any(axis=1)] = False
    norm_factor[norm_factor <= 0] = 1e6
    N, K = keep.shape
    distances = np.full((N, K), -1, dtype=np.float32)
    scaled = (preds - gts) / norm_factor[:, None, :]
    distances[keep] = np.linalg.norm(scaled[keep], axis=-1)
    return distances.T


def _distance_acc(distances: np.ndarray, thr: float = 0.5) -> float:
    """Fraction of the valid (!= -1) distances below ``thr``; -1 if none.

    Args:
        distances (np.ndarray): (N,) normalised distances, -1 for missing.
        thr (float): Threshold.
    """
    valid = distances != -1
    count = valid.sum()
    if count > 0:
        return (distances[valid] < thr).sum() / count
    return -1


def keypoint_pck_accuracy(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray,
                          thr: float, norm_factor: np.ndarray) -> tuple:
    """PCK of coordinates: per keypoint, the fraction within ``thr``.

    Args:
        pred (np.ndarray): (N, K, 2) predicted keypoints.
        gt (np.ndarray): (N, K, 2) ground-truth keypoints.
        mask (np.ndarray): (N, K) bool, False to leave a keypoint out.
        thr (float): Threshold on the normalised distance.
        norm_factor (np.ndarray): (N, 2) divisor of (x, y).

    Returns:
        tuple: acc (np.ndarray (K,), -1 for a keypoint with nothing valid),
        avg_acc (float, mean of the valid acc values, 0 if none) and cnt
        (int, number of valid keypoints).
    """
    distances = _calc_distances(pred, gt, mask, norm_factor)
    acc = np.array([_distance_acc(d, thr) for d in distances])
    valid_acc = acc[acc >= 0]
    cnt = len(valid_acc)
    avg_acc = valid_acc.mean() if cnt > 0 else 0.0
    return acc, avg_acc, cnt


def pose_pck_accuracy(output: np.ndarray, target: np.ndarray,
                      mask: np.ndarray, thr: float = 0.05,
                      normalize: Optional[np.ndarray] = None) -> tuple:
    """PCK between the argmax locations of two sets of heatmaps.

    Args:
        output (np.ndarray): (N, K, H, W) predicted heatmaps.
        target (np.ndarray): (N, K, H, W) target heatmaps.
        mask (np.ndarray): (N, K) bool.
        thr (float): Threshold. Default 0.05.
        normalize (np.ndarray, optional): (N, 2) divisor of the (x, y)
            heatmap-pixel locations. Default ``[H, W]`` for every instance
            (H divides x: MMPose's order, kept for equal numbers).

    Returns:
        tuple: as :func:`keypoint_pck_accuracy`; ``(None, 0, 0)`` if K = 0.
    """
    N, K, H, W = output.shape
    if K == 0:
        return None, 0, 0
    if normalize is None:
        normalize = np.tile(np.array([[H, W]]), (N, 1))
    pred, _ = get_heatmap_maximum(output)
    gt, _ = get_heatmap_maximum(target)
    return keypoint_pck_accuracy(pred, gt, mask, thr, normalize)


def simcc_pck_accuracy(output: Tuple[np.ndarray, np.ndarray],
                       target: Tuple[np.ndarray, np.ndarray],
                       simcc_split_ratio: float, mask: np.ndarray,
                       thr: float = 0.05,
                       normalize: Optional[np.ndarray] = None) -> tuple:
    """PCK between the argmax locations of two sets of SimCC vectors.

    Args:
        output (tuple): predicted x (N, K, Wx) and y (N, K, Wy) vectors.
        target (tuple): target x (N, K, Wx) and y (N, K, Wy) vectors.
        simcc_split_ratio (float): Bins per input pixel; locations are
            divided by it, so they are in input pixels.
        mask (np.ndarray): (N, K) bool.
        thr (float): Threshold. Default 0.05.
        normalize (np.ndarray, optional): (N, 2). Default ``[H, W]`` of the
            input (``W = int(Wx / ratio)``, ``H = int(Wy / ratio)``), in
            MMPose's order.

    Returns:
        tuple: as :func:`keypoint_pck_accuracy`.
    """
    pred_x, pred_y = output
    gt_x, gt_y = target
    N, _, Wx = pred_x.shape
    Wy = pred_y.shape[2]
    W, H = int(Wx / simcc_split_ratio), int(Wy / simcc_split_ratio)
    if normalize is None:
        normalize = np.tile(np.array([[H, W]]), (N, 1))
    pred_coords, _ = get_simcc_maximum(pred_x, pred_y)
    gt_coords, _ = get_simcc_maximum(gt_x, gt_y)
    pred_coords /= simcc_split_ratio
    gt_coords /= simcc_split_ratio
    return keypoint_pck_accuracy(pred_coords, gt_coords, mask, thr, normalize)


def keypoint_auc(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray,
                 norm_factor: float, num_thrs: int = 20) -> float:
    """Area under the PCK-vs-threshold curve, as MMPose computes it.

    The thresholds are ``i / num_thrs`` for ``i = 0 .. num_thrs - 1`` and
    each PCK (mean over keypoints) is weighted by ``1 / num_thrs``: a left
    Riemann sum over [0, 1), not the trapezoid rule.

    Args:
        pred (np.ndarray): (N, K, 2) predicted keypoints, pixels.
        gt (np.ndarray): (N, K, 2) ground-truth keypoints, pixels.
        mask (np.ndarray): (N, K) bool, False to leave a keypoint out.
        norm_factor (float): Pixel distance divided out of both axes (MMPose
            configs use 30 for hands).
        num_thrs (int): Number of thresholds. Default 20.

    Returns:
        float: The area, in [0, 1].
    """
    norm = np.full((pred.shape[0], 2), norm_factor)
    distances = _calc_distances(pred, gt, mask, norm)
    auc = 0
    for i in range(num_thrs):
        auc += 1.0 / num_thrs * _mean_pck(distances, 1.0 * i / num_thrs)
    return auc


def _mean_pck(distances: np.ndarray, thr: float) -> float:
    """:func:`keypoint_pck_accuracy`'s ``avg_acc`` from (K, N) distances.

    Vectorised over keypoints; the same numbers (``thr`` is compared in
    the distances' float32, as a Python float is).
    """
    valid = distances != -1
    counts = valid.sum(axis=1)
    hits = ((distances < thr) & valid).sum(axis=1)
    has = counts > 0
    acc = hits[has] / counts[has]
    return acc.mean() if acc.size else 0.0


def keypoint_epe(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> float:
    """End-point error: mean pixel distance over the unmasked keypoints.

    Args:
        pred (np.ndarray): (N, K, 2) predicted keypoints, pixels.
        gt (np.ndarray): (N, K, 2) ground-truth keypoints, pixels.
        mask (np.ndarray): (N, K) bool, False to leave a keypoint out.

    Returns:
        float: The mean distance (float32 maths, as MMPose), 0 if nothing
        is unmasked.
    """
    ones = np.ones((pred.shape[0], pred.shape[2]), dtype=np.float32)
    return _mean_valid(_calc_distances(pred, gt, mask, ones))


def keypoint_nme(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray,
                 normalize_factor: np.ndarray) -> float:
    """Normalised mean error: mean distance, each axis divided by a factor.

    Args:
        pred (np.ndarray): (N, K, 2) predicted keypoints, pixels.
        gt (np.ndarray): (N, K, 2) ground-truth keypoints, pixels.
        mask (np.ndarray): (N, K) bool, False to leave a keypoint out.
        normalize_factor (np.ndarray): (N, 2) divisor of (x, y) per
            instance (e.g. the inter-ocular distance, repeated). An
            instance with a zero factor is left out.

    Returns:
        float: The mean normalised distance, 0 if nothing is left.
    """
    return _mean_valid(_calc_distances(pred, gt, mask, normalize_factor))


def _mean_valid(distances: np.ndarray) -> float:
    valid = distances[distances != -1]
    return valid.sum() / max(1, len(valid))


def multilabel_classification_accuracy(pred: np.ndarray, gt: np.ndarray,
                                       mask: np.ndarray,
                                       thr: float = 0.5) -> float:
    """Fraction of samples whose every label is on the right side of ``thr``.

    Only samples whose labels are all reliable (``mask > 0``) count.

    Args:
        pred (np.ndarray): (N, L) predicted label probabilities.
        gt (np.ndarray): (N, L) ground-truth labels.
        mask (np.ndarray): (N,) or (N, L) reliability of the labels.
        thr (float): Decision threshold. Default 0.5.

    Returns:
        float: The accuracy; 0 when no sample counts.
    """
    valid = (mask > 0).min(axis=1) if mask.ndim == 2 else (mask > 0)
    pred, gt = pred[valid], gt[valid]
    if pred.shape[0] == 0:
        return 0.0
    # same side of thr <=> the two offsets have the same sign
    return (((pred - thr) * (gt - thr)) > 0).all(axis=1).mean()
