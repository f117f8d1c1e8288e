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
  slower than float32: posekit then warns and keeps float32;
* on a CPU, glibc's allocator is told to keep freed memory for reuse
  (:func:`posekit.malloc.keep_freed_memory`): the feature maps of every forward are
  then allocated from memory already mapped instead of fresh pages the
  kernel must fault in and zero, 5-25% of a forward here;
* ``compile=True`` (opt-in) compiles the backbone+neck and the head with
  ``torch.compile`` (inductor, weights frozen as constants: this sets
  ``torch._inductor.config.freezing`` for the process). Batches are padded
  to the next power of two, so at most one compilation per size bucket
  (each takes seconds to a minute; the first call of a bucket pays it).
  It needs a C++ compiler on the CPU; end to end 1.05-1.17x the folded
  float32 model on res50, HRNet-w32 and RTMPose-s here
  (``benchmarks/infer.py --compile``).
"""
from __future__ import annotations

import functools
import shutil
import warnings

import torch
import torch.nn as nn

from posekit.malloc import keep_freed_memory
from posekit.models.builder import DEFAULT_INPUT_SIZE, config_input_size
from posekit.models.utils.fuse import fold_batchnorm

PRECISIONS = ('fp32', 'bf16')


def optimize_for_inference(model: nn.Module, precision: str = 'fp32',
                           input_size: tuple[int, int] | None = None,
                           compile: bool = False) -> nn.Module:  # noqa: A002
    """Fold BatchNorms and pick the network's precision (in place).

    Args:
        model (nn.Module): A pose model (eval mode), e.g. from :func:`init_model`.
        precision (str): ``'fp32'`` or ``'bf16'``.
        input_size (tuple[int, int], optional): (w, h) of an input image the
            network accepts, for the example forward that finds the
            conv-BatchNorm pairs; default from ``model.cfg``'s test pipeline
            (:func:`~posekit.models.builder.config_input_size`).
        compile (bool): Also ``torch.compile`` the network (see the module
            docstring).

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
    if device.type == 'cpu':
        keep_freed_memory()
    if type(model).__name__ != 'PoseLifter':   # lifters read keypoints: precision only
        w, h = input_size or config_input_size(getattr(model, 'cfg', None)) \
            or DEFAULT_INPUT_SIZE
        # a multiple of 32, every stride's: a bottom-up size that is not one
        # fails later with its own clear error (check_input_size)
        probe = torch.zeros(1, 3, -(-h // 32) * 32, -(-w // 32) * 32, device=device)
        fold_batchnorm(model, lambda: model(probe, None, mode='tensor'))
    if precision == 'bf16' and not fast_bfloat16(device):
        warnings.warn(f'precision bf16: this {device.type.upper()} has no native '
                      'bfloat16 (AVX512-BF16 or AMX on a CPU); running float32',
                      stacklevel=2)
        precision = 'fp32'
    if compile:
        _compile_network(model)
    if precision == 'bf16':
        # the network under autocast; what the head returns (and everything
        # after it: flip averaging, decoding) in float32
        model.extract_feat = _autocast(model.extract_feat, device.type)
        model.head.forward = _float32(_autocast(model.head.forward, device.type))
    model.inference_precision = precision
    return model


def fast_bfloat16(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 natively."""
    if device.type == 'cuda':
        return torch.cuda.is_bf16_supported()
    # torch's own CPU probes (private, hence looked up; absent means no)
    probes = [getattr(torch.cpu, name, None)
              for name in ('_is_avx512_bf16_supported', '_is_amx_tile_supported')]
    return any(probe is not None and probe() for probe in probes)


def _compile_network(model: nn.Module) -> None:
    device = next(model.parameters()).device
    if device.type == 'cpu' and not any(shutil.which(cc) for cc in ('c++', 'g++', 'clang++')):
        raise RuntimeError('optimize_for_inference(compile=True): torch.compile needs a '
                           'C++ compiler (c++, g++ or clang++) on the PATH for the CPU')
    import torch._inductor.config as inductor_config
    inductor_config.freezing = True   # weights as constants: folded, prepacked
    model.extract_feat = padded_to_bucket(torch.compile(model.extract_feat, dynamic=False))
    model.head.forward = padded_to_bucket(torch.compile(model.head.forward, dynamic=False))


def padded_to_bucket(run):
    """``run`` on inputs whose batch (dim 0 of every tensor, N) is padded with
    zeros to the next power of two; outputs cut back to N rows."""
    @functools.wraps(run)
    def bucketed(inputs, *args, **kwargs):
        n = _batch_size(inputs)
        size = 1 << max(n - 1, 0).bit_length()
        if n == 0 or size == n:
            return run(inputs, *args, **kwargs)
        return _tree(run(_tree(inputs, lambda t: _pad_rows(t, size)), *args, **kwargs),
                     lambda t: t[:n])
    return bucketed


def _batch_size(value) -> int:
    if isinstance(value, torch.Tensor):
        return value.shape[0]
    return _batch_size(value[0]) if isinstance(value, (list, tuple)) and value else 0


def _pad_rows(t: torch.Tensor, size: int) -> torch.Tensor:
    pad = t.new_zeros((size - t.shape[0], *t.shape[1:]))
    return torch.cat([t, pad]).contiguous(memory_format=_memory_format(t))


def _memory_format(t: torch.Tensor) -> torch.memory_format:
    return (torch.channels_last if t.dim() == 4 and t.is_contiguous(
        memory_format=torch.channels_last) and not t.is_contiguous()
        else torch.contiguous_format)


def _tree(value, fn):
    """``fn`` applied to every tensor in nested lists, tuples and dicts."""
    if isinstance(value, torch.Tensor):
        return fn(value)
    if isinstance(value, (list, tuple)):
        items = [_tree(v, fn) for v in value]
        return type(value)(*items) if hasattr(value, '_fields') else type(value)(items)
    if isinstance(value, dict):
        return {k: _tree(v, fn) for k, v in value.items()}
    return value


def _autocast(run, device_type: str):
    @functools.wraps(run)
    def with_autocast(*args, **kwargs):
        with torch.autocast(device_type, dtype=torch.bfloat16):
            return run(*args, **kwargs)
    return with_autocast


def _float32(forward):
    @functools.wraps(forward)
    def as_float32(*args, **kwargs):
        return _tree(forward(*args, **kwargs),
                     lambda t: t.float() if t.dtype == torch.bfloat16 else t)
    return as_float32
