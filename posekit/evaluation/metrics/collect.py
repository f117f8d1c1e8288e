"""Gathering the metric results of all ranks on rank 0.

A distributed sampler gives rank ``r`` of ``W`` the samples ``r, r + W,
r + 2W, ...`` (padded so that every rank gets as many), so rank 0 interleaves
the parts back into dataset order and cuts the padding off. Two ways to move
the parts, as MMEngine's ``collect_results_cpu`` / ``collect_results_gpu``
(a metric's ``collect_device``):

- ``'cpu'``: each rank pickles its part into ``part_{rank}.pkl`` in a folder
  that all ranks see (``collect_dir``, or a temporary one that rank 0 makes
  in the working directory and names to the others); after a barrier rank 0
  reads the files. Nothing large goes through the process group.
- ``'gpu'``: the pickled bytes go through the process group's ``all_gather``,
  as uint8 tensors on the device its backend works on (CUDA for NCCL, CPU
  for gloo).

torch.distributed is not imported here: if nothing imported it, nothing
initialised it, and everything degrades to one process.
"""
from __future__ import annotations

import os
import pickle
import shutil
import sys
import tempfile
from itertools import chain, zip_longest
from typing import Any, Optional

from posekit.fileio import write_bytes

# MMEngine's names (collect_results(device=...)); 'cuda' is an alias of 'gpu'
COLLECT_DEVICES = ('cpu', 'gpu', 'cuda')


def _dist():
    """torch.distributed when it is initialised with several ranks, else None."""
    dist = sys.modules.get('torch.distributed')
    if dist is not None and dist.is_available() and dist.is_initialized() and \
            dist.get_world_size() > 1:
        return dist
    return None


def get_rank() -> int:
    dist = _dist()
    return dist.get_rank() if dist else 0


def broadcast_object(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank (identity without distribution)."""
    dist = _dist()
    if dist is None:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def collect_results(part: list, size: int, device: str = 'cpu',
                    collect_dir: Optional[str] = None) -> Optional[list]:
    """All ranks' results in dataset order, the first ``size`` of them.

    Args:
        part (list): This rank's results (picklable), in its sampling order.
        size (int): Length of the dataset; the sampler's padding is dropped.
        device (str): ``'cpu'`` (through files) or ``'gpu'`` (through the
            process group); see the module docstring.
        collect_dir (str, optional): With ``'cpu'``: a folder shared by all
            ranks (created if missing). Only the part files are removed
            from it afterwards, never the folder or anything else in it
            (MMEngine deletes the whole folder). Without it a temporary
            folder is made in the working directory and removed.

    Returns:
        list | None: The ordered results on rank 0; None on other ranks.
        Without distribution: ``part[:size]``.
    """
    if device not in COLLECT_DEVICES:
        raise ValueError(f"collect_device must be 'cpu' or 'gpu', got {device!r}")
    if collect_dir is not None and device != 'cpu':
        raise ValueError("collect_dir is only used with collect_device='cpu' "
                         f'(got {device!r})')
    dist = _dist()
    if dist is None:
        return part[:size]
    if device == 'cpu':
        parts = _gather_through_files(dist, part, collect_dir)
    else:
        parts = _gather_through_backend(dist, part)
    if parts is None:
        return None
    ordered = [r for r in chain.from_iterable(zip_longest(*parts)) if r is not None]
    return ordered[:size]


def _gather_through_files(dist, part: list, collect_dir: Optional[str]) -> Optional[list]:
    """Every rank's part on rank 0 (None elsewhere), through pickle files."""
    rank, world = dist.get_rank(), dist.get_world_size()
    own_dir = collect_dir is None
    if own_dir:
        made = tempfile.mkdtemp(prefix='.posekit-collect-', dir=os.getcwd()) \
            if rank == 0 else None
        folder = broadcast_object(made)
    else:
        folder = os.fspath(collect_dir)
        os.makedirs(folder, exist_ok=True)
    paths = [os.path.join(folder, f'part_{r}.pkl') for r in range(world)]
    # atomic: rank 0 never reads half a file
    write_bytes(paths[rank], pickle.dumps(part, protocol=pickle.HIGHEST_PROTOCOL))
    dist.barrier()
    parts, error = None, None
    if rank == 0:
        try:
            parts = [_read_part(path, folder, r) for r, path in enumerate(paths)]
        except (OSError, pickle.UnpicklingError) as e:
            error = str(e)
        for path in paths:
            if os.path.exists(path):
                os.remove(path)
        if own_dir:
            shutil.rmtree(folder, ignore_errors=True)
    # a sync point after the clean-up (no rank writes its next part before
    # rank 0 is done with this one) that also stops every rank if rank 0
    # failed; a folder that was not shared after all is cleaned by its rank
    error = broadcast_object(error)
    if os.path.exists(paths[rank]):
        os.remove(paths[rank])
    if own_dir and rank != 0 and os.path.isdir(folder):
        shutil.rmtree(folder, ignore_errors=True)
    if error is not None:
        raise RuntimeError(f'collecting the results of all ranks failed: {error}')
    return parts


def _read_part(path: str, folder: str, rank: int) -> list:
    if not os.path.exists(path):
        raise FileNotFoundError(
            f'the results of rank {rank} are not in {folder}: collect_dir must '
            'be a folder shared by all ranks (or use collect_device="gpu")')
    with open(path, 'rb') as f:
        return pickle.load(f)


def _gather_through_backend(dist, part: list) -> Optional[list]:
    """Every rank's part on rank 0 (None elsewhere), through ``all_gather``."""
    import torch
    device = (torch.device('cuda', torch.cuda.current_device())
              if dist.get_backend() == 'nccl' else torch.device('cpu'))
    payload = pickle.dumps(part, protocol=pickle.HIGHEST_PROTOCOL)
    data = torch.frombuffer(bytearray(payload), dtype=torch.uint8).to(device)
    length = torch.tensor([data.numel()], dtype=torch.long, device=device)
    lengths = [torch.zeros_like(length) for _ in range(dist.get_world_size())]
    dist.all_gather(lengths, length)
    lengths = [int(n.item()) for n in lengths]
    # all_gather needs equal shapes: pad every part to the longest
    padded = torch.zeros(max(lengths), dtype=torch.uint8, device=device)
    padded[:data.numel()] = data
    chunks = [torch.empty_like(padded) for _ in lengths]
    dist.all_gather(chunks, padded)
    if dist.get_rank() != 0:
        return None
    return [pickle.loads(chunk[:n].cpu().numpy().tobytes())
            for chunk, n in zip(chunks, lengths)]
