"""Export a top-down, bottom-up or pose-lifting model's network to ONNX.

The file holds what ``model(inputs, mode='tensor')`` computes: backbone,
neck and head layers, no decoding.

Input ``input``: float32 ``(N, C, H, W)``, the crops (top-down) or whole
images (bottom-up) as the data preprocessor leaves them: channels reversed
when ``bgr_to_rgb``, then ``(x - mean) / std``. Mean, std and the channel
flip are not in the graph; they are in the metadata, so a runtime can apply
and check them.

Input size. Top-down: fixed, the config's ``TopdownAffine`` ``input_size``.
Bottom-up (``model.is_bottomup``): ``BottomupResize`` makes inputs of any
size with sides multiples of its ``size_factor`` (default 32), so H and W
are dynamic, the symbols ``32*h32`` and ``32*w32`` (for a size factor of
32): any multiple of the size factor runs, another size fails in the
runtime. The example input the graph is traced with is the config's
``BottomupResize`` ``input_size`` rounded up to multiples of the factor.

Outputs, named after the head's raw output:

- ``heatmaps (N, K, H', W')``: heatmap heads (HeatmapHead, ViPNASHead...);
- ``simcc_x (N, K, Wx)``, ``simcc_y (N, K, Wy)``: SimCCHead, RTMCCHead;
- ``coords (N, K, 2)``: RegressionHead; ``(N, K, 4)`` for RLEHead
  (x, y, then the raw sigmas: the sigmoid is part of decoding);
- ``coords``, ``heatmaps``: IntegralRegressionHead, DSNTHead;
- ``heatmaps_0`` ... ``heatmaps_{S-1}``: CPMHead, one per stage;
- ``heatmaps (N, K, H', W')``, ``tags (N, K*L, H', W')``:
  AssociativeEmbeddingHead;
- ``heatmaps (N, K+1, H', W')`` (root map last), ``displacements
  (N, 2K, H', W')``: DEKRHead;
- one-stage heads (YOLOXPoseHead, RTMOHead): the graph goes on to decode
  every prior point, up to (not including) the selection of people, after
  ``switch_to_deploy`` of the submodules (as MMPose's deploy form):
  ``bboxes (N, P, 4)``, ``scores (N, P, C)``, ``keypoints (N, P, K, 2)``,
  ``keypoint_scores (N, P, K)``, see :mod:`posekit.models.onestage_deploy`
  (metadata ``onestage``: true). Their size factor is also a multiple of
  the largest feature stride.

Pose lifters (``PoseLifter``, metadata ``data_mode``: ``"lifting"``): the
input is the packed 2D keypoints as the data preprocessor stacks them,
``(N, K * 2, T)`` for a TCN, ``(N, T, K, C)`` for a DSTFormer (metadata
``input_shape``: the sizes after N, from the config's backbone and test
dataset ``seq_len``); outputs ``keypoints_3d`` (the pose head's, e.g.
``(N, K, 3)``) and, with a trajectory head, ``trajectory``. Flip test and
decoding (the root, the codec's units) stay in the runtime.

Bottom-up heads whose results need more than the config and this file are
refused (ValueError): CIDHead (its decoding runs the head's own modules)
and DEKRHead with ``rescore_cfg`` (a learned rescoring net after decoding,
whose weights the graph does not hold); see
:func:`posekit.models.builder.onnx_decoding_problem`.

``metadata_props`` (strings; lists and numbers as JSON): ``posekit_version``,
``input_size`` ([w, h]), ``batch_size`` (an int, or ``"dynamic"``),
``mean``, ``std`` (per channel, after the flip; ``null`` without
normalisation), ``bgr_to_rgb`` (true: reverse the channels of a BGR
image), ``output_names``, ``output_type`` (``"tensor"``: one output,
``"sequence"``: forward returns a tuple/list), ``head_type``,
``num_keypoints``, ``flip_indices``, ``dataset_name``, ``config``.
Bottom-up files also have ``data_mode`` (``"bottomup"``; a file without it
is top-down), ``dynamic_size`` (true: H and W are dynamic) and
``size_factor`` (int: H and W must be multiples of it); their
``input_size`` is the example's (the size the export traced and checked).

Batch: with ``dynamic_batch`` axis 0 is the symbol ``batch``; otherwise it
is fixed (``input_shape[0]``, default 1) and a runtime feeds N crops in
chunks of that size (see :mod:`posekit.apis.onnx_backend`).

Exporter: ``torch.onnx.export(..., dynamo=True)`` (torch.export, then
onnxscript). It writes opset 18 and up natively, hence the default 18. A
lower opset is converted down from 18 by the exporter, which works for the
ResNet and HRNet heatmap models and SimCCHead but not for RTMCCHead nor
regression heads after global pooling (onnx cannot convert their ReduceMean
nodes): export then raises rather than write a file of another opset.
"""
from __future__ import annotations

