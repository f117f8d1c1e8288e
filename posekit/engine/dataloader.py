"""Data loaders from the ``train_dataloader`` / ``val_dataloader`` / ``test_dataloader`` dicts.

A loader yields ``dict(inputs=[(C, H, W) uint8 tensors], data_samples=
[PoseDataSample])``: the samples' dicts collated key by key without stacking
(MMEngine's ``pseudo_collate``; the model's data preprocessor stacks).

Per-sample seeding (why the loader wraps the dataset and the sampler): the
sampler's indices are tagged with their position in the epoch, and just
before reading sample ``i`` the generators that transforms draw from
(NumPy's and Python's global ones; torch's too inside worker processes) are
seeded with ``sample_seed(seed, epoch, rank, position)``. A sample's
augmentation is then a function of the run's seed and where the sample
falls, not of the number of workers or of a stop and resume in between.
``loader.dataset`` is the wrapper; it passes attribute reads and writes
through to the real dataset (``loader.dataset.metainfo``,
``loader.dataset.pipeline = ...``), and :func:`unwrap_dataset` returns it.
"""
from __future__ import annotations

import logging
import random
import warnings
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any, Callable, Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler

from posekit.registry import DATA_SAMPLERS, DATASETS
from .dist import get_rank, get_world_size
from .randomness import sample_seed

logger = logging.getLogger('posekit.engine')

# dataloader keys that torch's DataLoader takes as they are
_TORCH_KEYS = ('batch_size', 'num_workers', 'persistent_workers', 'pin_memory',
               'drop_last', 'prefetch_factor', 'timeout', 'pin_memory_device',
               'in_order')
_OWN_KEYS = ('dataset', 'sampler', 'collate_fn', 'num_batch_per_epoch',
             'batch_sampler', 'worker_init_fn', 'disable_subprocess_warning')


def pseudo_collate(batch: Sequence) -> Any:
    """Group a list of samples key by key, without stacking tensors.

    ``[dict(inputs=t0, data_samples=s0), dict(inputs=t1, ...)]`` becomes
    ``dict(inputs=[t0, t1], data_samples=[s0, s1])``; nested dicts and
    tuples are grouped the same way; NumPy arrays and numbers become
    tensors (MMEngine's ``pseudo_collate``).
    """
    first = batch[0]
    if isinstance(first, Mapping):
        return type(first)({k: pseudo_collate([d[k] for d in batch]) for k in first})
    if isinstance(first, (str, bytes)):
        return list(batch)
    if isinstance(first, tuple) and hasattr(first, '_fields'):  # namedtuple
        return type(first)(*(pseudo_collate(s) for s in zip(*batch)))
    if isinstance(first, Sequence):
        if any(len(b) != len(first) for b in batch):
            raise RuntimeError('pseudo_collate: the samples of a batch are '
                               'sequences of different lengths')
        return [pseudo_collate(s) for s in zip(*batch)]
    return [torch.as_tensor(b) if isinstance(b, (np.ndarray, np.number)) else b
            for b in batch]


def default_collate(batch: Sequence) -> Any:
    """torch's ``default_collate`` (stacks tensors), for configs that name it."""
    return torch.utils.data.default_collate(batch)


COLLATE_FUNCTIONS: dict[str, Callable] = {
    'pseudo_collate': pseudo_collate, 'default_collate': default_collate}


class SeededDataset:
    """A dataset that seeds the global generators before each read.

    Indexed with ``(index, seed)`` pairs from :class:`SeededSampler` (a plain
    index reads without seeding). Other attributes are the wrapped dataset's.
    """

    def __init__(self, dataset: Any) -> None:
        object.__setattr__(self, 'dataset', dataset)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, tuple):
            index, seed = key
            random.seed(seed)
            np.random.seed(seed)
            if torch.utils.data.get_worker_info() is not None:
                # in the main process torch's generator belongs to the model
                torch.manual_seed(seed)
            return self.dataset[index]
        return self.dataset[key]

    def __len__(self) -> int:
        return len(self.dataset)

    def __getattr__(self, name: str) -> Any:
        if name == 'dataset':  # during unpickling in a worker
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.dataset, name, value)

    def __getstate__(self) -> dict:
        return {'dataset': self.dataset}

    def __setstate__(self, state: dict) -> None:
        object.__setattr__(self, 'dataset', state['dataset'])


class SeededSampler(Sampler):
    """Yields ``(index, sample_seed(seed, epoch, rank, position))`` pairs.

    Args:
        sampler: The index sampler (``DefaultSampler``, ``InfiniteSampler``...).
        seed (int): The run's seed.
    """

    def __init__(self, sampler: Sampler, seed: int) -> None:
        self.sampler = sampler
        self.seed = int(seed)
        self.rank = get_rank()
        self._skip = 0

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch = int(getattr(self.sampler, 'epoch', 0))
        skip, self._skip = self._skip, 0
        for position, index in enumerate(self.sampler):
            if position >= skip:
                yield index, sample_seed(self.seed, epoch, self.rank, position)

    def __len__(self) -> int:
        return len(self.sampler)

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.sampler, 'set_epoch'):
            self.sampler.set_epoch(epoch)

    def skip_next(self, num_samples: int) -> None:
        """Drop the first ``num_samples`` of the next pass (without reading
        them); the rest keep their seeds. Used to resume mid-epoch."""
        self._skip = int(num_samples)

    def __getattr__(self, name: str) -> Any:
        if name == 'sampler':
            raise AttributeError(name)
        return getattr(self.sampler, name)


