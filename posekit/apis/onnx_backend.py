"""The ONNX Runtime backend: an exported model, run as ``init_model``'s.

:class:`OnnxPoseModel` stands in for the PyTorch model in
``inference_topdown`` and, for a bottom-up config (``is_bottomup``),
``inference_bottomup`` (the :class:`~posekit.apis.backends.PoseModel`
interface: ``cfg``, ``dataset_meta``, ``test_cfg`` and ``test_step``):

- the data preprocessor is the config's own (PyTorch, cheap): the file holds
  only the network, whose input is the preprocessed ``(N, C, H, W)`` batch;
- the network is an ONNX Runtime session (:class:`OnnxNetwork`);
- flip test, decoding and the mapping back to the image are the config's
  head and estimator (``TopdownPoseEstimator.predict_with`` or
  ``BottomupPoseEstimator.predict_with``), so results are those of the
  PyTorch model up to the network's float error.

One-stage models (RTMO, YOLOX-Pose): the file also decodes every prior
(:mod:`posekit.models.onestage_deploy`); the selection of people (the
config's ``test_cfg``: ``score_thr``, ``nms_pre``, ``nms_thr``) and the
mapping to the image run here, as in the PyTorch model.

Input size. A top-down file takes the fixed crop size of the config. A
bottom-up file exported by posekit has dynamic H and W, any multiples of
its ``size_factor`` (metadata), which ``BottomupResize`` (and the data
preprocessor's ``pad_size_divisor``) make; another size is refused before
ONNX Runtime runs.

Batch size. A file exported with a dynamic batch takes the N crops in one
run. A fixed-batch file (batch B) is run on chunks of B crops; the last chunk
is padded with zero crops whose outputs are dropped. With B = 1 that is one
run per crop.
"""
from __future__ import annotations

import json
import os
from functools import partial
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from posekit.config import Config
from posekit.models.builder import (config_input_size, dataset_meta_or_coco, load_inference_config,
                                    onnx_decoding_problem)
from posekit.models.heads.onestage_utils import check_no_tta
from posekit.models.onestage_deploy import (ONESTAGE_OUTPUTS, OneStageDecoded, is_onestage,
                                            predict_decoded)
from posekit.models.onnx_spec import import_optional
from .onnx_check import check_metadata


