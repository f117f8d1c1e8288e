"""Box NMS, object keypoint similarity (OKS) and OKS-based NMS.

Pure numpy. The OKS of two instances with keypoints ``(x, y)`` and areas
``a_1, a_2`` is the COCO formula with the mean area as the object scale::

    e_k = d_k^2 / (2 sigma_k)^2 / ((a_1 + a_2) / 2 + eps) / 2
    OKS = mean_k exp(-e_k)

Boxes are ``xyxy`` in pixels and, as in MMPose, a box of width ``x2 - x1``
covers ``x2 - x1 + 1`` pixels. The arithmetic (dtypes and order) is MMPose's,
so the kept indices are the same, ties included.
"""
from typing import List, Optional, Sequence

import numpy as np

# COCO's 17 person keypoints, used when no sigmas are given.
COCO_SIGMAS = np.array([
    .26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87,
    .87, .89, .89
]) / 10.0


def nms(dets: np.ndarray, thr: float) -> List[int]:
    """Greedy box NMS: keep the best box, drop those overlapping it > thr.

    Args:
        dets (np.ndarray): (N, 5) ``[x1, y1, x2, y2, score]``.
        thr (float): IoU above which a lower-scored box is dropped.

    Returns:
        list[int]: Indices of the kept boxes, best score first.
    """
    if len(dets) == 0:
        return []
    x1, y1, x2, y2, scores = (dets[:, i] for i in range(5))
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = scores.argsort()[::-1]
    keep = []
    while len(order) > 0:
        best, rest = order[0], order[1:]
        keep.append(best)
        w = np.maximum(0.0, np.minimum(x2[best], x2[rest]) -
                       np.maximum(x1[best], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[best], y2[rest]) -
                       np.maximum(y1[best], y1[rest]) + 1)
        inter = w * h
        iou = inter / (areas[best] + areas[rest] - inter)
        order = rest[iou <= thr]
    return keep


def oks_iou(g: np.ndarray, d: np.ndarray, a_g: float, a_d: np.ndarray,
            sigmas: Optional[np.ndarray] = None,
            vis_thr: Optional[float] = None) -> np.ndarray:
    """OKS between one instance and several others.

    Args:
        g (np.ndarray): (K * 3,) ``[x, y, score] * K`` of the instance.
        d (np.ndarray): (N, K * 3) the other instances.
        a_g (float): Area of the instance.
        a_d (np.ndarray): (N,) areas of the others.
        sigmas (np.ndarray, optional): (K,) per-keypoint sigmas; COCO's 17
            by default.
        vis_thr (float, optional): If given, only keypoints whose score is
            above it in both instances count (an OKS over none is 0).

    Returns:
        np.ndarray: (N,) float32 OKS values.
    """
    if len(d) == 0:
        return np.zeros(0, dtype=np.float32)
    d = np.asarray(d).reshape(len(d), -1, 3)
    return oks_pairs(np.asarray(g).reshape(1, -1, 3), d, np.asarray(a_g),
                     np.asarray(a_d), sigmas, vis_thr)


def oks_matrix(keypoints: np.ndarray, areas: np.ndarray,
               sigmas: Optional[np.ndarray] = None,
               vis_thr: Optional[float] = None) -> np.ndarray:
    """OKS between every pair of N instances (symmetric).

    Args:
        keypoints (np.ndarray): (N, K, 3) or (N, K * 3) ``[x, y, score]``.
        areas (np.ndarray): (N,) instance areas.
        sigmas, vis_thr: See :func:`oks_iou`.

    Returns:
        np.ndarray: (N, N) float32.
    """
    kpts = np.asarray(keypoints).reshape(len(keypoints), -1, 3)
    areas = np.asarray(areas)
    return oks_pairs(kpts[:, None], kpts[None, :], areas[:, None],
                     areas[None, :], sigmas, vis_thr)


def oks_pairs(a: np.ndarray, b: np.ndarray, area_a: np.ndarray,
              area_b: np.ndarray, sigmas: Optional[np.ndarray] = None,
              vis_thr: Optional[float] = None) -> np.ndarray:
    """OKS of instance pairs, broadcasting over the leading dimensions.

    Args:
        a, b (np.ndarray): (..., K, 3) ``[x, y, score]`` of the two sides.
        area_a, area_b (np.ndarray): (...) their areas.
        sigmas, vis_thr: See :func:`oks_iou`.

    Returns:
        np.ndarray: (...) float32.
    """
    sigmas = COCO_SIGMAS if sigmas is None else np.asarray(sigmas)
    variances = (sigmas * 2)**2
    dx = b[..., 0] - a[..., 0]
    dy = b[..., 1] - a[..., 1]
    # (dx^2 + dy^2) / var keeps the keypoints' dtype (float32 in MMPose),
    # the area term is float64: the same steps as MMPose's per-pair loop.
    scale = (area_a + area_b) / 2 + np.spacing(1)
    e = (dx**2 + dy**2) / variances / scale[..., None] / 2
    similarity = np.exp(-e)
    if vis_thr is None:
        return (similarity.sum(axis=-1) / e.shape[-1]).astype(np.float32)
    used = (a[..., 2] > vis_thr) & (b[..., 2] > vis_thr)
    count = used.sum(axis=-1)
    total = np.where(used, similarity, 0).sum(axis=-1)
    oks = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
    return oks.astype(np.float32)