import contextlib
import inspect
import json
import logging
import math
import os
import warnings
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from posekit import __version__
from posekit.config import Config
from posekit.fileio import atomic_write
from posekit.models.builder import (DEFAULT_SIZE_FACTOR, build_inference_model,
                                    config_input_size, config_lifter_input_shape,
                                    config_size_factor, onnx_decoding_problem)
from posekit.models.onestage_deploy import (ONESTAGE_OUTPUTS, OneStageDecoded, deploy_copy,
                                            is_onestage, onestage_problem)
from posekit.models.onnx_spec import INPUT_NAME, import_optional, preprocess_metadata

NATIVE_OPSET = 18  # what the dynamo exporter writes without conversion
_QUIET_LOGGERS = ('torch.onnx', 'torch.export', 'torch._export', 'onnxscript',
                  'onnx_ir', 'torch._dynamo', 'torch.fx')


def export_onnx(model_or_config: nn.Module | str | os.PathLike | Config,
                checkpoint: str | os.PathLike | None = None,
                output: str | os.PathLike = 'model.onnx',
                opset: int = NATIVE_OPSET,
                dynamic_batch: bool = False,
                input_shape: Sequence[int] | None = None,
                cfg_options: Mapping | None = None,
                verbose: bool = False) -> str:
    """Export the network of a top-down or bottom-up model to an ONNX file.

    Args:
        model_or_config (nn.Module | str | Path | Config): A model from
            :func:`posekit.apis.init_model` (with ``cfg``), or a config to
            build one from with ``checkpoint``.
        checkpoint (str | Path, optional): Weights, when a config is given
            (None: PyTorch's random initialisation).
        output (str | Path): The file to write (atomically: a temporary
            file in the same folder, then renamed).
        opset (int): ONNX opset: 18 (default) or higher; a lower one is
            converted down and fails for some heads (see the module
            docstring).
        dynamic_batch (bool): Make the batch axis dynamic.
        input_shape (tuple[int], optional): ``(N, C, H, W)`` of the input;
            N is the fixed batch size (the example batch with
            ``dynamic_batch``); for a bottom-up model H and W are the
            example's (multiples of the size factor). Default ``(1, 3, h,
            w)`` with ``(w, h)`` the ``input_size`` of the config's test
            pipeline (its ``TopdownAffine``, or ``BottomupResize`` rounded
            up to its ``size_factor``), else of ``codec``, else of the
            head's decoder.
        cfg_options (dict, optional): Config overrides, with a config.
        verbose (bool): Show the exporter's own messages and warnings.

    Returns:
        str: ``output``.

    Raises:
        ImportError: onnx or onnxscript is missing
            (``pip install "posekit[onnx]"``).
        ValueError: Bad arguments, no input size, a model without head, a
            bottom-up head that needs more than the file (see the module
            docstring), or an opset the model cannot be converted to.
    """
    onnx = import_optional('onnx')
    import_optional('onnxscript')
    if 'dynamo' not in inspect.signature(torch.onnx.export).parameters:
        raise ImportError('ONNX export uses the dynamo exporter of '
                          f'torch>=2.5; this is torch {torch.__version__}')
    model = _as_model(model_or_config, checkpoint, cfg_options)
    lifting = is_lifter(model)
    size_factor = None if lifting else bottomup_size_factor(model)
    shape = model_input_shape(model, input_shape)
    if size_factor is not None and (shape[2] % size_factor
                                    or shape[3] % size_factor):
        raise ValueError(f'input_shape {shape}: H and W of a bottom-up model '
                         f'must be multiples of its size_factor {size_factor}')
    device = next(model.parameters()).device
    batch = max(shape[0], 2) if dynamic_batch else shape[0]
    example = torch.randn((batch, ) + shape[1:],
                          generator=torch.Generator().manual_seed(0)
                          ).to(device)
    onestage = is_onestage(model.head)
    network = OneStageDecoded(deploy_copy(model)) if onestage else \
        _TensorMode(model)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            outputs = network(example)
        if onestage:
            names, output_type = list(ONESTAGE_OUTPUTS), 'sequence'
        elif lifting:
            names, output_type = ((['keypoints_3d', 'trajectory'], 'sequence')
                                  if model.with_traj else (['keypoints_3d'], 'tensor'))
        else:
            names, output_type = output_names(model.head, outputs)
        proto = _dynamo_export(network, example, names, opset,
                               _dynamic_shapes(dynamic_batch, size_factor),
                               verbose)
    finally:
        model.train(was_training)
    found = {o.domain: o.version for o in proto.opset_import}.get('')
    if found != opset:
        raise ValueError(
            f'the exporter could not convert this model to opset {opset} (it '
            f'writes opset {NATIVE_OPSET} and converts down; the conversion '
            f'failed, leaving opset {found}); export with opset >= '
            f'{NATIVE_OPSET}')
    metadata = dict(
        posekit_version=__version__,
        batch_size='dynamic' if dynamic_batch else shape[0],
        **preprocess_metadata(model.data_preprocessor),
        output_names=names, output_type=output_type,
        head_type=type(model.head).__name__,
        **_dataset_metadata(model))
    if lifting:   # the codec may leave out the root: no keypoint count
        metadata.update(data_mode='lifting', input_shape=list(shape[1:]))
    else:
        metadata.update(input_size=[shape[3], shape[2]],
                        num_keypoints=int(_first(outputs).shape[1]))
    if size_factor is not None:
        # DEKR's heatmaps have the root map as one more channel
        metadata.update(num_keypoints=int(model.head.num_keypoints),
                        data_mode='bottomup', dynamic_size=True,
                        size_factor=size_factor)
    if onestage:
        metadata.update(onestage=True)
    set_metadata(proto, metadata)
    onnx.checker.check_model(proto, full_check=True)
    with atomic_write(output, 'wb') as f:
        onnx.save(proto, f)
    return os.fspath(output)


