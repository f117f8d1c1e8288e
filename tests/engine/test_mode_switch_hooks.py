"""RTMOModeSwitchHook and YOLOXPoseModeSwitchHook in tiny runs, and alone.

The runs use the tiny top-down config (crops of 96x64, batches of 8)
with validation off. The hooks' model is a
TopdownPoseEstimator: what they switch on RTMO's head (loss weights, a
flag) is stood in for by its ``loss_module.loss_weight`` and a
``use_aux_loss`` attribute set on its head. A "new pipeline" crops 128x96
instead (and its codec gives 32x24 heatmaps, which the model also
predicts), so a batch shows which pipeline made it, also when a
persistent worker process made it.
"""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from torch import nn

from posekit.engine import Hook, Runner
from posekit.engine.hooks import RTMOModeSwitchHook, YOLOXPoseModeSwitchHook
from posekit.engine.hooks.mode_switch_hooks import set_nested_attr

OLD_SHAPE, NEW_SHAPE = (3, 96, 64), (3, 128, 96)
BIG = dict(type='MSRAHeatmap', input_size=(96, 128), heatmap_size=(24, 32), sigma=1)
NEW_PIPELINE = [dict(type='LoadImage'), dict(type='GetBBoxCenterScale'),
                dict(type='TopdownAffine', input_size=(96, 128)),
                dict(type='GenerateTarget', encoder=BIG), dict(type='PackPoseInputs')]


class Watch(Hook):
    """Records, at every iteration, what the mode switch hooks change."""

    priority = 'LOWEST'  # after the switch hooks in before_train_epoch

    def __init__(self):
        self.seen = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        head = runner.model.head
        self.seen.append((runner.epoch, head.loss_module.loss_weight, head.use_aux_loss,
                          tuple(data_batch['inputs'][0].shape)))


def _run(tiny_cfg, work: str, hooks: list, watch: Watch, **options) -> Runner:
    cfg = tiny_cfg(work, **{
        'train_cfg.max_epochs': 3, 'val_dataloader': None, 'val_cfg': None,
        'val_evaluator': None, 'test_dataloader': None, 'test_cfg': None,
        'test_evaluator': None,
        'default_hooks.checkpoint': dict(type='CheckpointHook', interval=1),
        **options})
    cfg.custom_hooks = hooks
    runner = Runner.from_cfg(cfg)
    runner.model.head.use_aux_loss = False
    runner.register_hook(watch)
    runner.train()
    return runner


def _hooks(**yolox) -> list:
    return [dict(type='RTMOModeSwitchHook', priority=48,
                 epoch_attributes={1: {'loss_module.loss_weight': 5.0}}),
            dict(type='YOLOXPoseModeSwitchHook', priority=48, num_last_epochs=1, **yolox)]


def test_switch_at_the_configured_epochs_and_resume_keeps_the_mode(tiny_cfg):
    """max_epochs=3, num_last_epochs=1: YOLOX-Pose switches before epoch
    3 - 1 - 1 = 1 (MMPose's ``epoch + 1 == max_epochs - num_last_epochs``);
    the RTMO hook sets the weight before epoch 1. A persistent worker
    serves both epochs after the switch with the new crops."""
    watch = Watch()
    runner = _run(tiny_cfg, 'a', _hooks(new_train_pipeline=NEW_PIPELINE), watch,
                  **{'train_dataloader.num_workers': 1,
                     '+train_dataloader.persistent_workers': True,
                     '+train_dataloader.num_batch_per_epoch': 2})
    assert watch.seen == [(0, 1.0, False, OLD_SHAPE)] * 2 + [
        (1, 5.0, True, NEW_SHAPE)] * 2 + [(2, 5.0, True, NEW_SHAPE)] * 2
    assert runner.iter == runner.max_iters == 6
    # resuming from the end of epoch 2 (after both switches; the checkpoint
    # holds neither attribute): the first epoch applies what it missed
    watch = Watch()
    _run(tiny_cfg, 'a', _hooks(new_train_pipeline=NEW_PIPELINE), watch, resume=True,
         load_from=str(Path(runner.work_dir) / 'epoch_2.pth'),
         **{'+train_dataloader.num_batch_per_epoch': 2})
    assert watch.seen == [(2, 5.0, True, NEW_SHAPE)] * 2


