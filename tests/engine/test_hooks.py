"""Hooks on their own: order, rules, averaging, refusals."""
from __future__ import annotations

import math
import os
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from posekit.engine.checkpoint import read_checkpoint, save_checkpoint
from posekit.engine.hooks import (BadCaseAnalysisHook, CheckpointHook,
                                  DistSamplerSeedHook, EMAHook, ExpMomentumEMA,
                                  ExponentialMovingAverage, Hook, IterTimerHook,
                                  LoggerHook, ParamSchedulerHook,
                                  PoseVisualizationHook)
from posekit.engine.hooks.hook import STAGES
from posekit.engine.logging import LogProcessor, MessageHub
from posekit.engine.optim import OptimWrapper
from posekit.engine.schedulers import build_param_schedulers
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
    """The base hook has every stage (with the loop's arguments) and does
    nothing in any of them; the registry holds MMPose's hook types."""
    hook, run = Hook(), SimpleNamespace()
    for stage in STAGES:
        method = getattr(hook, stage)
        if stage.endswith('_iter'):
            args = (run, 0, None, None) if stage.startswith('after') else (run, 0, None)
        elif stage.endswith('_checkpoint'):
            args = (run, {})
        elif stage.startswith('after_') and stage.endswith('_epoch') \
                and stage != 'after_train_epoch':
            args = (run, {})
        else:
            args = (run,)
        assert method(*args) is None
    assert vars(run) == {}
    assert sorted(HOOKS.keys()) == [
        'BadCaseAnalysisHook', 'CheckpointHook', 'DistSamplerSeedHook',
        'EMAHook', 'EmptyCacheHook', 'IterTimerHook', 'LoggerHook',
        'ParamSchedulerHook', 'PipelineSwitchHook', 'PoseVisualizationHook',
        'RTMOModeSwitchHook', 'SyncBuffersHook', 'SyncNormHook', 'YOLOXPoseModeSwitchHook']


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
    """Real schedulers on an SGD at lr 1: a linear warm-up by iteration
    (end 4: factor 0.25 at iteration 0 to 1 at iteration end - 1 = 3, i.e.
    +0.25 a step, MMEngine's convention) and a x0.1 step at epoch 1. Two epochs of two iterations, the hook called where the
    loop calls it: the lr trained with is 0.25, 0.5 | 0.075, 0.1."""
    wrapper = OptimWrapper(torch.optim.SGD(nn.Linear(1, 1).parameters(), lr=1.0))
    schedulers = build_param_schedulers(wrapper, [
        dict(type='LinearLR', start_factor=0.25, begin=0, end=4, by_epoch=False),
        dict(type='MultiStepLR', milestones=[1], gamma=0.1, by_epoch=True)],
        epoch_length=2, max_epochs=2)

    class NeedsMetrics:      # a user scheduler that reads validation results
        by_epoch, need_val_args = True, True
        seen: list = []

        def step(self, metrics=None):   # MMEngine's protocol: None = an epoch ended
            self.seen.append(None if metrics is None else metrics['PCK'])

    plateau = NeedsMetrics()
    runner = SimpleNamespace(param_schedulers=schedulers + [plateau])
    hook = ParamSchedulerHook()
    used = []
    for epoch in range(2):
        for i in range(2):
            used.append(wrapper.optimizer.param_groups[0]['lr'])
            hook.after_train_iter(runner, i)
        hook.after_train_epoch(runner)
        hook.after_val_epoch(runner, dict(PCK=0.5 + epoch))
    assert used == pytest.approx([0.25, 0.5, 0.075, 0.1], rel=1e-12)
    assert plateau.seen == [None, 0.5, None, 1.5]
    hook.after_val_epoch(runner, {})          # no metrics: nothing steps
    assert plateau.seen == [None, 0.5, None, 1.5]


class _Run:
    """The run state a hook is given (hook.py lists it), for hooks called
    outside a Runner: the real MessageHub and LogProcessor, checkpoints
    written with posekit's atomic writer."""

    def __init__(self, work_dir, model, max_epochs=3, max_iters=6):
        import logging
        self.work_dir = self.log_dir = str(work_dir)
        self.model, self.epoch, self.iter = model, 0, 0
        self.max_epochs, self.max_iters = max_epochs, max_iters
        self.message_hub = MessageHub()
        self.log_processor = LogProcessor(window_size=2)
        self.logger = logging.getLogger('posekit.test_hooks')
        self.experiment_name = 'exp'
        self.train_dataloader = [0, 1]        # two batches an epoch
        self.saved = []

    def save_checkpoint(self, path, save_optimizer=True,
                        save_param_scheduler=True, meta=None):
        self.saved.append(os.path.basename(path))
        save_checkpoint({'meta': dict(meta), 'state_dict': self.model.state_dict(),
                         'message_hub': self.message_hub.state_dict()}, path)


