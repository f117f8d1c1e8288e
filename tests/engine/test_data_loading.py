"""Samplers, collation and data loaders built from config dicts."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import posekit.datasets.samplers as samplers_module
from posekit.datasets.samplers import DefaultSampler, InfiniteSampler
from posekit.engine.dataloader import (SeededSampler, build_dataloader,
                                       pseudo_collate, unwrap_dataset)


def _as_rank(monkeypatch, rank: int, world: int) -> None:
    monkeypatch.setattr(samplers_module, '_dist_info', lambda: (rank, world))


def test_default_sampler_order_depends_on_seed_and_epoch_only():
    data = list(range(10))
    a, b = DefaultSampler(data, seed=5), DefaultSampler(data, seed=5)
    assert list(a) == list(b) and sorted(a) == data
    a.set_epoch(1)
    assert list(a) != list(b) and sorted(a) == data
    assert list(DefaultSampler(data, shuffle=False)) == data


@pytest.mark.parametrize('round_up', [True, False])
def test_default_sampler_splits_ranks(monkeypatch, round_up):
    data = list(range(7))
    parts = []
    for rank in range(3):
        _as_rank(monkeypatch, rank, 3)
        s = DefaultSampler(data, shuffle=False, round_up=round_up)
        parts.append(list(s))
        assert len(s) == len(parts[-1])
    if round_up:  # every rank gets ceil(7 / 3) = 3, the first index repeats
        assert parts == [[0, 3, 6], [1, 4, 0], [2, 5, 1]]
    else:  # nothing repeated
        assert parts == [[0, 3, 6], [1, 4], [2, 5]]


def test_infinite_sampler_is_an_endless_seeded_stream(monkeypatch):
    data = list(range(5))
    it = iter(InfiniteSampler(data, seed=1))
    first = [next(it) for _ in range(15)]
    assert sorted(first[:5]) == data and sorted(first[5:10]) == data
    again = iter(InfiniteSampler(data, seed=1))
    assert [next(again) for _ in range(15)] == first
    _as_rank(monkeypatch, 1, 2)
    it1 = iter(InfiniteSampler(data, seed=1))
    assert [next(it1) for _ in range(7)] == first[1::2][:7]


def test_pseudo_collate_groups_without_stacking():
    batch = [dict(inputs=torch.zeros(3, 4, 4), data_samples='s0', meta=dict(k=np.float32(1))),
             dict(inputs=torch.ones(3, 4, 4), data_samples='s1', meta=dict(k=np.float32(2)))]
    out = pseudo_collate(batch)
    assert isinstance(out['inputs'], list) and len(out['inputs']) == 2
    assert out['data_samples'] == ['s0', 's1']
    assert [float(v) for v in out['meta']['k']] == [1.0, 2.0]


def test_seeded_sampler_skip_keeps_the_seeds():
    base = DefaultSampler(list(range(6)), seed=0)
    full = list(SeededSampler(base, seed=7))
    tagged = SeededSampler(base, seed=7)
    tagged.skip_next(4)
    assert list(tagged) == full[4:]
    assert list(tagged) == full  # only the next pass is shortened
    assert len({seed for _, seed in full}) == 6


def _loader_cfg(root, num_workers):
    from posekit.config import Config
    from .conftest import TINY_CONFIG, point_at
    cfg = Config.fromfile(TINY_CONFIG)
    point_at(cfg, root)
    loader = cfg.train_dataloader.to_dict()
    loader.update(num_workers=num_workers, persistent_workers=num_workers > 0)
    return loader


def test_batches_do_not_depend_on_the_number_of_workers(synthetic_root):
    batches = {}
    for workers in (0, 2):
        loader = build_dataloader(_loader_cfg(synthetic_root, workers), seed=11,
                                  mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0))
        batches[workers] = [torch.stack(b['inputs']) for b in loader]
        assert loader.dataset.metainfo['dataset_name'] == 'coco'
        assert type(unwrap_dataset(loader.dataset)).__name__ == 'CocoDataset'
    assert len(batches[0]) == len(batches[2])
    for a, b in zip(batches[0], batches[2]):
        assert torch.equal(a, b)


def test_dataloader_config_is_checked(synthetic_root):
    cfg = _loader_cfg(synthetic_root, 0)
    with pytest.raises(ValueError, match="unknown keys \\['shufle'\\]"):
        build_dataloader({**cfg, 'shufle': True}, seed=0)
    with pytest.raises(ValueError, match='batch_sampler is not supported'):
        build_dataloader({**cfg, 'batch_sampler': dict(type='AspectRatioBatchSampler')}, seed=0)
    loader = build_dataloader({**cfg, 'num_batch_per_epoch': 2}, seed=0)
    assert len(loader) == 2


class _WarningDataset:
    """Each read warns and reports whether the warning got through."""

    metainfo = dict(dataset_name='warnings')

    def __len__(self):
        return 8

    def __getitem__(self, index):
        import warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.warn(f'sample {index} is odd', UserWarning)
        return dict(worker=torch.utils.data.get_worker_info().id, shown=len(caught))


@pytest.mark.parametrize('quiet', [False, True])
def test_disable_subprocess_warning_silences_the_workers_but_the_first(quiet):
    loader = build_dataloader(
        dict(dataset=_WarningDataset(), batch_size=1, num_workers=2,
             sampler=dict(type='DefaultSampler', shuffle=False),
             disable_subprocess_warning=quiet),
        seed=0, mp_cfg=dict(mp_start_method='fork'))
    shown = {}
    for batch in loader:
        shown.setdefault(batch['worker'][0], set()).add(batch['shown'][0])
    # worker 0 always warns; worker 1 warns unless told not to (MMEngine's)
    assert shown == {0: {1}, 1: {0 if quiet else 1}}


def test_disable_subprocess_warning_must_be_a_bool():
    with pytest.raises(TypeError, match='disable_subprocess_warning must be True or '
                                        "False, got 'yes'"):
        build_dataloader(dict(dataset=_WarningDataset(), disable_subprocess_warning='yes'),
                         seed=0)
