"""CocoMetric's handling of predictions: grouping, scoring, OKS NMS.

Everything is vectorised over the instances of all images; the arithmetic
(dtypes included) is MMPose's, so scores, kept instances and their order are
the same, ties included.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Optional, Sequence

import numpy as np

from ..functional.nms import greedy_oks_nms, oks_pairs, soft_oks_rescore


def gather_instances(preds: Sequence[dict]) -> dict:
    """All predicted instances as arrays, grouped by image in MMPose's order.

    Images come in the order they first appear; within one, instances are
    sorted by their sample's ``id`` (stable) and an instance whose ``id``
    equals the previous one's is dropped. Once an image whose first ``id``
    is a sequence (a bottom-up sample) is met, that image and the following
    ones are left as they are (as MMPose does).

    Args:
        preds (list[dict]): ``CocoMetric`` prediction records: ``id``,
            ``img_id``, ``category_id``, ``keypoints`` (N, K, 2),
            ``keypoint_scores`` (N, K), ``bbox_scores`` (N,), optional
            ``bboxes`` (N, 4) xyxy and ``bbox_scales`` (N, 2).

    Returns:
        dict: ``keypoints`` (M, K, 3) with the scores as third column,
        ``keypoint_scores`` (M, K), ``areas`` (M,), ``bboxes`` (M, 4) xywh
        (zero where ``has_bbox`` is False), ``has_bbox`` (M,),
        ``img_ids`` / ``category_ids`` (lists), ``bbox_scores`` (array, or a
        list of numpy scalars when the samples' dtypes differ) and
        ``groups`` ((start, size) of each image's run of instances).
    """
    counts = [len(p['keypoints']) for p in preds]
    offsets = np.cumsum([0] + counts).tolist()
    owner = np.repeat(np.arange(len(preds)), counts).tolist()  # row -> pred
    ids = [p['id'] for p in preds]
    by_image = defaultdict(list)
    for p, pred in enumerate(preds):
        if counts[p]:     # a sample without instances adds no image
            by_image[pred['img_id']].extend(range(offsets[p], offsets[p + 1]))
    for img_id, members in by_image.items():
        first_id = ids[owner[members[0]]]
        if type(first_id) is not int and isinstance(first_id, Sequence):
            break
        if len(members) > 1:
            members.sort(key=lambda m: ids[owner[m]])
            by_image[img_id] = [m for j, m in enumerate(members) if j == 0 or
                                ids[owner[m]] != ids[owner[members[j - 1]]]]
    index = np.fromiter((m for ms in by_image.values() for m in ms), np.int64)
    sizes = np.array([len(ms) for ms in by_image.values()], dtype=np.int64)
    inst = _stack(preds, index, offsets)
    inst['groups'] = list(zip((np.cumsum(sizes) - sizes).tolist(),
                              sizes.tolist()))
    return inst


def _stack(preds: Sequence[dict], index: np.ndarray, offsets: list) -> dict:
    """Per-instance arrays, rows in ``index`` order (global instance ids)."""
    if not len(index):   # no samples, or none with instances
        return dict(keypoints=np.zeros((0, 0, 3)),
                    keypoint_scores=np.zeros((0, 0)), areas=np.zeros(0),
                    bboxes=np.zeros((0, 4)), has_bbox=np.zeros(0, bool),
                    img_ids=[], category_ids=[], bbox_scores=np.zeros(0))
    owner = (np.searchsorted(offsets, index, side='right') - 1).tolist()
    local = (index - np.array(offsets)[owner]).tolist()
    rows = list(zip(owner, local))

    def cat(key):
        # samples without instances add no rows (and may lack the key)
        return np.concatenate([p[key] for p in preds
                               if len(p['keypoints'])])[index]

    def each(key):
        """Rows of ``key`` for samples that have it (zero elsewhere)."""
        first = next(p[key] for p in preds if key in p)
        out = np.zeros((len(index),) + first.shape[1:], first.dtype)
        for row, (p, i) in enumerate(rows):
            if key in preds[p]:
                out[row] = preds[p][key][i]
        return out

    keypoints, kpt_scores = cat('keypoints'), cat('keypoint_scores')
    # the product of the bbox scale, else the area of the keypoints' box
    with_scale = np.array(['bbox_scales' in preds[p] for p in owner], bool)
    if with_scale.all():
        areas = np.prod(cat('bbox_scales'), axis=1)
    else:
        span = keypoints.max(axis=1) - keypoints.min(axis=1)
        areas = span[:, 0] * span[:, 1]
        if with_scale.any():
            areas[with_scale] = np.prod(each('bbox_scales'),
                                        axis=1)[with_scale]
    has_bbox = np.array(['bboxes' in preds[p] for p in owner], dtype=bool)
    if has_bbox.all():
        xyxy = cat('bboxes')
    else:
        xyxy = each('bboxes') if has_bbox.any() else np.zeros((len(index), 4))
    # xyxy -> xywh in the boxes' own dtype (float32 in MMPose), then widened
    bboxes = np.concatenate([xyxy[:, :2], xyxy[:, 2:4] - xyxy[:, :2]], axis=1)
    if len({p['bbox_scores'].dtype for p in preds}) == 1:
        bbox_scores = cat('bbox_scores')
    else:       # mixed dtypes: keep each sample's own (MMPose's maths)
        bbox_scores = [preds[p]['bbox_scores'][i] for p, i in rows]
    return dict(
        keypoints=np.concatenate([keypoints, kpt_scores[..., None]], -1),
        keypoint_scores=kpt_scores, areas=areas,
        bboxes=bboxes.astype(np.float64), has_bbox=has_bbox,
        bbox_scores=bbox_scores,
        img_ids=[preds[p]['img_id'] for p in owner],
        category_ids=[preds[p]['category_id'] for p in owner])


def score_instances(inst: dict, score_mode: str, keypoint_score_thr: float,
                    num_keypoints: int):
    """Instance scores (see CocoMetric), an array or a list of scalars."""
    kpt_scores, bbox_scores = inst['keypoint_scores'], inst['bbox_scores']
    if score_mode == 'bbox':
        return bbox_scores
    if score_mode == 'keypoint':
        return np.mean(kpt_scores, axis=1)
    if score_mode == 'bbox_rle':
        return np.array([float(b + m + x) for b, m, x in zip(
            bbox_scores, np.mean(kpt_scores, axis=1),
            np.max(kpt_scores, axis=1))])
    kpt_scores = kpt_scores[:, :num_keypoints]
    above = kpt_scores > keypoint_score_thr
    # MMPose adds the scores one by one in their dtype: so does cumsum
    total = np.cumsum(np.where(above, kpt_scores, 0), axis=1,
                      dtype=kpt_scores.dtype)[:, -1] if kpt_scores.size else \
        np.zeros(len(kpt_scores), kpt_scores.dtype)
    count = above.sum(axis=1)
    mean = np.where(count > 0, total / np.maximum(count, 1).astype(
        total.dtype), 0)
    if isinstance(bbox_scores, np.ndarray):
        return bbox_scores * mean
    return [b * m for b, m in zip(bbox_scores, mean)]


def nms_instances(inst: dict, scores, nms_mode: str, nms_thr: float,
                  sigmas: Optional[np.ndarray]) -> np.ndarray:
    """Row indices of the kept instances, image by image, best first.

    ``'oks_nms'`` keeps the best and drops those with OKS > ``nms_thr`` to
    it; ``'soft_oks_nms'`` decays scores instead (at most 20 kept);
    ``'none'`` keeps everything in order.
    """
    groups = inst['groups']
    if nms_mode == 'none':
        return np.arange(sum(size for _, size in groups))
    crowded = [(start, size) for start, size in groups if size > 1]
    oks_blocks = _group_oks(inst, crowded, sigmas)
    order, block = [], iter(oks_blocks)
    for start, size in groups:
        if size < 2:
            order.append(np.arange(start, start + size))
            continue
        group_scores = np.array(scores[start:start + size])
        if nms_mode == 'oks_nms':
            keep = greedy_oks_nms(next(block), group_scores, nms_thr)
        else:
            keep = soft_oks_rescore(next(block), group_scores, nms_thr)
        order.append(start + keep)
    return np.concatenate(order) if order else np.zeros(0, np.int64)


def _group_oks(inst: dict, groups: list, sigmas) -> list:
    """(n, n) OKS of each group's instances, all groups in one pass."""
    if not groups:
        return []
    starts = np.array([s for s, _ in groups])
    sizes = np.array([n for _, n in groups])
    pairs = sizes**2
    local = np.arange(pairs.sum()) - np.repeat(np.cumsum(pairs) - pairs, pairs)
    n = np.repeat(sizes, pairs)
    first = np.repeat(starts, pairs) + local // n
    second = np.repeat(starts, pairs) + local % n
    kpts, areas = inst['keypoints'], inst['areas']
    oks = oks_pairs(kpts[first], kpts[second], areas[first], areas[second],
                    sigmas)
    blocks = np.split(oks, np.cumsum(pairs)[:-1])
    return [b.reshape(size, size) for b, size in zip(blocks, sizes.tolist())]


def detection_areas(inst: dict, order: np.ndarray) -> np.ndarray:
    """Area of each kept instance as COCO's ``loadRes`` sets it.

    The box area (``w * h``) if the first result has a box (results without
    one then use the next rule), else the area of the keypoints' box.
    """
    if len(order) == 0:
        return np.zeros(0)
    kpts = inst['keypoints'][order].astype(np.float64)
    span = kpts[:, :, :2].max(axis=1) - kpts[:, :, :2].min(axis=1)
    areas = span[:, 0] * span[:, 1]
    has_bbox = inst['has_bbox'][order]
    if len(order) and has_bbox[0]:
        boxes = inst['bboxes'][order]
        areas[has_bbox] = boxes[has_bbox, 2] * boxes[has_bbox, 3]
    return areas
