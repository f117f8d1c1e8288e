"""Seeds and random-generator states: ``randomness=dict(seed, deterministic, diff_rank_seed)``.

Reproducibility in posekit rests on two rules:

1. Every sample's augmentation is drawn from generators seeded with
   ``sample_seed(seed, epoch, rank, position)`` just before the dataset
   reads it (see ``posekit.engine.dataloader``). So the data of step ``k``
   does not depend on how many workers load it, on persistent workers, or
   on where a run was stopped and resumed.
2. The main process's generators (dropout, drop-path, random init) are
   seeded once from ``seed`` and their states are saved in every checkpoint
   and restored on resume.
"""
from __future__ import annotations

import logging
import os
import random
from typing import Any

import numpy as np
import torch

from .dist import get_rank, sync_random_seed

logger = logging.getLogger('posekit.engine')


def set_random_seed(seed: int | None = None, deterministic: bool = False,
                    diff_rank_seed: bool = False) -> int:
    """Seed Python, NumPy and torch; return the seed used.

    Args:
        seed (int, optional): None draws one (and shares rank 0's draw with
            every rank, so samplers agree).
        deterministic (bool): Ask torch for deterministic kernels (and turn
            cuDNN benchmarking off); slower, and some ops then raise.
        diff_rank_seed (bool): Add the rank to the seed, so ranks draw
            different augmentations from the same base seed.
    """
    if seed is None:
        seed = sync_random_seed(int(np.random.randint(2 ** 31)))
    seed = int(seed)
    if diff_rank_seed:
        seed += get_rank()
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    torch.manual_seed(seed)
    if deterministic:
        # cuBLAS needs this workspace setting before its first use to be deterministic
        os.environ.setdefault('CUBLAS_WORKSPACE_CONFIG', ':4096:8')
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
        torch.use_deterministic_algorithms(True)
    return seed


def sample_seed(*keys: int) -> int:
    """A 32-bit seed that mixes ``keys`` (e.g. seed, epoch, rank, position).

    ``np.random.SeedSequence`` mixes its entropy well, so neighbouring keys
    give unrelated streams (``seed + i`` would make sample i of epoch e+1
    repeat sample i+1 of epoch e).
    """
    return int(np.random.SeedSequence([int(k) & 0xFFFFFFFF for k in keys]
                                      ).generate_state(1)[0])


def seed_all(seed: int, torch_too: bool = True) -> None:
    """Seed Python's and NumPy's global generators (and torch's) with ``seed``."""
    random.seed(seed)
    np.random.seed(seed)
    if torch_too:
        torch.manual_seed(seed)


def get_rng_state() -> dict:
    """The main process's generator states, in a ``weights_only``-loadable form."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = dict(
        python=random.getstate(),
        numpy=dict(kind=kind, keys=torch.from_numpy(keys.astype(np.int64)),
                   pos=int(pos), has_gauss=int(has_gauss),
                   cached_gaussian=float(cached)),
        torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`get_rng_state` returned."""
    if 'python' in state:
        version, internal, gauss = state['python']
        random.setstate((version, tuple(internal), gauss))
    if 'numpy' in state:
        s = state['numpy']
        np.random.set_state((s['kind'], s['keys'].numpy().astype(np.uint32),
                             s['pos'], s['has_gauss'], s['cached_gaussian']))
    if 'torch' in state:
        torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        try:
            torch.cuda.set_rng_state_all(state['cuda'])
        except (RuntimeError, IndexError):
            logger.warning('could not restore the CUDA random states (a '
                           'different number of GPUs?); continuing')
