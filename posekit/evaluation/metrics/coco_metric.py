"""CocoMetric: COCO keypoint AP/AR (OKS), as MMPose's CocoMetric.

What happens to the predictions, in MMPose's order (so that the numbers are
the same, ties included):

1. group the instances by image; within an image sort them by sample ``id``
   and drop repeated ids (bottom-up samples, whose ``id`` is a list, are left
   as they are);
2. score each instance (``score_mode``): ``'bbox'`` the box score;
   ``'bbox_keypoint'`` the box score times the mean of the keypoint scores
   above ``keypoint_score_thr`` (0 if none); ``'bbox_rle'`` box score + mean
   + max keypoint score; ``'keypoint'`` the mean keypoint score;
3. OKS NMS (``nms_mode``) per image with the dataset's sigmas;
4. write ``{outfile_prefix}.keypoints.json`` (COCO results) if asked;
5. COCO keypoint evaluation (see :mod:`.coco_keypoint_eval`).

The area of a predicted instance (the OKS scale in NMS) is the product of
``gt_instances.bbox_scales`` when present, else the area of the keypoints'
bounding box.
"""
from __future__ import annotations

import json
from typing import Dict, Optional, Sequence

import numpy as np

from posekit.fileio import write_json
from posekit.registry import METRICS
from posekit.structures import to_numpy, to_plain
from .base_metric import BaseMetric, as_dict, logger
from .coco_keypoint_eval import KeypointGroundTruth, evaluate_keypoints
from .coco_predictions import (detection_areas, gather_instances,
                               nms_instances, score_instances)
from .converters import transform_ann, transform_pred, transform_sigmas

SCORE_MODES = ('bbox', 'bbox_keypoint', 'bbox_rle', 'keypoint')
NMS_MODES = ('oks_nms', 'soft_oks_nms', 'none')


