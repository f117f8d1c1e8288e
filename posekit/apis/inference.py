"""Build a model from a config and checkpoint; run top-down inference.

``init_model`` and ``inference_topdown`` have MMPose 1.x's signatures and
results. Differences that do not change results: the image file is decoded
once per call instead of once per box, and checkpoints are read with
``torch.load(weights_only=True)`` (no pickled code runs).
"""
from __future__ import annotations

import os
import warnings
from typing import Mapping, Sequence

import cv2
import numpy as np
import torch
from torch import nn

from posekit.config import Config
from posekit.datasets.metainfo import parse_pose_metainfo
from posekit.datasets.transforms import Compose, LoadImage
from posekit.models.heads import upgrade_legacy_keys
from posekit.models.utils import load_state_dict, state_dict_of
from posekit.models.utils import read_checkpoint as read_checkpoint_dict
from posekit.registry import DATASETS, MODELS
from posekit.structures import (InstanceData, PixelData, PoseDataSample,
                                bbox_xywh2xyxy, get_warp_matrix)

COCO_METAINFO = dict(from_file='configs/_base_/datasets/coco.py')

# Keys of early MMPose 1.x checkpoints: the preprocessor's mean and std,
# which the config gives.
_PREPROCESSOR_KEYS = ('data_preprocessor.mean', 'data_preprocessor.std')


def init_model(config: str | os.PathLike | Config,
               checkpoint: str | os.PathLike | None = None,
               device: str | torch.device = 'cpu',
               cfg_options: Mapping | None = None) -> nn.Module:
    """Build a pose estimator for inference, optionally with weights.

    A DWPose distillation config builds the ``DWPoseDistiller`` (teacher and
    student; it predicts with the student) and a distiller checkpoint loads
    into it; its ``teacher_pretrained`` is never loaded here.

    Args:
        config (str | Path | Config): A config file or a loaded config (not
            modified; the model keeps its own copy as ``model.cfg``).
        checkpoint (str | Path, optional): A local ``.pth`` or
            ``.safetensors`` file. Its weights must match the model exactly
            (strict loading). None keeps PyTorch's default initialisation
            (``init_cfg`` is not applied, as in MMPose).
        device (str | torch.device): Where the model goes. Defaults to
            ``'cpu'`` (MMPose: ``'cuda:0'``).
        cfg_options (dict, optional): Overrides such as
            ``{'model.test_cfg.flip_test': False}`` or nested dicts; new keys
            are allowed (``model.test_cfg.output_heatmaps``), as in MMPose.

    Returns:
        nn.Module: The model in eval mode on ``device``, with ``cfg`` and
        ``dataset_meta`` set. ``dataset_meta`` comes from the checkpoint's
        ``meta.dataset_meta`` when present, else from the config's test, val
        or train dataset (its ``metainfo``, or the dataset class's default),
        else COCO's.

    Raises:
        FileNotFoundError: ``checkpoint`` does not exist.
        ValueError: ``checkpoint`` is an ``.onnx`` file (run those with
            ``posekit.export.init_onnx_model``).
        RuntimeError: The checkpoint cannot be read or does not match the
            model (the message lists missing, unexpected and misshapen keys).
    """
    if checkpoint is not None and os.fspath(checkpoint).lower().endswith(
            '.onnx'):
        raise ValueError(
            f'{os.fspath(checkpoint)} is an ONNX file, not PyTorch weights: '
            'run it with posekit.export.init_onnx_model(config, onnx_file) '
            '(same use with inference_topdown)')
    device = check_device(device)
    config = load_inference_config(config, cfg_options)
    _drop_pretrained(config.model)

    model = _revert_sync_batchnorm(MODELS.build(config.model))
    dataset_meta = None
    if checkpoint is not None:
        state_dict, meta = read_checkpoint(checkpoint)
        for key in _PREPROCESSOR_KEYS:
            state_dict.pop(key, None)
        load_state_dict(model, upgrade_legacy_keys(model, state_dict), strict=True)
        dataset_meta = meta.get('dataset_meta')
    model.dataset_meta = dataset_meta if dataset_meta is not None else \
        dataset_meta_or_coco(config)
    model.cfg = config
    model.to(device)
    if device.type == 'cpu':
        # oneDNN's convolutions run 10-20% faster on channels-last weights
        # (benchmarks/infer.py); values and state_dict keys are unchanged
        model.to(memory_format=torch.channels_last)
    model.eval()
    return model


