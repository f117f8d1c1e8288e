"""COCO keypoint AP/AR, with the numbers of xtcocotools' COCOeval (MMPose).

faster-coco-eval matches detections to ground truth image by image and
accumulates the precision/recall curves (both in C++). Around it, this
module reproduces what xtcocotools does differently, so that every statistic
is bit-identical to MMPose 1.3.2's:

- Ground truth: an instance is ignored if it is a crowd or has no labelled
  keypoint (``v > 0``; for ``'keypoints_crowd'``, CrowdPose's
  ``num_keypoints`` field instead); its area is ``0.53 * w * h`` of its box
  when ``use_area`` is False. Annotation
  ids are renumbered 1..N, because the library marks "unmatched" with id 0.
- Detections whose keypoint scores are all <= 0 are left out, as
  xtcocotools does.
- OKS is computed here (:mod:`.coco_oks`), vectorised over all images with
  COCOeval.computeOks's arithmetic: the same bits, ~10x faster than the
  library's per-image Python loop.
- Precision: COCOeval computes ``tp / (tp + fp + eps)``, the library
  ``tp / (tp + fp)``. For integers ``n = tp + fp >= 2``, ``n + eps == n`` in
  float64, so the two differ only at ``n = 1, tp = 1``: when the first valid
  detection (in score order) is a true positive, COCOeval's precision there
  is ``1 / (1 + eps)``, not 1. It stays so after the curve is made
  non-increasing unless the second valid detection is a true positive too
  (precision exactly 1), and it is read at the recall thresholds
  ``<= 1 / num_gt``. :func:`_match_eps_precision` writes those entries.
- CrowdPose's easy / medium / hard AP: the mean of the precision array over
  the images split by ``crowdIndex`` at 0.2 and 0.8, -1 entries (no ground
  truth) included, rounded to 4 decimals, as xtcocotools computes it.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from faster_coco_eval import COCO
from faster_coco_eval.core.faster_eval_api import COCOeval_faster

from .coco_oks import DetectionLayout, oks_matrices

STATS_NAMES = ('AP', 'AP .5', 'AP .75', 'AP (M)', 'AP (L)', 'AR', 'AR .5',
               'AR .75', 'AR (M)', 'AR (L)')
CROWD_STATS_NAMES = ('AP', 'AP .5', 'AP .75', 'AR', 'AR .5', 'AR .75',
                     'AP(E)', 'AP(M)', 'AP(H)')
AREA_LABELS = ('all', 'medium', 'large')
# (IoU threshold, area range) of the five AP and the five AR statistics
SELECTIONS = ((None, 'all'), (.5, 'all'), (.75, 'all'), (None, 'medium'),
              (None, 'large'))
MAX_DETS = 20


class KeypointGroundTruth:
    """Ground truth of one keypoint set (or one body part), ready to match.

    Args:
        images (list[dict]): COCO ``images`` (``id``; ``crowdIndex`` for
            CrowdPose).
        annotations (list[dict]): COCO annotations with ``image_id``,
            ``category_id``, ``bbox`` (xywh), ``keypoints`` (``[x, y, v] * K``
            of the part evaluated), optional ``iscrowd``, ``area``,
            ``num_keypoints``. Not modified.
        categories (list[dict]): COCO ``categories``.
        iou_type (str): ``'keypoints'`` or ``'keypoints_crowd'``.
        use_area (bool): Use the annotations' ``area`` as the OKS scale (else
            ``0.53 * w * h`` of the box).
    """

    def __init__(self, images: list, annotations: list, categories: list,
                 iou_type: str = 'keypoints', use_area: bool = True):
        if iou_type not in ('keypoints', 'keypoints_crowd'):
            raise ValueError("iou_type must be 'keypoints' or "
                             f"'keypoints_crowd', got {iou_type!r}")
        self.iou_type = iou_type
        self.images = images
        self.keypoints = keypoint_array(annotations, 'ground-truth')
        self.boxes = np.array([a['bbox'] for a in annotations],
                              dtype=np.float64).reshape(-1, 4)
        if use_area:
            missing = [a.get('id') for a in annotations if 'area' not in a]
            if missing:
                raise ValueError(
                    'use_area=True but ground-truth annotations have no '
                    f'"area" (ids {missing[:5]}); datasets without it '
                    '(CrowdPose, AIC) need use_area=False')
            self.areas = np.array([a['area'] for a in annotations],
                                  dtype=np.float64)
        else:
            self.areas = self.boxes[:, 3] * self.boxes[:, 2] * 0.53
        self.num_visible = np.count_nonzero(self.keypoints[:, :, 2] > 0, 1)
        if iou_type == 'keypoints_crowd':
            missing = [a['id'] for a in annotations if 'num_keypoints' not in a]
            if missing:
                raise ValueError("iou_type 'keypoints_crowd' needs "
                                 '"num_keypoints" in every annotation; missing '
                                 f'in ids {missing[:5]}')
            labelled = [a['num_keypoints'] for a in annotations]
        else:
            labelled = self.num_visible.tolist()
        crowd = [bool(a.get('iscrowd', 0)) for a in annotations]
        self.ignore = np.array([c or n == 0 for c, n in zip(crowd, labelled)],
                               dtype=bool)
        self.image_ids = np.array([a['image_id'] for a in annotations],
                                  dtype=np.int64)
        self.category_ids = np.array([a['category_id'] for a in annotations],
                                     dtype=np.int64)
        # the library reads id, area, iscrowd and (via num_keypoints) ignore
        anns = [dict(id=i + 1, image_id=a['image_id'],
                     category_id=a['category_id'], area=float(self.areas[i]),
                     iscrowd=int(crowd[i]), num_keypoints=labelled[i])
                for i, a in enumerate(annotations)]
        self.coco = COCO(dict(images=images, annotations=anns,
                              categories=categories), print_function=_silent)


def keypoint_array(records: list, what: str) -> np.ndarray:
    """(N, K, 3) float64 from records whose ``keypoints`` are flat lists."""
    if len(records) == 0:
        return np.zeros((0, 0, 3))
    try:
        array = np.array([r['keypoints'] for r in records], dtype=np.float64)
    except ValueError as e:
        raise ValueError(f'the {what} keypoints do not all have the same '
                         f'length: {e}') from e
    return array.reshape(len(records), -1, 3)


def _silent(*args, **kwargs) -> None:
    pass


class _PrecomputedOks(COCOeval_faster):
    """The library's evaluator, reading OKS matrices computed beforehand."""

    oks: Optional[dict] = None   # {(image id, category id): (D, G)}

    def computeOks(self, imgId, catId):  # noqa: N802 (the library's name)
        return (self.oks or {}).get((imgId, catId), [])


