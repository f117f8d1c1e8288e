"""Two-process training with torchrun on CPU (gloo)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from .conftest import ROOT, max_abs_diff

_RECORDER = '''
import os, torch
import torch.distributed as dist
from posekit.engine import Hook
from posekit.engine.dist import unwrap_model
from posekit.registry import HOOKS

@HOOKS.register_module()
class RecordRank(Hook):
    """Each rank writes its final weights and the samples it trained on."""
    def before_run(self, runner):
        self.ids = []
    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.ids += [int(s.metainfo['id']) for s in data_batch['data_samples']]
    def after_run(self, runner):
        model = unwrap_model(runner.model)
        torch.save(dict(state=model.state_dict(), ids=self.ids,
                        world=dist.get_world_size(), backend=dist.get_backend(),
                        ddp=type(runner.model).__name__),
                   os.path.join(runner.work_dir, f'rank{dist.get_rank()}.pt'))
'''


@pytest.mark.skipif(shutil.which('torchrun') is None and not (
        Path(sys.executable).parent / 'torchrun').exists(), reason='needs torchrun')
def test_two_process_gloo_training_keeps_ranks_identical(tiny_cfg, tmp_path):
    (tmp_path / 'record_rank.py').write_text(_RECORDER)
    cfg = tiny_cfg(**{'train_cfg.max_epochs': 2})
    cfg.custom_imports = dict(imports=['record_rank'])
    cfg.custom_hooks = list(cfg.custom_hooks) + [dict(type='RecordRank')]
    config = tmp_path / 'ddp.py'
    cfg.dump(config)
    torchrun = shutil.which('torchrun') or str(Path(sys.executable).parent / 'torchrun')
    env = dict(os.environ, PYTHONPATH=f'{ROOT}{os.pathsep}{tmp_path}', OMP_NUM_THREADS='1')
    proc = subprocess.run(
        [torchrun, '--standalone', '--nproc-per-node', '2', '-m', 'posekit', 'train',
         str(config), '--launcher', 'pytorch'],
        env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    work = Path(cfg.work_dir)
    r0 = torch.load(work / 'rank0.pt', weights_only=True)
    r1 = torch.load(work / 'rank1.pt', weights_only=True)
    assert (r0['world'], r0['backend'], r0['ddp']) == (2, 'gloo', 'DistributedDataParallel')
    assert max_abs_diff(r0['state'], r1['state']) == 0
    # each rank trained on its own half of every epoch (the sampler pads the
    # odd number of samples with one repeat, so the ranks stay in step)
    per_epoch = len(r0['ids']) // 2
    first0, first1 = r0['ids'][:per_epoch], r1['ids'][:per_epoch]
    assert len(first0) == len(first1) and len(set(first0) & set(first1)) <= 1
    assert len(set(first0) | set(first1)) >= 2 * per_epoch - 1
    # rank 0 alone wrote the checkpoints, with the weights both ranks hold
    ckpt = torch.load(work / 'epoch_2.pth', weights_only=True)
    assert max_abs_diff(ckpt['state_dict'], r0['state']) == 0
    # metrics were gathered from both ranks: one line per validation in the log
    assert proc.stdout.count('Epoch(val) [2]') == 1


@pytest.mark.skipif(shutil.which('torchrun') is None and not (
        Path(sys.executable).parent / 'torchrun').exists(), reason='needs torchrun')
def test_two_process_test_of_an_onnx_file_gathers_every_sample(tiny_cfg, tmp_path):
    """``posekit test CONFIG model.onnx --launcher pytorch``: each rank runs
    its share in ONNX Runtime; rank 0 writes all predictions, in dataset
    order, as one process does (up to float32 rounding of other batches)."""
    pytest.importorskip('onnxruntime')
    pytest.importorskip('onnxscript')
    import pickle

    import numpy as np

    from posekit.cli import main
    from posekit.export import export_onnx
    from .test_commands import _seeded_checkpoint
    cfg = tiny_cfg()
    config = tmp_path / 'tiny.py'
    cfg.dump(config)
    onnx_file = export_onnx(str(config), str(_seeded_checkpoint(cfg, tmp_path / 'w.pth')),
                            output=tmp_path / 'tiny.onnx', dynamic_batch=True)
    assert main(['test', str(config), onnx_file, '--work-dir', str(tmp_path / 'one'),
                 '--dump', str(tmp_path / 'one.pkl')]) == 0
    torchrun = shutil.which('torchrun') or str(Path(sys.executable).parent / 'torchrun')
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1')
    proc = subprocess.run(
        [torchrun, '--standalone', '--nproc-per-node', '2', '-m', 'posekit', 'test',
         str(config), onnx_file, '--launcher', 'pytorch', '--work-dir', str(tmp_path / 'two'),
         '--dump', str(tmp_path / 'two.pkl')],
        env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    one, two = (pickle.loads((tmp_path / f'{n}.pkl').read_bytes()) for n in ('one', 'two'))
    assert [p['img_id'] for p in two] == [p['img_id'] for p in one] and len(one) == 8
    for a, b in zip(one, two):
        np.testing.assert_allclose(b['pred_instances']['keypoint_scores'],
                                   a['pred_instances']['keypoint_scores'], rtol=0, atol=1e-5)
