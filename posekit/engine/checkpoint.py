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

Reading (``read_checkpoint``, also for MMEngine / MMPose 1.x training
checkpoints) is in :mod:`posekit.models.utils.checkpoint`.
"""
from __future__ import annotations

import os
from collections import Counter, OrderedDict
from typing import Any, Mapping

import numpy as np
import torch

from posekit.models.utils.checkpoint import CheckpointError, read_checkpoint, state_dict_of

POINTER = 'last_checkpoint'


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
