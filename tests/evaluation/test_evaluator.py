"""Evaluator: several metrics, no extra prefix, results gathered across
ranks (single process, and two gloo processes)."""
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from posekit.evaluation import Evaluator, build_evaluator
from posekit.evaluation.metrics.base_metric import collect_results
from posekit.registry import EVALUATORS, METRICS

ANN = 'coco/test_coco.json'
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope='module')
def coco(make):
    dataset = make.dataset('CocoDataset', ANN)
    samples = make.topdown(dataset, seed=0, noise=0.05,
                           shapes=make.shapes(ANN))
    return dataset, samples


def _metric_cfgs(make):
    return [dict(type='CocoMetric', ann_file=make.path(ANN)),
            dict(type='PCKAccuracy', thr=0.2), dict(type='EPE')]


def test_runs_every_metric_without_prefixing(make, coco):
    dataset, samples = coco
    evaluator = build_evaluator(_metric_cfgs(make))
    meta = dataset.metainfo
    evaluator.dataset_meta = meta
    assert all(m.dataset_meta is meta for m in evaluator.metrics)
    for i in range(0, len(samples), 5):
        evaluator.process(samples[i:i + 5])
    results = evaluator.evaluate(len(samples))
    singles = {}
    for cfg in _metric_cfgs(make):
        singles.update(make.run(cfg, dataset.metainfo, samples))
    assert results == singles
    assert list(results)[:2] == ['coco/AP', 'coco/AP .5']
    assert results['coco/AP'] == 0.3453520352035203      # MMPose 1.3.2
    assert {'PCK', 'EPE'} <= set(results)
    # evaluate() clears the results: the next epoch starts empty
    assert all(m.results == [] for m in evaluator.metrics)


def test_config_forms(make):
    one = build_evaluator(dict(type='EPE'))
    assert isinstance(one, Evaluator) and len(one.metrics) == 1
    assert len(build_evaluator(_metric_cfgs(make)).metrics) == 3
    wrapped = build_evaluator(dict(metrics=[dict(type='EPE')]))
    assert type(wrapped) is Evaluator
    assert build_evaluator(wrapped) is wrapped
    assert EVALUATORS.get('Evaluator') is Evaluator
    built = METRICS.build(dict(type='EPE'))
    assert Evaluator(built).metrics == [built]


def test_same_result_name_twice_is_an_error(coco):
    dataset, samples = coco
    evaluator = Evaluator([dict(type='EPE'), dict(type='EPE')])
    evaluator.process(samples)
    with pytest.raises(ValueError, match="'EPE'"):
        evaluator.evaluate(len(samples))
    evaluator = Evaluator([dict(type='EPE'), dict(type='EPE', prefix='b')])
    evaluator.process(samples)
    assert set(evaluator.evaluate(len(samples))) == {'EPE', 'b/EPE'}


def test_offline_evaluate(coco):
    dataset, samples = coco
    evaluator = Evaluator(dict(type='EPE'))
    expected = Evaluator(dict(type='EPE'))
    expected.process(samples)
    assert evaluator.offline_evaluate(samples, chunk_size=5) == \
        expected.evaluate(len(samples))
    with pytest.raises(ValueError, match='length'):
        evaluator.offline_evaluate(samples, data=[None])


def test_collect_results_without_distribution():
    assert collect_results([1, 2, 3, 4], 3) == [1, 2, 3]


WORKER = '''
import importlib.util, pickle, sys
import torch.distributed as dist
rank, init, out, conftest = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
spec = importlib.util.spec_from_file_location('helpers', conftest)
h = importlib.util.module_from_spec(spec)
spec.loader.exec_module(h)
dist.init_process_group('gloo', init_method='file://' + init, rank=rank,
                        world_size=2)
from posekit.evaluation import Evaluator
dataset = h.build_dataset('CocoDataset', 'coco/test_coco.json')
samples = h.topdown_samples(dataset, seed=0, noise=0.05,
                            shapes=h.image_shapes('coco/test_coco.json'))[:11]
# a distributed sampler: indices padded to a multiple of 2, then interleaved
order = list(range(11)) + [0]
mine = [samples[i] for i in order[rank::2]]
evaluator = Evaluator([dict(type='CocoMetric',
                            ann_file=h.fixture_path('coco/test_coco.json')),
                       dict(type='EPE')])
evaluator.dataset_meta = dataset.metainfo
for i in range(0, len(mine), 2):
    evaluator.process(mine[i:i + 2])
with open(out, 'wb') as f:
    pickle.dump(evaluator.evaluate(11), f)
dist.destroy_process_group()
'''


