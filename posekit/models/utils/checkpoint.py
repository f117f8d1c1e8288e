"""Reading checkpoint files and loading them into modules, with clear reports.

A checkpoint is a ``.pth``/``.pt`` file (read with
``torch.load(weights_only=True)``, so no pickled code runs) or a
``.safetensors`` file (needs the optional ``safetensors`` package), named by
a local path, a URL or an MMEngine scheme name (``torchvision://resnet50``):
remote ones are downloaded once into PyTorch's hub cache by
:mod:`posekit.hub`, then read as local ones are.
"""
from __future__ import annotations

import os
import pickle
import warnings
import zipfile
from collections import OrderedDict
from typing import Any, Mapping

import numpy as np
import torch
import torch.nn as nn

from posekit import hub
from posekit.errors import PosekitError

# modules whose pickled classes are replaced by stand-ins when reading
_FOREIGN_MODULES = ('mmengine.', 'mmcv.', 'mmpose.', 'mmdet.', 'mmpretrain.')


class CheckpointError(PosekitError, RuntimeError):
    """A checkpoint that cannot be read or written (the message says why)."""


def check_local_path(path: str) -> str:
    """The local file of checkpoint ``path``: itself, or for a URL or a scheme
    name the downloaded (or cached) file, see :func:`posekit.hub.local_checkpoint`.

    Raises:
        FileNotFoundError: A local path that is no file.
        posekit.hub.UnknownModelName: An unknown scheme name.
        posekit.hub.DownloadError: The download failed.
    """
    return hub.local_checkpoint(os.fspath(path))


def read_checkpoint(path: str, map_location: str | torch.device = 'cpu') -> dict:
    """Read a whole checkpoint file (weights, meta, optimizer state...).

    ``.pth`` / ``.pt`` files are read with ``torch.load(weights_only=True)``,
    so no pickled code runs. Checkpoints written by MMEngine / MMPose 1.x
    training pickle NumPy arrays (dataset meta) and MMEngine's
    ``HistoryBuffer`` (log history): NumPy's array constructors are
    allow-listed for them, and MMEngine's classes are replaced by inert
    stand-ins that only hold their pickled state (no MMEngine code runs, and
    none is needed). Any other class in a file is refused, with its name. A
    ``.safetensors`` file (optional ``safetensors`` package) gives its tensors.

    ``path`` may be a URL or a scheme name (see :mod:`posekit.hub`). As in
    MMEngine, an ``mmcls://`` checkpoint gives only its ``backbone.*``
    weights, with that prefix removed, as ``{'state_dict': ...}``.

    Raises:
        FileNotFoundError: No such file.
        posekit.hub.UnknownModelName, posekit.hub.DownloadError: see
            :func:`check_local_path`.
        CheckpointError: The file is truncated or corrupt, is not a dict, or
            pickles a class that is not plain data.
    """
    name = os.fspath(path)
    path = check_local_path(name)
    try:
        checkpoint = _read_local(path, map_location)
    except CheckpointError as e:
        if path == name:
            raise
        raise CheckpointError(f'{e} (downloaded from {name}: delete the file to '
                              f'download it again)') from e
    if name.startswith('mmcls://'):
        checkpoint = {'state_dict': OrderedDict(
            (k[len('backbone.'):], v) for k, v in state_dict_of(checkpoint).items()
            if k.startswith('backbone.'))}
    return checkpoint


def _read_local(path: str, map_location: str | torch.device) -> dict:
    if path.endswith('.safetensors'):
        try:
            from safetensors.torch import load_file
        except ImportError as e:
            raise ImportError(f'reading {path!r} needs the safetensors package: '
                              f'pip install safetensors') from e
        device = str(map_location) if map_location is not None else 'cpu'
        return load_file(path, device=device)
    try:
        checkpoint = _torch_load(path, map_location)
    except pickle.UnpicklingError as e:
        if 'Weights only load failed' not in str(e):
            raise _unreadable(path, e) from e
        checkpoint = _load_foreign(path, map_location, e)
    if not isinstance(checkpoint, Mapping):
        raise CheckpointError(f'{path} holds a {type(checkpoint).__name__}, not a '
                              'state_dict or checkpoint dict')
    return dict(checkpoint)


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


