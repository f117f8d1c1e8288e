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
previous checkpoint and the pointer to it stay intact. A checkpoint holding
a NaN or an infinity is refused (:class:`~posekit.engine.nonfinite.NonFiniteError`,
naming the first such tensor): it could only spread a diverged run.

Reading (``read_checkpoint``, also for MMEngine / MMPose 1.x training
checkpoints) is in :mod:`posekit.models.utils.checkpoint`.
"""
from __future__ import annotations

import os
from typing import Mapping, Sequence

import torch

from posekit.fileio import atomic_write, file_sha256, write_text
from posekit.models.utils.checkpoint import (CheckpointError, read_checkpoint,  # noqa: F401
                                             state_dict_of)
from posekit.structures import to_plain
from .nonfinite import NonFiniteError, first_nonfinite

POINTER = 'last_checkpoint'


# ------------------------------------------------------------------ writing
def save_checkpoint(checkpoint: Mapping, path: str) -> None:
    """Write ``checkpoint`` to ``path`` atomically, flushed to the disk.

    Raises TypeError (naming the key) for objects that
    ``torch.load(weights_only=True)`` could not read back, and
    NonFiniteError (naming the key) for a tensor holding a NaN or an
    infinity; nothing is written then.
    """
    plain = to_plain(dict(checkpoint), keep_tensors=True, where='checkpoint')
    bad = first_nonfinite(plain)
    if bad is not None:
        raise NonFiniteError(f'refusing to write the checkpoint {path}: {bad} holds a NaN '
                             'or an infinity (the previous checkpoints are left as they are)')
    with atomic_write(path, 'wb', fsync=True) as f:
        torch.save(plain, f)


def publish_checkpoint(path: str, keys: Sequence[str], out: str | None = None,
                       suffix: str = '') -> tuple[str, list[str]]:
    """A copy of checkpoint ``path`` with only ``keys`` (e.g. ``meta``,
    ``state_dict``: no optimizer state), written as
    ``<out or path without .pth>-<sha256[:8]><suffix>.pth`` (the hash of the
    written file, as MMEngine names published checkpoints).

    Returns:
        tuple: ``(the written path, the keys left out)``.
    """
    checkpoint = read_checkpoint(path)
    kept = {k: v for k, v in checkpoint.items() if k in keys}
    if not kept:
        raise KeyError(f'{path}: none of the keys {list(keys)} to keep is in the checkpoint '
                       f'(it has {sorted(checkpoint)})')
    stem = os.path.splitext(out or path)[0]
    tmp = f'{stem}.publish.tmp'
    save_checkpoint(kept, tmp)
    final = f'{stem}-{file_sha256(tmp)[:8]}{suffix}.pth'
    os.replace(tmp, final)
    return final, sorted(set(checkpoint) - set(kept))


def write_pointer(work_dir: str, checkpoint_path: str) -> None:
    """Record ``checkpoint_path`` in ``work_dir/last_checkpoint`` (atomically)."""
    write_text(os.path.join(work_dir, POINTER), os.path.abspath(checkpoint_path))


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
