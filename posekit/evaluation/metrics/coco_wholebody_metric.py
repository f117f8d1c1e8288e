"""CocoWholeBodyMetric: COCO-WholeBody keypoint AP/AR (133 keypoints).

The 133 predicted keypoints are, in order: body 17, foot 6, face 68, left
hand 21, right hand 21; the ground truth stores them in ``keypoints``,
``foot_kpts``, ``face_kpts``, ``lefthand_kpts`` and ``righthand_kpts``.
As in MMPose, each part is evaluated with its own sigmas (and logged), and
the results are those of the whole body: ``coco-wholebody/AP``, ...

The OKS scale of a result is the area of its *body* keypoints' box (the
results carry no box), as xtcocotools reads it.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from posekit.registry import METRICS
from posekit.structures import to_plain
from .base_metric import logger
from .coco_keypoint_eval import KeypointGroundTruth, evaluate_keypoints
from .coco_metric import CocoMetric, _floats, _ints

# (name, ground-truth field, number of keypoints), in the predicted order
PARTS = (('body', 'keypoints', 17), ('foot', 'foot_kpts', 6),
         ('face', 'face_kpts', 68), ('lefthand', 'lefthand_kpts', 21),
         ('righthand', 'righthand_kpts', 21))


def _part_slices() -> dict:
    bounds = np.cumsum([0] + [n for _, _, n in PARTS])
    slices = {name: slice(bounds[i], bounds[i + 1])
              for i, (name, _, _) in enumerate(PARTS)}
    slices['wholebody'] = slice(0, bounds[-1])
    return slices


@METRICS.register_module()
class CocoWholeBodyMetric(CocoMetric):
    """COCO-WholeBody AP / AR; arguments as :class:`CocoMetric`.

    ``iou_type`` must be ``'keypoints'``: MMPose accepts
    ``'keypoints_crowd'`` but its whole-body evaluation ignores it (each
    part is evaluated with xtcocotools' own ``keypoints_<part>`` type, with
    no crowd index), so posekit refuses it rather than drop it silently.
    """

    default_prefix: Optional[str] = 'coco-wholebody'
    body_num, foot_num, face_num = 17, 6, 68
    left_hand_num = right_hand_num = 21
    gt_keypoint_fields = tuple(field for _, field, _ in PARTS)

    def __init__(self, ann_file: Optional[str] = None, use_area: bool = True,
                 iou_type: str = 'keypoints', **kwargs) -> None:
        if iou_type != 'keypoints':
            raise ValueError(f"CocoWholeBodyMetric: iou_type must be 'keypoints', "
                             f'got {iou_type!r} (the whole-body evaluation has no '
                             'crowd variant; MMPose ignores the option)')
        super().__init__(ann_file=ann_file, use_area=use_area, iou_type=iou_type,
                         **kwargs)

    def _prepare_ground_truth(self, coco_json: dict) -> dict:
        """A :class:`KeypointGroundTruth` per part and for the whole body."""
        anns = coco_json.get('annotations', [])
        parts = {}
        for name, field, _ in PARTS + (('wholebody', None, 0), ):
            if field is None:
                part_anns = [dict(a, keypoints=sum(
                    (list(a[f]) for _, f, _ in PARTS), [])) for a in anns]
            else:
                part_anns = [dict(a, keypoints=a[field]) for a in anns]
            parts[name] = KeypointGroundTruth(
                coco_json['images'], part_anns,
                coco_json.get('categories', []), 'keypoints', self.use_area)
        return parts

    def _results_json(self, inst: dict, scores, order: np.ndarray) -> list:
        """One result per kept instance, keypoints split by part."""
        keypoints, slices = inst['keypoints'], _part_slices()
        results = []
        for i in order.tolist():
            res = dict(image_id=to_plain(inst['img_ids'][i]), category_id=1,
                       score=float(scores[i]))
            for name, field, _ in PARTS:
                res[field] = keypoints[i, slices[name]].reshape(-1).tolist()
            results.append(res)
        return results

    def _evaluate(self, inst: dict, scores, order: np.ndarray) -> list:
        keypoints = inst['keypoints'][order]
        body = keypoints[:, :self.body_num, :2].astype(np.float64)
        span = body.max(axis=1) - body.min(axis=1)
        areas = span[:, 0] * span[:, 1]
        image_ids = _ints(inst['img_ids'])[order]
        category_ids = np.ones(len(order), dtype=np.int64)
        det_scores = _floats(scores, order)
        sigmas = np.asarray(self.dataset_meta['sigmas'])
        stats = None
        for name, part in _part_slices().items():
            stats = evaluate_keypoints(
                self._ground_truth[name], image_ids, category_ids,
                keypoints[:, part], det_scores, areas, sigmas[part])
            logger.info('%s %s: %s', type(self).__name__, name, ', '.join(
                f'{k} = {v:.3f}' for k, v in stats))
        return stats