@METRICS.register_module()
class CocoMetric(BaseMetric):
    """COCO keypoint AP / AR.

    Args:
        ann_file (str, optional): COCO keypoint json of the ground truth.
            Without it, the ground truth is rebuilt from the data samples'
            ``raw_ann_info`` (top-down samples hold the valid instances only,
            so crowd and keypoint-less annotations are then absent).
        use_area (bool): Use the annotations' ``area`` as the OKS scale;
            False (CrowdPose, AIC: no ``area``) uses 0.53 x the box area.
        iou_type (str): ``'keypoints'`` or ``'keypoints_crowd'`` (CrowdPose:
            adds AP(E) / AP(M) / AP(H) by the images' ``crowdIndex``).
        score_mode (str): See the module docstring. Default
            ``'bbox_keypoint'``.
        keypoint_score_thr (float): Keypoints scored above it count in
            ``'bbox_keypoint'``. Default 0.2.
        nms_mode (str): ``'oks_nms'``, ``'soft_oks_nms'`` or ``'none'``.
        nms_thr (float): OKS threshold of the NMS. Default 0.9.
        format_only (bool): Only write the results json (needs
            ``outfile_prefix``); ``compute_metrics`` returns ``{}``.
        pred_converter (dict, optional): ``KeypointConverter`` arguments
            (``num_keypoints``, ``mapping``) applied to the predictions.
        gt_converter (dict, optional): The same for the ground truth and
            the sigmas.
        outfile_prefix (str, optional): Write ``{prefix}.keypoints.json``
            (and ``{prefix}.gt.json`` when the ground truth is rebuilt).
        collect_device, prefix: See :class:`BaseMetric`. Default prefix
            ``'coco'``: results are ``coco/AP``, ``coco/AP .5``...
    """

    default_prefix: Optional[str] = 'coco'
    # annotation fields holding keypoints (COCO-WholeBody has one per part)
    gt_keypoint_fields: tuple = ('keypoints', )

    def __init__(self, ann_file: Optional[str] = None, use_area: bool = True,
                 iou_type: str = 'keypoints',
                 score_mode: str = 'bbox_keypoint',
                 keypoint_score_thr: float = 0.2, nms_mode: str = 'oks_nms',
                 nms_thr: float = 0.9, format_only: bool = False,
                 pred_converter: Optional[Dict] = None,
                 gt_converter: Optional[Dict] = None,
                 outfile_prefix: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        name = type(self).__name__
        if score_mode not in SCORE_MODES:
            raise ValueError(f'{name}: score_mode must be one of {SCORE_MODES}'
                             f', got {score_mode!r}')
        if nms_mode not in NMS_MODES:
            raise ValueError(f'{name}: nms_mode must be one of {NMS_MODES}, '
                             f'got {nms_mode!r}')
        if iou_type not in ('keypoints', 'keypoints_crowd'):
            raise ValueError(f"{name}: iou_type must be 'keypoints' or "
                             f"'keypoints_crowd', got {iou_type!r}")
        if format_only and outfile_prefix is None:
            raise ValueError(f'{name}: format_only=True writes the results to '
                             'outfile_prefix, which is not set')
        self.ann_file = ann_file
        self.coco_json = None if ann_file is None else _load_json(ann_file)
        if (self.coco_json is not None and not format_only
                and 'annotations' not in self.coco_json):
            raise ValueError(f'{name}: {ann_file} has no "annotations"; they '
                             'are needed unless format_only=True')
        self.use_area = use_area
        self.iou_type = iou_type
        self.score_mode = score_mode
        self.keypoint_score_thr = keypoint_score_thr
        self.nms_mode = nms_mode
        self.nms_thr = nms_thr
        self.format_only = format_only
        self.outfile_prefix = outfile_prefix
        self.pred_converter = pred_converter
        self.gt_converter = gt_converter
        self._ground_truth = None   # built on first evaluation, then reused

    @BaseMetric.dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict) -> None:
        if self.gt_converter is not None:
            dataset_meta = dict(dataset_meta)
            dataset_meta['sigmas'] = transform_sigmas(
                dataset_meta['sigmas'], self.gt_converter['num_keypoints'],
                self.gt_converter['mapping'])
            dataset_meta['num_keypoints'] = len(dataset_meta['sigmas'])
        self._dataset_meta = dataset_meta

    # ------------------------------------------------------------ process
    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Keep each sample's predictions (and ground truth if no ann_file).

        Reads ``pred_instances.keypoints`` (N, K, 2), ``keypoint_scores``
        (N, K), optional ``bboxes`` (N, 4) xyxy and ``bbox_scores`` (N,);
        ``gt_instances.bbox_scores`` / ``bbox_scales``; ``id``, ``img_id``,
        ``category_id``; without ann_file also ``ori_shape``,
        ``raw_ann_info`` and (CrowdPose) ``crowd_index``.
        """
        for sample in map(as_dict, data_samples):
            if 'pred_instances' not in sample:
                raise ValueError(f'{type(self).__name__}: a data sample has no '
                                 'pred_instances')
            self.results.append((self._pred(sample), self._gt(sample)))

    def _pred(self, sample: dict) -> dict:
        inst = sample['pred_instances']
        keypoints = to_numpy(inst['keypoints'])
        scores = to_numpy(inst['keypoint_scores'])
        if scores.shape != keypoints.shape[:2]:
            raise ValueError(f'{type(self).__name__}: keypoint_scores shape '
                             f'{scores.shape} does not match keypoints '
                             f'{keypoints.shape}')
        gt_inst = sample.get('gt_instances', {})
        pred = dict(id=sample['id'], img_id=sample['img_id'],
                    keypoints=keypoints, keypoint_scores=scores,
                    category_id=sample.get('category_id', 1))
        if 'bboxes' in inst:                      # xyxy, made xywh later
            pred['bboxes'] = to_numpy(inst['bboxes'])
        if 'bbox_scores' in inst:                 # one-stage models
            pred['bbox_scores'] = np.asarray(to_numpy(inst['bbox_scores']))
        elif len(gt_inst.get('bbox_scores', ())) == len(keypoints):
            pred['bbox_scores'] = np.asarray(to_numpy(gt_inst['bbox_scores']))
        else:                                     # e.g. bottom-up
            pred['bbox_scores'] = np.ones(len(keypoints))
        if 'bbox_scales' in gt_inst:              # area = w * h of the scale
            pred['bbox_scales'] = to_numpy(gt_inst['bbox_scales'])
        return pred

    def _gt(self, sample: dict) -> dict:
        if self.coco_json is not None:
            return {}
        missing = [k for k in ('ori_shape', 'raw_ann_info')
                   if k not in sample]
        if self.iou_type == 'keypoints_crowd' and 'crowd_index' not in sample:
            missing.append('crowd_index')
        if missing:
            raise ValueError(f'{type(self).__name__} without ann_file rebuilds '
                             f'the ground truth from the data samples, which '
                             f'lack {missing}')
        anns = sample['raw_ann_info']
        gt = dict(img_id=sample['img_id'], width=sample['ori_shape'][1],
                  height=sample['ori_shape'][0],
                  raw_ann_info=anns if isinstance(anns, list) else [anns])
        if 'crowd_index' in sample:
            gt['crowd_index'] = sample['crowd_index']
        return gt

    # ------------------------------------------------------------ compute
    def compute_metrics(self, results: list) -> Dict[str, float]:
        """``coco/AP`` etc. of everything processed (see the module doc)."""
        if self.dataset_meta is None:
            raise ValueError(f'{type(self).__name__} needs dataset_meta (the '
                             "dataset's metainfo: sigmas, num_keypoints...), "
                             'which the runner sets from the dataset')
        preds, gts = zip(*results) if results else ((), ())
        outfile_prefix = self.outfile_prefix
        if self._ground_truth is None and not self.format_only:
            coco_json = self.coco_json or self._gt_json(gts, outfile_prefix)
            self._ground_truth = self._prepare_ground_truth(coco_json)
        inst = self._gather(preds)
        scores = self._score(inst)
        order = self._nms(inst, scores)
        if outfile_prefix is not None:
            path = f'{outfile_prefix}.keypoints.json'
            _dump_json(self._results_json(inst, scores, order), path)
            logger.info('%s: results written to %s', type(self).__name__, path)
        if self.format_only:
            return {}
        logger.info('Evaluating %s...', type(self).__name__)
        stats = self._evaluate(inst, scores, order)
        for name, value in stats:
            logger.info('%s: %s = %.3f', type(self).__name__, name, value)
        return {name: float(value) for name, value in stats}

    def _prepare_ground_truth(self, coco_json: dict):
        anns = coco_json.get('annotations', [])
        if self.gt_converter is not None:
            anns = [transform_ann(dict(a), self.gt_converter['num_keypoints'],
                                  self.gt_converter['mapping']) for a in anns]
        return KeypointGroundTruth(coco_json['images'], anns,
                                   coco_json.get('categories', []),
                                   self.iou_type, self.use_area)

    def _gt_json(self, gts: Sequence[dict], outfile_prefix) -> dict:
        """The COCO ground-truth dict of the data samples (MMPose's fields)."""
        images, seen, annotations = [], set(), []
        for gt in gts:
            if gt['img_id'] not in seen:
                seen.add(gt['img_id'])
                image = dict(id=gt['img_id'], width=gt['width'],
                             height=gt['height'])
                if self.iou_type == 'keypoints_crowd':
                    image['crowdIndex'] = gt['crowd_index']
                images.append(image)
            for ann in gt['raw_ann_info']:
                if ann is not None:   # bottom-up images without people
                    annotations.append(self._gt_annotation(ann))
        coco_json = dict(images=images, annotations=annotations,
                         categories=self.dataset_meta['CLASSES'],
                         licenses=None, info=dict(
                             description='ground truth converted by posekit'))
        if outfile_prefix is not None:
            _dump_json(coco_json, f'{outfile_prefix}.gt.json')
        return coco_json

    def _gt_annotation(self, ann: dict) -> dict:
        """The fields of a ground-truth annotation that evaluation reads."""
        out = {k: ann[k] for k in ('id', 'image_id', 'category_id', 'bbox')
               + self.gt_keypoint_fields}
        out['iscrowd'] = ann.get('iscrowd', 0)
        if self.use_area:
            if 'area' not in ann:
                raise ValueError(f'{type(self).__name__}: use_area=True but '
                                 f'annotation {ann["id"]} has no "area"')
            out['area'] = ann['area']
        if self.iou_type == 'keypoints_crowd':
            out['num_keypoints'] = ann['num_keypoints']
        return out

    def _gather(self, preds: Sequence[dict]) -> dict:
        if self.pred_converter is not None:
            preds = [transform_pred(dict(p), self.pred_converter['num_keypoints'],
                                    self.pred_converter['mapping'])
                     for p in preds]
        return gather_instances(preds)

    def _score(self, inst: dict):
        num_keypoints = self.pred_converter['num_keypoints'] if \
            self.pred_converter else self.dataset_meta['num_keypoints']
        return score_instances(inst, self.score_mode, self.keypoint_score_thr,
                               num_keypoints)

    def _nms(self, inst: dict, scores) -> np.ndarray:
        sigmas = self.dataset_meta['sigmas'] if self.dataset_meta else None
        return nms_instances(inst, scores, self.nms_mode, self.nms_thr,
                             sigmas)

    def _results_json(self, inst: dict, scores, order: np.ndarray) -> list:
        """COCO results: image_id, category_id, keypoints, score(, bbox)."""
        flat = inst['keypoints'].reshape(len(inst['keypoints']), -1)
        results = []
        for i in order.tolist():
            res = dict(image_id=to_plain(inst['img_ids'][i]),
                       category_id=to_plain(inst['category_ids'][i]),
                       keypoints=flat[i].tolist(), score=float(scores[i]))
            if inst['has_bbox'][i]:
                res['bbox'] = inst['bboxes'][i].tolist()
            results.append(res)
        return results

    def _evaluate(self, inst: dict, scores, order: np.ndarray) -> list:
        """(name, value) statistics of the kept instances."""
        return evaluate_keypoints(
            self._ground_truth, _ints(inst['img_ids'])[order],
            _ints(inst['category_ids'])[order], inst['keypoints'][order],
            _floats(scores, order), detection_areas(inst, order),
            self.dataset_meta['sigmas'])


def _floats(scores, order: np.ndarray) -> np.ndarray:
    """Scores of ``order`` as float64 (an array, or a list of scalars)."""
    if isinstance(scores, np.ndarray):
        return scores[order].astype(np.float64)
    return np.array([float(scores[i]) for i in order.tolist()])


def _ints(values: list) -> np.ndarray:
    if values and all(isinstance(v, int) for v in values):
        return np.array(values, dtype=np.int64)
    return np.array([to_plain(v) for v in values], dtype=np.int64)


def _load_json(path: str) -> dict:
    with open(path) as f:
        return json.load(f)


def _dump_json(obj, path: str) -> None:
    write_json(path, to_plain(obj), sort_keys=True, indent=4)