def test_checkpoint_hook_files_pointer_and_best(tmp_path):
    """interval 2 over 3 epochs: epoch_2 and (save_last) epoch_3; the best
    PCK (0.4, 0.7, 0.6 after epochs 1..3) is epoch 2's, and the earlier best
    file is deleted when a better one comes. As in the loop, the epoch
    counter has moved on (epochs done) when validation runs."""
    model = nn.Linear(1, 1)
    run = _Run(tmp_path, model)
    hook = CheckpointHook(interval=2, save_best='PCK', rule='greater')
    hook.before_train(run)
    for epoch, pck in enumerate((0.4, 0.7, 0.6)):
        run.epoch, run.iter = epoch, 2 * epoch + 1
        with torch.no_grad():
            model.weight.fill_(float(epoch))
        hook.after_train_epoch(run)
        run.epoch += 1
        hook.after_val_epoch(run, dict(PCK=pck))
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ['best_PCK_epoch_2.pth', 'epoch_2.pth', 'epoch_3.pth',
                     'last_checkpoint']
    assert (tmp_path / 'last_checkpoint').read_text().strip() == \
        str(tmp_path / 'epoch_3.pth')
    best = read_checkpoint(str(tmp_path / 'best_PCK_epoch_2.pth'))
    assert best['state_dict']['weight'].item() == 1.0     # epoch 2's weights
    last = read_checkpoint(str(tmp_path / 'epoch_3.pth'))
    assert last['meta'] == dict(epoch=3, iter=5)
    assert last['message_hub']['runtime_info']['best_score'] == 0.7
    assert run.message_hub.get_info('best_ckpt') == \
        str(tmp_path / 'best_PCK_epoch_2.pth')


def test_checkpoint_hook_max_keep_by_iteration(tmp_path):
    run = _Run(tmp_path, nn.Linear(1, 1), max_iters=5)
    hook = CheckpointHook(interval=1, by_epoch=False, max_keep_ckpts=2)
    hook.before_train(run)
    for it in range(5):
        run.iter = it
        hook.after_train_iter(run, it)
        hook.after_train_epoch(run)          # by iteration: no epoch files
    assert run.saved == [f'iter_{i}.pth' for i in range(1, 6)]
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == [
        'iter_4.pth', 'iter_5.pth']
    assert run.message_hub.get_info('keep_ckpt_ids') == [4, 5]


def test_logger_hook_writes_the_smoothed_line_every_interval(tmp_path, caplog):
    """interval 2, window 2: after iterations 2 and 4 the line shows the
    mean of the last two losses, (1 + 3) / 2 = 2 then (5 + 7) / 2 = 6,
    and the same numbers go to the visualizer at step iter + 1."""
    import logging
    run = _Run(tmp_path, nn.Linear(1, 1), max_iters=4)
    run.log_processor = LogProcessor(window_size=2, by_epoch=False)
    scalars = []
    run.visualizer = SimpleNamespace(
        add_scalars=lambda values, step: scalars.append((step, values)))
    hook = LoggerHook(interval=2)
    with caplog.at_level(logging.INFO, logger='posekit.test_hooks'):
        for it, loss in enumerate((1., 3., 5., 7.)):
            run.iter = it
            run.message_hub.update_scalar('train/loss', loss)
            hook.after_train_iter(run, it)
    lines = [r.getMessage() for r in caplog.records if 'loss' in r.getMessage()]
    assert len(lines) == 2
    assert lines[0].startswith('Iter(train) [2/4]') and 'loss: 2.0000' in lines[0]
    assert lines[1].startswith('Iter(train) [4/4]') and 'loss: 6.0000' in lines[1]
    assert [(step, v['loss']) for step, v in scalars] == [(2, 2.0), (4, 6.0)]


