"""Detectors without mmdet: :func:`init_detector` and :func:`inference_detector`
for the RTMDet and YOLOX configs MMPose's demos use
(``demo/mmdetection_cfg/``), and :class:`MMDetDetector`, such a config as the
person detector of top-down inference (:func:`~.model_detector.load_detector`).

Boxes are ``xyxy`` in pixels of the original image (the resize's
``scale_factor`` divided out; padding is bottom/right, so no offset).

A detector may be named instead of given as a file (:func:`resolve_detector`):
by the stem of a config posekit ships in ``configs/mmdetection_cfg/``
(``'rtmdet_m_640-8xb32_coco-person'``, the names of MMPose's
``demo/mmdetection_cfg/`` files), or by the detector alias of MMPose's model
index (``'human'``, ``'face'``, ``'hand'``), which also gives its weights URL.
"""
from __future__ import annotations

import difflib
import os
import warnings
from typing import Mapping

import numpy as np
import torch
from torch import nn

from posekit.config import Config, shipped_configs_dir
from posekit.datasets.transforms.loading import as_bgr_uint8, read_image
from posekit.models.builder import load_inference_config, read_weights_and_meta
from posekit.models.detectors.det_pipeline import pipeline_steps, run_pipeline
from posekit.models.utils import load_state_dict, revert_sync_batchnorm
from posekit.models.utils.fuse import fold_batchnorm
from posekit.registry import MODELS
from posekit.structures import BaseDataElement
from .inference import check_device
from .zoo import list_models

DETECTOR_TYPES = ('RTMDet', 'YOLOX')


def detector_type(config: str | os.PathLike | Config) -> str | None:
    """The config's ``model.type`` without scope if it is one of
    :data:`DETECTOR_TYPES`, else None (also for a file that is missing or
    not a config)."""
    try:
        cfg = config if isinstance(config, Config) else Config.fromfile(os.fspath(config))
        kind = str(cfg.model.get('type', '')).rsplit('.', 1)[-1]
    except Exception:  # noqa: BLE001  (not a readable detector config: None)
        return None
    return kind if kind in DETECTOR_TYPES else None


def detector_aliases() -> dict[str, dict]:
    """The detectors of MMPose's model index by alias: ``{alias: {config,
    weights, cat_ids}}`` (``config`` is a config stem; ``weights`` a URL or
    None)."""
    out: dict[str, dict] = {}
    for entry in list_models():
        record = entry.get('detector')
        if record:
            out.setdefault(record.pop('alias'), record)
    return out


def shipped_detector_configs() -> dict[str, str]:
    """``{stem: path}`` of the detector configs posekit ships."""
    folder = shipped_configs_dir() / 'mmdetection_cfg'
    return {p.stem: str(p) for p in sorted(folder.glob('*.py'))}


def is_detector_name(value: object) -> bool:
    """Whether ``value`` is a str that is neither a ``.py`` path nor an
    existing file, nor ``'package.module:function'``: a name for
    :func:`resolve_detector`."""
    return (isinstance(value, str) and not value.endswith('.py')
            and not os.path.exists(value) and ':' not in value)


def resolve_detector(name: str, weights: str | os.PathLike | None = None
                     ) -> tuple[str, str | os.PathLike | None, list[int] | None]:
    """``(config file, weights, cat_ids)`` of a named detector.

    Args:
        name (str): A shipped config's stem, or a detector alias of the
            model index (``'human'``, ``'face'``, ``'hand'``; any case).
        weights (str | Path, optional): Kept when given; else the index's
            weights URL for the config (None for a config it does not list).

    Returns:
        tuple: The config path, the weights, and the category ids to keep
        (the index's for an alias, else None).

    Raises:
        ValueError: An unknown name (close names suggested), or an alias whose
            detector MMPose publishes no weights for or posekit ships no
            config of (``'animal'``).
    """
    configs, aliases = shipped_detector_configs(), detector_aliases()
    by_config = {r['config']: r for r in aliases.values() if r['weights']}
    record = aliases.get(name.lower())
    if record is not None:
        if not record['weights'] or record['config'] not in configs:
            raise ValueError(
                f"det_model {name!r}: MMPose's model index names the detector "
                f"{record['config']!r} for it but publishes no weights (or posekit "
                'ships no such config); give det_model a detector config file (.py) '
                'and det_weights')
        config, cat_ids = record['config'], list(record['cat_ids'])
    elif name in configs:
        config, cat_ids = name, None
        record = by_config.get(name)
    else:
        known = sorted(configs) + sorted(aliases)
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f' Did you mean {", ".join(repr(c) for c in close)}?' if close else ''
        raise ValueError(f'det_model {name!r}: not a detector config file, nor a name of '
                         f'one: the names are {", ".join(known)}.{hint}')
    if weights is None and record is not None:
        weights = record['weights']
    return configs[config], weights, cat_ids


