"""Re-index keypoints between layouts for CocoMetric's converters.

A converter config is ``KeypointConverter``'s: ``num_keypoints`` of the
target layout and ``mapping``, a list of ``(source index, target index)``.
Target keypoints without a source are zero (sigmas: one).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def _indices(mapping: Sequence) -> tuple:
    if len(mapping) == 0:
        return [], []
    source, target = map(list, zip(*mapping))
    if not all(isinstance(i, (int, np.integer)) for i in source + target):
        raise ValueError('metric converters map single keypoints: every '
                         f'mapping entry must be (int, int), got {mapping!r}')
    return source, target


def transform_sigmas(sigmas, num_keypoints: int, mapping: Sequence):
    """(num_keypoints,) sigmas of the target layout (list in, list out)."""
    source, target = _indices(mapping)
    array = np.asarray(sigmas)
    out = np.ones(num_keypoints, dtype=array.dtype)
    out[target] = array[source]
    return out.tolist() if isinstance(sigmas, list) else out


def transform_ann(ann: dict, num_keypoints: int, mapping: Sequence) -> dict:
    """A COCO annotation with ``keypoints`` in the target layout (in place)."""
    source, target = _indices(mapping)
    if 'keypoints' in ann:
        keypoints = np.array(ann['keypoints']).reshape(-1, 3)
        out = np.zeros((num_keypoints, 3), dtype=keypoints.dtype)
        out[target] = keypoints[source]
        ann['keypoints'] = out.reshape(-1).tolist()
    if 'num_keypoints' in ann:
        ann['num_keypoints'] = num_keypoints
    return ann


def transform_pred(pred: dict, num_keypoints: int, mapping: Sequence) -> dict:
    """A prediction with (N, K, C) ``keypoints`` and (N, K)
    ``keypoint_scores`` in the target layout (in place)."""
    source, target = _indices(mapping)
    if 'keypoints' in pred:
        for key in ('keypoints', 'keypoint_scores'):
            values = np.asarray(pred[key])
            out = np.zeros((len(values), num_keypoints) + values.shape[2:],
                           dtype=values.dtype)
            out[:, target] = values[:, source]
            pred[key] = out
    if 'num_keypoints' in pred:
        pred['num_keypoints'] = num_keypoints
    return pred
