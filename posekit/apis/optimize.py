"""Making an inference model faster: BatchNorm folding and bfloat16.

:func:`optimize_for_inference` changes a model from :func:`init_model` in
place, for inference only (it cannot be trained or saved as an MMPose
checkpoint afterwards):

* every BatchNorm right after a convolution is folded into it
  (:func:`posekit.models.utils.fuse.fold_batchnorm`): same outputs up to
  float32 rounding, one pass over each feature map fewer;
* ``precision='bf16'`` runs the backbone, neck and head under CPU (or
  CUDA) autocast to bfloat16 and turns the head's outputs back to float32,
  so flip averaging and decoding (argmax, sub-pixel refinement) keep
  float32 precision. On a CPU without native bfloat16 (AVX512-BF16 or AMX) it is
  slower than float32: posekit then warns and keeps float32.
"""
from __future__ import annotations

import functools
import warnings

import torch
import torch.nn as nn

from posekit.models.utils.fuse import fold_batchnorm

PRECISIONS = ('fp32', 'bf16')


def optimize_for_inference(model: nn.Module, precision: str = 'fp32',
                           input_size: tuple[int, int] | None = None) -> nn.Module:
    """Fold BatchNorms and pick the network's precision (in place).

    Args:
        model (nn.Module): A pose model (eval mode), e.g. from :func:`init_model`.
        precision (str): ``'fp32'`` or ``'bf16'``.
        input_size (tuple[int, int], optional): (w, h) of an input image the
            network accepts, for the example forward that finds the
            conv-BatchNorm pairs; default from ``model.cfg``'s test pipeline.

    Returns:
        nn.Module: ``model``, with ``inference_precision`` set to the
        precision it runs at (``'fp32'`` where bf16 was asked for but the
        device has no fast bfloat16).
    """
    if precision not in PRECISIONS:
        raise ValueError(f'precision must be one of {PRECISIONS}, got {precision!r}')
    if getattr(model, 'inference_precision', None) is not None:
        raise RuntimeError('optimize_for_inference: this model is already optimized '
                           f'(precision {model.inference_precision!r})')
    device = next(model.parameters()).device
    if type(model).__name__ != 'PoseLifter':   # lifters read keypoints: precision only
        w, h = input_size or probe_size(model.cfg)
        # a multiple of 32, every stride's: a bottom-up size that is not one
        # fails later with its own clear error (check_input_size)
        probe = torch.zeros(1, 3, -(-h // 32) * 32, -(-w // 32) * 32, device=device)
        fold_batchnorm(model, lambda: model(probe, None, mode='tensor'))
    if precision == 'bf16' and not fast_bfloat16(device):
        warnings.warn(f'precision bf16: this {device.type.upper()} has no native '
                      'bfloat16 (AVX512-BF16 or AMX on a CPU); running float32',
                      stacklevel=2)
        precision = 'fp32'
    if precision == 'bf16':
        # the network under autocast; what the head returns (and everything
        # after it: flip averaging, decoding) in float32
        model.extract_feat = _autocast(model.extract_feat, device.type)
        model.head.forward = _float32(_autocast(model.head.forward, device.type))
    model.inference_precision = precision
    return model


def probe_size(cfg) -> tuple[int, int]:
    """(w, h) of a network input the config's test pipeline makes."""
    loader = cfg.get('test_dataloader') or cfg.get('val_dataloader') or {}
    for step in (loader.get('dataset') or {}).get('pipeline', []):
        if step.get('type') in ('TopdownAffine', 'BottomupResize') and step.get('input_size'):
            return tuple(step['input_size'])
    codec = cfg.get('codec')
    codec = codec[0] if isinstance(codec, (list, tuple)) else codec
    if codec and codec.get('input_size'):
        return tuple(codec['input_size'])
    return (192, 256)


def fast_bfloat16(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 natively."""
    if device.type == 'cuda':
        return torch.cuda.is_bf16_supported()
    # torch's own CPU probes (private, hence looked up; absent means no)
    probes = [getattr(torch.cpu, name, None)
              for name in ('_is_avx512_bf16_supported', '_is_amx_tile_supported')]
    return any(probe is not None and probe() for probe in probes)


def _autocast(run, device_type: str):
    @functools.wraps(run)
    def with_autocast(*args, **kwargs):
        with torch.autocast(device_type, dtype=torch.bfloat16):
            return run(*args, **kwargs)
    return with_autocast


def _float32(forward):
    @functools.wraps(forward)
    def as_float32(*args, **kwargs):
        return _to_float32(forward(*args, **kwargs))
    return as_float32


def _to_float32(value):
    if isinstance(value, torch.Tensor):
        return value.float() if value.dtype == torch.bfloat16 else value
    if isinstance(value, list):
        return [_to_float32(v) for v in value]
    if isinstance(value, tuple):
        items = [_to_float32(v) for v in value]
        return type(value)(*items) if hasattr(value, '_fields') else tuple(items)
    if isinstance(value, dict):
        return {k: _to_float32(v) for k, v in value.items()}
    return value
