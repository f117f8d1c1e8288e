"""One interface, two backends: the network in PyTorch or in ONNX Runtime.

``inference_topdown`` and :class:`~posekit.apis.PoseInferencer` take any
:class:`PoseModel`. Pre-processing (the config's test pipeline and data
preprocessor), flip test, decoding and the mapping back to the image are
the same code in both; only the network differs.

- ``'pytorch'``: :func:`~posekit.apis.init_model` (a ``.pth`` or
  ``.safetensors`` checkpoint);
- ``'onnxruntime'``: :func:`~posekit.apis.init_onnx_model` (an ``.onnx``
  file written by ``posekit export``).
"""
from __future__ import annotations

import os
from typing import Any, Mapping, Protocol, runtime_checkable

import torch

from posekit.config import Config
from .inference import init_model
from .optimize import optimize_for_inference
from .onnx_backend import init_onnx_model

BACKENDS = ('pytorch', 'onnxruntime')


@runtime_checkable
class PoseModel(Protocol):
    """What inference needs of a model, whatever runs its network.

    Attributes:
        cfg (Config): The model's config (its test pipeline is used).
        dataset_meta (dict): Parsed dataset meta information (keypoint
            names, flip indices, skeleton, colours).
        test_cfg (dict): ``flip_test``, ``output_heatmaps``...; read at
            every ``test_step``.
    """

    cfg: Config
    dataset_meta: dict
    test_cfg: Any

    def test_step(self, data: dict) -> list:
        """``dict(inputs=[(C, H, W) uint8 tensors], data_samples=[...])`` ->
        list of PoseDataSample with ``pred_instances`` in image pixels."""


def init_pose_model(config: str | os.PathLike | Config,
                    weights: str | os.PathLike | None = None,
                    backend: str = 'pytorch', device: str = 'cpu',
                    cfg_options: Mapping | None = None,
                    num_threads: int | None = None,
                    precision: str | None = None) -> PoseModel:
    """A :class:`PoseModel` of ``backend`` (see the module docstring).

    Args:
        config (str | Path | Config): The model's config.
        weights (str | Path, optional): Checkpoint (``'pytorch'``; None:
            random weights) or ``.onnx`` file (``'onnxruntime'``: needed).
        backend (str): ``'pytorch'`` or ``'onnxruntime'``.
        device (str): ``'cpu'``, ``'cuda'`` or ``'cuda:N'``.
        cfg_options (dict, optional): Config overrides.
        num_threads (int, optional): CPU threads: torch's (set for the
            process) or ONNX Runtime's intra-op threads.
        precision (str, optional): ``'fp32'`` or ``'bf16'``: the PyTorch
            model is optimized for inference
            (:func:`~posekit.apis.optimize.optimize_for_inference`: folded
            BatchNorms, and bfloat16 autocast where asked). None: as built.
    """
    if backend not in BACKENDS:
        raise ValueError(f'backend must be one of {BACKENDS}, got {backend!r}')
    if backend == 'pytorch':
        if num_threads:
            torch.set_num_threads(num_threads)
        model = init_model(config, weights, device=device, cfg_options=cfg_options)
        return model if precision is None else optimize_for_inference(model, precision)
    if precision not in (None, 'fp32'):
        raise ValueError(f"precision {precision!r}: backend='onnxruntime' runs the "
                         'exported float32 model; use the pytorch backend')
    if not weights:
        raise ValueError("backend='onnxruntime' needs the .onnx file written by "
                         'posekit export')
    return init_onnx_model(config, weights, device=device, cfg_options=cfg_options,
                           num_threads=num_threads)
