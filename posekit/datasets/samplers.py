"""Samplers: which dataset indices a process reads, in which order.

Both samplers know about distributed training: with ``W`` processes, rank
``r`` takes positions ``r, r + W, r + 2W, ...`` of one shared order, so the
ranks see disjoint samples (MMEngine's semantics, which MMPose configs
assume). The shared order comes from ``seed`` (plus the epoch for
:class:`DefaultSampler`), which must be the same on every rank; the runner
passes the run's seed.
"""
from __future__ import annotations

import itertools
import math
from typing import Iterator, Sized

import torch
from torch.utils.data import Sampler

from posekit.registry import DATA_SAMPLERS

from .dataset_wrappers import CombinedDataset


def _dist_info() -> tuple[int, int]:
    """(rank, world size); (0, 1) without an initialised process group."""
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


@DATA_SAMPLERS.register_module()
class DefaultSampler(Sampler):
    """One pass over the dataset per epoch, optionally shuffled.

    Args:
        dataset (Sized): The dataset (only its length is used).
        shuffle (bool): A new random order each epoch (``set_epoch``).
            Defaults to True.
        seed (int, optional): Seed of the order; the same on every rank.
            None means 0 (the runner always passes the run's seed).
        round_up (bool): With several ranks, repeat the first indices so
            every rank gets ``ceil(len / W)`` samples (and the ranks stay in
            step). False: ranks get ``ceil((len - r) / W)``, nothing repeated
            (use it for evaluation; the metrics drop the padding either way).
            Defaults to True.
    """

    def __init__(self, dataset: Sized, shuffle: bool = True,
                 seed: int | None = None, round_up: bool = True) -> None:
        self.rank, self.world_size = _dist_info()
        self.dataset = dataset
        self.shuffle = shuffle
        self.seed = 0 if seed is None else int(seed)
        self.round_up = round_up
        self.epoch = 0
        n = len(dataset)
        if round_up:
            self.num_samples = math.ceil(n / self.world_size)
            self.total_size = self.num_samples * self.world_size
        else:
            self.num_samples = math.ceil(max(n - self.rank, 0) / self.world_size)
            self.total_size = n

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        if self.shuffle:
            g = torch.Generator()
            g.manual_seed(self.seed + self.epoch)
            order = torch.randperm(n, generator=g).tolist()
        else:
            order = list(range(n))
        if self.round_up and n:
            order = (order * (self.total_size // n + 1))[:self.total_size]
        return iter(order[self.rank:self.total_size:self.world_size])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Use the order of ``epoch`` on the next pass (DistSamplerSeedHook calls it)."""
        self.epoch = epoch


@DATA_SAMPLERS.register_module()
class InfiniteSampler(Sampler):
    """An endless stream of indices, for iteration-based training.

    Successive passes over the dataset are reshuffled from one generator
    seeded with ``seed``, so the whole stream is fixed by the seed.

    Args:
        dataset (Sized): The dataset (only its length is used).
        shuffle (bool): Shuffle every pass. Defaults to True.
        seed (int, optional): Seed of the stream; None means 0.
    """

    def __init__(self, dataset: Sized, shuffle: bool = True,
                 seed: int | None = None) -> None:
        self.rank, self.world_size = _dist_info()
        self.dataset = dataset
        self.shuffle = shuffle
        self.seed = 0 if seed is None else int(seed)
        self.epoch = 0  # the stream does not depend on it

    def _stream(self) -> Iterator[int]:
        g = torch.Generator()
        g.manual_seed(self.seed)
        n = len(self.dataset)
        while True:
            yield from (torch.randperm(n, generator=g).tolist() if self.shuffle
                        else range(n))

    def __iter__(self) -> Iterator[int]:
        return itertools.islice(self._stream(), self.rank, None, self.world_size)

    def __len__(self) -> int:
        """Samples per rank in one pass over the dataset."""
        return math.ceil(len(self.dataset) / self.world_size)

    def set_epoch(self, epoch: int) -> None:
        """The order of the stream ignores ``epoch``, as MMEngine's
        InfiniteSampler does (it depends on the seed only: an
        iteration-based run has no epochs to reshuffle at). It is kept as
        ``self.epoch``, which the per-sample seeds of the data loader read."""
        self.epoch = epoch


@DATA_SAMPLERS.register_module()
class MultiSourceSampler(Sampler):
    """Batches mixing the sub-datasets of a CombinedDataset in fixed proportions.

    Every ``batch_size`` indices hold ``n_j = int(batch_size * ratio_j /
    sum(ratio))`` samples of sub-dataset ``j`` (``j >= 1``), the first
    sub-dataset taking the remainder, in sub-dataset order. Each sub-dataset
    draws from its own endless stream (reshuffled passes over
    ``range(len(sub_dataset))`` from a generator seeded with ``seed``; rank
    ``r`` of ``W`` takes positions ``r, r + W, ...``). The streams carry on
    across epochs rather than restarting (MMPose's behaviour). An index is
    offset by the combined lengths (``dataset.lens``) of the sub-datasets
    before it; with ``sample_ratio_factor`` those differ from the original
    lengths the streams cover, as in MMPose.

    Args:
        dataset (CombinedDataset): The combined dataset.
        batch_size (int): Samples per batch; must equal the data loader's.
        source_ratio (list[int | float]): Relative share of each sub-dataset
            in a batch.
        shuffle (bool): Shuffle every pass of every stream. Defaults to True.
        round_up (bool): One more (full) batch when ``ceil(len / W)`` is not
            a multiple of ``batch_size``. Defaults to True.
        seed (int, optional): Seed of the streams; None means 0 (the runner
            passes the run's seed).
    """

    def __init__(self, dataset: Sized, batch_size: int,
                 source_ratio: list[int | float], shuffle: bool = True,
                 round_up: bool = True, seed: int | None = None) -> None:
        if not isinstance(dataset, CombinedDataset):
            raise TypeError('MultiSourceSampler: dataset must be a CombinedDataset, '
                            f'got {type(dataset).__name__}')
        if not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError('MultiSourceSampler: batch_size must be a positive '
                             f'int, got {batch_size!r}')
        lens = dataset.lens
        if len(source_ratio) != len(lens):
            raise ValueError(f'MultiSourceSampler: source_ratio has {len(source_ratio)} '
                             f'values for {len(lens)} sub-datasets')
        if min(source_ratio) < 0 or sum(source_ratio) <= 0:
            raise ValueError('MultiSourceSampler: source_ratio must be >= 0 with a '
                             f'positive sum, got {list(source_ratio)}')
        self.rank, self.world_size = _dist_info()
        self.dataset = dataset
        self.batch_size = batch_size
        self.source_ratio = list(source_ratio)
        self.shuffle = shuffle
        self.round_up = round_up
        self.seed = 0 if seed is None else int(seed)
        self.epoch = 0  # the streams do not depend on it
        self.cumulative_sizes = [0, *itertools.accumulate(lens)]
        self.num_samples = math.ceil(len(dataset) / self.world_size)
        per_source = [int(batch_size * r / sum(source_ratio)) for r in source_ratio]
        per_source[0] = batch_size - sum(per_source[1:])
        if per_source[0] < 0:
            raise ValueError(f'MultiSourceSampler: source_ratio {list(source_ratio)} '
                             f'leaves no room for source 0 in a batch of {batch_size}')
        self.num_per_source = per_source
        # Built once, so the next epoch continues each stream where it stopped.
        self._streams = [
            itertools.islice(self._stream(len(d)), self.rank, None, self.world_size)
            for d in dataset.datasets]

    def _stream(self, size: int) -> Iterator[int]:
        g = torch.Generator()
        g.manual_seed(self.seed)
        while True:
            yield from (torch.randperm(size, generator=g).tolist() if self.shuffle
                        else range(size))

    def __iter__(self) -> Iterator[int]:
        num_batches, rest = divmod(self.num_samples, self.batch_size)
        if self.round_up and rest:
            num_batches += 1
        order = []
        for _ in range(num_batches):
            for source, num in enumerate(self.num_per_source):
                offset = self.cumulative_sizes[source]
                order += [offset + i for i in itertools.islice(self._streams[source], num)]
        return iter(order)

    def __len__(self) -> int:
        """Samples per rank in one epoch, as MMPose counts them (before rounding up)."""
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Kept as ``self.epoch`` only: the streams ignore it (as in MMPose)."""
        self.epoch = epoch