class OnnxNetwork:
    """An ONNX Runtime session called like the exported network.

    ``network(inputs)`` takes the ``(N, C, H, W)`` float tensor the data
    preprocessor makes and returns what ``model(inputs, mode='tensor')``
    returns: a tensor, or a tuple of tensors (CPU, float32).

    Args:
        onnx_file (str | Path): An ``.onnx`` file.
        device (str): ``'cpu'``, ``'cuda'`` or ``'cuda:N'`` (needs the
            CUDA execution provider, package ``onnxruntime-gpu``).
        num_threads (int, optional): Threads of one operator
            (``intra_op_num_threads``); None: ONNX Runtime's default (one
            per physical core).

    Attributes:
        metadata (dict[str, str]): The file's ``metadata_props``.
        batch_size (int | None): The file's fixed batch size; None when it
            is dynamic.
        input_shape (tuple): ``(C, H, W)`` the file takes: ints, or the
            graph's symbol (a str, or None) for a dynamic axis; a pose
            lifter's packed keypoints: ``(K * C, T)`` or ``(T, K, C)``.
        lifting (bool): A pose lifter's file (metadata ``data_mode``).
        size_factor (int | None): With dynamic H and W, their values must
            be multiples of it (the metadata's ``size_factor``; 1 in a file
            without it); None when H and W are fixed.
        output_names (list[str]): In the order of the returned tuple.
        precision (str): ``'int8'`` for a file of ``posekit export
            --quantize int8`` (metadata ``precision``), else ``'fp32'``.
    """

    def __init__(self, onnx_file: str | os.PathLike, device: str = 'cpu',
                 num_threads: int | None = None) -> None:
        ort = import_optional('onnxruntime')
        path = os.fspath(onnx_file)
        if not os.path.isfile(path):
            raise FileNotFoundError(f'ONNX file not found: {path}')
        options = ort.SessionOptions()
        if num_threads is not None:
            if int(num_threads) < 1:
                raise ValueError('num_threads must be >= 1, got '
                                 f'{num_threads}')
            options.intra_op_num_threads = int(num_threads)
        providers = _providers(ort, device)
        try:
            self.session = ort.InferenceSession(path, options, providers=providers)
        except Exception as e:  # noqa: BLE001 (onnxruntime's own error types)
            raise ValueError(f'{path}: onnxruntime cannot load it: {e}') from e
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        graph_input = self.session.get_inputs()
        if len(graph_input) != 1:
            raise ValueError(f'{path}: expected one input (the image batch), '
                             f'the graph has {len(graph_input)}')
        self.input_name = graph_input[0].name
        shape = graph_input[0].shape
        self.lifting = self.metadata.get('data_mode') == 'lifting'
        if len(shape) not in ((3, 4) if self.lifting else (4, )):
            raise ValueError(f'{path}: expected an (N, C, H, W) input, the '
                             f'graph input has shape {shape}')
        self.batch_size = shape[0] if isinstance(shape[0], int) else None
        self.input_shape = tuple(shape[1:])
        self.size_factor = None if self.lifting else \
            _size_factor(self.input_shape[1:], self.metadata)
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.precision = self.metadata.get('precision', 'fp32')
        if 'output_names' in self.metadata:
            self.output_names = json.loads(self.metadata['output_names'])
        # 'tensor': forward returns one tensor; 'sequence': a tuple/list
        # (CPMHead's list may hold a single map, so the count is not enough)
        self.output_type = self.metadata.get(
            'output_type', 'tensor' if len(self.output_names) == 1
            else 'sequence')

    def __call__(self, inputs: torch.Tensor
                 ) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """Run on ``(N, C, H, W)`` inputs, in chunks for a fixed batch."""
        self.check_input(inputs)
        x = inputs.detach().to('cpu', torch.float32).contiguous().numpy()
        if self.batch_size is None or len(x) == self.batch_size:
            outputs = self._run(x)
        else:
            outputs = self._run_chunks(x, self.batch_size)
        tensors = tuple(torch.from_numpy(o) for o in outputs)
        return tensors[0] if self.output_type == 'tensor' else tensors

    def check_input(self, inputs: torch.Tensor) -> None:
        """Raise ValueError unless ``inputs`` is ``(N, C, H, W)`` (a pose
        lifter's file: its packed keypoints' shape) with the file's fixed
        sizes and, for dynamic H and W, multiples of :attr:`size_factor`."""
        factor = self.size_factor or 1
        if inputs.ndim == 1 + len(self.input_shape) and all(
                d == s for d, s in zip(self.input_shape, inputs.shape[1:])
                if isinstance(d, int)) and all(
                    s % factor == 0 for s in inputs.shape[2:]):
            return
        names = (('K * C', 'T') if len(self.input_shape) == 2 else ('T', 'K', 'C')) \
            if self.lifting else ('C', 'H', 'W')
        expected = ', '.join(str(d) if isinstance(d, int) else names[i]
                             for i, d in enumerate(self.input_shape))
        extra = (f' with H and W multiples of {factor} (size_factor)'
                 if self.size_factor is not None else '')
        raise ValueError(f'the ONNX network takes (N, {expected}) inputs'
                         f'{extra}, got {tuple(inputs.shape)}')

    def _run(self, x: np.ndarray) -> list[np.ndarray]:
        return self.session.run(self.output_names, {self.input_name: x})

    def _run_chunks(self, x: np.ndarray, size: int) -> list[np.ndarray]:
        parts = []
        for start in range(0, len(x), size):
            chunk = x[start:start + size]
            n = len(chunk)
            if n < size:  # pad with zero crops; their outputs are dropped
                pad = np.zeros((size - n, ) + chunk.shape[1:], chunk.dtype)
                chunk = np.concatenate([chunk, pad])
            parts.append([o[:n] for o in self._run(chunk)])
        return [np.concatenate(outs) for outs in zip(*parts)]