def output_names(head: nn.Module, outputs: Any) -> tuple[list[str], str]:
    """Names of the head's raw outputs and ``'tensor'`` / ``'sequence'``.

    See the module docstring; unknown structures get ``output_<i>``.
    """
    from posekit.models.heads import (AssociativeEmbeddingHead, DEKRHead,
                                      IntegralRegressionHead, RTMCCHead,
                                      SimCCHead)
    if isinstance(outputs, torch.Tensor):
        return ['heatmaps' if outputs.ndim == 4 else 'coords'], 'tensor'
    outputs = list(outputs)
    if isinstance(head, AssociativeEmbeddingHead) and len(outputs) == 2:
        return ['heatmaps', 'tags'], 'sequence'
    if isinstance(head, DEKRHead) and len(outputs) == 2:
        return ['heatmaps', 'displacements'], 'sequence'
    if isinstance(head, (SimCCHead, RTMCCHead)) and len(outputs) == 2:
        return ['simcc_x', 'simcc_y'], 'sequence'
    if isinstance(head, IntegralRegressionHead) and len(outputs) == 2:
        return ['coords', 'heatmaps'], 'sequence'
    if all(isinstance(o, torch.Tensor) and o.ndim == 4 for o in outputs):
        return [f'heatmaps_{i}' for i in range(len(outputs))], 'sequence'
    return [f'output_{i}' for i in range(len(outputs))], 'sequence'


