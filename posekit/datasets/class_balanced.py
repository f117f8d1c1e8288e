"""ClassBalancedDataset: repeat the samples of rare categories (MMEngine's wrapper)."""
from __future__ import annotations

import math
from typing import Any, Mapping

from posekit.registry import DATASETS

from .dataset_wrappers import RemappedDataset, _normalize_index


def repeat_factors(cat_ids: list[set], oversample_thr: float) -> list[float]:
    """Per-sample repeat factors of repeat factor sampling (LVIS, arXiv:1908.03195).

    With ``f(c)`` the fraction of samples that contain category ``c``, the
    category factor is ``r(c) = max(1, sqrt(oversample_thr / f(c)))`` and a
    sample's factor is the largest ``r(c)`` of its categories (1 for a sample
    without categories).

    Args:
        cat_ids (list[set]): Categories of each of the N samples.
        oversample_thr (float): Frequency below which a category is repeated.

    Returns:
        list[float]: N factors, each >= 1.
    """
    counts: dict = {}
    for cats in cat_ids:
        for cat in cats:
            counts[cat] = counts.get(cat, 0) + 1
    num = len(cat_ids)
    cat_repeat = {cat: max(1.0, math.sqrt(oversample_thr / (n / num)))
                  for cat, n in counts.items()}
    return [max((cat_repeat[c] for c in cats), default=1.0) for cats in cat_ids]


@DATASETS.register_module()
class ClassBalancedDataset(RemappedDataset):
    """A dataset where sample ``i`` appears ``ceil(r_i)`` times in a row.

    ``r_i`` comes from :func:`repeat_factors` on the wrapped dataset's
    ``get_cat_ids(i)``; e.g. factors ``[1, 1.5, 3]`` give the indices
    ``[0, 1, 1, 2, 2, 2]`` (the order MMEngine uses, so a sampler seed picks
    the same samples).

    Args:
        dataset (dict | dataset): Config or built dataset; it must have
            ``get_cat_ids(idx) -> list[int]`` (pose datasets do not: one
            category, nothing to balance).
        oversample_thr (float): Category frequency (in [0, 1]) below which
            its samples are repeated, by ``sqrt(oversample_thr / f)``.
        lazy_init (bool): Do not load the annotations yet.
    """

    def __init__(self, dataset: Mapping | Any, oversample_thr: float,
                 lazy_init: bool = False):
        self.oversample_thr = float(oversample_thr)
        super().__init__(dataset, lazy_init=True)
        if not callable(getattr(self.dataset, 'get_cat_ids', None)):
            raise TypeError(f'ClassBalancedDataset: {type(self.dataset).__name__} '
                            'has no get_cat_ids(idx), which the repeat factors need')
        if not lazy_init:
            self.full_init()

    def _init_index_map(self) -> None:
        cats = [set(self.dataset.get_cat_ids(i)) for i in range(len(self.dataset))]
        self.repeat_factors = repeat_factors(cats, self.oversample_thr)
        self.repeat_indices = [i for i, r in enumerate(self.repeat_factors)
                               for _ in range(math.ceil(r))]

    def __len__(self) -> int:
        self.full_init()
        return len(self.repeat_indices)

    def _get_ori_dataset_idx(self, idx: int) -> int:
        self.full_init()
        idx = _normalize_index(idx, len(self), 'ClassBalancedDataset')
        return self.repeat_indices[idx]

    def get_cat_ids(self, idx: int) -> list[int]:
        return self.dataset.get_cat_ids(self._get_ori_dataset_idx(idx))

    def get_subset_(self, indices: Any) -> None:
        raise NotImplementedError(
            'ClassBalancedDataset has no get_subset_/get_subset (a subset of '
            'repeated samples is ambiguous); take the subset of the wrapped '
            'dataset (its `indices` argument) instead')

    get_subset = get_subset_
