"""Gathering metric results across ranks: collect_device and collect_dir.

Two gloo processes (torch.multiprocessing.spawn) evaluate the same five
samples, split as a distributed sampler splits them (rank 0: 0, 2, 4; rank
1: 1, 3 and the padding 0), in each mode; the results must be those of one
process over the five samples, in dataset order.
"""
from __future__ import annotations

import pickle
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from posekit.evaluation import EPE, BaseMetric
from posekit.evaluation.metrics.base_metric import collect_results

HERE = Path(__file__).resolve().parent


@pytest.fixture
def worker(monkeypatch):
    """The worker module, importable by name in spawned processes."""
    monkeypatch.syspath_prepend(str(HERE))
    import collect_worker
    yield collect_worker
    sys.modules.pop('collect_worker', None)


def single_process(worker) -> dict:
    metrics = [worker.OrderMetric('.', prefix='order'), EPE()]
    for metric in metrics:
        metric.process(None, worker.samples())
    out = {}
    for metric in metrics:
        out.update(metric.evaluate(worker.NUM_SAMPLES))
    return out


def test_two_gloo_processes_gather_in_dataset_order_in_every_mode(worker, tmp_path):
    dist = pytest.importorskip('torch.distributed')
    if not dist.is_available():
        pytest.skip('torch.distributed is not available')
    import torch.multiprocessing as mp
    work = tmp_path / 'work'
    (work / 'shared').mkdir(parents=True)
    (work / 'shared' / 'keep.txt').write_text('a file of the user')
    mp.spawn(worker.run, args=(str(tmp_path / 'init'), str(work)), nprocs=2, join=True)
    ranks = [pickle.loads((tmp_path / f'rank{r}.pkl').read_bytes()) for r in range(2)]

    expected = single_process(worker)
    assert expected['order/ids'] == [0, 1, 2, 3, 4]
    # sample i is off by i px: the mean error is (0 + 1 + 2 + 3 + 4) / 5
    assert expected['EPE'] == pytest.approx(2.0, rel=1e-6)
    for mode in worker.MODES:
        for out in ranks:
            got = out[mode]
            assert got['order/ids'] == [0, 1, 2, 3, 4], mode   # padding dropped
            assert got['EPE'] == expected['EPE'], mode
        # rank 0 unpickled the parts while both were in the folder
        seen = ranks[0][mode]['order/seen']
        if mode == 'files_dir':
            assert seen == [['keep.txt', 'part_0.pkl', 'part_1.pkl']] * 5
        elif mode == 'files_tmp':
            (tmp_dir, ) = {Path(p).parent.name for p in seen[0] if p.endswith('.pkl')}
            assert re.fullmatch(r'\.posekit-collect-\w+', tmp_dir)
            assert seen == [[f'{tmp_dir}/part_0.pkl', f'{tmp_dir}/part_1.pkl',
                             'shared/keep.txt']] * 5
        else:   # through the process group: no files
            assert seen == [['shared/keep.txt']] * 5
        # the part files (and our temporary folder) are gone; the user's
        # folder and file stay
        assert ranks[0][mode + '/after'] == ['shared/keep.txt'], mode
    assert sorted(p.name for p in work.iterdir()) == ['shared']


def test_without_distribution_results_are_cut_to_the_dataset_size():
    assert collect_results([1, 2, 3, 4], 3, 'gpu') == [1, 2, 3]
    assert collect_results([1, 2, 3, 4], 3, 'cpu', 'unused_dir') == [1, 2, 3]
    assert not Path('unused_dir').exists()


@pytest.mark.parametrize('kwargs, match', [
    (dict(collect_device='npu'), "collect_device must be 'cpu' or 'gpu', got 'npu'"),
    (dict(collect_device='gpu', collect_dir='d'), "collect_dir is only used with "
                                                  "collect_device='cpu'")])
def test_bad_collect_options_raise(kwargs, match):
    with pytest.raises(ValueError, match=re.escape(match)):
        BaseMetric(**kwargs)
    with pytest.raises(ValueError, match='collect_'):
        collect_results([], 0, kwargs['collect_device'], kwargs.get('collect_dir'))


def test_collect_device_gpu_is_kept():
    metric = EPE(collect_device='gpu')
    assert metric.collect_device == 'gpu'
    metric.process(None, [dict(pred_instances=dict(keypoints=np.zeros((1, 2, 2))),
                               gt_instances=dict(keypoints=np.ones((1, 2, 2)),
                                                 keypoints_visible=np.ones((1, 2))))])
    assert metric.evaluate(1) == dict(EPE=pytest.approx(np.sqrt(2)))
