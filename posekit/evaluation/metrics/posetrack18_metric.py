"""PoseTrack18Metric: per-joint AP of multi-person pose estimation on PoseTrack18.

MMPose writes one prediction json per video and runs poseval's
``evaluateAP``; posekit computes the same numbers itself (no poseval):

1. Predictions are scored and OKS-NMSed per image as in :class:`CocoMetric`
   (``score_mode``, ``keypoint_score_thr``, ``nms_mode``, ``nms_thr``); the
   kept instances of an image, best first, are its predicted people.
2. Ground truth: every ``*.json`` of the folder next to ``ann_file`` named
   after its last ``_`` part (``annotations/posetrack18_val.json`` ->
   ``annotations/val/``), sorted by name; frames in each file's image order.
   Frames without annotated people are dropped (their predictions too).
3. poseval's 15 joints are the 17 COCO-order keypoints without the ears. A
   joint "exists" unless ``x == y == 0`` and its third value (visibility,
   or the keypoint score of a prediction) is 0.
4. Points strictly inside an image's ignore region (``ignore_regions_x/y``
   polygons) are removed from ground truth and predictions; a person left
   without points is removed.
5. Per frame, a prediction's PCKh to a ground-truth person is the fraction
   of the person's joints within ``0.5 * head size``, head size =
   ``0.6 * diagonal`` of the annotation's ``bbox_head`` (xywh). Each
   prediction keeps only its best person (first on ties); each person
   takes its best remaining prediction (first on ties) if its PCKh > 0.
   A matched prediction's joints are true positives where within the
   threshold; every joint of an unmatched prediction is a false positive.
6. Per joint, the scores of all frames are ranked (numpy's
   ``argsort()[::-1]``, as poseval, so ties order the same way) and the AP
   is VOC's area under the interpolated precision/recall curve, in percent:
   0 for a joint never predicted, NaN for one with predictions but no
   ground truth. ``AP`` is the mean over the joints that are not NaN;
   ``Head AP`` averages head top, head bottom and nose; the others average
   left and right.
"""
from __future__ import annotations

import glob
import os
import os.path as osp
from typing import Dict, Optional

import numpy as np

from posekit.registry import METRICS
from .base_metric import logger
from .coco_metric import CocoMetric, _dump_json, _load_json

# COCO-order index of poseval's joints: right ankle, knee, hip, left hip,
# knee, ankle, right wrist, elbow, shoulder, left shoulder, elbow, wrist,
# head bottom, nose, head top.
POSEVAL_JOINTS = np.array([16, 14, 12, 11, 13, 15, 10, 8, 6, 5, 7, 9, 1, 0, 2])
# (name, poseval joint indices) of the reported averages
JOINT_GROUPS = (('Head AP', [14, 12, 13]), ('Shou AP', [8, 9]), ('Elb AP', [7, 10]),
                ('Wri AP', [6, 11]), ('Hip AP', [2, 3]), ('Knee AP', [1, 4]),
                ('Ankl AP', [0, 5]))
PCKH_THR = 0.5
KEYPOINT_NAMES = [
    'nose', 'head_bottom', 'head_top', 'left_ear', 'right_ear', 'left_shoulder',
    'right_shoulder', 'left_elbow', 'right_elbow', 'left_wrist', 'right_wrist',
    'left_hip', 'right_hip', 'left_knee', 'right_knee', 'left_ankle', 'right_ankle']
SKELETON = [[16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13],
            [6, 7], [6, 8], [7, 9], [8, 10], [9, 11], [2, 3], [1, 2], [1, 3],
            [2, 4], [3, 5], [4, 6], [5, 7]]


