"""Datasets made of other datasets: combined (mixed keypoint layouts), concatenated, repeated."""
from __future__ import annotations

import bisect
import copy
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from posekit.registry import DATASETS

from .base_coco_style import METAINFO_KEYS
from .base_dataset import fetch_sample
from .metainfo import parse_pose_metainfo
from .transforms.compose import Compose

# Fields a CombinedDataset overwrites with its own metainfo (MMPose's list:
# dataset_name and skeleton_links stay those of the sub-dataset).
COMBINED_METAINFO_KEYS = ('upper_body_ids', 'lower_body_ids', 'flip_pairs',
                          'dataset_keypoint_weights', 'flip_indices')
assert set(COMBINED_METAINFO_KEYS) <= set(METAINFO_KEYS)


def _build(dataset: Any) -> Any:
    """A dataset from a config dict; a built dataset is returned as is."""
    dataset = DATASETS.build(dataset)
    for attr in ('__len__', '__getitem__', 'get_data_info', 'metainfo'):
        if not hasattr(dataset, attr):
            raise TypeError(f'expected a dataset or a dataset config, got '
                            f'{type(dataset).__name__} (no {attr})')
    return dataset


def _normalize_index(idx: int, length: int, owner: str) -> int:
    if not -length <= idx < length:
        raise IndexError(f'{owner}: index {idx} is out of range for a dataset '
                         f'of {length} samples')
    return idx % length


@DATASETS.register_module()
class CombinedDataset:
    """Train on several datasets with one keypoint layout (MMPose's CombinedDataset).

    Sample ``i`` is taken from sub-dataset ``j`` by indexing it, so the
    sub-dataset's own pipeline runs first (usually a ``KeypointConverter``
    onto the combined layout); then the combined metainfo fields
    (``COMBINED_METAINFO_KEYS``) replace the sub-dataset's, and the combined
    ``pipeline`` runs.

    Args:
        metainfo (dict): The combined layout, ``dict(from_file=...)``.
        datasets (Sequence[dict | dataset]): Sub-dataset configs or datasets.
        pipeline (Sequence[dict | Callable]): Transforms run after each
            sub-dataset's own pipeline.
        sample_ratio_factor (Sequence[float], optional): Per sub-dataset, its
            length in the combination is ``round(len * factor)``; sample ``i``
            of a resampled part maps to a random original index in the
            ``i``-th of ``round(len * factor)`` equal slices.
        test_mode (bool): No refetching when the pipeline returns None.
        lazy_init (bool): Do not load the sub-datasets' annotations yet.
        max_refetch (int): Random replacements tried when the pipeline
            returns None (training).
        **kwargs: Other MMEngine ``BaseDataset`` arguments (``ann_file``,
            ``data_root``, ``indices``, ...) have no effect on a combined
            dataset and raise a TypeError rather than being ignored.
    """

    def __init__(self,
                 metainfo: Mapping,
                 datasets: Sequence[Mapping | Any],
                 pipeline: Sequence[Mapping | Callable] = (),
                 sample_ratio_factor: Sequence[float] | None = None,
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 max_refetch: int = 1000,
                 **kwargs):
        if kwargs:
            raise TypeError(f'CombinedDataset: {sorted(kwargs)} have no effect '
                            'on a combined dataset; set them on the sub-datasets')
        self.datasets = [_build(cfg) for cfg in datasets]
        if not self.datasets:
            raise ValueError('CombinedDataset: datasets is empty')
        if sample_ratio_factor is not None:
            if len(sample_ratio_factor) != len(self.datasets):
                raise ValueError(
                    f'CombinedDataset: sample_ratio_factor has '
                    f'{len(sample_ratio_factor)} values for '
                    f'{len(self.datasets)} datasets')
            if min(sample_ratio_factor) < 0:
                raise ValueError('CombinedDataset: sample_ratio_factor values '
                                 f'must be >= 0, got {list(sample_ratio_factor)}')
        self.sample_ratio_factor = sample_ratio_factor
        self.resample = sample_ratio_factor is not None
        self._metainfo = parse_pose_metainfo(metainfo)
        self.pipeline = Compose(pipeline)
        self.test_mode = test_mode
        self.max_refetch = max_refetch
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        return copy.deepcopy(self._metainfo)

    def full_init(self) -> None:
        if self._fully_initialized:
            return
        for dataset in self.datasets:
            dataset.full_init()
        self._lens_ori = [len(d) for d in self.datasets]
        self._lens = list(self._lens_ori)
        if self.resample:
            self._lens = [round(n * f) for n, f in
                          zip(self._lens_ori, self.sample_ratio_factor)]
        self._len = sum(self._lens)
        self._fully_initialized = True

    @property
    def lens(self) -> list[int]:
        """The length of each sub-dataset within the combination."""
        self.full_init()
        return list(self._lens)

    def __len__(self) -> int:
        self.full_init()
        return self._len

    def _get_subset_index(self, index: int) -> tuple[int, int]:
        """(sub-dataset, index in it) of combined sample ``index``."""
        index = _normalize_index(index, len(self), 'CombinedDataset')
        subset = 0
        while index >= self._lens[subset]:
            index -= self._lens[subset]
            subset += 1
        if self.resample:
            gap = (self._lens_ori[subset] - 1e-4) / self._lens[subset]
            index = round(gap * index + np.random.rand() * gap - 0.5)
        return subset, index

    def get_data_info(self, idx: int) -> dict:
        """Sub-dataset sample ``idx`` after its own pipeline, with the combined metainfo fields."""
        subset, sample = self._get_subset_index(idx)
        info = self.datasets[subset][sample]
        info.pop('dataset', None)
        for key in COMBINED_METAINFO_KEYS:
            info[key] = copy.deepcopy(self._metainfo[key])
        return info

    def prepare_data(self, idx: int) -> Any:
        info = self.get_data_info(idx)
        info['dataset'] = self
        return self.pipeline(info)

    def __getitem__(self, idx: int) -> Any:
        self.full_init()
        return fetch_sample(self, idx)

    def __repr__(self) -> str:
        names = ', '.join(type(d).__name__ for d in self.datasets)
        return f'CombinedDataset([{names}], pipeline={self.pipeline!r})'