# ------------------------------------------------------- torch.load, safely
def _torch_load(path: str, map_location: Any) -> Any:
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        raise
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError,
            OSError, KeyError) as e:
        raise _unreadable(path, e) from e


def _unreadable(path: str, error: Exception) -> CheckpointError:
    size = os.path.getsize(path)
    return CheckpointError(
        f'cannot read checkpoint {path} ({size} bytes): it is truncated or '
        f'corrupt ({type(error).__name__}: {_first_sentence(error)}); posekit '
        f'writes its checkpoints atomically, so an earlier one in the same '
        f'directory is intact (posekit train --resume PATH continues from it)')


def _first_sentence(error: Exception) -> str:
    text = (str(error).splitlines() or [''])[0]
    return text.split('. ')[0][:200]


def _load_foreign(path: str, map_location: Any, error: Exception) -> Any:
    """Read an MMEngine-written checkpoint: allow NumPy, stub MMEngine's classes."""
    try:
        needed = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception as e:  # noqa: BLE001 (not a readable archive at all)
        raise _unreadable(path, e) from e
    if not needed:  # the load failed for another reason than a class
        raise _unreadable(path, error) from error
    numpy_globals = _numpy_globals()
    # dtype objects are rebuilt from their classes without naming them
    allowed: list = [getattr(np.dtypes, n) for n in dir(np.dtypes)
                     if n.endswith('DType')]
    for name in needed:
        if name in numpy_globals:
            allowed.append((numpy_globals[name], name))
        elif name == 'builtins.getattr':
            allowed.append((_stub_getattr, name))
        elif name.startswith(_FOREIGN_MODULES):
            allowed.append((_stub_class(name), name))
        else:
            raise CheckpointError(
                f'{path} pickles {name!r}, which is neither plain data nor an '
                f'MMEngine class; posekit reads checkpoints with '
                f'torch.load(weights_only=True) and does not run pickled code')
    with torch.serialization.safe_globals(allowed):
        try:
            return _torch_load(path, map_location)
        except pickle.UnpicklingError as e:
            raise CheckpointError(f'cannot read {path} safely: {e}') from e


def _numpy_globals() -> dict[str, Any]:
    """Names under which pickles refer to NumPy's array/scalar constructors."""
    try:
        from numpy._core import multiarray
    except ImportError:  # NumPy 1.x
        from numpy.core import multiarray
    out: dict[str, Any] = {'numpy.ndarray': np.ndarray, 'numpy.dtype': np.dtype,
                           'builtins.bytes': bytes}  # an empty array's data
    for module in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        out[f'{module}._reconstruct'] = multiarray._reconstruct
        out[f'{module}.scalar'] = multiarray.scalar
    return out


class ForeignObject:
    """Stand-in for an object of an MMEngine class: keeps its pickled state."""

    foreign_name = '?'

    def __setstate__(self, state: Any) -> None:
        self.__dict__['state'] = state

    def __repr__(self) -> str:
        return f'<{self.foreign_name} (not loaded)>'


_STUBS: dict[str, type] = {}


def _stub_class(name: str) -> type:
    if name not in _STUBS:
        _STUBS[name] = type(name.rsplit('.', 1)[-1], (ForeignObject,),
                            {'foreign_name': name})
    return _STUBS[name]


def _stub_getattr(obj: Any, attr: str) -> str:
    """``getattr`` restricted to stand-in classes (MMEngine pickles bound
    statistics methods of HistoryBuffer this way); returns a placeholder."""
    if isinstance(obj, type) and issubclass(obj, ForeignObject):
        return f'<{obj.foreign_name}.{attr}>'
    raise CheckpointError(f'refusing getattr({obj!r}, {attr!r}) in a checkpoint')


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
