"""KeypointPartitionMetric: run a metric on subsets (parts) of the keypoints.

Each partition gets its own copy of the metric, fed data samples whose
keypoints (prediction, ground truth, ``raw_ann_info``) and sigmas are cut to
the partition's indices. Results are named ``{partition}/{name}``, e.g.
``body/coco/AP``, ``foot/PCK``.
"""
from __future__ import annotations

import copy
import warnings
from collections import OrderedDict
from typing import Sequence

import numpy as np

from posekit.registry import METRICS
from .base_metric import BaseMetric, as_dict

SUPPORTED = ('CocoMetric', 'PCKAccuracy', 'AUC', 'EPE', 'NME')


@METRICS.register_module()
class KeypointPartitionMetric(BaseMetric):
    """A metric evaluated on each of several keypoint partitions.

    Args:
        metric (dict): Config of the metric: one of ``CocoMetric`` (its
            ``ann_file`` is ignored: the ground truth comes from the data
            samples), ``PCKAccuracy``, ``AUC``, ``EPE``, ``NME`` (with
            ``norm_mode='use_norm_item'``).
        partitions (dict): ``{name: [keypoint indices]}``, e.g.
            ``dict(body=range(17), foot=range(17, 23))``.
    """

    def __init__(self, metric: dict, partitions: dict) -> None:
        super().__init__()
        metric = dict(metric)
        kind = metric['type'].split('.')[-1] if isinstance(
            metric['type'], str) else getattr(metric['type'], '__name__', '')
        if kind not in SUPPORTED:
            raise ValueError(f'KeypointPartitionMetric supports {SUPPORTED}, '
                             f'got {metric["type"]!r}')
        if kind == 'CocoMetric':
            if 'ann_file' in metric:
                warnings.warn('KeypointPartitionMetric ignores the ann_file '
                              'of CocoMetric (the ground truth is rebuilt '
                              'from the data samples)')
                metric['ann_file'] = None
            if metric.get('score_mode', 'bbox_keypoint') != 'bbox':
                warnings.warn('KeypointPartitionMetric: scores other than '
                              "'bbox' are computed per partition, so they "
                              'differ from CocoWholeBodyMetric\'s')
            if metric.get('nms_mode', 'oks_nms') != 'none':
                warnings.warn('KeypointPartitionMetric: NMS runs per '
                              'partition, unlike CocoWholeBodyMetric')
        if kind == 'PCKAccuracy':
            norm_item = metric.get('norm_item', 'bbox')
            if 'torso' in (norm_item if isinstance(norm_item, (list, tuple))
                           else [norm_item]):
                warnings.warn("norm_item 'torso' is meant for JHMDB")
        if kind == 'NME' and metric.get('norm_mode') != 'use_norm_item':
            raise ValueError("KeypointPartitionMetric supports NME with "
                             "norm_mode='use_norm_item' only")
        if not partitions:
            raise ValueError('KeypointPartitionMetric needs a partition')
        for name, indices in partitions.items():
            if not isinstance(indices, Sequence) or len(indices) == 0:
                raise ValueError(f'partition {name!r} must be a non-empty '
                                 f'sequence of keypoint indices')
        self.partitions = {k: list(v) for k, v in partitions.items()}
        self.metrics = {}
        for name in self.partitions:
            part_cfg = copy.deepcopy(metric)
            if part_cfg.get('outfile_prefix'):
                part_cfg['outfile_prefix'] = f'{part_cfg["outfile_prefix"]}.{name}'
            self.metrics[name] = METRICS.build(part_cfg)

    @BaseMetric.dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict) -> None:
        self._dataset_meta = dataset_meta
        for name, indices in self.partitions.items():
            meta = copy.deepcopy(dataset_meta)
            meta['num_keypoints'] = len(indices)
            meta['sigmas'] = np.asarray(meta['sigmas'])[indices]
            self.metrics[name].dataset_meta = meta

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        parted = {name: [] for name in self.partitions}
        for sample in map(as_dict, data_samples):
            for name, indices in self.partitions.items():
                parted[name].append(_cut(sample, indices))
        for name, metric in self.metrics.items():
            metric.process(data_batch, parted[name])

    def compute_metrics(self, results: list) -> dict:
        raise NotImplementedError('KeypointPartitionMetric evaluates through '
                                  'its partition metrics (evaluate)')

    def evaluate(self, size: int) -> dict:
        """``{partition}/{name}`` results of every partition's metric."""
        results = OrderedDict()
        for name, metric in self.metrics.items():
            for key, value in metric.evaluate(size).items():
                results[f'{name}/{key}'] = value
        return results


def _cut(sample: dict, indices: list) -> dict:
    """A deep copy of ``sample`` with only the keypoints ``indices``."""
    sample = copy.deepcopy(sample)
    pred, gt = sample['pred_instances'], sample['gt_instances']
    if 'keypoint_scores' in pred:
        pred['keypoint_scores'] = pred['keypoint_scores'][:, indices]
    pred['keypoints'] = pred['keypoints'][:, indices]
    gt['keypoints'] = gt['keypoints'][:, indices]
    gt['keypoints_visible'] = gt['keypoints_visible'][:, indices]
    anns = sample.get('raw_ann_info')
    if anns is not None:
        for ann in anns if isinstance(anns, list) else [anns]:
            if ann is not None and 'keypoints' in ann:
                kpts = np.array(ann['keypoints']).reshape(-1, 3)[indices]
                ann['keypoints'] = kpts.flatten().tolist()
                ann['num_keypoints'] = np.sum(kpts[:, 2] > 0)
    return sample
