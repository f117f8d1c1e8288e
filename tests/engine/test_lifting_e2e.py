"""Pose lifting end to end: MMPose 1.3.2's h36m lifting configs, as a user
runs them, on the Human3.6M fixture (4 frames of 4 videos).

CONFIG has the structure and values of MMPose's
``video-pose-lift_tcn-27frm-supv_8xb128-160e_h36m.py`` with the data paths
pointed at the fixture, 2 epochs and batches of 2. GOLDEN was produced by MMPose 1.3.2 from its
own config files with the same paths, the weights of :func:`fill`,
``test_step`` on the whole val set and ``MPJPE`` in the three modes; posekit
gave the same values (predictions bit-identical, metrics equal to 1e-7).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

import posekit
from posekit.cli import main
from posekit.config import Config
from posekit.engine import Runner
from posekit.engine.dataloader import pseudo_collate
from posekit.evaluation.evaluator import Evaluator
from posekit.registry import DATASETS, MODELS, VISUALIZERS

FIXTURE = Path(__file__).parents[1] / 'data' / 'fixtures' / 'h36m'
RUNTIME = Path(posekit.__file__).parent / 'configs' / '_base_' / 'default_runtime.py'
# the other helper's Pose3dLocalVisualizer, when it is there
VISUALIZER = ('Pose3dLocalVisualizer' if 'Pose3dLocalVisualizer' in VISUALIZERS
              else 'PoseLocalVisualizer')
CONFIG = f'''
_base_ = [{str(RUNTIME)!r}]
visualizer = dict(type={VISUALIZER!r}, vis_backends=[dict(type='LocalVisBackend')],
                  name='visualizer')
train_cfg = dict(max_epochs=2, val_interval=1)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3))
param_scheduler = [dict(type='ExponentialLR', gamma=0.975, end=80, by_epoch=True)]
auto_scale_lr = dict(base_batch_size=1024)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', save_best='MPJPE',
                                     rule='less', max_keep_ckpts=1),
                     logger=dict(type='LoggerHook', interval=1))
codec = dict(type='VideoPoseLifting', num_keypoints=17, zero_center=True,
             root_index=0, remove_root=False)
model = dict(
    type='PoseLifter',
    backbone=dict(type='TCN', in_channels=2 * 17, stem_channels=1024, num_blocks=2,
                  kernel_sizes=(3, 3, 3), dropout=0.25, use_stride_conv=True),
    head=dict(type='TemporalRegressionHead', in_channels=1024, num_joints=17,
              loss=dict(type='MPJPELoss'), decoder=codec))
meta_keys = ('id', 'category_id', 'target_img_path', 'flip_indices', 'target_root')
train_pipeline = [
    dict(type='RandomFlipAroundRoot', keypoints_flip_cfg=dict(), target_flip_cfg=dict()),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs', meta_keys=meta_keys)]
val_pipeline = [dict(type='GenerateTarget', encoder=codec),
                dict(type='PackPoseInputs', meta_keys=meta_keys)]
dataset = dict(type='Human36mDataset', ann_file='test_h36m_body3d.npz', seq_len=27,
               causal=False, pad_video_seq=True, camera_param_file='cameras.pkl',
               data_root={str(FIXTURE)!r}, data_prefix=dict(img='images/'))
train_dataloader = dict(batch_size=2, num_workers=0,
                        sampler=dict(type='DefaultSampler', shuffle=True),
                        dataset=dict(dataset, pipeline=train_pipeline))
val_dataloader = dict(batch_size=2, num_workers=0, drop_last=False,
                      sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
                      dataset=dict(dataset, pipeline=val_pipeline, test_mode=True))
test_dataloader = val_dataloader
val_evaluator = [dict(type='MPJPE', mode='mpjpe'), dict(type='MPJPE', mode='p-mpjpe')]
test_evaluator = val_evaluator
'''
ACTIONS = ('Directions', 'SittingDown', 'Greeting', 'WalkDog')
# name -> (first 6 values of sample 1's keypoints, sum |keypoints| of all
# samples, {mode: [overall, per action in ACTIONS order]})
GOLDEN = {
    'video27': ([0.246452, 0.432207, 4.583822, 0.195161, 0.551536, 4.889486], 426.64627, {
        'MPJPE': [0.557626, 0.508552, 0.487589, 0.551922, 0.68244],
        'P-MPJPE': [0.404403, 0.381923, 0.330035, 0.41305, 0.492602],
        'N-MPJPE': [0.555889, 0.507633, 0.484966, 0.549316, 0.681641]}),
}


def fill(model):
    """Deterministic weights (as tests/models/test_pose_lifter.py): conv
    N(0, 1/fan_in), 1-D tensors N(0, 0.01), BN running variances U(0.5, 1.5),
    drawn in state_dict order."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for key, v in model.state_dict().items():
            if not v.is_floating_point():
                continue
            if key.endswith('running_var'):
                v.copy_(torch.rand(v.shape, generator=g) + 0.5)
            elif v.ndim > 1:
                v.copy_(torch.randn(v.shape, generator=g) / math.sqrt(v[0].numel()))
            else:
                v.copy_(torch.randn(v.shape, generator=g) * 0.1)


