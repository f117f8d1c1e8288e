"""Distributed helpers: one process per device, launched by ``torchrun``.

``posekit train CONFIG --launcher pytorch`` under ``torchrun --nproc-per-node
N`` reads the ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``/``MASTER_*`` variables
that torchrun sets. Without a launcher (or ``--launcher none``) everything
here degrades to a single process: rank 0 of a world of 1.

Backend: ``env_cfg.dist_cfg.backend`` is honoured when it can work (``nccl``
needs CUDA); on a machine without a GPU ``nccl`` falls back to ``gloo`` with
a warning, so an MMPose config (which says ``nccl``) still runs on CPUs.
"""
from __future__ import annotations

import datetime
import logging
import os
from typing import Any, Iterable

import torch
import torch.distributed as dist
from torch import nn

logger = logging.getLogger('posekit.engine')


def is_distributed() -> bool:
    """True inside an initialised process group of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def get_rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def get_world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main_process() -> bool:
    return get_rank() == 0


def init_dist(launcher: str, backend: str = 'nccl', timeout: int | None = None,
              **kwargs: Any) -> torch.device:
    """Join the process group that ``launcher`` started; return this process's device.

    Args:
        launcher (str): ``'none'`` (one process) or ``'pytorch'`` (torchrun).
            ``'slurm'`` and ``'mpi'`` (MMPose's other launchers) are refused
            with a message: run them through torchrun.
        backend (str): ``'nccl'``, ``'gloo'`` or ``'auto'`` (``env_cfg.dist_cfg``).
        timeout (int, optional): Seconds before a collective gives up.
        **kwargs: Passed to ``torch.distributed.init_process_group``.
    """
    if launcher == 'none':
        return default_device()
    if launcher != 'pytorch':
        raise ValueError(f"launcher {launcher!r} is not supported: use "
                         "'--launcher pytorch' under torchrun (or 'none')")
    if 'RANK' not in os.environ or 'WORLD_SIZE' not in os.environ:
        raise RuntimeError("--launcher pytorch needs the RANK and WORLD_SIZE "
                           "variables that torchrun sets; start with "
                           "'torchrun --nproc-per-node N -m posekit train ...'")
    local_rank = int(os.environ.get('LOCAL_RANK', 0))
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        device = torch.device('cuda', local_rank)
    else:
        device = torch.device('cpu')
    if backend in ('nccl', 'auto') and device.type != 'cuda':
        if backend == 'nccl' and os.environ.get('RANK', '0') == '0':
            logger.warning('env_cfg.dist_cfg.backend is nccl but there is no '
                           'GPU: using gloo')
        backend = 'gloo'
    elif backend == 'auto':
        backend = 'nccl'
    if not dist.is_initialized():
        if timeout is not None:
            kwargs['timeout'] = datetime.timedelta(seconds=timeout)
        dist.init_process_group(backend=backend, **kwargs)
    return device


def default_device() -> torch.device:
    """The first GPU if there is one, else the CPU."""
    return torch.device('cuda') if torch.cuda.is_available() else torch.device('cpu')


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """Rank ``src``'s ``obj`` on every rank (``obj`` unchanged in one process)."""
    if not is_distributed():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def all_reduce_mean(tensors: Iterable[torch.Tensor]) -> None:
    """Average floating-point tensors over ranks, in place.

    Integer tensors (BN's ``num_batches_tracked``) are equal on all ranks in
    lock-step training and are left alone.
    """
    if not is_distributed():
        return
    world = get_world_size()
    for t in tensors:
        if t.is_floating_point():
            dist.all_reduce(t.data, op=dist.ReduceOp.SUM)
            t.data.div_(world)


def sync_random_seed(seed: int) -> int:
    """Rank 0's ``seed`` on every rank, so samplers shuffle alike."""
    return int(broadcast_object(int(seed)))


def unwrap_model(model: nn.Module) -> nn.Module:
    """The model inside a DistributedDataParallel (or compiled) wrapper."""
    while True:
        inner = getattr(model, 'module', None) if isinstance(
            model, nn.parallel.DistributedDataParallel) else getattr(model, '_orig_mod', None)
        if inner is None:
            return model
        model = inner