@DATASETS.register_module()
class ConcatDataset:
    """Datasets one after another (MMEngine's ConcatDataset).

    Their metainfo must agree (same keys, types and values), except keys in
    ``ignore_keys``; the first dataset's metainfo is this one's.

    Args:
        datasets (Sequence[dict | dataset]): Configs or built datasets.
        lazy_init (bool): Do not load the annotations yet.
        ignore_keys (str | list[str], optional): Metainfo keys that may differ.
    """

    def __init__(self, datasets: Sequence[Mapping | Any], lazy_init: bool = False,
                 ignore_keys: str | list[str] | None = None):
        self.datasets = [_build(cfg) for cfg in datasets]
        if not self.datasets:
            raise ValueError('ConcatDataset: datasets is empty')
        if isinstance(ignore_keys, str):
            ignore_keys = [ignore_keys]
        self.ignore_keys = list(ignore_keys or [])
        self._metainfo = self.datasets[0].metainfo
        self._check_metainfo()
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    def _check_metainfo(self) -> None:
        keys = list(self._metainfo)  # first dataset's order, then the others'
        for dataset in self.datasets[1:]:
            keys += [k for k in dataset.metainfo if k not in keys]
        for i, dataset in enumerate(self.datasets, 1):
            meta = dataset.metainfo
            for key in (k for k in keys if k not in self.ignore_keys):
                if key not in meta or key not in self._metainfo:
                    raise ValueError(f'ConcatDataset: metainfo key {key!r} is '
                                     f'missing in dataset #{i} or #1')
                if not _same(self._metainfo[key], meta[key]):
                    raise ValueError(f'ConcatDataset: metainfo {key!r} of '
                                     f'dataset #{i} differs from dataset #1; '
                                     'pass ignore_keys to allow it')

    @property
    def metainfo(self) -> dict:
        return copy.deepcopy(self._metainfo)

    def full_init(self) -> None:
        if self._fully_initialized:
            return
        for dataset in self.datasets:
            dataset.full_init()
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()
        self._fully_initialized = True

    def __len__(self) -> int:
        self.full_init()
        return self.cumulative_sizes[-1]

    def _get_ori_dataset_idx(self, idx: int) -> tuple[int, int]:
        """(dataset, index in it) of sample ``idx`` (negative counts from the end)."""
        idx = _normalize_index(idx, len(self), 'ConcatDataset')
        which = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[which - 1] if which else 0
        return which, idx - start

    def get_data_info(self, idx: int) -> dict:
        which, sample = self._get_ori_dataset_idx(idx)
        return self.datasets[which].get_data_info(sample)

    def __getitem__(self, idx: int) -> Any:
        which, sample = self._get_ori_dataset_idx(idx)
        return self.datasets[which][sample]


class RemappedDataset:
    """Base of the wrappers whose sample ``i`` is sample
    ``_get_ori_dataset_idx(i)`` of one wrapped dataset; a subclass sets its
    arguments, calls ``__init__``, and fills its index map in
    ``_init_index_map`` (run once, by ``full_init``).
    """

    def __init__(self, dataset: Mapping | Any, lazy_init: bool = False):
        self.dataset = _build(dataset)
        self._metainfo = self.dataset.metainfo
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        return copy.deepcopy(self._metainfo)

    def full_init(self) -> None:
        if self._fully_initialized:
            return
        self.dataset.full_init()
        self._init_index_map()
        self._fully_initialized = True

    def _init_index_map(self) -> None:
        raise NotImplementedError

    def _get_ori_dataset_idx(self, idx: int) -> int:
        raise NotImplementedError

    def get_data_info(self, idx: int) -> dict:
        return self.dataset.get_data_info(self._get_ori_dataset_idx(idx))

    def __getitem__(self, idx: int) -> Any:
        return self.dataset[self._get_ori_dataset_idx(idx)]


@DATASETS.register_module()
class RepeatDataset(RemappedDataset):
    """A dataset repeated ``times`` times (MMEngine's RepeatDataset): shorter epochs.

    Args:
        dataset (dict | dataset): Config or built dataset.
        times (int): Repetitions; ``len = times * len(dataset)``.
        lazy_init (bool): Do not load the annotations yet.
    """

    def __init__(self, dataset: Mapping | Any, times: int, lazy_init: bool = False):
        self.times = times
        super().__init__(dataset, lazy_init)

    def _init_index_map(self) -> None:
        self._ori_len = len(self.dataset)

    def __len__(self) -> int:
        self.full_init()
        return self.times * self._ori_len

    def _get_ori_dataset_idx(self, idx: int) -> int:
        return _normalize_index(idx, len(self), 'RepeatDataset') % self._ori_len


def _same(a: Any, b: Any) -> bool:
    """Equality that also works for numpy arrays (possibly nested in lists/dicts)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and bool(np.array_equal(a, b))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b
