"""PCK metrics: the fraction of keypoints within a normalised distance.

Each data sample is one top-down instance: ``pred_instances.keypoints``
(1, K, 2), ``gt_instances.keypoints`` (1, K, 2) and ``keypoints_visible``
(1, K) (or (1, K, 1)), plus what the normaliser needs (``bboxes`` xyxy,
``head_size``). Result names are MMPose's, without a prefix: ``PCK``,
``PCKh``, ``tPCK``; MPII and JHMDB add per-joint rows.
"""
from __future__ import annotations

import warnings
from typing import Dict, Optional, Sequence, Union

import numpy as np

from posekit.registry import METRICS
from posekit.structures import to_numpy
from ..functional.keypoint_eval import keypoint_pck_accuracy
from .base_metric import BaseMetric, as_dict, logger, stack_results

NORM_ITEMS = ('bbox', 'head', 'torso')


def keypoint_result(sample: dict) -> dict:
    """Prediction, ground truth and (1, K) bool mask of one sample."""
    gt = sample['gt_instances']
    mask = to_numpy(gt['keypoints_visible']).astype(bool)
    if mask.ndim == 3:
        mask = mask[:, :, 0]
    return dict(pred_coords=to_numpy(sample['pred_instances']['keypoints']),
                gt_coords=to_numpy(gt['keypoints']), mask=mask.reshape(1, -1))


