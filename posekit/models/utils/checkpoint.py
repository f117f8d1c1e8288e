"""Reading checkpoint files and loading them into modules, with clear reports.

posekit never downloads: a checkpoint is a local ``.pth``/``.pt`` file (read
with ``torch.load(weights_only=True)``, so no pickled code runs) or a
``.safetensors`` file (needs the optional ``safetensors`` package).
"""
from __future__ import annotations

import os
import warnings
from collections import OrderedDict
from typing import Mapping

import numpy as np
import torch
import torch.nn as nn

_REMOTE_PREFIXES = ('http://', 'https://', 'torchvision://', 'open-mmlab://',
                    'openmmlab://', 'mmcls://', 'pavi://', 's3://', 'modelzoo://')


def check_local_path(path: str) -> None:
    """Raise if ``path`` is a URL or a model-zoo name, or no such file exists."""
    path = os.fspath(path)
    if path.startswith(_REMOTE_PREFIXES):
        raise ValueError(
            f'checkpoint {path!r} is a URL or model-zoo name: posekit does not '
            f'download weights. Download the file yourself and pass its local '
            f'path (e.g. init_cfg=dict(type="Pretrained", checkpoint="/path/to/'
            f'weights.pth")).')
    if not os.path.isfile(path):
        raise FileNotFoundError(f'checkpoint file not found: {path!r}')


def read_checkpoint(path: str, map_location: str | torch.device = 'cpu') -> dict:
    """Read a whole checkpoint file (weights, meta, optimizer state...).

    ``torch.load(weights_only=True)`` runs no pickled code. MMPose checkpoints
    keep numpy arrays in ``meta.dataset_meta``; numpy's array and dtype types
    (plain data) are allowed for the read. A ``.safetensors`` file (optional
    ``safetensors`` package) gives its tensors.
    """
    path = os.fspath(path)
    check_local_path(path)
    if path.endswith('.safetensors'):
        try:
            from safetensors.torch import load_file
        except ImportError as e:
            raise ImportError(f'reading {path!r} needs the safetensors package: '
                              f'pip install safetensors') from e
        device = str(map_location) if map_location is not None else 'cpu'
        return load_file(path, device=device)
    try:
        with torch.serialization.safe_globals(_numpy_data_types()):
            checkpoint = torch.load(path, map_location=map_location,
                                    weights_only=True)
    except Exception as e:  # noqa: BLE001 (re-raised with the file name)
        raise RuntimeError(f'could not read checkpoint {path!r} with '
                           f'torch.load(weights_only=True): {e}') from e
    if not isinstance(checkpoint, Mapping):
        raise RuntimeError(f'checkpoint {path!r} holds a {type(checkpoint).__name__},'
                           f' not a state_dict')
    return checkpoint


def state_dict_of(checkpoint: Mapping) -> 'OrderedDict[str, torch.Tensor]':
    """The weights of a checkpoint dict: its top level, or what it stores
    under 'state_dict' or 'model' (MMEngine and other trainers), with a
    leading 'module.' (from DDP) removed from every key."""
    for key in ('state_dict', 'model'):
        if isinstance(checkpoint.get(key), Mapping):
            checkpoint = checkpoint[key]
            break
    return OrderedDict((k[7:] if k.startswith('module.') else k, v)
                       for k, v in checkpoint.items())


def load_checkpoint_file(path: str, map_location: str | torch.device = 'cpu'
                         ) -> 'OrderedDict[str, torch.Tensor]':
    """Read the state_dict stored in a checkpoint file.

    Args:
        path (str): Local ``.pth``/``.pt``/``.bin`` (torch) or ``.safetensors``.
        map_location: Where tensors go, as in ``torch.load``.

    Returns:
        OrderedDict[str, Tensor]: see :func:`state_dict_of`.
    """
    return state_dict_of(read_checkpoint(path, map_location))


def _numpy_data_types() -> list:
    """numpy types that pickled arrays and scalars need (data, no code)."""
    core = getattr(np, '_core', None) or np.core
    core = core.multiarray
    # an empty array pickles its (empty) data as a bytes object
    allowed = [bytes, np.ndarray, np.dtype, core._reconstruct, core.scalar,
               (core._reconstruct, 'numpy.core.multiarray._reconstruct'),
               (core.scalar, 'numpy.core.multiarray.scalar')]
    allowed += [getattr(np.dtypes, n) for n in dir(np.dtypes) if n.endswith('DType')]
    return allowed


def select_prefix(state_dict: Mapping[str, torch.Tensor], prefix: str
                  ) -> 'OrderedDict[str, torch.Tensor]':
    """Keys under ``prefix`` ('backbone' or 'backbone.'), with it removed.

    Raises KeyError when no key starts with the prefix.
    """
    if not prefix.endswith('.'):
        prefix += '.'
    out = OrderedDict((k[len(prefix):], v) for k, v in state_dict.items()
                      if k.startswith(prefix))
    if not out:
        tops = sorted({k.split('.', 1)[0] for k in state_dict})
        raise KeyError(f'no key of the checkpoint starts with {prefix!r}; its '
                       f'top-level names are: {", ".join(tops)}')
    return out


def load_state_dict(module: nn.Module, state_dict: Mapping[str, torch.Tensor],
                    strict: bool = False, prefix: str | None = None
                    ) -> tuple[list[str], list[str]]:
    """Load ``state_dict`` into ``module`` and report what did not match.

    Args:
        module (nn.Module): Receives the weights.
        state_dict (Mapping[str, Tensor]): Weights, e.g. from
            :func:`load_checkpoint_file`.
        strict (bool): Raise a RuntimeError listing missing, unexpected and
            wrongly shaped keys if there are any. Otherwise load what matches
            and warn about the rest (as MMEngine does; ``num_batches_tracked``
            counters are not reported missing).
        prefix (str, optional): Only load the keys under this prefix
            (e.g. 'backbone.'), with the prefix removed.

    Returns:
        tuple[list[str], list[str]]: (missing keys, unexpected keys).
    """
    if prefix:
        state_dict = select_prefix(state_dict, prefix)
    own = module.state_dict()
    unexpected = [k for k in state_dict if k not in own]
    # Old checkpoints lack BN's num_batches_tracked; MMEngine ignores that too.
    missing = [k for k in own if k not in state_dict
               and not k.endswith('num_batches_tracked')]
    mismatched = [f'{k}: checkpoint {tuple(state_dict[k].shape)}, model '
                  f'{tuple(own[k].shape)}' for k in state_dict
                  if k in own and state_dict[k].shape != own[k].shape]
    problems = []
    if missing:
        problems.append(f'missing keys ({len(missing)}): {", ".join(missing)}')
    if unexpected:
        problems.append(f'unexpected keys ({len(unexpected)}): {", ".join(unexpected)}')
    if mismatched:
        problems.append(f'shape mismatches ({len(mismatched)}): {"; ".join(mismatched)}')
    if strict and problems:
        raise RuntimeError(f'the state_dict does not match {type(module).__name__}:'
                           f'\n' + '\n'.join(problems))
    loadable = {k: v for k, v in state_dict.items()
                if k in own and v.shape == own[k].shape}
    module.load_state_dict(loadable, strict=False)
    if problems:
        warnings.warn(f'the state_dict does not match {type(module).__name__} '
                      f'exactly:\n' + '\n'.join(problems), stacklevel=2)
    return missing, unexpected