class OnnxPoseModel:
    """A pose model whose network runs in ONNX Runtime.

    Drop-in for the model of :func:`posekit.apis.init_model` in
    :func:`posekit.apis.inference_topdown` (top-down configs) and
    :func:`posekit.apis.inference_bottomup` (bottom-up configs:
    :attr:`is_bottomup`): same ``cfg``, ``dataset_meta`` and ``test_step``
    results (see the module docstring).

    Args:
        config (str | Path | Config): The config the file was exported from
            (not modified). Its test pipeline, data preprocessor, head
            (flip test and decoder) and ``test_cfg`` are used.
        onnx_file (str | Path): From :func:`posekit.export.export_onnx`.
        device (str): ``'cpu'`` or ``'cuda[:N]'`` for ONNX Runtime; the
            data preprocessing and decoding run on the CPU.
        cfg_options (dict, optional): Overrides, as for ``init_model``
            (e.g. ``{'model.test_cfg.flip_test': False}``).
        num_threads (int, optional): ONNX Runtime's intra-op threads.

    Raises:
        ValueError: The file does not match the config: input size (or
            size factor), mean, std, channel order, head type, data mode
            or number of keypoints differ; or the config's model is not a
            top-down or bottom-up estimator, or its head cannot be decoded
            from the config alone (CIDHead, DEKRHead with rescore_cfg).
        ImportError: onnxruntime is not installed.
    """

    def __init__(self, config: str | os.PathLike | Config,
                 onnx_file: str | os.PathLike, device: str = 'cpu',
                 cfg_options: Mapping | None = None,
                 num_threads: int | None = None) -> None:
        self.cfg = load_inference_config(config, cfg_options)
        self.network = OnnxNetwork(onnx_file, device, num_threads)
        self.estimator = _decoding_estimator(self.cfg)
        self.data_preprocessor = self.estimator.data_preprocessor
        self.dataset_meta = dataset_meta = dataset_meta_or_coco(self.cfg)
        check_metadata(self.network, self.cfg, self.estimator, dataset_meta,
                       os.fspath(onnx_file))
        self.onestage = is_onestage(self.estimator.head)
        if self.onestage and (self.network.output_names != list(ONESTAGE_OUTPUTS)
                              or self.network.output_type != 'sequence'):
            raise ValueError(
                f'{os.fspath(onnx_file)}: a one-stage model\'s file must hold '
                f'the decoded outputs {", ".join(ONESTAGE_OUTPUTS)} (posekit '
                f'export writes them); it has {", ".join(self.network.output_names)}')

    def test_step(self, data: dict) -> list:
        """Preprocess a collated batch and predict, as the PyTorch model's
        ``test_step``.

        Args:
            data (dict): ``dict(inputs=[(C, H, W) uint8 tensors],
                data_samples=[PoseDataSample])``.

        Returns:
            list[PoseDataSample]: With ``pred_instances`` in image pixels.
        """
        with torch.no_grad():
            data = self.data_preprocessor(data, False)
            samples = data['data_samples']
            if self.estimator.metainfo is not None:
                for sample in samples:
                    sample.set_metainfo(self.estimator.metainfo)
            if self.onestage:
                return self._predict_onestage(data['inputs'], samples)
            return self.estimator.predict_with(self.network, data['inputs'],
                                               samples)

    def _predict_onestage(self, inputs: Any, samples: list) -> list:
        """People from the file's decoded outputs (see the module
        docstring), in image pixels."""
        head, test_cfg = self.estimator.head, self.estimator.test_cfg
        check_no_tta(head, test_cfg)  # no flip nor multi-scale test
        if not isinstance(inputs, torch.Tensor):
            if len(inputs) != 1:
                raise ValueError(
                    f'{type(head).__name__} runs one input scale; drop '
                    'aug_scales from the test pipeline\'s BottomupResize')
            inputs = inputs[0]
        preds = predict_decoded(head, self.network(inputs), samples, test_cfg)
        return self.estimator.add_pred_to_datasample(preds, None, samples)

    val_step = test_step

    @property
    def is_bottomup(self) -> bool:
        """Whether the config's model is bottom-up (whole images in, as
        ``inference_bottomup`` checks)."""
        return bool(getattr(self.estimator, 'is_bottomup', False))

    @property
    def test_cfg(self) -> dict:
        """The estimator's ``test_cfg`` (``flip_test``, ``output_heatmaps``,
        ...), read at every ``test_step``, as the PyTorch model's."""
        return self.estimator.test_cfg