def evaluate_keypoints(gt: KeypointGroundTruth, image_ids: np.ndarray,
                       category_ids: np.ndarray, keypoints: np.ndarray,
                       scores: np.ndarray, areas: np.ndarray,
                       sigmas: np.ndarray) -> list:
    """COCO keypoint statistics of detections against ``gt``.

    Args:
        gt (KeypointGroundTruth): The ground truth.
        image_ids (np.ndarray): (D,) int, image id of each detection.
        category_ids (np.ndarray): (D,) int, category id of each detection.
        keypoints (np.ndarray): (D, K, 3) ``[x, y, score]`` of the part
            evaluated, pixels.
        scores (np.ndarray): (D,) float64 instance scores.
        areas (np.ndarray): (D,) detection areas (used to leave unmatched
            detections out of the medium / large ranges).
        sigmas (np.ndarray): (K,) per-keypoint OKS sigmas.

    Returns:
        list[tuple[str, float]]: ``(name, value)`` in MMPose's order, names
        as :data:`STATS_NAMES` or :data:`CROWD_STATS_NAMES`.
    """
    keep = np.count_nonzero(np.asarray(keypoints)[:, :, 2] > 0, axis=1) > 0
    image_ids, category_ids = image_ids[keep], category_ids[keep]
    scores = np.asarray(scores, dtype=np.float64)[keep]
    unknown = set(image_ids.tolist()) - set(gt.coco.imgs)
    if unknown:
        raise ValueError('detections on images that are not in the ground '
                         f'truth: {sorted(unknown)[:5]}')
    dets = [dict(id=i + 1, image_id=img, category_id=cat, score=s, area=a,
                 iscrowd=0)
            for i, (img, cat, s, a) in enumerate(zip(
                image_ids.tolist(), category_ids.tolist(), scores.tolist(),
                np.asarray(areas, dtype=np.float64)[keep].tolist()))]
    dt = COCO(dict(images=gt.images, annotations=dets,
                   categories=gt.coco.dataset['categories']),
              print_function=_silent)
    evaluator = _PrecomputedOks(gt.coco, dt, gt.iou_type,
                                kpt_oks_sigmas=sigmas, separate_eval=True,
                                print_function=_silent)
    evaluator.params.catIds = sorted(gt.coco.getCatIds())  # all, as COCOeval
    layout = DetectionLayout(image_ids, category_ids, scores, gt, MAX_DETS)
    evaluator.oks = oks_matrices(layout, gt, np.asarray(
        keypoints, dtype=np.float64)[keep], sigmas)
    all_images = list(evaluator.params.imgIds)
    precision, recall = _accumulate(evaluator, gt, layout)
    if gt.iou_type == 'keypoints':
        return list(zip(STATS_NAMES, _summarize(precision, recall,
                                                evaluator.params.iouThrs)))
    stats = _summarize(precision, recall, evaluator.params.iouThrs)
    stats = stats[:3] + stats[5:8]        # CrowdPose: 'all' areas only
    crowd = _crowd_index(gt, all_images)
    # xtcocotools: easy if < 0.2, else medium if < 0.8, else hard
    easy, not_hard = crowd < 0.2, crowd < 0.8
    for subset in (easy, ~easy & not_hard, ~not_hard):
        evaluator.params.imgIds = [i for i, s in zip(all_images, subset) if s]
        subset_precision, _ = _accumulate(evaluator, gt, layout)
        stats.append(round(np.mean(subset_precision[:, :, :, 0, :]), 4))
    return list(zip(CROWD_STATS_NAMES, stats))


