"""MPJPE: mean per-joint position error of 3D keypoints (pose lifting).

Each data sample: ``pred_instances.keypoints`` (N, K, 3) (or (1, N, K, 3)),
``gt_instances.lifting_target`` (N, K, 3) and ``lifting_target_visible``,
and ``target_img_path`` (Human3.6M names ``S1_Directions_1.xxx.jpg``: the
action is read from it). Results: ``MPJPE`` (or ``P-MPJPE`` / ``N-MPJPE``)
and one ``{MODE}_{action}`` per action category.
"""
from __future__ import annotations

import os.path as osp
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

import numpy as np

from posekit.registry import METRICS
from posekit.structures import to_numpy
from ..functional.mesh_eval import keypoint_mpjpe
from .base_metric import BaseMetric, as_dict, logger, stack_results


@METRICS.register_module()
class MPJPE(BaseMetric):
    """Mean per-joint position error.

    Args:
        mode (str): ``'mpjpe'`` (no alignment), ``'p-mpjpe'`` (Procrustes:
            scale, rotation and translation) or ``'n-mpjpe'`` (scale only).
        skip_list (list[str]): ``subject_action`` names (the image file name
            before the first dot) left out.
        collect_device, prefix: See :class:`BaseMetric`.
    """

    ALIGNMENT = {'mpjpe': 'none', 'p-mpjpe': 'procrustes', 'n-mpjpe': 'scale'}

    def __init__(self, mode: str = 'mpjpe', collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 skip_list: Optional[List[str]] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if mode not in self.ALIGNMENT:
            raise KeyError(f'{type(self).__name__}: mode must be one of '
                           f'{list(self.ALIGNMENT)}, got {mode!r}')
        self.mode = mode
        self.skip_list = list(skip_list or [])

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in map(as_dict, data_samples):
            pred = to_numpy(sample['pred_instances']['keypoints'])
            if pred.ndim == 4:
                pred = np.squeeze(pred, axis=0)
            gt = sample['gt_instances']
            target = to_numpy(gt['lifting_target'])
            mask = to_numpy(gt['lifting_target_visible']).astype(bool).reshape(
                target.shape[0], -1)
            name = osp.basename(sample['target_img_path'][0])
            if name.split('.')[0] in self.skip_list:
                continue
            action = name.split('_', 1)[1].split('.', 1)[0]
            self.results.append(dict(
                pred_coords=pred, gt_coords=target, mask=mask,
                actions=np.array([action] * target.shape[0])))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        pred, gt, mask = (stack_results(results, k) for k in
                          ('pred_coords', 'gt_coords', 'mask'))
        by_action = defaultdict(list)
        for i, action in enumerate(stack_results(results, 'actions')):
            by_action[action.split('_')[0]].append(i)
        name, alignment = self.mode.upper(), self.ALIGNMENT[self.mode]
        logger.info('Evaluating %s...', name)
        metrics = {name: keypoint_mpjpe(pred, gt, mask, alignment)}
        for action, rows in by_action.items():
            metrics[f'{name}_{action}'] = keypoint_mpjpe(
                pred[rows], gt[rows], mask[rows], alignment)
        return metrics