def _drop_pretrained(model_cfg: Mapping) -> None:
    """Never fetch pretrained weights at build time: the backbone's
    ``init_cfg`` and a distiller's ``teacher_pretrained`` (often URLs) are
    cleared. (Neither is applied without ``init_weights``, which init_model
    does not call, as in MMPose; clearing them keeps it that way.)"""
    backbone = model_cfg.get('backbone')
    if isinstance(backbone, Mapping) and 'init_cfg' in backbone:
        backbone['init_cfg'] = None
    if model_cfg.get('teacher_pretrained') is not None:
        model_cfg['teacher_pretrained'] = None


def check_device(device: str | torch.device) -> torch.device:
    """``device`` as a torch.device; ValueError for a malformed name or a
    CUDA device this machine does not have."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"device {device!r}: expected 'cpu', 'cuda' or 'cuda:N'") from e
    if dev.type == 'cuda':
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if dev.index is not None and dev.index >= count or count == 0:
            raise ValueError(f'device {device!r}: this machine has {count} CUDA '
                             f'device(s) usable by this torch ({torch.__version__}); '
                             "use 'cpu'")
    return dev


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


def read_checkpoint(path: str | os.PathLike) -> tuple[dict, dict]:
    """Read a checkpoint's weights and its ``meta`` dict.

    The file is read once (see posekit.models.utils.read_checkpoint for the
    numpy data types MMPose checkpoints need).

    Returns:
        tuple[dict, dict]: ``(state_dict, meta)``; ``meta`` is empty when the
        file has none (e.g. ``.safetensors`` or a bare state_dict).
    """
    raw = read_checkpoint_dict(path, map_location='cpu')
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


def inference_topdown(model: nn.Module,
                      img: np.ndarray | str | os.PathLike,
                      bboxes: np.ndarray | Sequence | None = None,
                      bbox_format: str = 'xyxy') -> list[PoseDataSample]:
    """Estimate the pose inside each box of one image.

    All boxes go through the network as one batch. The test pipeline is the
    config's ``test_dataloader.dataset.pipeline`` (``val_dataloader``'s if
    there is no test loader).

    Args:
        model (nn.Module): From :func:`init_model`.
        img (np.ndarray | str): ``(H, W, 3)`` BGR uint8 image, or its file.
        bboxes (np.ndarray, optional): ``(N, 4)`` boxes in pixels; None or
            empty means one box covering the whole image.
        bbox_format (str): ``'xyxy'`` (corners) or ``'xywh'`` (top-left
            corner and size).

    Returns:
        list[PoseDataSample]: One per box, in order; ``pred_instances`` holds
        ``keypoints (1, K, 2)``, ``keypoint_scores (1, K)``, ``bboxes (1, 4)``
        xyxy and ``bbox_scores (1,)`` in image pixels.
    """
    if bbox_format not in ('xyxy', 'xywh'):
        raise ValueError(f'bbox_format must be "xyxy" or "xywh", got '
                         f'{bbox_format!r}')
    pipeline = Compose(_test_pipeline(model.cfg))
    info = _load_image(pipeline, img)
    if bboxes is None or len(bboxes) == 0:
        h, w = info['img'].shape[:2]
        bboxes = np.array([[0, 0, w, h]], dtype=np.float32)
    else:
        # the caller's float type is kept, as in MMPose: float64 boxes give
        # float64 centres and scales, hence another warp matrix than float32
        bboxes = np.asarray(bboxes)
        if not np.issubdtype(bboxes.dtype, np.floating):
            bboxes = bboxes.astype(np.float64)
        if bboxes.ndim != 2 or bboxes.shape[1] != 4:
            raise ValueError('bboxes must have shape (N, 4), got '
                             f'{bboxes.shape}')
        if bbox_format == 'xywh':
            bboxes = bbox_xywh2xyxy(bboxes)

    inputs, samples = [], []
    for bbox in bboxes:
        data = pipeline(dict(info, bbox=bbox[None],
                             bbox_score=np.ones(1, dtype=np.float32),
                             **model.dataset_meta))
        inputs.append(data['inputs'])
        samples.append(data['data_samples'])
    with torch.no_grad():
        return model.test_step(dict(inputs=inputs, data_samples=samples))


def inference_bottomup(model: nn.Module,
                       img: np.ndarray | str | os.PathLike) -> list[PoseDataSample]:
    """Estimate every pose in one image with a bottom-up model.

    posekit has no bottom-up model yet (MMPose's AssociativeEmbedding, DEKR,
    CID, RTMO), so this raises a clear error; use :func:`inference_topdown`
    with a top-down model.
    """
    kind = type(model).__name__
    raise NotImplementedError(
        f'inference_bottomup: posekit has no bottom-up model yet (got a {kind}); '
        'use inference_topdown with a top-down model and person boxes')


def merge_data_samples(data_samples: Sequence[PoseDataSample]
                       ) -> PoseDataSample:
    """Merge the per-box results of one image into one data sample.

    Instances are concatenated; heatmaps (``pred_fields``/``gt_fields``),
    when present, are warped back to the image and merged by maximum. The
    metainfo is the first sample's.
    """
    if not all(isinstance(d, PoseDataSample) for d in data_samples):
        raise TypeError('merge_data_samples expects a list of PoseDataSample')
    if not data_samples:
        return PoseDataSample()
    first = data_samples[0]
    merged = PoseDataSample(metainfo=first.metainfo)
    for name in ('gt_instances', 'pred_instances'):
        if name in first:
            merged.set_field(InstanceData.cat(
                [d.get(name) for d in data_samples]), name)
    for name in ('pred_fields', 'gt_fields'):
        if name in first and 'heatmaps' in first.get(name):
            maps = [heatmap_to_image(d.get(name).heatmaps, d.input_center,
                                     d.input_scale, d.ori_shape)
                    for d in data_samples]
            merged.set_field(PixelData(heatmaps=np.max(maps, axis=0)), name)
    return merged


def heatmap_to_image(heatmap: np.ndarray | torch.Tensor,
                     input_center: np.ndarray, input_scale: np.ndarray,
                     img_shape: tuple[int, int]) -> np.ndarray:
    """Warp a crop's ``(K, h, w)`` (or ``(h, w)``) heatmap onto the image.

    The heatmap spans the box of size ``input_scale`` at ``input_center``;
    the result has the image's ``img_shape = (H, W)``, zero outside the box.
    """
    if isinstance(heatmap, torch.Tensor):
        heatmap = heatmap.detach().cpu().numpy()
    maps = heatmap.transpose(1, 2, 0) if heatmap.ndim == 3 else heatmap
    hm_h, hm_w = maps.shape[:2]
    warp = get_warp_matrix(np.reshape(input_center, 2),
                           np.reshape(input_scale, 2), rot=0,
                           output_size=(hm_w, hm_h), inv=True)
    img_h, img_w = img_shape
    out = cv2.warpAffine(maps, warp, (img_w, img_h), flags=cv2.INTER_LINEAR)
    return out.transpose(2, 0, 1) if heatmap.ndim == 3 else out


# ----------------------------------------------------------------- helpers
def _test_pipeline(cfg: Config) -> list:
    for name in ('test_dataloader', 'val_dataloader'):
        loader = cfg.get(name)
        if loader and 'pipeline' in loader.get('dataset', {}):
            return list(loader['dataset']['pipeline'])
    raise ValueError('the model config has no test_dataloader (nor '
                     'val_dataloader) with a dataset pipeline')


def _load_image(pipeline: Compose, img) -> dict:
    """``dict(img=..., img_path=...)``, decoding a file only once.

    The pipeline's own ``LoadImage`` (its colour type) decodes the file; the
    per-box runs then find ``img`` already set.
    """
    if isinstance(img, np.ndarray):
        return dict(img=img)
    if not isinstance(img, (str, os.PathLike)):
        raise TypeError('img must be an image array or a file path, got '
                        f'{type(img).__name__}')
    path = os.fspath(img)
    loader = pipeline.transforms[0] if len(pipeline) else None
    if not isinstance(loader, LoadImage):
        loader = LoadImage()
    return dict(img=loader(dict(img_path=path))['img'], img_path=path)


class _BatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch norm for inputs of any rank, as SyncBatchNorm accepts."""

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f'expected at least 2-D input, got {input.dim()}-D')


def _revert_sync_batchnorm(module: nn.Module) -> nn.Module:
    """Replace SyncBatchNorm layers by plain batch norm (same state_dict).

    In a process that runs distributed, SyncBatchNorm would synchronise
    statistics with the other processes; inference must not.
    """
    if isinstance(module, nn.SyncBatchNorm):
        bn = _BatchNorm(module.num_features, module.eps, module.momentum,
                        module.affine, module.track_running_stats)
        bn.load_state_dict(module.state_dict())
        bn.train(module.training)
        return bn
    for name, child in module.named_children():
        new = _revert_sync_batchnorm(child)
        if new is not child:
            setattr(module, name, new)
    return module