def _accumulate(evaluator: COCOeval_faster, gt: KeypointGroundTruth,
                layout: DetectionLayout) -> tuple:
    """Precision (T, R, K, A, 1) and recall (T, K, A, 1) over the images of
    ``evaluator.params.imgIds``, as COCOeval's accumulate gives them."""
    evaluator.evaluate()
    evaluator.accumulate()
    precision = np.array(evaluator.eval['precision'])
    _match_eps_precision(precision, evaluator, gt, layout)
    return precision, np.array(evaluator.eval['recall'])


def _match_eps_precision(precision: np.ndarray, evaluator, gt, layout) -> None:
    """Set the precision entries where COCOeval's ``+ eps`` shows (see the
    module docstring) to ``1 / (1 + eps)``, in place."""
    params = evaluator.params
    img_ids = np.asarray(params.imgIds, dtype=np.int64)
    num_thrs, num_areas = len(params.iouThrs), len(params.areaRng)
    evals = evaluator._evalImgs_cpp
    first_tp = 1.0 / (0.0 + 1.0 + np.spacing(1))
    for c, cat in enumerate(params.catIds):
        ranked = layout.ranked(cat, img_ids)
        for a, (low, high) in enumerate(params.areaRng):
            num_gt = _num_valid_gt(gt, cat, img_ids, low, high)
            if num_gt == 0:
                continue
            start = (c * num_areas + a) * len(img_ids)
            firsts = _first_two_valid(ranked, evals, start, num_thrs)
            rows = params.recThrs <= 1.0 / num_gt
            for t, valid in enumerate(firsts):
                if valid[:1] == [True] and valid[1:2] != [True]:
                    precision[t, rows, c, a, 0] = first_tp


def _num_valid_gt(gt, cat: int, img_ids: np.ndarray, low: float,
                  high: float) -> int:
    """Ground truth that counts in the area range (not ignored)."""
    mine = (gt.category_ids == cat) & np.isin(gt.image_ids, img_ids)
    counts = ~gt.ignore & (gt.areas >= low) & (gt.areas <= high)
    return int(np.count_nonzero(mine & counts))


def _first_two_valid(ranked: tuple, evals: list, start: int,
                     num_thrs: int) -> list:
    """Per IoU threshold, ``matched`` of the first two not-ignored
    detections in score order (fewer if there are fewer).

    Args:
        ranked (tuple): (image index, rank in image, detections in image,
            score) per detection, in the order the accumulation sorts them.
        evals (list): The library's per-image evaluations, whose state is
            (matches (T*D), gt matches, scores (D), gt ignore, ignore (T*D),
            matched pairs).
        start (int): Index of the first image's evaluation in ``evals``.
    """
    found = [[] for _ in range(num_thrs)]
    pending, cache = set(range(num_thrs)), {}
    for image, rank, count, score in zip(*ranked):
        if not pending:
            break
        if image not in cache:
            cache[image] = evals[start + image].__getstate__()
        matches, _, scores, _, ignores, _ = cache[image]
        if len(scores) != count or len(matches) != num_thrs * count or \
                scores[rank] != score:
            raise RuntimeError('unexpected per-image evaluation from '
                               'faster-coco-eval (has its layout changed?)')
        for t in list(pending):
            if not ignores[t * count + rank]:
                found[t].append(matches[t * count + rank] > 0)
                if len(found[t]) == 2:
                    pending.discard(t)
    return found


def _crowd_index(gt: KeypointGroundTruth, img_ids: list) -> np.ndarray:
    try:
        return np.array([gt.coco.imgs[i]['crowdIndex'] for i in img_ids],
                        dtype=np.float64)
    except KeyError:
        raise ValueError("iou_type 'keypoints_crowd' needs \"crowdIndex\" in "
                         'every image of the ground truth') from None


def _summarize(precision: np.ndarray, recall: np.ndarray,
               iou_thrs: np.ndarray) -> list:
    """The five AP then five AR of :data:`SELECTIONS` (COCOeval.summarize)."""
    stats = []
    for values in (precision, recall):
        for iou_thr, area in SELECTIONS:
            if iou_thr is not None:
                values_t = values[np.where(iou_thr == iou_thrs)[0]]
            else:
                values_t = values
            selected = values_t[..., AREA_LABELS.index(area), 0]
            valid = selected[selected > -1]
            stats.append(-1.0 if len(valid) == 0 else np.mean(valid))
    return stats
