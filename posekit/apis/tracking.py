"""Greedy frame-to-frame tracking of people (MMPose's ``_track_by_iou`` /
``_track_by_oks`` and the id assignment of its 3D inferencer).

A result is a :class:`PoseDataSample` of one person: ``pred_instances``
holds ``bboxes (1, 4)`` xyxy pixels, ``keypoints (1, K, 2)`` pixels,
``keypoint_scores (1, K)`` and, for OKS, ``areas (1,)`` square pixels; a
tracked one has a ``track_id`` (int).
"""
from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np

from posekit.evaluation.functional.nms import oks_iou
from posekit.structures import PoseDataSample


def compute_iou(box_a: Sequence[float], box_b: Sequence[float]) -> float:
    """IoU of two xyxy boxes (continuous coordinates: area = w * h).

    A zero union (two empty boxes) warns and counts as 1e-5, as in MMPose.
    """
    inter_w = max(0, min(box_a[2], box_b[2]) - max(box_a[0], box_b[0]))
    inter_h = max(0, min(box_a[3], box_b[3]) - max(box_a[1], box_b[1]))
    inter = inter_w * inter_h
    union = float((box_a[2] - box_a[0]) * (box_a[3] - box_a[1])
                  + (box_b[2] - box_b[0]) * (box_b[3] - box_b[1]) - inter)
    if union == 0:
        warnings.warn('compute_iou: both boxes are empty (union 0)', stacklevel=2)
        union = 1e-5
    return inter / union


def _take(results_last: list, index: int, score: float, thr: float) -> tuple:
    """(track_id, results_last, matched): the match at ``index`` is removed
    from ``results_last`` when its score is above ``thr``."""
    if index < 0 or not score > thr:
        return -1, results_last, {}
    matched = results_last.pop(index)
    return matched.track_id, results_last, matched


def track_by_iou(res: PoseDataSample, results_last: list, thr: float) -> tuple:
    """Match ``res`` to the previous frame's person with the highest box IoU.

    Args:
        res (PoseDataSample): The person to match.
        results_last (list[PoseDataSample]): The previous frame's people not
            matched yet (modified: the match is removed).
        thr (float): The IoU must be above it.

    Returns:
        tuple: ``(track_id, results_last, matched)``: the match's
        ``track_id`` (-1 without a match), the remaining list, the matched
        sample (``{}`` without one). Ties go to the earliest in the list.
    """
    box = np.asarray(res.pred_instances.bboxes).reshape(4)
    best, best_iou = -1, -1.0
    for index, last in enumerate(results_last):
        iou = compute_iou(box, np.asarray(last.pred_instances.bboxes).reshape(4))
        if iou > best_iou:
            best, best_iou = index, iou
    return _take(results_last, best, best_iou, thr)


def _flat_keypoints(sample: PoseDataSample) -> np.ndarray:
    """(K * 3,) ``[x, y, score] * K`` of a one-person sample."""
    inst = sample.pred_instances
    return np.concatenate([np.asarray(inst.keypoints)[0, :, :2],
                           np.asarray(inst.keypoint_scores)[0, :, None]], axis=1).reshape(-1)


def track_by_oks(res: PoseDataSample, results_last: list, thr: float,
                 sigmas: np.ndarray | None = None) -> tuple:
    """Match ``res`` to the previous frame's person with the highest OKS.

    The OKS uses ``res``'s ``areas`` as scale and counts every keypoint
    (scores are not thresholded), as MMPose's ``oks_iou``.

    Args:
        res, results_last, thr: As :func:`track_by_iou` (OKS instead of IoU).
        sigmas (np.ndarray, optional): (K,) per-keypoint sigmas; COCO's 17
            by default.

    Returns:
        tuple: As :func:`track_by_iou`.
    """
    if not results_last:
        return -1, results_last, {}
    area = float(np.asarray(res.pred_instances.areas).reshape(-1)[0])
    last = np.stack([_flat_keypoints(r) for r in results_last])
    last_areas = np.array([np.asarray(r.pred_instances.areas).reshape(-1)[0]
                           for r in results_last])
    oks = oks_iou(_flat_keypoints(res), last, area, last_areas, sigmas=sigmas)
    best = int(np.argmax(oks))
    return _take(results_last, best, float(oks[best]), thr)


def assign_track_ids(results: Sequence[PoseDataSample], results_last: Sequence[PoseDataSample],
                     next_id: int, use_oks: bool = False, thr: float = 0.3,
                     sigmas: np.ndarray | None = None) -> int:
    """Give each person of a frame the id of its match in the previous
    frame, or a new id (MMPose's 3D inferencer).

    Each person in turn takes its best match among the previous frame's
    people still unmatched (greedy, in ``results`` order). An unmatched
    person with fewer than 3 nonzero keypoint y gets ``track_id`` -1, its
    keypoints' y set to -10 and its box to zeros (MMPose's way of dropping
    it); otherwise it gets ``next_id``, which then counts up.

    Args:
        results (list[PoseDataSample]): This frame's people (modified: each
            gets ``track_id``; ``areas`` are set from the boxes for OKS).
        results_last (list[PoseDataSample]): The previous frame's people (not
            modified).
        next_id (int): The first unused id.
        use_oks (bool): Match by OKS (else box IoU).
        thr (float): The match score must be above it.
        sigmas (np.ndarray, optional): OKS sigmas (K,).

    Returns:
        int: The next unused id.
    """
    remaining = list(results_last)
    for res in results:
        inst = res.pred_instances
        boxes = np.asarray(inst.bboxes)
        inst.set_field((boxes[..., 2:] - boxes[..., :2]).prod(-1), 'areas')
        if use_oks:
            track_id, remaining, _ = track_by_oks(res, remaining, thr, sigmas)
        else:
            track_id, remaining, _ = track_by_iou(res, remaining, thr)
        if track_id == -1:
            if np.count_nonzero(np.asarray(inst.keypoints)[:, :, 1]) >= 3:
                track_id, next_id = next_id, next_id + 1
            else:
                inst.keypoints[..., 1] = -10
                inst.bboxes *= 0
        res.set_field(track_id, 'track_id')
    return next_id
