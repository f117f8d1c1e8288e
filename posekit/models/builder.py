"""A model for inference from a config and a checkpoint: build, then load.

This is the core of ``posekit.apis.init_model`` (which adds the device) and
what ``posekit.export`` builds a model with. Checkpoints are read with
``torch.load(weights_only=True)`` (no pickled code runs).
"""
from __future__ import annotations

import os
import warnings
from typing import Mapping

from torch import nn

from posekit.config import Config
from posekit.datasets.metainfo import parse_pose_metainfo
from posekit.registry import DATASETS, MODELS
from .heads import BaseHead, upgrade_legacy_keys
from .utils import load_state_dict, read_checkpoint, revert_sync_batchnorm, state_dict_of

COCO_METAINFO = dict(from_file='configs/_base_/datasets/coco.py')

# Keys of early MMPose 1.x checkpoints: the preprocessor's mean and std,
# which the config gives.
_PREPROCESSOR_KEYS = ('data_preprocessor.mean', 'data_preprocessor.std')
# BottomupResize's default size_factor
DEFAULT_SIZE_FACTOR = 32
# (w, h) for a model whose config names no input size: COCO top-down's
DEFAULT_INPUT_SIZE = (192, 256)


def build_inference_model(config: str | os.PathLike | Config,
                          checkpoint: str | os.PathLike | None = None,
                          cfg_options: Mapping | None = None) -> nn.Module:
    """Build the config's model in eval mode on the CPU, optionally with weights.

    See ``posekit.apis.init_model`` for the arguments (it calls this, then
    moves the model to its device). SyncBatchNorm layers become plain batch
    norm; the backbone's ``init_cfg`` and a distiller's
    ``teacher_pretrained`` are never applied.

    Returns:
        nn.Module: With ``cfg`` (a private copy of the config) and
        ``dataset_meta`` (the checkpoint's ``meta.dataset_meta``, else the
        config's, else COCO's) set.

    Raises:
        FileNotFoundError: ``checkpoint`` does not exist.
        RuntimeError: The checkpoint cannot be read or does not match the
            model (the message lists missing, unexpected and misshapen keys).
    """
    config = load_inference_config(config, cfg_options)
    _drop_pretrained(config.model)
    model = revert_sync_batchnorm(MODELS.build(config.model, path='model'))
    dataset_meta = None
    if checkpoint is not None:
        state_dict, meta = read_weights_and_meta(checkpoint)
        for key in _PREPROCESSOR_KEYS:
            state_dict.pop(key, None)
        load_state_dict(model, upgrade_legacy_keys(model, state_dict), strict=True)
        dataset_meta = meta.get('dataset_meta')
    model.dataset_meta = dataset_meta if dataset_meta is not None else \
        dataset_meta_or_coco(config)
    model.cfg = config
    model.eval()
    return model


def _drop_pretrained(model_cfg: Mapping) -> None:
    """Never fetch pretrained weights at build time: the backbone's
    ``init_cfg`` and a distiller's ``teacher_pretrained`` (often URLs) are
    cleared. (Neither is applied without ``init_weights``, which is not
    called here, as in MMPose; clearing them keeps it that way.)"""
    backbone = model_cfg.get('backbone')
    if isinstance(backbone, Mapping) and 'init_cfg' in backbone:
        backbone['init_cfg'] = None
    if model_cfg.get('teacher_pretrained') is not None:
        model_cfg['teacher_pretrained'] = None


def load_inference_config(config: str | os.PathLike | Config,
                          cfg_options: Mapping | None = None) -> Config:
    """A private copy of ``config`` (a file or a Config) with ``cfg_options``
    applied and ``model.train_cfg`` cleared; the caller's config is untouched."""
    if isinstance(config, (str, os.PathLike)):
        config = Config.fromfile(config)
    elif isinstance(config, Config):
        config = Config(config.to_dict(), filename=config.filename)
    else:
        raise TypeError('config must be a file name or a Config, got '
                        f'{type(config).__name__}')
    if cfg_options:
        # new keys allowed: MMPose's demos add e.g. test_cfg.output_heatmaps
        config.merge_from_dict(cfg_options, allow_new_keys=True)
    config.model.train_cfg = None
    return config