def resolve_input_shape(model: nn.Module, input_shape: Sequence[int] | None
                        ) -> tuple[int, int, int, int]:
    """``(N, C, H, W)``: ``input_shape`` checked, or (1, 3, h, w) from the
    model's config or decoder (see :func:`export_onnx`)."""
    if input_shape is not None:
        shape = tuple(int(s) for s in input_shape)
        if len(shape) != 4 or min(shape) < 1:
            raise ValueError('input_shape must be 4 positive ints (N, C, H, '
                             f'W), got {tuple(input_shape)}')
        return shape
    size = config_input_size(getattr(model, 'cfg', None))
    decoder = getattr(getattr(model, 'head', None), 'decoder', None)
    if size is None and getattr(decoder, 'input_size', None) is not None:
        w, h = decoder.input_size
        size = (int(w), int(h))
    if size is None:
        raise ValueError('no input size: the model has no config with a '
                         'TopdownAffine or BottomupResize test transform or '
                         'a codec, and its head no decoder; pass '
                         'input_shape=(N, C, H, W)')
    return (1, 3, size[1], size[0])


def model_input_shape(model: nn.Module, input_shape: Sequence[int] | None = None
                      ) -> tuple[int, ...]:
    """The example input's shape: :func:`lifter_input_shape` of a pose
    lifter, else :func:`resolve_input_shape`."""
    return (lifter_input_shape(model, input_shape) if is_lifter(model)
            else resolve_input_shape(model, input_shape))


def is_lifter(model: nn.Module) -> bool:
    """Whether ``model`` is a :class:`~posekit.models.PoseLifter`."""
    from posekit.models.pose_estimators import PoseLifter
    return isinstance(model, PoseLifter)


def lifter_input_shape(model: nn.Module, input_shape: Sequence[int] | None
                       ) -> tuple[int, ...]:
    """A pose lifter's input shape: ``input_shape`` checked, or (1, ...)
    with the rest from its config
    (:func:`~posekit.models.builder.config_lifter_input_shape`)."""
    if input_shape is not None:
        shape = tuple(int(s) for s in input_shape)
        if len(shape) not in (3, 4) or min(shape) < 1:
            raise ValueError('input_shape of a pose lifter must be 3 or 4 positive ints '
                             f'((N, K * C, T) or (N, T, K, C)), got {tuple(input_shape)}')
        return shape
    shape = config_lifter_input_shape(getattr(model, 'cfg', None))
    if shape is None:
        raise ValueError('no input shape: the pose lifter\'s backbone is not a TCN or a '
                         'DSTFormer with a config; pass input_shape')
    return (1, ) + shape


def bottomup_size_factor(model: nn.Module) -> int | None:
    """The size factor of a bottom-up model (its test ``BottomupResize``'s,
    else 32); None for a top-down model.

    Raises:
        ValueError: The model's head cannot be decoded from its config and
            the file (see the module docstring).
    """
    if not getattr(model, 'is_bottomup', False):
        return None
    problem = onnx_decoding_problem(model.head)
    if problem is not None:
        raise ValueError(f'cannot export this bottom-up model to ONNX: '
                         f'{problem}')
    factor = config_size_factor(getattr(model, 'cfg', None)) or \
        DEFAULT_SIZE_FACTOR
    if is_onestage(model.head):
        problem = onestage_problem(model.head)
        if problem is not None:
            raise ValueError(f'cannot export this one-stage model to ONNX: '
                             f'{problem}')
        # every level's map must tile the input for the priors to be right
        factor = math.lcm(factor, *(int(s) for s in
                                    model.head.featmap_strides))
    return factor