def init_onnx_model(config: str | os.PathLike | Config,
                    onnx_file: str | os.PathLike, device: str = 'cpu',
                    cfg_options: Mapping | None = None,
                    num_threads: int | None = None) -> OnnxPoseModel:
    """Load an exported model for :func:`posekit.apis.inference_topdown`
    or :func:`posekit.apis.inference_bottomup`; see :class:`OnnxPoseModel`."""
    return OnnxPoseModel(config, onnx_file, device=device,
                         cfg_options=cfg_options, num_threads=num_threads)


def check_onnx(model: nn.Module, onnx_file: str | os.PathLike,
               batch_sizes: Sequence[int] = (1, ), seed: int = 0,
               num_threads: int | None = None) -> dict:
    """Compare ONNX Runtime with PyTorch on random inputs.

    Args:
        model (nn.Module): The PyTorch model the file was exported from.
        onnx_file (str | Path): The exported file.
        batch_sizes (tuple[int]): Batches to try; a fixed-batch file is
            tried at its batch size only.
        seed (int): Seed of the random (standard normal) inputs.
        num_threads (int, optional): ONNX Runtime's intra-op threads.

    Input sizes: the file's fixed ``(C, H, W)``; with dynamic H and W
    (bottom-up), the export's example size (metadata ``input_size``, else
    the model config's) and one of another aspect, a size factor taller
    and two wider, so that the dynamic axes are exercised.

    A one-stage file is compared with the model's ``OneStageDecoded``.

    Returns:
        dict[str, tuple[float, float]]: Per output name, the largest (over
        the batches) relative error ``||onnx - torch|| / ||torch||`` and
        maximum absolute difference.
    """
    network = OnnxNetwork(onnx_file, num_threads=num_threads)
    if network.batch_size is not None:
        batch_sizes = (network.batch_size, )
    generator = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    # a one-stage file decodes every prior: compare with PyTorch's decoding
    run = OneStageDecoded(model) if is_onestage(getattr(model, 'head', None)) \
        else partial(model, mode='tensor')
    errors: dict = {}
    for batch in batch_sizes:
        for shape in _check_shapes(network, model):
            x = torch.randn((batch, ) + shape, generator=generator)
            with torch.no_grad():
                expected = _as_tuple(run(x.to(device)))
            got = _as_tuple(network(x))
            for name, a, b in zip(network.output_names, got, expected):
                a, b = a.double().numpy(), b.detach().cpu().double().numpy()
                rel = float(np.linalg.norm(a - b)
                            / max(np.linalg.norm(b), 1e-30))
                diff = float(np.abs(a - b).max()) if a.size else 0.0
                old = errors.get(name, (0.0, 0.0))
                errors[name] = (max(old[0], rel), max(old[1], diff))
    return errors


