"""Hooks on their own: order, rules, averaging, refusals."""
from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from posekit.engine.hooks import (BadCaseAnalysisHook, CheckpointHook, EMAHook,
                                  ExpMomentumEMA, ExponentialMovingAverage, Hook,
                                  ParamSchedulerHook, PoseVisualizationHook)
from posekit.engine.hooks.hook import STAGES
from posekit.engine.setup import build_hooks
from posekit.registry import HOOKS


def test_default_hooks_are_ordered_by_priority_then_registration():
    hooks = build_hooks(
        dict(timer=dict(type='IterTimerHook'), logger=dict(type='LoggerHook'),
             param_scheduler=dict(type='ParamSchedulerHook'),
             checkpoint=dict(type='CheckpointHook', interval=1),
             sampler_seed=dict(type='DistSamplerSeedHook'),
             visualization=dict(type='PoseVisualizationHook', enable=False)),
        [dict(type='EMAHook', priority=49), dict(type='SyncBuffersHook')])
    names = [type(h).__name__ for h in hooks]
    assert names == ['EMAHook', 'IterTimerHook', 'DistSamplerSeedHook',
                     'PoseVisualizationHook', 'SyncBuffersHook', 'LoggerHook',
                     'ParamSchedulerHook', 'CheckpointHook']
    assert build_hooks(dict(logger=None), None)[-1].__class__ is CheckpointHook
    with pytest.raises(ValueError, match='unknown hook priority'):
        build_hooks({}, [dict(type='SyncBuffersHook', priority='SOMETIMES')])


def test_every_stage_exists_on_the_base_hook():
    for stage in STAGES:
        assert callable(getattr(Hook, stage))
    assert len(HOOKS) >= 12


def test_unknown_hook_arguments_raise():
    with pytest.raises(TypeError, match='CheckpointHook.*intervall'):
        HOOKS.build(dict(type='CheckpointHook', intervall=1))


@pytest.mark.parametrize('key,rule', [('acc_pose', 'greater'), ('AR@10', 'greater'),
                                      ('val/loss', 'less')])
def test_checkpoint_rule_inference(key, rule):
    assert CheckpointHook(save_best=key).rules == [rule]


def test_checkpoint_rule_must_be_given_for_ap_and_pck():
    # MMEngine's inference does not know AP/PCK either; the configs say rule='greater'
    for key in ('coco/AP', 'PCK'):
        with pytest.raises(ValueError, match='set rule="greater"'):
            CheckpointHook(save_best=key)
    assert CheckpointHook(save_best='coco/AP', rule='greater').rules == ['greater']


def test_exp_momentum_ema_follows_its_formula():
    model = nn.Linear(2, 1, bias=False)
    ema = ExpMomentumEMA(model, momentum=0.01, gamma=10)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update_parameters(model)  # step 0 copies
    expected = 1.0
    for step in range(1, 4):
        with torch.no_grad():
            model.weight.fill_(float(step + 1))
        ema.update_parameters(model)
        m = (1 - 0.01) * math.exp(-(1 + step) / 10) + 0.01
        expected = (1 - m) * expected + m * (step + 1)
        assert ema.module.weight[0, 0].item() == pytest.approx(expected, rel=1e-6)
    plain = ExponentialMovingAverage(model, momentum=0.5)
    plain.update_parameters(model)
    with torch.no_grad():
        model.weight.fill_(0.0)
    plain.update_parameters(model)
    assert plain.module.weight[0, 0].item() == pytest.approx(2.0)


def test_ema_hook_swaps_weights_around_evaluation():
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    runner = SimpleNamespace(model=model, epoch=0, iter=0, max_iters=10, max_epochs=1)
    hook = EMAHook(ema_type='ExponentialMovingAverage', momentum=0.5)
    hook.before_run(runner)
    hook.after_train_iter(runner, 0)
    with torch.no_grad():
        model[0].weight.add_(1.0)
    hook.after_train_iter(runner, 1)
    raw = model[0].weight.clone()
    hook.before_val_epoch(runner)
    assert torch.allclose(model[0].weight, raw - 0.5)
    hook.after_val_epoch(runner, {})
    assert torch.equal(model[0].weight, raw)