# ----------------------------------------------------------------- helpers
class _TensorMode(nn.Module):
    """``model(inputs, mode='tensor')`` with a list output made a tuple
    (exporters take tensors and tuples of tensors)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor):
        return _as_tuple_if_sequence(self.model(inputs, mode='tensor'))


def _as_model(model_or_config: Any, checkpoint: Any,
              cfg_options: Mapping | None) -> nn.Module:
    if isinstance(model_or_config, nn.Module):
        if checkpoint is not None or cfg_options:
            raise ValueError('checkpoint and cfg_options go with a config; '
                             'a model is exported as it is')
        model = model_or_config
    elif isinstance(model_or_config, (str, os.PathLike, Config)):
        model = build_inference_model(model_or_config, checkpoint, cfg_options)
    else:
        raise TypeError('export_onnx takes a model or a config, got '
                        f'{type(model_or_config).__name__}')
    if getattr(model, 'head', None) is None:
        raise ValueError('the model has no head: there is no pose output to '
                         'export')
    return model


def _dynamic_shapes(dynamic_batch: bool, size_factor: int | None
                    ) -> tuple | None:
    """torch.export's ``dynamic_shapes`` of the one input: the batch axis
    with ``dynamic_batch``, H and W as multiples of ``size_factor``."""
    axes = {}
    if dynamic_batch:
        axes[0] = torch.export.Dim('batch')
    if size_factor is not None:
        # no max: the ONNX symbols are unbounded anyway
        axes[2] = size_factor * torch.export.Dim(f'h{size_factor}', min=1)
        axes[3] = size_factor * torch.export.Dim(f'w{size_factor}', min=1)
    return (axes, ) if axes else None


def _dynamo_export(network: nn.Module, example: torch.Tensor,
                   names: list[str], opset: int, dynamic_shapes: tuple | None,
                   verbose: bool):
    """The ONNX ModelProto of ``network`` from the dynamo exporter."""
    with _quiet(not verbose):
        program = torch.onnx.export(
            network, (example, ), dynamo=True, opset_version=opset,
            input_names=[INPUT_NAME], output_names=names,
            dynamic_shapes=dynamic_shapes, optimize=True, verbose=verbose,
            external_data=False)
        return program.model_proto


@contextlib.contextmanager
def _quiet(enabled: bool):
    """Silence the exporter's progress logs and warnings (torchvision ops
    not registered, the opset conversion fallback...)."""
    if not enabled:
        yield
        return
    loggers = [logging.getLogger(name) for name in _QUIET_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _dataset_metadata(model: nn.Module) -> dict:
    meta = getattr(model, 'dataset_meta', None) or {}
    out = {}
    if meta.get('flip_indices') is not None:
        out['flip_indices'] = [int(i) for i in meta['flip_indices']]
    if meta.get('dataset_name'):
        out['dataset_name'] = str(meta['dataset_name'])
    cfg = getattr(model, 'cfg', None)
    if getattr(cfg, 'filename', None):
        out['config'] = os.path.basename(cfg.filename)
    return out


def set_metadata(proto: Any, metadata: Mapping) -> None:
    """Replace ``metadata_props`` entries of the same keys; strings are
    written as they are, other values as JSON."""
    kept = [p for p in proto.metadata_props if p.key not in metadata]
    del proto.metadata_props[:]
    proto.metadata_props.extend(kept)
    for key, value in metadata.items():
        prop = proto.metadata_props.add()
        prop.key = key
        prop.value = value if isinstance(value, str) else json.dumps(value)


def _first(outputs: Any) -> torch.Tensor:
    return outputs if isinstance(outputs, torch.Tensor) else outputs[0]


def _as_tuple_if_sequence(outputs: Any) -> Any:
    return tuple(outputs) if isinstance(outputs, (list, tuple)) else outputs
