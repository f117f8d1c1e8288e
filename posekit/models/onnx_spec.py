"""The ONNX file of a model, as both its writer and its reader see it.

``posekit.export`` writes the file; the ONNX Runtime backend in
``posekit.apis`` reads it and checks it against the config. What they must
agree on lives here, below both: the input's name, the normalisation
metadata of the data preprocessor, and importing the optional ONNX packages.

Importing this module needs neither onnx nor onnxruntime.
"""
from __future__ import annotations

import importlib
from typing import Any

import torch
from torch import nn

INSTALL_HINT = 'pip install "posekit[onnx]"'
INPUT_NAME = 'input'


def import_optional(name: str) -> Any:
    """Import ``onnx``, ``onnxruntime`` or ``onnxscript``, or raise an
    ImportError that says how to install them."""
    try:
        return importlib.import_module(name)
    except ImportError as e:
        raise ImportError(f'{name} is needed for ONNX export and inference '
                          f'but cannot be imported ({e}); install the extra: '
                          f'{INSTALL_HINT}') from e


def preprocess_metadata(preprocessor: nn.Module) -> dict:
    """``mean``, ``std`` (lists, or None without normalisation) and
    ``bgr_to_rgb`` (whether the channels are reversed) of a data
    preprocessor."""
    def values(buffer: torch.Tensor) -> list[float]:
        # float32 buffers: 7 significant digits give the config's numbers
        return [float(f'{v:.7g}') for v in buffer.flatten().tolist()]

    normalize = getattr(preprocessor, 'normalize', False)
    return dict(
        mean=values(preprocessor.mean) if normalize else None,
        std=values(preprocessor.std) if normalize else None,
        bgr_to_rgb=bool(getattr(preprocessor, 'flip_channels', False)))