def test_new_train_dataset_rebuilds_the_loader_and_counts_its_length(tiny_cfg, synthetic_root):
    """body7 configs end on COCO alone: here the instances of the 16
    training images give way to those of the 4 validation images, with the
    new pipeline (batches of 8); each
    later epoch runs len(new loader) iterations (not fewer: a resume-skip
    computed from epoch * len(loader) would skip some), and max_iters
    follows."""
    new_dataset = dict(type='CocoDataset', data_root=synthetic_root, data_mode='topdown',
                       ann_file='annotations/val.json', data_prefix=dict(img='images/val/'),
                       pipeline=[dict(type='LoadImage')])  # replaced by the new pipeline
    watch = Watch()
    lengths = []

    class Length(Hook):
        priority = 'LOWEST'

        def before_train_epoch(self, runner):
            lengths.append((len(runner.train_dataloader), runner.max_iters))

    hooks = _hooks(new_train_dataset=new_dataset, new_train_pipeline=NEW_PIPELINE)
    hooks.append(Length())
    runner = _run(tiny_cfg, 'b', hooks, watch)
    (n_old, _), (n_new, _) = lengths[:2]
    assert 0 < n_new < n_old
    assert lengths == [(n_old, 3 * n_old)] + [(n_new, n_old + 2 * n_new)] * 2
    assert [s[0] for s in watch.seen] == [0] * n_old + [1] * n_new + [2] * n_new
    assert {s[1:] for s in watch.seen[n_old:]} == {(5.0, True, NEW_SHAPE)}
    assert runner.iter == runner.max_iters == n_old + 2 * n_new
    assert len(runner.train_dataloader.dataset) <= 8 * n_new


def _fake_runner(model, epoch=0, max_epochs=10):
    logger = SimpleNamespace(info=lambda *args: None)
    return SimpleNamespace(model=model, epoch=epoch, max_epochs=max_epochs, logger=logger)


class _Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.loss_oks = nn.Module()
        self.loss_oks.loss_weight = 30.0
        self.proxy_target_cc = False


class _Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = _Head()


class _Compiled(nn.Module):
    """What torch.compile returns: the model is its ``_orig_mod``."""

    def __init__(self, model):
        super().__init__()
        self._orig_mod = model


def test_rtmo_hook_alone_unwraps_the_model_and_refuses_unknown_attributes():
    model = _Model()
    hook = RTMOModeSwitchHook({280: {'proxy_target_cc': True, 'loss_oks.loss_weight': 10.0}})
    compiled = _Compiled(model)  # the hook reads through the wrapper
    hook.before_train_epoch(_fake_runner(compiled, epoch=279))
    assert (model.head.proxy_target_cc, model.head.loss_oks.loss_weight) == (False, 30.0)
    hook.before_train_epoch(_fake_runner(compiled, epoch=280))
    assert (model.head.proxy_target_cc, model.head.loss_oks.loss_weight) == (True, 10.0)
    with pytest.raises(AttributeError, match="no attribute 'loss_weigth'"):
        set_nested_attr(model.head, 'loss_oks.loss_weigth', 1.0)
    with pytest.raises(AttributeError, match="'loss_okz'"):
        RTMOModeSwitchHook({0: {'loss_okz.loss_weight': 1.0}}).before_train_epoch(
            _fake_runner(model))
    with pytest.raises(ValueError, match='epochs'):
        RTMOModeSwitchHook({'280': {'proxy_target_cc': True}})


def test_yoloxpose_hook_refusals():
    model = _Model()  # its head has no use_aux_loss
    hook = YOLOXPoseModeSwitchHook(num_last_epochs=2)
    with pytest.raises(AttributeError, match='use_aux_loss'):
        hook.before_train_epoch(_fake_runner(model, epoch=7, max_epochs=10))
    model.head.use_aux_loss = False
    hook.before_train_epoch(_fake_runner(model, epoch=6, max_epochs=10))
    assert model.head.use_aux_loss is False
    hook.before_train_epoch(_fake_runner(model, epoch=7, max_epochs=10))
    assert model.head.use_aux_loss is True
    with pytest.raises(ValueError, match='num_last_epochs=10'):
        YOLOXPoseModeSwitchHook(num_last_epochs=10).before_train(_fake_runner(model))
    with pytest.raises(TypeError, match='new_train_dataset'):
        YOLOXPoseModeSwitchHook(new_train_dataset=[dict(type='CocoDataset')])