@METRICS.register_module()
class PCKAccuracy(BaseMetric):
    """Percentage of correct keypoints, normalised by box, head or torso.

    A keypoint is correct when its distance to the ground truth, divided by
    the normaliser, is below ``thr``. The result is the mean over keypoints
    of the per-keypoint accuracy.

    Args:
        thr (float): Threshold on the normalised distance. Default 0.05.
        norm_item (str | Sequence[str]): ``'bbox'`` (longer side of the
            ground-truth box -> ``PCK``), ``'head'`` (``head_size`` ->
            ``PCKh``), ``'torso'`` (distance of keypoints 4 and 5, JHMDB ->
            ``tPCK``), or several.
        collect_device, prefix: See :class:`BaseMetric`.
    """

    def __init__(self, thr: float = 0.05,
                 norm_item: Union[str, Sequence[str]] = 'bbox',
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.thr = thr
        self.norm_item = list(norm_item) if isinstance(
            norm_item, (tuple, list)) else [norm_item]
        for item in self.norm_item:
            if item not in NORM_ITEMS:
                raise KeyError(f'{type(self).__name__}: norm_item must be in '
                               f'{NORM_ITEMS}, got {item!r}')

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in map(as_dict, data_samples):
            result = keypoint_result(sample)
            gt = sample['gt_instances']
            if 'bbox' in self.norm_item:
                if 'bboxes' not in gt:
                    raise KeyError(f'{type(self).__name__}: norm_item "bbox" '
                                   'needs gt_instances.bboxes')
                box = to_numpy(gt['bboxes'])[0]
                size = np.max(box[2:] - box[:2])
                result['bbox_size'] = np.array([size, size]).reshape(-1, 2)
            if 'head' in self.norm_item:
                if 'head_size' not in gt:
                    raise KeyError(f'{type(self).__name__}: norm_item "head" '
                                   'needs gt_instances.head_size')
                size = to_numpy(gt['head_size'])
                result['head_size'] = np.array([size, size]).reshape(-1, 2)
            if 'torso' in self.norm_item:
                result['torso_size'] = _torso_size(result)
            self.results.append(result)

    def compute_metrics(self, results: list) -> Dict[str, float]:
        pred, gt, mask = (stack_results(results, k) for k in
                          ('pred_coords', 'gt_coords', 'mask'))
        metrics = {}
        for item, key, name in (('bbox', 'bbox_size', 'PCK'),
                                ('head', 'head_size', 'PCKh'),
                                ('torso', 'torso_size', 'tPCK')):
            if item in self.norm_item:
                logger.info('Evaluating %s (normalised by %s)...',
                            type(self).__name__, key)
                _, metrics[name], _ = keypoint_pck_accuracy(
                    pred, gt, mask, self.thr, stack_results(results, key))
        return metrics


def _torso_size(result: dict) -> np.ndarray:
    """Distance of keypoints 4 and 5 (JHMDB's shoulder and hip), from the
    prediction when the ground truth's is below 1 pixel."""
    size = np.linalg.norm(result['gt_coords'][0][4] - result['gt_coords'][0][5])
    if size < 1:
        size = np.linalg.norm(result['pred_coords'][0][4] -
                              result['pred_coords'][0][5])
        warnings.warn('Ground truth torso size < 1. Use torso size from '
                      'predicted keypoint results instead.')
    return np.array([size, size]).reshape(-1, 2)


@METRICS.register_module()
class MpiiPCKAccuracy(PCKAccuracy):
    """PCKh on MPII, with the per-joint table MMPose reports.

    Predictions are shifted by +1 pixel first (MPII's evaluation uses
    1-based MATLAB coordinates). Results, in percent: ``Head PCK``,
    ``Shoulder PCK``, ``Elbow PCK``, ``Wrist PCK``, ``Hip PCK``,
    ``Knee PCK``, ``Ankle PCK`` (left/right averaged), ``PCK`` (weighted by
    the number of visible joints, pelvis and thorax left out) and
    ``PCK@0.1`` (the same at threshold 0.1).

    Args:
        thr (float): Threshold. Default 0.5.
        norm_item (str | Sequence[str]): Default ``'head'``; the table is
            computed for ``'head'`` only.
    """

    def __init__(self, thr: float = 0.5,
                 norm_item: Union[str, Sequence[str]] = 'head',
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(thr=thr, norm_item=norm_item,
                         collect_device=collect_device, prefix=prefix)

    def compute_metrics(self, results: list) -> Dict[str, float]:
        if 'head' not in self.norm_item:
            return {}
        pred, gt, mask = (stack_results(results, k) for k in
                          ('pred_coords', 'gt_coords', 'mask'))
        pred = pred + 1.0
        head = stack_results(results, 'head_size')
        logger.info('Evaluating %s (normalised by head_size)...',
                    type(self).__name__)
        pckh = 100. * keypoint_pck_accuracy(pred, gt, mask, self.thr, head)[0]
        # PCK@0.1, at the threshold (and float32 rounding) of MPII's script
        thr_01 = np.arange(0, 0.5 + 0.01, 0.01)[10]
        pck_01 = (100. * keypoint_pck_accuracy(pred, gt, mask, thr_01,
                                               head)[0]).astype(np.float32)
        # pelvis (6) and thorax (7) are not in the average
        pckh = np.ma.array(pckh, mask=False)
        pckh.mask[6:8] = True
        joints = np.ma.array(np.sum(mask, axis=0), mask=False)
        joints.mask[6:8] = True
        ratio = joints / np.sum(joints).astype(np.float64)
        return {
            'Head PCK': pckh[9],
            'Shoulder PCK': 0.5 * (pckh[13] + pckh[12]),
            'Elbow PCK': 0.5 * (pckh[14] + pckh[11]),
            'Wrist PCK': 0.5 * (pckh[15] + pckh[10]),
            'Hip PCK': 0.5 * (pckh[3] + pckh[2]),
            'Knee PCK': 0.5 * (pckh[4] + pckh[1]),
            'Ankle PCK': 0.5 * (pckh[5] + pckh[0]),
            'PCK': np.sum(pckh * ratio),
            'PCK@0.1': np.sum(pck_01 * ratio),
        }


# JHMDB joints: (name, indices averaged)
JHMDB_JOINTS = (('Head', (2, )), ('Sho', (3, 4)), ('Elb', (7, 8)),
                ('Wri', (11, 12)), ('Hip', (5, 6)), ('Knee', (9, 10)),
                ('Ank', (13, 14)))


@METRICS.register_module()
class JhmdbPCKAccuracy(PCKAccuracy):
    """PCK on JHMDB, with per-joint rows: ``Head PCK``, ``Sho PCK``,
    ``Elb PCK``, ``Wri PCK``, ``Hip PCK``, ``Knee PCK``, ``Ank PCK``,
    ``PCK`` (box-normalised) and the same with ``tPCK`` (torso)."""

    def compute_metrics(self, results: list) -> Dict[str, float]:
        pred, gt, mask = (stack_results(results, k) for k in
                          ('pred_coords', 'gt_coords', 'mask'))
        metrics = {}
        for item, key, suffix in (('bbox', 'bbox_size', 'PCK'),
                                  ('torso', 'torso_size', 'tPCK')):
            if item not in self.norm_item:
                continue
            logger.info('Evaluating %s (normalised by %s)...',
                        type(self).__name__, key)
            per_joint, mean, _ = keypoint_pck_accuracy(
                pred, gt, mask, self.thr, stack_results(results, key))
            for name, joints in JHMDB_JOINTS:
                metrics[f'{name} {suffix}'] = per_joint[joints[0]] if len(
                    joints) == 1 else 0.5 * per_joint[joints[0]] + \
                    0.5 * per_joint[joints[1]]
            metrics[suffix] = mean
        return metrics
