"""AUC, EPE and NME: keypoint distance metrics (hands, faces).

Each data sample is one top-down instance (see :mod:`.pck_metrics`).
Result names are MMPose's, without a prefix: ``AUC``, ``EPE``, ``NME``.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import numpy as np

from posekit.registry import METRICS
from posekit.structures import to_numpy
from ..functional.keypoint_eval import keypoint_auc, keypoint_epe, keypoint_nme
from .base_metric import BaseMetric, as_dict, logger, stack_results
from .pck_metrics import keypoint_result


class _KeypointMetric(BaseMetric):
    """Keeps prediction, ground truth and mask of every sample."""

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in map(as_dict, data_samples):
            self.results.append(self._result(sample))

    def _result(self, sample: dict) -> dict:
        return keypoint_result(sample)

    @staticmethod
    def _stacked(results: list) -> tuple:
        return tuple(stack_results(results, k)
                     for k in ('pred_coords', 'gt_coords', 'mask'))


@METRICS.register_module()
class AUC(_KeypointMetric):
    """Area under the PCK curve (thresholds ``i / num_thrs`` of
    ``norm_factor`` pixels, see :func:`keypoint_auc`).

    Args:
        norm_factor (float): Pixels that normalise distances. Default 30.
        num_thrs (int): Number of thresholds. Default 20.
    """

    def __init__(self, norm_factor: float = 30, num_thrs: int = 20,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.norm_factor = norm_factor
        self.num_thrs = num_thrs

    def compute_metrics(self, results: list) -> Dict[str, float]:
        logger.info('Evaluating %s...', type(self).__name__)
        pred, gt, mask = self._stacked(results)
        return dict(AUC=keypoint_auc(pred, gt, mask, self.norm_factor,
                                     self.num_thrs))


@METRICS.register_module()
class EPE(_KeypointMetric):
    """End-point error: mean pixel distance of the visible keypoints."""

    def compute_metrics(self, results: list) -> Dict[str, float]:
        logger.info('Evaluating %s...', type(self).__name__)
        return dict(EPE=keypoint_epe(*self._stacked(results)))


@METRICS.register_module()
class NME(_KeypointMetric):
    """Normalised mean error.

    Args:
        norm_mode (str): ``'use_norm_item'`` (divide by a per-sample item)
            or ``'keypoint_distance'`` (by the distance of two ground-truth
            keypoints, e.g. the outer eye corners).
        norm_item (str, optional): With ``'use_norm_item'``: a field of
            ``gt_instances`` (e.g. ``'head_size'``), or ``'bbox_size'``
            (longer side of the ground-truth box).
        keypoint_indices (Sequence[int], optional): With
            ``'keypoint_distance'``: the two keypoints; default per dataset
            (:attr:`DEFAULT_KEYPOINT_INDICES`, by ``dataset_name``).
    """

    DEFAULT_KEYPOINT_INDICES = {
        'horse10': [0, 1],
        '300w': [36, 45],
        'coco_wholebody_face': [36, 45],
        'cofw': [8, 9],
        'wflw': [60, 72],
        'lapa': [66, 79],
    }

    def __init__(self, norm_mode: str, norm_item: Optional[str] = None,
                 keypoint_indices: Optional[Sequence[int]] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        name = type(self).__name__
        if norm_mode not in ('use_norm_item', 'keypoint_distance'):
            raise KeyError(f"{name}: norm_mode must be 'use_norm_item' or "
                           f"'keypoint_distance', got {norm_mode!r}")
        if norm_mode == 'use_norm_item' and not norm_item:
            raise KeyError(f"{name}: norm_mode 'use_norm_item' needs "
                           'norm_item (the data field that normalises)')
        self.norm_mode = norm_mode
        self.norm_item = norm_item
        self.keypoint_indices = keypoint_indices

    def _result(self, sample: dict) -> dict:
        result = keypoint_result(sample)
        if self.norm_item:
            gt = sample['gt_instances']
            if self.norm_item == 'bbox_size':
                if 'bboxes' not in gt:
                    raise KeyError(f'{type(self).__name__}: norm_item '
                                   '"bbox_size" needs gt_instances.bboxes')
                box = to_numpy(gt['bboxes'])[0]
                result['bbox_size'] = np.array([np.max(box[2:] - box[:2])
                                                ]).reshape(-1, 1)
            else:
                if self.norm_item not in gt:
                    raise KeyError(f'{type(self).__name__}: gt_instances has '
                                   f'no {self.norm_item!r} to normalise by')
                result[self.norm_item] = np.array(to_numpy(
                    gt[self.norm_item])).reshape([-1, 1])
        return result

    def compute_metrics(self, results: list) -> Dict[str, float]:
        logger.info('Evaluating %s...', type(self).__name__)
        pred, gt, mask = self._stacked(results)
        if self.norm_mode == 'use_norm_item':
            factor = np.tile(stack_results(results, self.norm_item), [1, 2])
        else:
            first, second = self._indices()
            distance = np.linalg.norm(gt[:, first, :] - gt[:, second, :],
                                      axis=1, keepdims=True)
            factor = np.tile(distance, [1, 2])
        return dict(NME=keypoint_nme(pred, gt, mask, factor))

    def _indices(self) -> Sequence[int]:
        meta = self.dataset_meta or {}
        name = meta.get('dataset_name')
        if self.keypoint_indices is None:
            if name not in self.DEFAULT_KEYPOINT_INDICES:
                raise KeyError(f"{type(self).__name__}: no default "
                               f'keypoint_indices for dataset {name!r}; set '
                               'keypoint_indices')
            return self.DEFAULT_KEYPOINT_INDICES[name]
        if len(self.keypoint_indices) != 2:
            raise ValueError(f'{type(self).__name__}: keypoint_indices must '
                             f'be a pair, got {self.keypoint_indices}')
        known = meta.get('keypoint_id2name')
        for idx in self.keypoint_indices:
            if known is not None and idx not in known:
                raise ValueError(f'{type(self).__name__}: dataset {name} has '
                                 f'no keypoint {idx}')
        return self.keypoint_indices