def init_detector(config: str | os.PathLike | Config,
                  checkpoint: str | os.PathLike | None = None,
                  device: str | torch.device = 'cpu') -> nn.Module:
    """Build an RTMDet or YOLOX detector for inference.

    Args:
        config (str | Path | Config): An MMDetection 3.x detector config
            (not modified; the model keeps a copy as ``model.cfg``), or a
            detector name (:func:`resolve_detector`).
        checkpoint (str | Path, optional): MMDetection weights, loaded
            strictly (a local path or a URL, as posekit's checkpoint reader
            takes them). None keeps random weights, except that a name's
            weights URL is used when it has one. The backbone's
            ``init_cfg`` (pretrained weights) is never applied.
        device (str | torch.device): Where the model goes.

    Returns:
        nn.Module: The detector in eval mode, with ``cfg``,
        ``dataset_meta`` (the checkpoint's ``meta.dataset_meta``, else
        None) and ``pipeline_steps`` (its test pipeline).

    Raises:
        ValueError: ``model.type`` is not RTMDet or YOLOX.
        RuntimeError: The checkpoint does not match the model.
    """
    if is_detector_name(config):
        config, checkpoint, _ = resolve_detector(config, checkpoint)
    cfg = load_inference_config(config)
    kind = str(cfg.model.get('type', '')).rsplit('.', 1)[-1]
    if kind not in DETECTOR_TYPES:
        raise ValueError(f'init_detector: model.type {cfg.model.get("type")!r} is not a '
                         f'supported detector ({", ".join(DETECTOR_TYPES)})')
    steps = pipeline_steps(cfg)
    backbone = cfg.model.get('backbone')
    if isinstance(backbone, Mapping) and 'init_cfg' in backbone:
        backbone['init_cfg'] = None  # never download pretrained weights here
    model = revert_sync_batchnorm(MODELS.build(cfg.model, path='model'))
    model.dataset_meta = None
    if checkpoint is not None:
        state_dict, meta = read_weights_and_meta(checkpoint)
        load_state_dict(model, state_dict, strict=True)
        model.dataset_meta = meta.get('dataset_meta')
    model.cfg, model.pipeline_steps = cfg, steps
    return model.to(check_device(device)).eval()


def inference_detector(model: nn.Module, img: str | os.PathLike | np.ndarray) -> dict:
    """Detect objects in one image.

    Args:
        model (nn.Module): From :func:`init_detector`.
        img (str | Path | np.ndarray): An image file, or an (H, W, 3) uint8
            BGR array (gray or BGRA arrays are converted).

    Returns:
        dict: ``bboxes`` (N, 4) float32 xyxy in original image pixels,
        ``scores`` (N,) float32, ``labels`` (N,) int64; numpy, best first.
    """
    if isinstance(img, np.ndarray):
        image = as_bgr_uint8(img) if img.ndim == 2 or img.shape[2] != 3 else img
    elif isinstance(img, (str, os.PathLike)):
        image = read_image(os.fspath(img))
    else:
        raise TypeError(f'inference_detector: img must be a file path or an image '
                        f'array, got {type(img).__name__}')
    steps = getattr(model, 'pipeline_steps', None) or pipeline_steps(model.cfg)
    net_input, meta = run_pipeline(steps, image)
    tensor = torch.from_numpy(np.ascontiguousarray(net_input.transpose(2, 0, 1)))
    sample = BaseDataElement(metainfo=meta)
    with torch.no_grad():
        batch = model.data_preprocessor(dict(inputs=[tensor], data_samples=[sample]), False)
        pred = model.predict(batch['inputs'], batch['data_samples'])[0].pred_instances
    return dict(bboxes=pred.bboxes.float().cpu().numpy().reshape(-1, 4),
                scores=pred.scores.float().cpu().numpy(),
                labels=pred.labels.cpu().numpy().astype(np.int64))


class MMDetDetector:
    """An RTMDet / YOLOX config as a top-down detector (``Detector``
    protocol of :mod:`posekit.apis.boxes`).

    Args:
        config (str): The detector config file.
        weights (str, optional): Its checkpoint; None: random weights, with
            a warning.
        device (str): Where it runs.
        num_threads (int, optional): CPU threads (``torch.set_num_threads``).
    """

    def __init__(self, config: str | os.PathLike, weights: str | os.PathLike | None = None,
                 device: str = 'cpu', num_threads: int | None = None) -> None:
        if weights is None:
            warnings.warn(f'det_model {os.fspath(config)}: no det_weights given: the '
                          'detector has random weights', stacklevel=3)
        if num_threads:
            torch.set_num_threads(num_threads)
        self.config = os.fspath(config)
        self.model = init_detector(self.config, weights, device)
        # inference only: BatchNorms folded into the convolutions (any input
        # that is a multiple of the largest stride shows the pairs)
        probe = torch.zeros(1, 3, 64, 64, device=device)
        fold_batchnorm(self.model, lambda: self.model(probe, None, mode='tensor'))

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """(N, 6) float32 rows ``[x1, y1, x2, y2, score, label]``, image
        pixels, best first, for an (H, W, 3) uint8 BGR ``image``."""
        pred = inference_detector(self.model, image)
        rows = np.zeros((len(pred['scores']), 6), dtype=np.float32)
        rows[:, :4], rows[:, 4], rows[:, 5] = pred['bboxes'], pred['scores'], pred['labels']
        return rows
