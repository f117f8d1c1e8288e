"""Checkpoint files: atomic writes, safe reads, the ``last_checkpoint`` pointer.

Layout (MMEngine's, so MMPose tools read posekit checkpoints and the other
way round)::

    meta              epoch, iter, seed, dataset_meta, cfg (text), time,
                      experiment_name, posekit_version, rng (generator states)
    state_dict        the model's weights (CPU tensors; no 'module.' prefix)
    message_hub       runtime_info: best_score, best_ckpt, keep_ckpt_ids ...
    optimizer         the optim wrapper's state_dict        (training checkpoints)
    param_schedulers  [scheduler.state_dict(), ...]          (training checkpoints)
    ema_state_dict    the averaged model, when EMAHook runs

Everything posekit writes is plain data (tensors, numbers, strings, lists,
dicts), so ``torch.load(path, weights_only=True)`` reads it with no extra
allow-listing. A file is written to a temporary name in the same directory
and renamed over the target (``os.replace`` is atomic), so a crash or a full
disk never leaves a half-written checkpoint under a real name, and the
previous checkpoint and the pointer to it stay intact.

Reading also accepts checkpoints written by MMEngine / MMPose 1.x training,
which pickle NumPy arrays (dataset meta) and MMEngine's ``HistoryBuffer``
(log history). Those are read with ``weights_only=True`` too: NumPy's array
constructors are allow-listed, and MMEngine's classes are replaced by inert
stand-ins that only hold their pickled state (no MMEngine code runs, and
none is needed). Any other class in a file is refused, with its name.
"""
from __future__ import annotations

import os
import pickle
import zipfile
from collections import Counter, OrderedDict
from typing import Any, Mapping

import numpy as np
import torch

POINTER = 'last_checkpoint'
# modules whose pickled classes are replaced by stand-ins when reading
_FOREIGN_MODULES = ('mmengine.', 'mmcv.', 'mmpose.', 'mmdet.', 'mmpretrain.')


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read or written (the message says why)."""


# ------------------------------------------------------------------ writing
def to_plain(obj: Any, where: str = 'checkpoint') -> Any:
    """``obj`` with tensors on the CPU and NumPy values as Python ones.

    Raises TypeError (naming the key) for objects that
    ``torch.load(weights_only=True)`` could not read back.
    """
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str, bytes,
                                       torch.dtype, torch.device, torch.Size)):
        return obj
    if isinstance(obj, (dict, OrderedDict, Counter)):
        plain = {k if not isinstance(k, np.generic) else k.item():
                 to_plain(v, f'{where}.{k}') for k, v in obj.items()}
        return type(obj)(plain) if type(obj) in (OrderedDict, Counter) else plain
    if isinstance(obj, (list, tuple)):
        items = [to_plain(v, f'{where}[{i}]') for i, v in enumerate(obj)]
        return items if isinstance(obj, list) else tuple(items)
    if isinstance(obj, (set, frozenset)):
        return sorted(to_plain(v, where) for v in obj)
    raise TypeError(f'{where}: a {type(obj).__module__}.{type(obj).__qualname__} '
                    'cannot be stored in a weights_only checkpoint; store plain '
                    'data (tensors, numbers, strings, lists, dicts)')


def save_checkpoint(checkpoint: Mapping, path: str) -> None:
    """Write ``checkpoint`` to ``path`` atomically (temporary file + rename)."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f'.{os.path.basename(path)}.tmp-{os.getpid()}')
    try:
        with open(tmp, 'wb') as f:
            torch.save(to_plain(dict(checkpoint)), f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_dir(directory)


def write_pointer(work_dir: str, checkpoint_path: str) -> None:
    """Record ``checkpoint_path`` in ``work_dir/last_checkpoint`` (atomically)."""
    target = os.path.join(work_dir, POINTER)
    tmp = f'{target}.tmp-{os.getpid()}'
    with open(tmp, 'w', encoding='utf-8') as f:
        f.write(os.path.abspath(checkpoint_path))
    os.replace(tmp, target)


def _fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ------------------------------------------------------------------ reading
def load_checkpoint(path: str, map_location: Any = 'cpu') -> dict:
    """Read a checkpoint file with ``torch.load(weights_only=True)``.

    Raises:
        FileNotFoundError: No such file.
        CheckpointError: The file is truncated or corrupt, is not a dict, or
            pickles a class that is not plain data.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'checkpoint not found: {path}')
    try:
        ckpt = _torch_load(path, map_location)
    except pickle.UnpicklingError as e:
        if 'Weights only load failed' not in str(e):
            raise _unreadable(path, e) from e
        ckpt = _load_foreign(path, map_location, e)
    if not isinstance(ckpt, Mapping):
        raise CheckpointError(f'{path} holds a {type(ckpt).__name__}, not a '
                              'checkpoint dict')
    return dict(ckpt)


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
        f'corrupt ({type(error).__name__}: {_first_sentence(error)}). '
        f'posekit writes checkpoints atomically, so an earlier checkpoint in '
        f'the same directory is intact; resume from it with --resume PATH.')


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
    out: dict[str, Any] = {'numpy.ndarray': np.ndarray, 'numpy.dtype': np.dtype}
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


def model_state_dict(checkpoint: Mapping) -> 'OrderedDict[str, torch.Tensor]':
    """The model weights of a checkpoint: its ``state_dict`` (or ``model``)
    entry, or the dict itself; a leading ``module.`` is removed from keys."""
    for key in ('state_dict', 'model'):
        if isinstance(checkpoint.get(key), Mapping):
            checkpoint = checkpoint[key]
            break
    return OrderedDict((k[7:] if k.startswith('module.') else k, v)
                       for k, v in checkpoint.items())


# ------------------------------------------------------------ work dirs
def find_latest_checkpoint(work_dir: str) -> str | None:
    """The checkpoint ``work_dir/last_checkpoint`` names, or None without one.

    A work dir that was moved still works: a pointer to a missing file is
    retried as the same file name inside ``work_dir``.
    """
    pointer = os.path.join(work_dir, POINTER)
    if not os.path.isfile(pointer):
        return None
    with open(pointer, encoding='utf-8') as f:
        path = f.read().strip()
    if os.path.isfile(path):
        return path
    moved = os.path.join(work_dir, os.path.basename(path))
    if os.path.isfile(moved):
        return moved
    raise CheckpointError(f'{pointer} names {path}, which does not exist')