def _as_arrays(kpts_db: Sequence[dict], score_per_joint: bool) -> tuple:
    """MMPose's list-of-dicts input as (keypoints, scores, areas) arrays."""
    if score_per_joint:
        scores = np.array([k['score'].mean() for k in kpts_db])
    else:
        scores = np.array([k['score'] for k in kpts_db])
    keypoints = np.array([k['keypoints'].flatten() for k in kpts_db])
    areas = np.array([k['area'] for k in kpts_db])
    return keypoints, scores, areas


def greedy_oks_nms(oks: np.ndarray, scores: np.ndarray,
                   thr: float) -> np.ndarray:
    """Keep the best instance, drop those with OKS > thr to it, repeat.

    Args:
        oks (np.ndarray): (N, N) pairwise OKS.
        scores (np.ndarray): (N,) instance scores.
        thr (float): OKS above which a lower-scored instance is dropped.

    Returns:
        np.ndarray: Kept indices, best first.
    """
    order = scores.argsort()[::-1]
    keep = []
    while len(order) > 0:
        best, rest = order[0], order[1:]
        keep.append(best)
        order = rest[oks[best, rest] <= thr]
    return np.array(keep)


def soft_oks_rescore(oks: np.ndarray, scores: np.ndarray, thr: float,
                     max_dets: int = 20) -> np.ndarray:
    """Soft OKS NMS: instead of dropping, decay the scores of the others.

    After taking the best instance, every remaining score is multiplied by
    ``exp(-oks^2 / thr)`` (Gaussian decay) and the rest re-sorted.

    Args:
        oks (np.ndarray): (N, N) pairwise OKS.
        scores (np.ndarray): (N,) instance scores.
        thr (float): Width of the Gaussian decay.
        max_dets (int): At most this many instances are kept.

    Returns:
        np.ndarray: Kept indices (intp), in the order taken.
    """
    order = scores.argsort()[::-1]
    scores = scores[order]
    keep = []
    while len(order) > 0 and len(keep) < max_dets:
        best, order = order[0], order[1:]
        scores = scores[1:] * np.exp(-oks[best, order]**2 / thr)
        resort = scores.argsort()[::-1]
        order, scores = order[resort], scores[resort]
        keep.append(best)
    return np.array(keep, dtype=np.intp)


def oks_nms(kpts_db: List[dict], thr: float,
            sigmas: Optional[np.ndarray] = None,
            vis_thr: Optional[float] = None,
            score_per_joint: bool = False) -> np.ndarray:
    """OKS NMS over the instances of one image.

    Args:
        kpts_db (list[dict]): One dict per instance with ``keypoints``
            ((K, 3) ``[x, y, score]``), ``score`` (float, or (K,) when
            ``score_per_joint``) and ``area`` (float).
        thr (float): OKS above which a lower-scored instance is dropped.
        sigmas, vis_thr: See :func:`oks_iou`.
        score_per_joint (bool): Score an instance by its mean ``score``.

    Returns:
        np.ndarray: Kept indices, best first (a list when ``kpts_db`` is
        empty, as in MMPose).
    """
    if len(kpts_db) == 0:
        return []
    keypoints, scores, areas = _as_arrays(kpts_db, score_per_joint)
    return greedy_oks_nms(oks_matrix(keypoints, areas, sigmas, vis_thr),
                          scores, thr)


def soft_oks_nms(kpts_db: List[dict], thr: float, max_dets: int = 20,
                 sigmas: Optional[np.ndarray] = None,
                 vis_thr: Optional[float] = None,
                 score_per_joint: bool = False) -> np.ndarray:
    """Soft OKS NMS over the instances of one image (see
    :func:`soft_oks_rescore`); arguments as :func:`oks_nms`, plus
    ``max_dets`` (default 20)."""
    if len(kpts_db) == 0:
        return []
    keypoints, scores, areas = _as_arrays(kpts_db, score_per_joint)
    return soft_oks_rescore(oks_matrix(keypoints, areas, sigmas, vis_thr),
                            scores, thr, max_dets)
