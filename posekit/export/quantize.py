"""int8 quantization of an exported ONNX file (ONNX Runtime static, QDQ).

:func:`quantize_onnx` turns the float32 file of :func:`export_onnx` into an
int8 one that ONNX Runtime runs with integer kernels; the file is then run
like the float one (``init_onnx_model(config, file, precision='int8')``).

What is quantized (ONNX Runtime's ``quantize_static``):

- weights: int8, symmetric, one scale per output channel (a convolution's
  channels differ in range by 10x and more, one scale for all would waste
  bits on the small ones);
- activations: uint8, asymmetric, one scale and zero point per tensor, from
  the minimum and maximum the tensor takes on the calibration inputs
  (``CalibrationMethod.MinMax``). uint8 activations with int8 weights
  (``U8S8``) is what ONNX Runtime's x86 kernels are fast at (VNNI:
  ``VPDPBUSD`` multiplies unsigned by signed bytes); measured on an
  AVX512-VNNI/AMX CPU, 2 threads, the synthetic HRNet: U8S8 runs 2.0x the
  float32 file, S8S8 0.5x (it falls back to slower kernels);
- the file is in QDQ form: ``QuantizeLinear``/``DequantizeLinear`` pairs
  around float operators, which ONNX Runtime fuses into integer ones.

The calibration inputs are what the network sees at test time: images
through the config's own test pipeline and data preprocessor
(:func:`calibration_inputs`). An activation's int8 step is its calibrated
range / 255, so the error a tensor gets is at most half that step, plus the
clipping of values outside the calibrated range (rare if the calibration
images are like the test images).

The metadata of the float file is kept, with ``precision='int8'`` and the
quantization settings added.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
from typing import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from posekit.datasets.media_files import IMAGE_EXTENSIONS, expand_inputs, is_image
from posekit.fileio import atomic_write
from posekit.models.onestage_deploy import is_onestage
from posekit.models.builder import test_dataset_cfg
from posekit.structures.bbox import whole_image_bbox
from posekit.models.onnx_spec import import_optional
from .onnx_export import set_metadata

QUANT_METADATA = dict(precision='int8', activations='uint8 asymmetric per-tensor (MinMax)',
                      quant_format='QDQ')


def calibration_inputs(model: nn.Module, images: str | Sequence[str] | None = None,
                       num: int = 32) -> list[np.ndarray]:
    """Network inputs to calibrate the activation ranges on.

    Args:
        model (nn.Module): The model from ``init_model`` (its ``cfg``,
            ``dataset_meta`` and ``data_preprocessor`` are used).
        images (str | list[str], optional): A folder, a glob pattern or a
            list of image files, each whole image a person box. None: the
            config's test (else val) dataset's annotated boxes (its own
            instances).
        num (int): How many inputs, spread evenly over the images (or the
            dataset's instances); fewer when there are fewer.

    Returns:
        list[np.ndarray]: ``num`` ``(C, H, W)`` float32 arrays, preprocessed
        (normalised, channel order of the config) as the network takes them.

    Raises:
        ValueError: A bottom-up or one-stage model (see
            :func:`check_quantizable`).
        FileNotFoundError: ``images`` names no image; or, without
            ``images``, the config's dataset (annotation file or images) is
            not there; the message says to pass calibration images.
    """
    if num < 1:
        raise ValueError(f'calibration: num must be >= 1, got {num}')
    check_quantizable(bottomup=bool(getattr(model, 'is_bottomup', False)),
                      onestage=is_onestage(getattr(model, 'head', None)))
    dataset_cfg = _test_dataset_cfg(model.cfg)
    if images is None:
        items = _dataset_items(dataset_cfg, num)
    else:
        items = _image_items(model, dataset_cfg['pipeline'], images, num)
    preprocess = model.data_preprocessor
    out = []
    with torch.no_grad():
        for item in items:   # one at a time: bottom-up sizes differ
            batch = preprocess(dict(inputs=[item['inputs']],
                                    data_samples=[item['data_samples']]), False)
            out.append(batch['inputs'][0].float().cpu().numpy())
    return out


def quantize_onnx(float_onnx: str | os.PathLike, output: str | os.PathLike,
                  calib_inputs: Sequence[np.ndarray], per_channel: bool = True,
                  reduce_range: bool = False, batch_size: int = 8) -> str:
    """Quantize an exported float32 ONNX file to int8 (see the module docstring).

    Args:
        float_onnx (str | Path): From :func:`posekit.export.export_onnx`.
        output (str | Path): The int8 file to write (atomically).
        calib_inputs (list[np.ndarray]): ``(C, H, W)`` float32 network
            inputs (:func:`calibration_inputs`).
        per_channel (bool): One weight scale per output channel (else one
            per tensor: slightly faster, less accurate).
        reduce_range (bool): 7-bit weights, for CPUs without VNNI: their
            ``VPMADDUBSW`` adds two u8 x s8 products into an int16, which
            full-range weights can saturate (ONNX Runtime's advice); costs
            one bit of weight precision.
        batch_size (int): Calibration inputs per run of a dynamic-batch file
            (a fixed-batch file runs its own batch size).

    Returns:
        str: ``output``.
    """
    onnx = import_optional('onnx')
    import_optional('onnxruntime')
    from onnxruntime.quantization import (CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    if not calib_inputs:
        raise ValueError('quantize_onnx: no calibration inputs')
    float_onnx = os.fspath(float_onnx)
    float_proto = onnx.load(float_onnx, load_external_data=False)
    metadata = {p.key: p.value for p in float_proto.metadata_props}
    check_quantizable(metadata.get('data_mode') == 'bottomup', 'onestage' in metadata)
    graph_input = float_proto.graph.input[0]
    fixed = graph_input.type.tensor_type.shape.dim[0].dim_value or None
    reader = _Reader(graph_input.name, calib_inputs, fixed or batch_size,
                     fixed is not None)
    with tempfile.TemporaryDirectory() as tmp:
        source = _preprocessed(float_onnx, os.path.join(tmp, 'pre.onnx'))
        quantized = os.path.join(tmp, 'int8.onnx')
        logger = logging.getLogger()   # ORT logs advice to the root logger
        level = logger.level
        logger.setLevel(logging.ERROR)
        try:
            quantize_static(source, quantized, reader, quant_format=QuantFormat.QDQ,
                            per_channel=per_channel, reduce_range=reduce_range,
                            activation_type=QuantType.QUInt8,
                            weight_type=QuantType.QInt8,
                            calibrate_method=CalibrationMethod.MinMax)
        finally:
            logger.setLevel(level)
        proto = onnx.load(quantized)
    metadata.update(QUANT_METADATA, calibration_inputs=json.dumps(len(calib_inputs)))
    metadata['weights'] = (f'int{7 if reduce_range else 8} symmetric '
                           f'per-{"channel" if per_channel else "tensor"}')
    del proto.metadata_props[:]   # the float file's, updated, and nothing else
    set_metadata(proto, metadata)
    with atomic_write(output, 'wb') as f:
        onnx.save(proto, f)
    return os.fspath(output)


def check_quantizable(bottomup: bool, onestage: bool) -> None:
    """Raise ValueError for a bottom-up or one-stage model.

    Their files end in decoding done in the graph (tags, displacements,
    every prior's box and keypoints in pixels), which one uint8 range per
    tensor would round by several pixels; top-down heatmap, SimCC and
    regression files (the network only) are what int8 was measured on.
    """
    kind = 'one-stage' if onestage else 'bottom-up' if bottomup else None
    if kind:
        raise ValueError(f'int8 quantization runs top-down models; this is a {kind} '
                         'model, whose file decodes in the graph (pixel '
                         'coordinates do not fit one uint8 range): export it in float32')


# ----------------------------------------------------------------- helpers
class _Reader:
    """ONNX Runtime's ``CalibrationDataReader``: batches of inputs of one
    shape. A fixed-batch file's last batch is filled with repeats of real
    inputs (repeats change no minimum or maximum; zeros could)."""

    def __init__(self, name: str, inputs: Sequence[np.ndarray], size: int,
                 fill: bool) -> None:
        groups: dict = {}
        for x in inputs:
            groups.setdefault(tuple(x.shape), []).append(np.asarray(x, np.float32))
        batches = []
        for group in groups.values():
            for start in range(0, len(group), size):
                chunk = group[start:start + size]
                while fill and len(chunk) < size:
                    chunk = chunk + group[:size - len(chunk)]
                batches.append({name: np.stack(chunk)})
        self._batches = iter(batches)

    def get_next(self) -> dict | None:
        return next(self._batches, None)


def _preprocessed(float_onnx: str, path: str) -> str:
    """ONNX Runtime's recommended preparation (shape inference and graph
    optimisation), else the file as it is.

    Symbolic shape inference is skipped: it fails on the exporter's
    dynamic batch axis, and the float file's shapes are complete already.
    """
    from onnxruntime.quantization.shape_inference import quant_pre_process
    try:
        quant_pre_process(float_onnx, path, skip_symbolic_shape=True)
    except Exception:  # noqa: BLE001 - an optimisation only: quantize as is
        return float_onnx
    return path


def _test_dataset_cfg(cfg) -> dict:
    dataset = test_dataset_cfg(cfg)
    if dataset is None:
        raise ValueError('calibration: the config has no test_dataloader (nor '
                         'val_dataloader) with a dataset pipeline')
    return dataset.to_dict() if hasattr(dataset, 'to_dict') else dict(dataset)


def _dataset_items(dataset_cfg: Mapping, num: int) -> list[dict]:
    from posekit.registry import DATASETS
    where = (f"{dataset_cfg.get('data_root', '')}{dataset_cfg.get('ann_file', '')}")
    try:
        dataset = DATASETS.build(dict(dataset_cfg))
        picks = np.linspace(0, len(dataset) - 1, min(num, len(dataset)))
        return [dataset[int(round(i))] for i in picks] if len(dataset) else []
    except FileNotFoundError as e:
        raise FileNotFoundError(
            f'calibration: the config\'s test dataset ({where}) cannot be read '
            f'({e}); pass calibration images with --calib-images DIR_OR_GLOB '
            '(images=... in Python)') from e


def _image_items(model: nn.Module, pipeline_cfg: list, images, num: int) -> list[dict]:
    from posekit.datasets.transforms import Compose
    files = _image_files(images)
    picks = np.linspace(0, len(files) - 1, min(num, len(files)))
    pipeline = Compose(pipeline_cfg)
    items = []
    for i in picks:
        # the pipeline's LoadImage decodes (its colour type) and skips later
        info = pipeline.transforms[0](dict(img_path=files[int(round(i))]))
        info.update(bbox=whole_image_bbox(info['img'].shape),   # the person box
                    bbox_score=np.ones(1, np.float32))
        items.append(pipeline(dict(info, **model.dataset_meta)))
    return items


def _image_files(images: str | Sequence[str]) -> list[str]:
    files = expand_inputs(images)
    if not all(isinstance(f, str) and is_image(f) for f in files):
        raise ValueError(f'calibration images {images!r}: image files only '
                         f'({", ".join(IMAGE_EXTENSIONS)}), not videos or arrays')
    return files