def read_weights_and_meta(path: str | os.PathLike) -> tuple[dict, dict]:
    """A checkpoint's weights and its ``meta`` dict, the file read once.

    See :func:`posekit.models.utils.read_checkpoint` (the whole file) for
    the numpy data types MMPose checkpoints need.

    Returns:
        tuple[dict, dict]: ``(state_dict, meta)``; ``meta`` is empty when the
        file has none (e.g. ``.safetensors`` or a bare state_dict).
    """
    raw = read_checkpoint(path, map_location='cpu')
    state_dict = state_dict_of(raw)
    meta = raw.get('meta') if isinstance(raw, Mapping) else None
    return state_dict, dict(meta) if isinstance(meta, Mapping) else {}


def dataset_meta_from_config(config: Config) -> dict | None:
    """Parsed meta information of the config's test, val or train dataset.

    The first of ``test_dataloader``, ``val_dataloader``, ``train_dataloader``
    whose dataset has a ``metainfo`` entry or a registered type with a
    default ``METAINFO`` gives it. None when none does.
    """
    for name in ('test_dataloader', 'val_dataloader', 'train_dataloader'):
        dataset = (config.get(name) or {}).get('dataset')
        if not isinstance(dataset, Mapping):
            continue
        metainfo = dataset.get('metainfo')
        if metainfo is None:
            kind = dataset.get('type')
            cls = kind if isinstance(kind, type) else (
                DATASETS.get(kind) if kind in DATASETS else None)
            metainfo = getattr(cls, 'METAINFO', None)
        if metainfo:
            return parse_pose_metainfo(metainfo)
    return None


def dataset_meta_or_coco(config: Config) -> dict:
    """:func:`dataset_meta_from_config`, or COCO's with a warning when the
    config names none (for a checkpoint that carries no meta either)."""
    dataset_meta = dataset_meta_from_config(config)
    if dataset_meta is None:
        warnings.warn('no dataset meta information in the checkpoint nor in '
                      'the config; using COCO\'s', stacklevel=3)
        dataset_meta = parse_pose_metainfo(COCO_METAINFO)
    return dataset_meta