def _check_shapes(network: OnnxNetwork, model: nn.Module) -> list[tuple]:
    """``(C, H, W)`` inputs for :func:`check_onnx`."""
    factor = network.size_factor
    if factor is None:
        return [tuple(network.input_shape)]
    c = network.input_shape[0] if isinstance(network.input_shape[0], int) else 3
    size = json.loads(network.metadata.get('input_size', 'null')) or \
        config_input_size(getattr(model, 'cfg', None))
    if size is None:
        raise ValueError('check_onnx: the file has dynamic H and W and neither '
                         'it nor the model config gives an input size')
    w, h = (-(-int(s) // factor) * factor for s in size)
    return [(c, h, w), (c, h + factor, w + 2 * factor)]


# ----------------------------------------------------------------- helpers
def _size_factor(spatial: Sequence, metadata: Mapping) -> int | None:
    """See :attr:`OnnxNetwork.size_factor`."""
    if all(isinstance(d, int) for d in spatial):
        return None
    return int(json.loads(metadata.get('size_factor', '1')))


def _providers(ort: Any, device: str) -> list:
    kind, _, index = str(device).partition(':')
    if kind == 'cpu' and not index:
        return ['CPUExecutionProvider']
    if kind != 'cuda' or not (index.isdigit() or not index):
        raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got "
                         f'{device!r}')
    available = ort.get_available_providers()
    if 'CUDAExecutionProvider' not in available:
        raise ValueError(
            f'device {device!r}: this onnxruntime has no CUDA execution '
            f'provider (available: {", ".join(available)}); install '
            'onnxruntime-gpu instead of onnxruntime, or use device="cpu"')
    return [('CUDAExecutionProvider', {'device_id': int(index or 0)}),
            'CPUExecutionProvider']


def _decoding_estimator(cfg: Config) -> nn.Module:
    """The config's estimator without a network: the data preprocessor,
    the head (for its flip test and decoder) and ``test_cfg``.

    The head's layers are never run, so they are made on the 'meta' device
    (no memory, no initialisation); a head that cannot be built there is
    built normally.
    """
    from posekit.models.pose_estimators import (BottomupPoseEstimator, PoseLifter,
                                                TopdownPoseEstimator)
    from posekit.registry import MODELS
    model_cfg = cfg.model.to_dict()
    kind = model_cfg.get('type')
    cls = kind if isinstance(kind, type) else MODELS.get(kind)
    bases = [base for base in (TopdownPoseEstimator, BottomupPoseEstimator, PoseLifter)
             if isinstance(cls, type) and issubclass(cls, base)]
    if not bases:
        raise ValueError('the ONNX backend runs top-down, bottom-up and pose-lifting '
                         f'models; the config\'s model is {kind}')
    if model_cfg.get('head') is None:
        raise ValueError('the config\'s model has no head: the ONNX backend '
                         'needs it for the flip test and decoding')
    problem = onnx_decoding_problem(model_cfg['head']) \
        if bases[0] is BottomupPoseEstimator else None
    if problem is not None:
        raise ValueError(f'the ONNX backend cannot run this config: {problem}')
    heads = {key: _layerless(model_cfg[key]) for key in ('head', 'traj_head')
             if model_cfg.get(key) is not None}
    return bases[0](
        backbone=nn.Identity(), **heads,
        test_cfg=model_cfg.get('test_cfg'),
        data_preprocessor=model_cfg.get('data_preprocessor'),
        metainfo=model_cfg.get('metainfo'))


def _layerless(head_cfg: Mapping) -> nn.Module:
    """A head whose layers are never run: on the 'meta' device (no memory,
    no initialisation) where it builds there, else normally."""
    from posekit.registry import MODELS
    try:
        with torch.device('meta'):
            return MODELS.build(head_cfg)
    except Exception:  # noqa: BLE001 - any failure: build it for real
        return MODELS.build(head_cfg)


def _as_tuple(outputs: Any) -> tuple:
    return (outputs, ) if isinstance(outputs, torch.Tensor) else tuple(outputs)
