"""One interface, two backends: the network in PyTorch or in ONNX Runtime.

``inference_topdown`` and :class:`~posekit.apis.PoseInferencer` take any
:class:`PoseModel`. Pre-processing (the config's test pipeline and data
preprocessor), flip test, decoding and the mapping back to the image are
the same code in both; only the network differs.

- ``'pytorch'``: :func:`~posekit.apis.init_model` (a ``.pth`` or
  ``.safetensors`` checkpoint);
- ``'onnxruntime'``: :func:`~posekit.apis.init_onnx_model` (an ``.onnx``
  file written by ``posekit export``; given a checkpoint instead, its
  export is made once and cached, :func:`posekit.export.cached_onnx`).
"""
from __future__ import annotations

import os
from typing import Any, Mapping, Protocol, runtime_checkable

import torch

from posekit.config import Config
from posekit.export import cached_onnx
from .inference import init_model
from .optimize import optimize_for_inference
from .onnx_backend import init_onnx_model

BACKENDS = ('pytorch', 'onnxruntime')
ONNX_PRECISIONS = ('fp32', 'int8')


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
                    precision: str | None = None,
                    compile: bool = False) -> PoseModel:  # noqa: A002
    """A :class:`PoseModel` of ``backend`` (see the module docstring).

    Args:
        config (str | Path | Config): The model's config.
        weights (str | Path, optional): Checkpoint (``'pytorch'``; None:
            random weights). ``'onnxruntime'`` (needed): an ``.onnx`` file, or
            a checkpoint whose export is made on first use and cached.
        backend (str): ``'pytorch'`` or ``'onnxruntime'``.
        device (str): ``'cpu'``, ``'cuda'`` or ``'cuda:N'``.
        cfg_options (dict, optional): Config overrides.
        num_threads (int, optional): CPU threads: torch's (set for the
            process) or ONNX Runtime's intra-op threads.
        precision (str, optional): ``'pytorch'``: ``'fp32'`` or
            ``'bf16'``: the model is optimized for inference
            (:func:`~posekit.apis.optimize.optimize_for_inference`: folded
            BatchNorms, and bfloat16 autocast where asked); None: as built.
            ``'onnxruntime'``: ``'fp32'`` or ``'int8'``, which must be the
            file's (``posekit export --quantize int8`` writes int8 files);
            None: whatever the file is.
    """
    if backend not in BACKENDS:
        raise ValueError(f'backend must be one of {BACKENDS}, got {backend!r}')
    if backend == 'pytorch':
        if num_threads:
            torch.set_num_threads(num_threads)
        if precision == 'int8':
            raise ValueError("precision int8 runs in ONNX Runtime: export with posekit "
                             'export CONFIG CHECKPOINT --format onnx --quantize int8 and '
                             "pass the .int8.onnx file with backend='onnxruntime' "
                             '(--backend onnxruntime)')
        model = init_model(config, weights, device=device, cfg_options=cfg_options)
        if precision is None and not compile:
            return model
        return optimize_for_inference(model, precision or 'fp32', compile=compile)
    if compile:
        raise ValueError("compile=True compiles the PyTorch network; backend='onnxruntime' "
                         'runs the ONNX file as it is')
    if not weights:
        raise ValueError("backend='onnxruntime' needs weights: an .onnx file written by "
                         'posekit export, or a checkpoint to export')
    if not os.fspath(weights).endswith('.onnx'):
        if precision == 'int8':
            raise ValueError('precision int8 needs a calibrated file: posekit export CONFIG '
                             'CHECKPOINT --format onnx --quantize int8, then its .int8.onnx')
        weights = cached_onnx(config, weights, cfg_options)
    model = init_onnx_model(config, weights, device=device, cfg_options=cfg_options,
                            num_threads=num_threads)
    check_precision(model.network.precision, precision, os.fspath(weights))
    return model


def check_precision(found: str, wanted: str | None, path: str) -> None:
    """Raise ValueError unless an ONNX file's precision ``found`` is the
    ``wanted`` one (None: any): the file decides how its network runs, so
    a mismatch is an error rather than a silent change."""
    if wanted is None or wanted == found:
        return
    if wanted not in ONNX_PRECISIONS:
        raise ValueError(f"precision {wanted!r}: backend='onnxruntime' runs "
                         f'{" or ".join(ONNX_PRECISIONS)} files (bf16 is the '
                         'pytorch backend\'s)')
    if wanted == 'int8':
        raise ValueError(f'precision int8: {path} is a {found} file; write an '
                         'int8 one with posekit export CONFIG CHECKPOINT '
                         '--format onnx --quantize int8')
    raise ValueError(f'{path} is an {found} file (posekit export --quantize '
                     f'{found}); pass precision={found!r} (--precision {found})')