def test_two_gloo_processes_give_the_single_process_result(make, coco,
                                                           tmp_path):
    dist = pytest.importorskip('torch.distributed')
    if not dist.is_available():
        pytest.skip('torch.distributed is not available')
    worker = tmp_path / 'worker.py'
    worker.write_text(textwrap.dedent(WORKER))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(REPO), os.environ.get('PYTHONPATH', '')]))
    conftest = str(Path(__file__).with_name('conftest.py'))
    procs = [subprocess.Popen(
        [sys.executable, str(worker), str(rank), str(tmp_path / 'init'),
         str(tmp_path / f'out{rank}.pkl'), conftest], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for rank in range(2)]
    for proc in procs:
        output, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, output.decode()[-3000:]
    results = [pickle.loads((tmp_path / f'out{r}.pkl').read_bytes())
               for r in range(2)]
    dataset, samples = coco
    expected = {}
    for cfg in (dict(type='CocoMetric', ann_file=make.path(ANN)),
                dict(type='EPE')):
        expected.update(make.run(cfg, dataset.metainfo, samples[:11]))
    assert results[0] == results[1] == expected
    assert np.isfinite(expected['EPE'])


# arguments a metric cannot be built without
REQUIRED = dict(NME=dict(norm_mode='use_norm_item', norm_item='head_size'),
                KeypointPartitionMetric=dict(metric=dict(type='EPE'),
                                             partitions=dict(all=[0, 1])))


@pytest.mark.parametrize('name', METRICS.keys())
def test_every_registered_metric_builds_from_a_config(name):
    from posekit.evaluation import BaseMetric
    metric = METRICS.build(dict(type=f'mmpose.{name}', **REQUIRED.get(name, {})))
    assert isinstance(metric, BaseMetric)
    assert callable(metric.process) and callable(metric.evaluate)


def _shifted(samples, dx, dy):
    out = []
    for s in samples:
        pred = dict(s['pred_instances'])
        pred['keypoints'] = (pred['keypoints'] + np.float32([dx, dy])).astype(np.float32)
        out.append(dict(s, pred_instances=pred))
    return out


def test_metric_numbers_for_known_predictions(make):
    """The ground truth as the prediction: every OKS is 1, so AP and AR are
    1, every keypoint is within any PCK threshold, and the EPE is 0. Moved
    by (3, 4) pixels: every error is exactly 5 px (integer COCO coordinates,
    float32 sums), so EPE is 5 and PCK@0.05 counts, per keypoint, the
    instances whose box's longer side exceeds 5 / 0.05 = 100 px."""
    dataset = make.dataset('CocoDataset', ANN)
    truth = make.topdown(dataset, seed=None, shapes=make.shapes(ANN))
    cfgs = [dict(type='CocoMetric', ann_file=make.path(ANN)),
            dict(type='PCKAccuracy', thr=0.05), dict(type='EPE')]
    evaluator = build_evaluator(cfgs)
    evaluator.dataset_meta = dataset.metainfo
    evaluator.process(truth)
    results = evaluator.evaluate(len(truth))
    for key in ('coco/AP', 'coco/AP .5', 'coco/AP .75', 'coco/AR', 'coco/AR .5'):
        assert results[key] == pytest.approx(1.0, abs=1e-12), key
    assert results['PCK'] == 1.0
    assert results['EPE'] == 0.0

    moved = _shifted(truth, 3., 4.)
    evaluator.process(moved)
    results = evaluator.evaluate(len(moved))
    assert results['EPE'] == pytest.approx(5.0, rel=1e-6)
    # PCK by hand: per keypoint, the share of its visible instances hit
    hits = [[] for _ in range(17)]
    for s in moved:
        gt = s['gt_instances']
        box = gt['bboxes'][0]
        longer = max(box[2] - box[0], box[3] - box[1])
        for k in np.flatnonzero(gt['keypoints_visible'][0] > 0):
            hits[k].append(5.0 / longer < 0.05)
    expected = np.mean([np.mean(h) for h in hits if h])
    assert 0 < expected < 1               # the shift separates the boxes
    assert results['PCK'] == pytest.approx(expected, abs=1e-12)
    assert results['coco/AP'] < 1.0