@METRICS.register_module()
class PoseTrack18Metric(CocoMetric):
    """PoseTrack18 per-joint AP and mAP (see the module docstring).

    Args:
        ann_file (str): The COCO-style PoseTrack18 json the dataset reads;
            the per-video ground truth is read from the folder beside it
            (``annotations/val/`` for ``annotations/posetrack18_val.json``).
            Required to evaluate or to write results.
        score_mode, keypoint_score_thr, nms_mode, nms_thr: As
            :class:`CocoMetric` (defaults ``'bbox_keypoint'``, 0.2,
            ``'oks_nms'``, 0.9).
        format_only (bool): Only write the prediction files.
        outfile_prefix (str, optional): Write one prediction json per video
            (poseval's input, MMPose's layout) into its folder, named like
            the ground-truth files. MMPose writes them to a temporary folder
            when it is None; posekit then writes nothing.
        collect_device, prefix: See :class:`BaseMetric`. Results are named
            ``posetrack18/Head AP`` ... ``posetrack18/AP``, in percent.

    Images of the ground-truth folder that no sample predicted are taken
    to have no predicted people (MMPose raises a KeyError).
    """

    default_prefix: Optional[str] = 'posetrack18'

    def __init__(self, ann_file: Optional[str] = None,
                 score_mode: str = 'bbox_keypoint',
                 keypoint_score_thr: float = 0.2, nms_mode: str = 'oks_nms',
                 nms_thr: float = 0.9, format_only: bool = False,
                 outfile_prefix: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(ann_file=ann_file, score_mode=score_mode,
                         keypoint_score_thr=keypoint_score_thr, nms_mode=nms_mode,
                         nms_thr=nms_thr, format_only=format_only,
                         outfile_prefix=outfile_prefix,
                         collect_device=collect_device, prefix=prefix)

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """``Head AP`` ... ``Ankl AP`` and ``AP`` of everything processed."""
        name = type(self).__name__
        if self.ann_file is None:
            raise ValueError(f'{name} needs ann_file: its ground truth is the '
                             'folder of per-video json files beside it')
        if self.dataset_meta is None:
            raise ValueError(f'{name} needs dataset_meta (sigmas for the NMS)')
        videos = load_videos(gt_folder(self.ann_file), name)
        preds = [r[0] for r in results]
        inst = self._gather(preds)
        scores = self._score(inst)
        people = _people_by_image(inst, scores, self._nms(inst, scores))
        if self.outfile_prefix is not None:
            self._write_predictions(videos, people)
        if self.format_only:
            return {}
        stats = evaluate_ap(videos, people)
        for key, value in stats.items():
            logger.info('%s: %s = %.1f', name, key, value)
        return stats

    def _write_predictions(self, videos: list, people: dict) -> None:
        """One json per video, as MMPose writes them for poseval."""
        folder = osp.dirname(self.outfile_prefix)
        if folder:
            os.makedirs(folder, exist_ok=True)
        categories = [dict(supercategory='person', id=1, name='person',
                           keypoints=KEYPOINT_NAMES, skeleton=SKELETON)]
        for file_name, video in videos:
            images, annotations = [], []
            for image in video['images']:
                images.append(dict(id=image['id'], file_name=image['file_name']))
                for track_id, (kpts, score) in enumerate(people.get(image['id'], [])):
                    annotations.append(dict(
                        image_id=image['id'], keypoints=kpts.reshape(-1).tolist(),
                        scores=kpts[:, 2].tolist(), score=float(score),
                        track_id=track_id))
            _dump_json(dict(images=images, categories=categories,
                            annotations=annotations), osp.join(folder, file_name))
        logger.info('%s: predictions written to %s', type(self).__name__, folder)


def gt_folder(ann_file: str) -> str:
    """``a/posetrack18_val.json`` -> ``a/val`` (MMPose's rule)."""
    return osp.join(osp.dirname(ann_file), osp.splitext(ann_file.split('_')[-1])[0])


def load_videos(folder: str, name: str = 'PoseTrack18Metric') -> list:
    """``(file name, json)`` of every ``*.json`` in ``folder``, sorted."""
    paths = sorted(glob.glob(osp.join(folder, '*.json')))
    if not paths:
        raise FileNotFoundError(f'{name}: no per-video ground-truth json files '
                                f'in {folder} (the folder is derived from ann_file)')
    return [(osp.basename(p), _load_json(p)) for p in paths]


def _people_by_image(inst: dict, scores, order: np.ndarray) -> dict:
    """img_id -> [(keypoints (K, 3) with scores, instance score)], best first."""
    people: dict = {}
    for i in order.tolist():
        people.setdefault(inst['img_ids'][i], []).append(
            (inst['keypoints'][i], scores[i]))
    return people


def evaluate_ap(videos: list, people: dict) -> Dict[str, float]:
    """poseval's per-joint AP (%) of the predicted ``people`` per image."""
    scores = [[] for _ in POSEVAL_JOINTS]
    labels = [[] for _ in POSEVAL_JOINTS]
    num_gt = np.zeros(len(POSEVAL_JOINTS))
    for _, video in videos:
        for image, gts in _labelled_frames(video):
            preds = [_joints(k[:, :2], k[:, 2], k[:, 2]) for k, _ in
                     people.get(image['id'], [])]
            regions = _ignore_regions(image)
            if regions:
                gts = _remove_ignored(gts, regions)
                preds = _remove_ignored(preds, regions)
            for gt in gts:
                num_gt += gt['has']
            for pred, hit in zip(preds, match_frame(gts, preds)):
                for j in np.flatnonzero(pred['has']):
                    scores[j].append(pred['scores'][j])
                    labels[j].append(hit[j])
    ap = np.array([voc_ap(np.array(s, dtype=np.float64), np.array(lab, dtype=bool), n)
                   for s, lab, n in zip(scores, labels, num_gt)])
    stats = {name: float(ap[idx].mean()) for name, idx in JOINT_GROUPS}
    stats['AP'] = float(ap[~np.isnan(ap)].mean())
    return stats


def _labelled_frames(video: dict):
    """(image, ground-truth people) of the frames with annotations."""
    by_image: dict = {}
    for ann in video.get('annotations', []):
        by_image.setdefault(ann['image_id'], []).append(ann)
    for image in video['images']:
        anns = by_image.get(image['id'])
        if anns:
            yield image, [_gt_person(a) for a in anns]


def _gt_person(ann: dict) -> dict:
    kpts = np.array(ann['keypoints'], dtype=np.float64).reshape(-1, 3)
    if 'bbox_head' not in ann:
        raise ValueError(f'PoseTrack18Metric: annotation {ann.get("id")!r} has no '
                         '"bbox_head" (needed for the head size of PCKh)')
    x, y, w, h = ann['bbox_head']
    person = _joints(kpts[:, :2], kpts[:, 2], np.zeros(len(kpts)))
    # poseval converts to corners first; (x + w) - x is not always w
    person['head'] = 0.6 * float(np.linalg.norm([(x + w) - x, (y + h) - y]))
    return person


def _joints(xy: np.ndarray, flag: np.ndarray, scores: np.ndarray) -> dict:
    """poseval's 15 joints of 17 COCO-order keypoints: ``xy`` (15, 2),
    ``has`` (15,) bool, ``scores`` (15,)."""
    xy, flag = xy[POSEVAL_JOINTS].astype(np.float64), flag[POSEVAL_JOINTS]
    has = ~((xy[:, 0] == 0) & (xy[:, 1] == 0) & (flag == 0))
    return dict(xy=xy, has=has, scores=np.asarray(scores, np.float64)[POSEVAL_JOINTS])


def match_frame(gts: list, preds: list) -> list:
    """Per prediction, (15,) bool: the joints that are true positives."""
    hits = [np.zeros(len(POSEVAL_JOINTS), bool) for _ in preds]
    if not gts or not preds:
        return hits
    gt_xy = np.stack([g['xy'] for g in gts])            # (G, 15, 2)
    pr_xy = np.stack([p['xy'] for p in preds])           # (P, 15, 2)
    both = np.stack([p['has'] for p in preds])[:, None] & \
        np.stack([g['has'] for g in gts])[None]          # (P, G, 15)
    head = np.array([g['head'] for g in gts])[None, :, None]
    with np.errstate(divide='ignore', invalid='ignore'):
        dist = np.linalg.norm(pr_xy[:, None] - gt_xy[None], axis=-1) / head
    close = both & (dist <= PCKH_THR)
    num_gt = np.stack([g['has'] for g in gts]).sum(axis=1)
    pck = close.sum(axis=2) / np.maximum(num_gt, 1)      # (P, G)
    best = np.zeros_like(pck)
    rows = np.arange(len(preds))
    best[rows, pck.argmax(axis=1)] = pck[rows, pck.argmax(axis=1)]
    for g, p in enumerate(best.argmax(axis=0)):
        if best[p, g] > 0:
            hits[p] = close[p, g]
    return hits


def voc_ap(scores: np.ndarray, labels: np.ndarray, num_gt: float) -> float:
    """AP (%) of one joint: 0 without predictions, NaN without ground truth."""
    if len(scores) == 0:
        return 0.0
    if num_gt == 0:
        return float('nan')
    hits = labels[scores.argsort()[::-1]]
    tp = np.cumsum(hits)
    recall = np.concatenate([[0], tp / num_gt, [1]])
    precision = np.concatenate([[0], tp / np.arange(1, len(tp) + 1), [0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.flatnonzero(recall[1:] != recall[:-1]) + 1
    return float(np.sum((recall[steps] - recall[steps - 1]) * precision[steps]) * 100)


def _ignore_regions(image: dict) -> list:
    xs, ys = image.get('ignore_regions_x'), image.get('ignore_regions_y')
    if not xs or ys is None:
        return []
    return [np.array([x, y], dtype=np.float64).T for x, y in zip(xs, ys) if len(x) >= 3]


def _remove_ignored(people: list, regions: list) -> list:
    """People with their joints inside an ignore region removed; people
    left without joints dropped."""
    kept = []
    for person in people:
        inside = np.array([any(_strictly_inside(p, poly) for poly in regions)
                           for p in person['xy']])
        has = person['has'] & ~inside
        if has.any():
            kept.append(dict(person, has=has))
    return kept


def _strictly_inside(point: np.ndarray, poly: np.ndarray) -> bool:
    """Even-odd rule; points on an edge are outside (shapely's ``contains``)."""
    x, y = point
    inside = False
    for (x1, y1), (x2, y2) in zip(poly, np.roll(poly, -1, axis=0)):
        cross = (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1)
        if cross == 0 and min(x1, x2) <= x <= max(x1, x2) \
                and min(y1, y2) <= y <= max(y1, y2):
            return False
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside
