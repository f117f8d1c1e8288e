"""Does an ONNX file fit a config? (:func:`check_metadata`, used when an
:class:`~posekit.apis.onnx_backend.OnnxPoseModel` is made.)"""
from __future__ import annotations

import json
import warnings
from typing import Any, Mapping

import numpy as np
from torch import nn

from posekit.config import Config
from posekit.export.onnx_export import is_lifter
from posekit.models.builder import (config_input_size, config_lifter_input_shape,
                                    config_size_factor)
from posekit.models.onnx_spec import preprocess_metadata


def check_metadata(network: Any, cfg: Config, estimator: nn.Module,
                   dataset_meta: Mapping, path: str = 'the ONNX file') -> None:
    """Raise ValueError where the file's metadata contradicts the config.

    Checked: the graph's fixed input size (dynamic H and W: that the
    config's ``BottomupResize`` size factor is a multiple of the file's)
    and, in the metadata, input size (of a fixed-size file), mean, std,
    channel flip, data mode, head type, number of keypoints and, with flip
    test, the flip indices. A file without posekit metadata (exported by
    another tool) gets a warning for what cannot be checked.
    """
    meta = network.metadata
    size = config_input_size(cfg)
    problems = _lifter_shape_problems(network, cfg) if network.lifting else \
        _size_problems(network, cfg, size)
    if 'posekit_version' not in meta:
        warnings.warn(f'{path} has no posekit metadata: its normalisation '
                      'and head cannot be checked against the config',
                      stacklevel=3)
        meta = {}

    def compare(key: str, expected: Any, close: bool = False) -> None:
        if key not in meta:
            return
        found = json.loads(meta[key])
        if close and found is not None and expected is not None and len(
                found) == len(expected):
            same = np.allclose(found, expected, rtol=1e-6, atol=0)
        else:
            same = found == expected
        if not same:
            problems.append(f'{key}: file {found}, config {expected}')

    if size is not None and network.size_factor is None and not network.lifting:
        compare('input_size', list(size))
    mode = 'lifting' if is_lifter(estimator) else \
        'bottomup' if getattr(estimator, 'is_bottomup', False) else 'topdown'
    if meta.get('data_mode', 'topdown') != mode:
        problems.append(f'data_mode: file {meta["data_mode"]}, config {mode}')
    expected = preprocess_metadata(estimator.data_preprocessor)
    compare('mean', expected['mean'], close=True)
    compare('std', expected['std'], close=True)
    compare('bgr_to_rgb', expected['bgr_to_rgb'])
    head_type = type(estimator.head).__name__
    if meta.get('head_type', head_type) != head_type:
        problems.append(f'head: file {meta["head_type"]}, config {head_type}')
    if 'num_keypoints' in meta and dataset_meta.get('num_keypoints'):
        compare('num_keypoints', dataset_meta['num_keypoints'])
    if estimator.test_cfg.get('flip_test', False):
        compare('flip_indices', list(dataset_meta.get('flip_indices') or []))
    if problems:
        raise ValueError(f'{path} does not match the config '
                         f'{cfg.filename or ""}: ' + '; '.join(problems))



def _lifter_shape_problems(network: Any, cfg: Config) -> list[str]:
    """A pose lifter's graph input against its config's (no batch axis)."""
    expected = config_lifter_input_shape(cfg)
    if expected is None or tuple(network.input_shape) == expected:
        return []
    return [f'graph input shape {tuple(network.input_shape)} (after N), config '
            f'{expected} (its backbone and test seq_len)']


def _size_problems(network: Any, cfg: Config,
                   size: tuple[int, int] | None) -> list[str]:
    """The graph's input size against the config's (see check_metadata)."""
    h, w = network.input_shape[1:]
    if network.size_factor is None:
        if size is not None and (w, h) != tuple(size):
            return [f'graph input (w, h) = ({w}, {h}), config input_size '
                    f'{tuple(size)}']
        return []
    factor = config_size_factor(cfg)
    if factor is not None and factor % network.size_factor:
        return [f'graph input H and W are multiples of {network.size_factor}'
                f', config BottomupResize size_factor={factor}']
    return []