@pytest.fixture
def cfg(tmp_path):
    path = tmp_path / 'video-pose-lift_tcn-27frm-supv_h36m.py'
    path.write_text(CONFIG)
    cfg = Config.fromfile(str(path))
    cfg.work_dir = str(tmp_path / 'work')
    return cfg


def test_predictions_and_metrics_equal_mmpose(cfg):
    first, abs_sum, expected = GOLDEN['video27']
    model = MODELS.build(cfg.model)
    fill(model)
    model.eval()
    dataset = DATASETS.build(cfg.val_dataloader.dataset)
    assert len(dataset) == 4  # one padded 27-frame sample per fixture frame
    data = pseudo_collate([dataset[i] for i in range(len(dataset))])
    assert tuple(data['inputs'][0].shape) == (34, 27)
    with torch.no_grad():
        out = model.test_step(data)
    kpts = np.stack([np.asarray(s.pred_instances.keypoints) for s in out])
    assert kpts.shape == (4, 1, 17, 3)
    # float32 convolutions over 1024 channels: a few 1e-7 across CPUs
    np.testing.assert_allclose(kpts[1].ravel()[:6], first, atol=2e-5)
    assert np.abs(kpts).sum() == pytest.approx(abs_sum, rel=1e-5)
    evaluator = Evaluator([dict(type='MPJPE', mode=m) for m in ('mpjpe', 'p-mpjpe', 'n-mpjpe')])
    evaluator.process(data_samples=out, data_batch=data)
    metrics = evaluator.evaluate(len(dataset))
    names = [f'{m}{s}' for m in expected for s in ('', *(f'_{a}' for a in ACTIONS))]
    assert list(metrics) == names
    values = [v for m in expected for v in expected[m]]
    np.testing.assert_allclose([metrics[n] for n in names], values, rtol=1e-4)


def test_runner_trains_validates_and_cli_tests(cfg, tmp_path):
    torch.manual_seed(0)
    runner = Runner.from_cfg(cfg)
    runner.train()
    work = Path(cfg.work_dir)
    files = {p.name for p in work.iterdir()}
    assert {'epoch_2.pth', 'last_checkpoint',
            'video-pose-lift_tcn-27frm-supv_h36m.py'} <= files
    assert any(f.startswith('best_MPJPE_epoch_') for f in files), files
    metrics = runner.val()
    keys = [f'{m}{s}' for m in ('MPJPE', 'P-MPJPE') for s in ('', *(f'_{a}' for a in ACTIONS))]
    assert list(metrics) == keys
    assert all(np.isfinite(metrics[k]) and metrics[k] > 0 for k in keys)
    # `posekit test` on the saved config and last checkpoint: same numbers
    out = tmp_path / 'metrics.json'
    assert main(['test', str(work / 'video-pose-lift_tcn-27frm-supv_h36m.py'),
                 str(work / 'epoch_2.pth'), '--work-dir', str(tmp_path / 'test'),
                 '--out', str(out)]) == 0
    tested = json.loads(out.read_text())
    assert list(tested) == keys
    np.testing.assert_allclose([tested[k] for k in keys], [metrics[k] for k in keys],
                               rtol=1e-6)


def test_onnx_lifter_gives_mmposes_metrics(cfg, tmp_path):
    """The lifter exported to ONNX, tested with ``posekit test CONFIG
    lift.onnx``: MMPose's metrics (GOLDEN) from ONNX Runtime."""
    pytest.importorskip('onnxruntime')
    pytest.importorskip('onnxscript')
    from posekit.export import export_onnx
    model = MODELS.build(cfg.model)
    fill(model)
    ckpt = tmp_path / 'lift.pth'
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    config = tmp_path / 'lift.py'
    cfg.dump(config)
    onnx_file = export_onnx(str(config), str(ckpt), output=tmp_path / 'lift.onnx',
                            dynamic_batch=True)
    out = tmp_path / 'metrics.json'
    cfg_options = ['test_evaluator.0.mode=mpjpe', 'test_evaluator.1.mode=p-mpjpe']
    assert main(['test', str(config), onnx_file, '--work-dir', str(tmp_path / 'onnx'),
                 '--out', str(out), '--cfg-options', *cfg_options]) == 0
    metrics = json.loads(out.read_text())
    expected = GOLDEN['video27'][2]
    for mode in ('MPJPE', 'P-MPJPE'):
        names = [mode, *(f'{mode}_{a}' for a in ACTIONS)]
        np.testing.assert_allclose([metrics[n] for n in names], expected[mode], rtol=1e-4)