def config_input_size(cfg: Mapping | None) -> tuple[int, int] | None:
    """``(w, h)`` of the network input: ``input_size`` of the test (or val)
    pipeline's ``TopdownAffine``, or of its ``BottomupResize`` rounded up
    to multiples of ``size_factor`` (the smallest input it makes), else
    ``codec['input_size']`` (of the first codec that has one, when
    ``codec`` is a list); None if none is there."""
    step = _test_transform(cfg, ('TopdownAffine', 'BottomupResize'))
    if step is not None and 'input_size' in step:
        size = _pair(step['input_size'])
        if _type_name(step) == 'BottomupResize':
            factor = int(step.get('size_factor', DEFAULT_SIZE_FACTOR))
            size = tuple(-(-s // factor) * factor for s in size)
        return size
    codecs = cfg.get('codec') if cfg else None
    for codec in codecs if isinstance(codecs, (list, tuple)) else [codecs]:
        if isinstance(codec, Mapping) and 'input_size' in codec:
            return _pair(codec['input_size'])
    return None


def config_lifter_input_shape(cfg: Mapping | None) -> tuple[int, ...] | None:
    """The shape of one input of a pose lifter (no batch axis), from its
    backbone config: ``(in_channels, T)`` for a ``TCN`` (``K * 2`` values
    per frame), ``(T, num_keypoints, in_channels)`` for a ``DSTFormer``,
    with T the test (or val) dataset's ``seq_len`` (default 1; for a
    DSTFormer its ``multiple_target`` first, its own ``seq_len`` last). None for another backbone or
    a model that is not a ``PoseLifter``."""
    model = (cfg or {}).get('model') or {}
    backbone = model.get('backbone') or {}
    if _type_name(model) != 'PoseLifter' or not isinstance(backbone, Mapping):
        return None
    dataset = test_dataset_cfg(cfg) or {}
    kind = _type_name(backbone)
    if kind == 'TCN':
        return int(backbone['in_channels']), int(dataset.get('seq_len', 1))
    if kind == 'DSTFormer':   # a clip of multiple_target frames, when set
        frames = dataset.get('multiple_target') or dataset.get(
            'seq_len', backbone.get('seq_len', 243))
        return (int(frames), int(backbone.get('num_keypoints', 17)),
                int(backbone['in_channels']))
    return None


def config_size_factor(cfg: Mapping | None) -> int | None:
    """``size_factor`` of the test (or val) pipeline's ``BottomupResize``
    (its default, 32, when the step does not set it): the input sides of a
    bottom-up model are multiples of it. None without a BottomupResize."""
    step = _test_transform(cfg, ('BottomupResize', ))
    if step is None:
        return None
    return int(step.get('size_factor', DEFAULT_SIZE_FACTOR))


def onnx_decoding_problem(head: Mapping | nn.Module) -> str | None:
    """Why the results of a bottom-up head could not be computed from its
    config and an ONNX file of the network; None when they can.

    The ONNX runtime decodes with the config's head, built without weights,
    calling its ``predict_with(network, ...)``: decoding must not run any
    layer of the head.

    Args:
        head (dict | nn.Module): The head's config or the built head.
    """
    if isinstance(head, nn.Module):
        cls, rescore = type(head), getattr(head, 'rescore_net', None) is not None
    else:
        kind = head.get('type')
        cls = kind if isinstance(kind, type) else MODELS.get(kind)
        rescore = head.get('rescore_cfg') is not None
    name = cls.__name__
    if getattr(cls, 'predict_with', None) in (None, BaseHead.predict_with):
        return (f'{name} has no predict_with: its decoding runs layers of '
                'the head on the features (CIDHead: its instance modules, '
                'on the image and on its flip), which an exported network '
                'output does not carry; run it in PyTorch')
    if rescore:
        return (f'{name} with rescore_cfg: its RescoreNet is a learned layer '
                'applied after decoding, so its weights are not in the ONNX '
                'graph; export without rescoring (set model.head.rescore_net '
                '= None before export_onnx) and run the file with '
                "cfg_options={'model.head.rescore_cfg': None}")
    return None


def test_dataset_cfg(cfg: Mapping | None) -> Mapping | None:
    """The dataset of the config's ``test_dataloader`` (else
    ``val_dataloader``) that has a ``pipeline``; None if neither has one."""
    for loader_name in ('test_dataloader', 'val_dataloader'):
        dataset = ((cfg or {}).get(loader_name) or {}).get('dataset') or {}
        if 'pipeline' in dataset:
            return dataset
    return None


def _test_transform(cfg: Mapping | None, names: tuple) -> Mapping | None:
    """The first step of the test (else val) pipeline whose type is one of
    ``names`` (scope prefixes such as ``mmpose.`` ignored)."""
    if not cfg:
        return None
    for loader_name in ('test_dataloader', 'val_dataloader'):
        dataset = (cfg.get(loader_name) or {}).get('dataset') or {}
        for step in dataset.get('pipeline') or ():
            if isinstance(step, Mapping) and _type_name(step) in names:
                return step
    return None


def _type_name(step: Mapping) -> str:
    kind = step.get('type')
    return (getattr(kind, '__name__', kind) or '').split('.')[-1]


def _pair(size) -> tuple[int, int]:
    w, h = size
    return int(w), int(h)