def test_param_scheduler_hook_steps_by_kind():
    calls = []
    iter_s = SimpleNamespace(by_epoch=False, step=lambda *a: calls.append('iter'))
    epoch_s = SimpleNamespace(by_epoch=True, step=lambda *a: calls.append('epoch'))
    plateau = SimpleNamespace(by_epoch=True, need_val_args=True,
                              step=lambda metrics: calls.append(('val', metrics['PCK'])))
    runner = SimpleNamespace(param_schedulers=[iter_s, epoch_s, plateau])
    hook = ParamSchedulerHook()
    hook.after_train_iter(runner, 0)
    hook.after_train_epoch(runner)
    hook.after_val_epoch(runner, dict(PCK=0.5))
    assert calls == ['iter', 'epoch', ('val', 0.5)]


def test_badcase_hook_refuses_to_run_but_accepts_its_config():
    BadCaseAnalysisHook(enable=False, out_dir='badcase', metric_type='loss', badcase_thr=5)
    with pytest.raises(NotImplementedError, match='not supported'):
        BadCaseAnalysisHook(enable=True)


def test_visualization_hook_draws_all_instances_of_a_test_image(tmp_path, synthetic_root):
    import cv2
    import numpy as np
    from posekit.structures import InstanceData, PoseDataSample
    image = f'{synthetic_root}images/val/000017.jpg'
    samples = []
    for shift in (0, 40):
        s = PoseDataSample(metainfo=dict(img_path=image))
        s.pred_instances = InstanceData(
            keypoints=np.array([[[20 + shift, 20], [60 + shift, 60]]], np.float32),
            keypoint_scores=np.ones((1, 2), np.float32))
        samples.append(s)
    meta = dict(skeleton_links=[(0, 1)], keypoint_colors=np.array([[0, 0, 255]] * 2),
                skeleton_link_colors=np.array([[0, 255, 0]]))
    from posekit.visualization import PoseLocalVisualizer
    logger = SimpleNamespace(warning=print)
    runner = SimpleNamespace(log_dir=str(tmp_path), logger=logger,
                             visualizer=PoseLocalVisualizer(radius=3, line_width=2),
                             test_dataloader=SimpleNamespace(dataset=SimpleNamespace(metainfo=meta)))
    hook = PoseVisualizationHook(enable=True, out_dir='vis')
    hook.after_test_iter(runner, 0, outputs=samples)
    hook.after_test_epoch(runner)
    drawn = cv2.imread(str(tmp_path / 'vis' / '000017.jpg'))
    original = cv2.imread(image)
    assert drawn.shape == original.shape
    changed = np.abs(drawn.astype(int) - original.astype(int)).sum(-1) > 60
    assert changed[20, 20] and changed[20, 60] and changed[40, 40] and changed[40, 80]


def test_validation_picture_and_config_go_to_the_runs_visualizer(tiny_cfg):
    """A validation pass with the hook on: the first batch's first sample,
    drawn with its box and heatmap, lands in vis_data/vis_image (and the
    checkpoint hook's save_best does not act outside training)."""
    import cv2
    import numpy as np
    from pathlib import Path
    from posekit.engine import Runner
    cfg = tiny_cfg(**{'default_hooks.visualization.enable': True,
                      '+default_hooks.visualization.interval': 1,
                      '+model.test_cfg.output_heatmaps': True})
    runner = Runner.from_cfg(cfg)
    vis_data = Path(cfg.work_dir) / runner.timestamp / 'vis_data'
    assert (vis_data / 'config.py').read_text() == cfg.pretty_text
    runner.val()
    info = runner.val_dataloader.dataset.get_data_info(0)
    image = cv2.imread(info['img_path'])
    picture = cv2.imread(str(vis_data / 'vis_image' / 'val_img_0.png'))
    height, width = image.shape[:2]
    assert picture.shape == (2 * height, width, 3)       # the heatmap picture below
    x1, y1, x2, _ = np.round(info['bbox'][0]).astype(int)
    top_edge = picture[y1, max(x1, 0):min(x2, width - 1)]
    assert (top_edge == [0, 255, 0]).all(-1).mean() > 0.8   # the green box
    assert sorted(p.name for p in (vis_data / 'vis_image').iterdir()) == ['val_img_0.png']
