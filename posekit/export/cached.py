"""The ONNX file of a checkpoint, exported on first use and kept.

``backend='onnxruntime'`` with a checkpoint (``.pth``, ``.safetensors``, a
URL or a zoo model's weights) instead of an ``.onnx`` file runs
:func:`cached_onnx`: the first time, the model is exported with a dynamic
batch (seconds to half a minute) into ``<hub cache>/../posekit_onnx/``,
beside the checkpoint cache; later runs find the file there.

The file's name holds a hash of what decides its contents: the checkpoint's
bytes, the whole config after ``cfg_options``, and the posekit, torch and
onnx versions. Change any of them and a new file is exported; nothing stale
is reused. Old files are not deleted.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Mapping

import torch

from posekit import __version__, hub
from posekit.config import Config
from posekit.fileio import file_sha256
from posekit.models.builder import load_inference_config
from posekit.models.onnx_spec import import_optional
from .onnx_export import export_onnx

logger = logging.getLogger(__name__)


def cached_onnx(config: str | os.PathLike | Config, checkpoint: str | os.PathLike,
                cfg_options: Mapping | None = None) -> str:
    """Path of the ONNX file (dynamic batch) of ``config`` with ``checkpoint``'s
    weights, exporting it if the cache does not hold it yet.

    Args:
        config (str | Path | Config): The model's config.
        checkpoint (str | Path): A local checkpoint, a URL or a scheme name
            (downloaded into the checkpoint cache first).
        cfg_options (dict, optional): Config overrides, as for ``init_model``.

    Raises:
        ImportError: onnx or onnxscript is missing (``pip install "posekit[onnx]"``).
        ValueError: The model cannot be exported (see :func:`export_onnx`).
    """
    onnx = import_optional('onnx')
    cfg = load_inference_config(config, cfg_options)
    local = hub.local_checkpoint(os.fspath(checkpoint))
    recipe = json.dumps(dict(config=cfg.to_dict(), posekit=__version__, torch=torch.__version__,
                             onnx=onnx.__version__, weights=file_sha256(local)),
                        sort_keys=True, default=repr)
    key = hashlib.sha256(recipe.encode()).hexdigest()[:16]
    stem = Path(cfg.filename).stem if cfg.filename else 'model'
    path = cache_dir() / f'{stem}-{key}.onnx'
    if not path.is_file():
        logger.warning('exporting %s with %s to ONNX once (kept as %s)', stem, local, path)
        path.parent.mkdir(parents=True, exist_ok=True)
        export_onnx(cfg, local, output=path, dynamic_batch=True)
    return os.fspath(path)


def cache_dir() -> Path:
    """``<hub cache>/../posekit_onnx``: beside the downloaded checkpoints."""
    return Path(hub.cache_dir()).parent / 'posekit_onnx'