def test_iter_timer_hook_records_times_and_eta(monkeypatch):
    """With a clock that advances 1 s before each batch arrives and 2 s
    more by the iteration's end: data_time 1 (from the previous end) and
    time 3 (end to end); eta = mean time x iterations left = 3 x 8."""
    from posekit.engine.hooks import runtime_hooks
    clock = iter([0., 1., 3., 4., 6.])
    monkeypatch.setattr(runtime_hooks, 'time',
                        SimpleNamespace(perf_counter=lambda: next(clock)))
    run = _Run('.', nn.Linear(1, 1), max_iters=10)
    hook = IterTimerHook()
    hook.before_train_epoch(run)                       # t = 0
    for it in range(2):
        run.iter = it
        hook.before_train_iter(run, it)                # t = 1, 4
        hook.after_train_iter(run, it)                 # t = 3, 6
    hub = run.message_hub
    assert hub.get_scalar('train/data_time').values == [1., 1.]
    assert hub.get_scalar('train/time').values == [3., 3.]
    assert hub.get_info('eta') == 3. * 8


def test_dist_sampler_seed_hook_sets_the_epoch():
    from posekit.datasets.samplers import DefaultSampler
    sampler = DefaultSampler(list(range(10)), shuffle=True, seed=0)
    run = SimpleNamespace(epoch=3, train_dataloader=SimpleNamespace(sampler=sampler))
    order_before = list(sampler)
    DistSamplerSeedHook().before_train_epoch(run)
    fresh = DefaultSampler(list(range(10)), shuffle=True, seed=0)
    fresh.set_epoch(3)
    assert list(sampler) == list(fresh)
    assert list(sampler) != order_before


def _badcase_sample(offsets, visible):
    """One instance, 3 keypoints: the prediction is the truth + ``offsets``."""
    import numpy as np
    from posekit.structures import InstanceData, PoseDataSample
    truth = np.array([[[10., 20.], [30., 40.], [50., 60.]]], np.float32)
    sample = PoseDataSample(metainfo=dict(img_path='x.jpg'))
    sample.gt_instances = InstanceData(
        keypoints=truth, keypoints_visible=np.array([visible], np.float32),
        bboxes=np.array([[0, 0, 100, 80]], np.float32))
    sample.pred_instances = InstanceData(keypoints=truth + np.array(offsets, np.float32),
                                         keypoint_scores=np.ones((1, 3), np.float32))
    return sample


def test_badcase_hook_scores_an_instance_by_loss_or_accuracy():
    # KeypointMSELoss: mean over the 6 coordinates of the squared pixel error,
    # the invisible keypoint's masked: (3^2 + 4^2) / 6
    sample = _badcase_sample([[3, 4], [0, 0], [1, 1]], [1, 1, 0])
    assert BadCaseAnalysisHook(enable=True).score(None, sample) == pytest.approx(25 / 6)
    # PCK on the box's longer side (100 px): within 5 px counts
    sample = _badcase_sample([[3, 0], [0, 6], [0, 0]], [1, 1, 1])
    hook = BadCaseAnalysisHook(enable=True, metric_type='accuracy',
                               metric=dict(type='PCKAccuracy', thr=0.05))
    hook.scorer.dataset_meta = dict(num_keypoints=3)
    assert hook.score(None, sample) == pytest.approx(2 / 3)
    assert hook.score(None, sample) == pytest.approx(2 / 3)   # nothing carried over
    hook.metric_key = 'AUC'
    with pytest.raises(KeyError, match="metric_key 'AUC' is not among the metrics \\['PCK'\\]"):
        hook.score(None, sample)


def test_badcase_hook_refuses_what_it_cannot_score():
    # its config is accepted off, as MMPose's default runtime declares it
    BadCaseAnalysisHook(enable=False, out_dir='badcase', metric_type='accuracy')
    with pytest.raises(ValueError, match="metric_type='accuracy' needs metric"):
        BadCaseAnalysisHook(enable=True, metric_type='accuracy')
    with pytest.raises(ValueError, match="metric_type must be 'loss' or 'accuracy'"):
        BadCaseAnalysisHook(metric_type='oks')
    # a head loss that does not take (output, target, weights)
    with pytest.raises(ValueError, match=r"RLELoss.forward\('pred', 'sigma'"):
        BadCaseAnalysisHook(enable=True, metric=dict(type='RLELoss'))
    sample = _badcase_sample([[0, 0]] * 3, [1, 1, 1])
    sample.gt_instances.keypoints = sample.gt_instances.keypoints[:, :2]
    with pytest.raises(ValueError, match=r'predicted keypoints \(1, 3, 2\) and ground truth '
                                         r'\(1, 2, 2\)'):
        BadCaseAnalysisHook(enable=True).score(None, sample)


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
