"""One rank of the two-process gathering test (tests/evaluation/test_collect.py).

A module of its own (not a test file) so that processes started with
``torch.multiprocessing.spawn`` can import :func:`run` by name.
"""
from __future__ import annotations

import datetime
import os
import pickle

import numpy as np

from posekit.evaluation import EPE, BaseMetric

NUM_SAMPLES, NUM_KEYPOINTS = 5, 3


def samples() -> list:
    """Five top-down samples; sample i's prediction is off by i pixels in x."""
    rng = np.random.default_rng(0)
    out = []
    for i in range(NUM_SAMPLES):
        gt = rng.uniform(0, 50, (1, NUM_KEYPOINTS, 2)).astype(np.float32)
        out.append(dict(id=i, pred_instances=dict(keypoints=gt + np.float32([i, 0])),
                        gt_instances=dict(keypoints=gt,
                                          keypoints_visible=np.ones((1, NUM_KEYPOINTS)))))
    return out


def files_under(folder: str) -> list:
    """Paths of the files under ``folder``, relative to it, sorted."""
    return sorted(os.path.relpath(os.path.join(d, f), folder)
                  for d, _, files in os.walk(folder) for f in files)


class Probe:
    """Lists ``folder`` when it is unpickled (when rank 0 reads a part)."""

    def __init__(self, folder: str) -> None:
        self.folder, self.seen = folder, None

    def __getstate__(self) -> dict:
        return dict(folder=self.folder)

    def __setstate__(self, state: dict) -> None:
        self.folder, self.seen = state['folder'], files_under(state['folder'])


class OrderMetric(BaseMetric):
    """Keeps sample ids (and a probe per sample); reports them in order."""

    def __init__(self, watch: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.watch = watch

    def process(self, data_batch, data_samples) -> None:
        self.results += [dict(id=s['id'], probe=Probe(self.watch)) for s in data_samples]

    def compute_metrics(self, results: list) -> dict:
        return dict(ids=[r['id'] for r in results],
                    seen=[r['probe'].seen for r in results])


MODES = dict(files_tmp=dict(collect_device='cpu'),
             files_dir=dict(collect_device='cpu', collect_dir='shared'),
             backend=dict(collect_device='gpu'))


def evaluate(mode: str, mine: list, work: str) -> dict:
    """``OrderMetric`` and ``EPE`` results of ``mine`` (this rank's samples)."""
    kwargs = dict(MODES[mode])
    if 'collect_dir' in kwargs:
        kwargs['collect_dir'] = os.path.join(work, kwargs['collect_dir'])
    watch = kwargs.get('collect_dir', work)
    # MMPose's metrics take no collect_dir (BaseMetric does)
    metrics = [OrderMetric(watch, prefix='order', **kwargs),
               EPE(collect_device=kwargs['collect_device'])]
    for i in range(0, len(mine), 2):   # batches of 2
        for metric in metrics:
            metric.process(None, mine[i:i + 2])
    results = {}
    for metric in metrics:
        results.update(metric.evaluate(NUM_SAMPLES))
    return results


def run(rank: int, init_file: str, work: str) -> None:
    """Evaluate in every mode over a world of 2; write what rank sees."""
    import torch.distributed as dist
    os.chdir(work)   # where the temporary folder of 'files_tmp' goes
    dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank,
                            world_size=2, timeout=datetime.timedelta(seconds=60))
    # a distributed sampler's share: indices padded to a multiple of 2
    # with the first ones, then every second one
    order = list(range(NUM_SAMPLES)) + [0]
    mine = [samples()[i] for i in order[rank::2]]
    out = {}
    for mode in MODES:
        out[mode] = evaluate(mode, mine, work)
        # what is left once evaluate() returned on both ranks (the barriers
        # keep a rank from starting the next mode's files meanwhile)
        dist.barrier()
        out[mode + '/after'] = files_under(work)
        dist.barrier()
    dist.destroy_process_group()
    with open(os.path.join(work, os.pardir, f'rank{rank}.pkl'), 'wb') as f:
        pickle.dump(out, f)