class _Sliced:
    """The first ``size`` samples of a dataset (``num_batch_per_epoch``)."""

    def __init__(self, dataset: Any, size: int) -> None:
        self.dataset, self.size = dataset, min(size, len(dataset))

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> Any:
        return self.dataset[index]

    def __getattr__(self, name: str) -> Any:
        if name == 'dataset':
            raise AttributeError(name)
        return getattr(self.dataset, name)


def unwrap_dataset(dataset: Any) -> Any:
    """The dataset a loader reads, without posekit's wrappers."""
    while isinstance(dataset, (SeededDataset, _Sliced)):
        dataset = dataset.dataset
    return dataset


def worker_init_fn(worker_id: int, seed: int, rank: int,
                   opencv_num_threads: int | None = None,
                   disable_subprocess_warning: bool = False) -> None:
    """Prepare a worker process: seed it (before any sample seeds it), limit
    OpenCV's threads and, with ``disable_subprocess_warning``, silence the
    warnings of every worker but the first (MMEngine's: one copy of each
    dataset warning instead of one per worker)."""
    s = sample_seed(seed, rank, worker_id, 0x5EED)
    random.seed(s)
    np.random.seed(s)
    torch.manual_seed(s)
    if opencv_num_threads is not None:
        import cv2
        cv2.setNumThreads(int(opencv_num_threads))
    if disable_subprocess_warning and worker_id != 0:
        warnings.simplefilter('ignore')


def build_dataloader(cfg: Mapping | DataLoader, seed: int,
                     mp_cfg: Mapping | None = None,
                     diff_rank_seed: bool = False) -> DataLoader:
    """A DataLoader from a config dict (a built loader is returned as is).

    Args:
        cfg (Mapping): ``dataset`` (config or object), ``sampler`` (config
            with ``type``; ``DefaultSampler`` if absent), ``batch_size``,
            ``num_workers``, ``persistent_workers``, ``pin_memory``,
            ``drop_last``, ``collate_fn`` (``dict(type='pseudo_collate')``
            or a callable), ``prefetch_factor``, ``timeout``,
            ``num_batch_per_epoch`` (use only the first N batches' worth of
            samples, for quick runs), ``disable_subprocess_warning`` (bool:
            workers other than the first ignore warnings). Other keys raise.
        seed (int): The run's seed (sampler order and per-sample seeds).
        mp_cfg (Mapping, optional): ``env_cfg.mp_cfg``: ``mp_start_method``
            (the workers' multiprocessing context) and ``opencv_num_threads``.
        diff_rank_seed (bool): Let each rank shuffle with its own seed.
    """
    if isinstance(cfg, DataLoader):
        return cfg
    cfg = dict(cfg)
    unknown = sorted(set(cfg) - set(_TORCH_KEYS) - set(_OWN_KEYS))
    if unknown:
        raise ValueError(f'dataloader config: unknown keys {unknown}; known: '
                         f'{sorted(_TORCH_KEYS + _OWN_KEYS)}')
    for key in ('batch_sampler', 'worker_init_fn'):
        if cfg.pop(key, None) is not None:
            raise ValueError(f'dataloader config: {key} is not supported by '
                             'posekit (samplers are DefaultSampler / '
                             'InfiniteSampler, workers are seeded per sample)')
    quiet_workers = cfg.pop('disable_subprocess_warning', False)
    if not isinstance(quiet_workers, bool):
        raise TypeError('dataloader config: disable_subprocess_warning must be '
                        f'True or False, got {quiet_workers!r}')
    mp_cfg = dict(mp_cfg or {})
    if 'dataset' not in cfg:
        raise ValueError('dataloader config has no "dataset"')
    dataset = DATASETS.build(cfg.pop('dataset'))
    if hasattr(dataset, 'full_init'):
        dataset.full_init()
    num_batches = cfg.pop('num_batch_per_epoch', None)
    if num_batches is not None:
        dataset = _Sliced(dataset, int(num_batches) * int(cfg.get('batch_size', 1))
                          * get_world_size())
    sampler_cfg = cfg.pop('sampler', None) or dict(type='DefaultSampler')
    sampler = DATA_SAMPLERS.build(sampler_cfg, default_args=dict(
        dataset=dataset, seed=None if diff_rank_seed else seed))
    collate = cfg.pop('collate_fn', None) or dict(type='pseudo_collate')
    if isinstance(collate, Mapping):
        collate = dict(collate)
        name = collate.pop('type')
        if isinstance(name, str):
            name = name.rsplit('.', 1)[-1]
            if name not in COLLATE_FUNCTIONS:
                raise ValueError(f'collate_fn {name!r} is unknown; known: '
                                 f'{sorted(COLLATE_FUNCTIONS)}')
            name = COLLATE_FUNCTIONS[name]
        collate = partial(name, **collate) if collate else name
    num_workers = int(cfg.get('num_workers', 0))
    if num_workers == 0:
        for key in ('persistent_workers', 'prefetch_factor'):
            if cfg.pop(key, None):
                logger.info('dataloader: %s has no effect with num_workers=0', key)
    else:
        start = mp_cfg.get('mp_start_method')
        if start:
            cfg['multiprocessing_context'] = start
    threads = mp_cfg.get('opencv_num_threads')
    # the loader's own generator: starting an epoch must not draw from
    # torch's global one, which the model's dropout uses (exact resumes)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return DataLoader(
        SeededDataset(dataset), sampler=SeededSampler(sampler, seed),
        collate_fn=collate, generator=generator,
        worker_init_fn=partial(worker_init_fn, seed=seed, rank=get_rank(),
                               opencv_num_threads=threads,
                               disable_subprocess_warning=quiet_workers),
        **cfg)


def dataloader_batch_size(loader: DataLoader) -> int:
    return int(loader.batch_size or 1)
