"""End-to-end runs of the Runner on the tiny synthetic config."""
from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
import torch

from posekit.engine import Hook, Runner
from posekit.models.utils.checkpoint import CheckpointError, read_checkpoint

from .conftest import (MMPOSE_CKPT, config_with_plugin_hook, max_abs_diff, state_of,
                       train_in_subprocess)


def _files(work_dir) -> set[str]:
    return {p.name for p in Path(work_dir).iterdir() if p.is_file()}


class _EpochProbe(torch.nn.Module):
    """A module whose loss would depend on the epoch (as DSNTHead's lambda_t)."""

    def __init__(self):
        super().__init__()
        self.epochs = []

    def set_epoch(self, epoch, max_epochs):
        self.epochs.append((epoch, max_epochs))


def test_two_epochs_write_checkpoints_logs_and_config(tiny_cfg):
    cfg = tiny_cfg()
    runner = Runner.from_cfg(cfg)
    runner.model.head.probe = probe = _EpochProbe()
    model = runner.train()
    assert probe.epochs == [(0, 2), (1, 2)]  # told before each epoch's first batch
    work = Path(cfg.work_dir)
    files = _files(work)
    assert {'epoch_1.pth', 'epoch_2.pth', 'last_checkpoint',
            'td-hm_tiny_synthetic.py'} <= files
    best = [f for f in files if f.startswith('best_coco_AP_epoch_')]
    assert len(best) == 1, files
    assert (work / 'last_checkpoint').read_text() == str(work / 'epoch_2.pth')
    # the text log and the JSON-lines scalars of the run
    log_dir = work / runner.timestamp
    log_text = (log_dir / f'{runner.timestamp}.log').read_text()
    assert 'Epoch(train) [1][2/' in log_text and 'Epoch(val) [2]' in log_text
    records = [json.loads(line) for line in
               (log_dir / 'vis_data' / 'scalars.json').read_text().splitlines()]
    train = [r for r in records if 'loss' in r]
    val = [r for r in records if 'coco/AP' in r]
    assert train and {'lr', 'loss', 'loss_kpt', 'time', 'data_time', 'epoch',
                      'iter', 'step'} <= train[0].keys()
    assert [r['step'] for r in val] == [1, 2] and 'PCK' in val[0]
    # a checkpoint is plain data: torch.load(weights_only=True) reads it
    ckpt = torch.load(work / 'epoch_2.pth', weights_only=True)
    assert {'meta', 'state_dict', 'optimizer', 'param_schedulers',
            'message_hub'} <= ckpt.keys()
    assert ckpt['meta']['epoch'] == 2 and ckpt['meta']['seed'] == 3
    assert ckpt['meta']['iter'] == runner.iter == 2 * len(runner.train_dataloader)
    assert ckpt['meta']['dataset_meta']['num_keypoints'] == 17
    assert max_abs_diff(ckpt['state_dict'], state_of(model)) == 0
    # the lr the schedulers set: x0.5 after epoch 1 (MultiStepLR), warm-up over
    assert ckpt['optimizer']['param_groups'][0]['lr'] == pytest.approx(0.5e-3)
    best_ckpt = torch.load(work / best[0], weights_only=True)
    assert 'optimizer' not in best_ckpt
    # validating again gives the numbers logged after the last epoch
    assert runner.val() == pytest.approx({k: v for k, v in val[-1].items()
                                          if k not in ('step', 'time', 'data_time')})
    # the saved config reloads to the same values
    from posekit.config import Config
    saved = Config.fromfile(work / 'td-hm_tiny_synthetic.py')
    assert saved.model.to_dict() == cfg.model.to_dict()


def test_max_keep_ckpts_and_save_best_less(tiny_cfg):
    # 'less' on PCK: the best file follows the lowest PCK; one periodic file kept
    cfg = tiny_cfg(**{'train_cfg.max_epochs': 3,
                      'default_hooks.checkpoint': dict(
                          type='CheckpointHook', interval=1, max_keep_ckpts=1,
                          save_best='PCK', rule='less')})
    runner = Runner.from_cfg(cfg)
    scores = []

    class Record(Hook):
        def after_val_epoch(self, runner, metrics=None):
            scores.append((runner.epoch, metrics['PCK']))

    runner.register_hook(Record())
    runner.train()
    files = _files(cfg.work_dir)
    assert sorted(f for f in files if f.startswith('epoch_')) == ['epoch_3.pth']
    first_best = next(e for e, s in scores if s == min(x for _, x in scores))
    assert [f for f in files if f.startswith('best_')] == [f'best_PCK_epoch_{first_best}.pth']
    info = read_checkpoint(os.path.join(cfg.work_dir, 'epoch_3.pth'))['message_hub']
    assert info['runtime_info']['best_score'] == min(s for _, s in scores)
    assert info['runtime_info']['keep_ckpt_ids'] == [3]


class _Crash(Hook):
    """Raise in the middle of epoch 2 (a stand-in for a kill)."""

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.epoch == 1 and batch_idx == 1:
            raise KeyboardInterrupt


def test_interrupted_and_resumed_run_equals_uninterrupted(tiny_cfg):
    reference = state_of(Runner.from_cfg(tiny_cfg('a')).train())
    cfg = tiny_cfg('b')
    cfg.custom_hooks = list(cfg.custom_hooks) + [_Crash()]
    with pytest.raises(KeyboardInterrupt):
        Runner.from_cfg(cfg).train()
    resumed_cfg = tiny_cfg('b', resume=True)
    runner = Runner.from_cfg(resumed_cfg)
    resumed = state_of(runner.train())
    assert max_abs_diff(reference, resumed) == 0
    # and the weights did change during the resumed part
    epoch_1 = read_checkpoint(os.path.join(resumed_cfg.work_dir, 'epoch_1.pth'))
    assert max_abs_diff(epoch_1['state_dict'], resumed) > 0


_KILLER = '''
import os, signal
from posekit.engine import Hook
from posekit.registry import HOOKS

@HOOKS.register_module()
class KillMidEpochTwo(Hook):
    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.epoch == 1 and batch_idx == 1:
            os.kill(os.getpid(), signal.SIGKILL)
'''


def test_sigkill_mid_epoch_then_resume_from_the_command_line(tiny_cfg, tmp_path):
    """A real kill (SIGKILL, no cleanup), then ``posekit train --resume``."""
    from posekit.cli import main
    reference = state_of(Runner.from_cfg(tiny_cfg('a')).train())
    cfg = tiny_cfg('b')
    config = config_with_plugin_hook(cfg, tmp_path, 'killer_hook', _KILLER, 'KillMidEpochTwo')
    proc = train_in_subprocess(config, tmp_path)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert (Path(cfg.work_dir) / 'epoch_1.pth').is_file()
    assert not (Path(cfg.work_dir) / 'epoch_2.pth').exists()
    resume_cfg = tiny_cfg('b')
    config = tmp_path / 'resume.py'
    resume_cfg.dump(config)
    assert main(['train', str(config), '--resume']) == 0
    resumed = torch.load(Path(cfg.work_dir) / 'epoch_2.pth', weights_only=True)
    assert max_abs_diff(reference, resumed['state_dict']) == 0


def test_iteration_based_training_resumes_mid_stream(tiny_cfg):
    options = {'train_cfg': dict(_delete_=True, by_epoch=False, max_iters=6, val_interval=3),
               'train_dataloader.sampler': dict(type='InfiniteSampler', shuffle=True),
               'param_scheduler': [dict(type='LinearLR', begin=0, end=4, start_factor=0.1,
                                        by_epoch=False)],
               'default_hooks.checkpoint': dict(type='CheckpointHook', by_epoch=False,
                                                interval=2),
               'log_processor.by_epoch': False}
    reference = state_of(Runner.from_cfg(tiny_cfg('a', **options)).train())

    class Stop(Hook):
        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            if runner.iter == 4:  # the 5th iteration, after iter_4.pth
                raise KeyboardInterrupt

    cfg = tiny_cfg('b', **options)
    cfg.custom_hooks = list(cfg.custom_hooks) + [Stop()]
    with pytest.raises(KeyboardInterrupt):
        Runner.from_cfg(cfg).train()
    assert _files(cfg.work_dir) >= {'iter_2.pth', 'iter_4.pth'}
    runner = Runner.from_cfg(tiny_cfg('b', resume=True, **options))
    resumed = state_of(runner.train())
    assert runner.iter == 6
    assert max_abs_diff(reference, resumed) == 0


def test_mid_epoch_checkpoint_resumes_inside_the_epoch(tiny_cfg):
    """CheckpointHook(by_epoch=False) under an epoch loop: the resumed run
    skips the batches already trained and ends with the same weights."""
    options = {'default_hooks.checkpoint': dict(type='CheckpointHook', by_epoch=False,
                                                interval=1)}
    reference = state_of(Runner.from_cfg(tiny_cfg('a', **options)).train())
    cfg = tiny_cfg('b', **options)
    cfg.custom_hooks = list(cfg.custom_hooks) + [_Crash()]
    with pytest.raises(KeyboardInterrupt):
        Runner.from_cfg(cfg).train()
    runner = Runner.from_cfg(tiny_cfg('b', resume=True, **options))
    resumed = state_of(runner.train())
    assert max_abs_diff(reference, resumed) == 0


def test_amp_bfloat16_on_cpu(tiny_cfg):
    cfg = tiny_cfg(**{'train_cfg.max_epochs': 1,
                      'optim_wrapper': dict(type='AmpOptimWrapper', loss_scale='dynamic')})
    runner = Runner.from_cfg(cfg)
    seen = []

    class Dtype(Hook):
        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            seen.append(outputs['loss'])

    runner.register_hook(Dtype())
    runner.train()
    assert runner.optim_wrapper.cast_dtype == torch.bfloat16
    assert seen and all(torch.isfinite(torch.tensor(seen)))
    ckpt = torch.load(Path(cfg.work_dir) / 'epoch_1.pth', weights_only=True)
    assert all(v.dtype != torch.bfloat16 for v in ckpt['state_dict'].values())


def test_corrupt_checkpoint_is_a_clear_error_and_the_previous_one_is_intact(tiny_cfg):
    cfg = tiny_cfg()
    Runner.from_cfg(cfg).train()
    work = Path(cfg.work_dir)
    size = (work / 'epoch_2.pth').stat().st_size
    with open(work / 'epoch_2.pth', 'r+b') as f:
        f.truncate(size // 2)  # a half-written file
    with pytest.raises(CheckpointError, match='epoch_2.pth.*truncated or corrupt'):
        Runner.from_cfg(tiny_cfg(resume=True)).train()
    previous = read_checkpoint(str(work / 'epoch_1.pth'))
    assert previous['meta']['epoch'] == 1
    runner = Runner.from_cfg(tiny_cfg(resume=True, load_from=str(work / 'epoch_1.pth')))
    runner.train()
    assert runner.epoch == 2


def test_a_failed_write_leaves_the_previous_checkpoint_and_pointer(tiny_cfg, monkeypatch):
    import posekit.engine.checkpoint as io
    cfg = tiny_cfg(**{'train_cfg.max_epochs': 2})
    real_save = torch.save

    class FailSecond(Hook):
        def before_save_checkpoint(self, runner, checkpoint):
            if runner.epoch == 1:  # while writing epoch_2.pth: the disk "fills up"
                def broken(obj, f, *a, **k):
                    f.write(b'partial')
                    raise OSError('No space left on device')
                monkeypatch.setattr(io.torch, 'save', broken)

    cfg.custom_hooks = list(cfg.custom_hooks) + [FailSecond()]
    with pytest.raises(OSError, match='No space left'):
        Runner.from_cfg(cfg).train()
    monkeypatch.setattr(io.torch, 'save', real_save)
    work = Path(cfg.work_dir)
    assert not (work / 'epoch_2.pth').exists()
    assert not [p for p in work.iterdir() if '.tmp' in p.name]
    assert (work / 'last_checkpoint').read_text() == str(work / 'epoch_1.pth')
    assert read_checkpoint(str(work / 'epoch_1.pth'))['meta']['epoch'] == 1


def test_load_from_an_mmpose_training_checkpoint(tiny_cfg):
    """MMPose 1.3.2 wrote this file (ResNet-18 at width 4 on the COCO fixture);
    it pickles NumPy arrays and MMEngine's HistoryBuffer, and still loads with
    weights_only=True and strict key matching."""
    ckpt = read_checkpoint(str(MMPOSE_CKPT))
    assert ckpt['meta']['mmengine_version'] == '0.10.7'
    cfg = tiny_cfg(load_from=str(MMPOSE_CKPT))
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    weights = state_of(runner.model)
    assert max_abs_diff({k: ckpt['state_dict'][k] for k in weights}, weights) == 0
    assert set(weights) == set(ckpt['state_dict'])
    assert 'coco/AP' in metrics and 'PCK' in metrics


def test_ema_and_pipeline_switch_hooks(tiny_cfg):
    switched = [dict(type='LoadImage'), dict(type='GetBBoxCenterScale'),
                dict(type='TopdownAffine', input_size=(64, 96)),
                dict(type='GenerateTarget', encoder=dict(
                    type='MSRAHeatmap', input_size=(64, 96), heatmap_size=(16, 24), sigma=1)),
                dict(type='PackPoseInputs')]
    cfg = tiny_cfg(custom_hooks=[
        dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.0002,
             update_buffers=True, priority=49),
        dict(type='mmdet.PipelineSwitchHook', switch_epoch=1, switch_pipeline=switched)])
    runner = Runner.from_cfg(cfg)
    pipelines = []

    class Watch(Hook):
        def before_train_iter(self, runner, batch_idx, data_batch=None):
            pipelines.append(len(runner.train_dataloader.dataset.pipeline))

    runner.register_hook(Watch())
    model = runner.train()
    assert pipelines[0] == 8 and pipelines[-1] == 5
    ckpt = torch.load(Path(cfg.work_dir) / 'epoch_2.pth', weights_only=True)
    ema = ckpt['ema_state_dict']
    raw = {k[7:]: v for k, v in ema.items() if k.startswith('module.')}
    # state_dict holds the average; the training weights are under ema_state_dict
    assert max_abs_diff(raw, state_of(model)) == 0
    assert max_abs_diff(raw, ckpt['state_dict']) > 0
    assert int(ema['steps']) == runner.iter


def test_channels_last_training(tiny_cfg):
    """``channels_last=True`` trains on channels-last weights; the checkpoint
    has the same keys and loads into a plain model, which then computes what
    the channels-last model computes (float32 rounding apart)."""
    formats = {}

    class Record(Hook):
        def __init__(self, name):
            self.name = name

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            convs = [m.weight for m in runner.model.modules()
                     if isinstance(m, torch.nn.Conv2d) and m.weight.shape[-1] > 1]
            formats[self.name] = {w.is_contiguous(memory_format=torch.channels_last)
                                  and not w.is_contiguous() for w in convs}

    models = {}
    for name, flag in (('plain', False), ('cl', True)):
        runner = Runner.from_cfg(tiny_cfg(name, **{'+channels_last': flag,
                                                   'train_cfg.max_epochs': 1}))
        runner.register_hook(Record(name))
        models[name] = runner.train().eval()
    assert formats == {'plain': {False}, 'cl': {True}}
    trained = models['cl']
    plain = models['plain']
    plain.load_state_dict(trained.state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 48, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a, b = trained(x, mode='tensor'), plain(x, mode='tensor')
    assert (a - b).abs().max() <= 1e-4 * b.abs().max()
    with pytest.raises(TypeError, match='channels_last must be True or False'):
        Runner.from_cfg(tiny_cfg('bad', **{'+channels_last': 'yes'}))


def test_reduce_on_plateau_in_a_run_and_after_a_resume(tiny_cfg):
    """ReduceOnPlateauLR on the validation's coco/AP: with an absolute
    threshold of 10 nothing beats the first AP, so every later judged
    validation halves the lr (patience 0). Its window ends, as MMEngine
    builds it, at max_epochs (4): the validations after epochs 1-3 are
    judged, the last one not. A run stopped in epoch 2 and resumed ends
    with the same lr and scheduler state."""
    plateau = {'param_scheduler': [dict(type='ReduceOnPlateauLR', monitor='coco/AP',
                                        rule='greater', threshold=10, threshold_rule='abs',
                                        patience=0, factor=0.5)],
               'train_cfg.max_epochs': 4}
    runner = Runner.from_cfg(tiny_cfg('a', **plateau))
    runner.train()
    lr = runner.optim_wrapper.optimizer.param_groups[0]['lr']
    assert lr == pytest.approx(1e-3 * 0.25)
    state = runner.param_schedulers[0].state_dict()
    assert (state['end'], state['last_step'], state['_global_step']) == (4, 2, 4)
    cfg = tiny_cfg('b', **plateau)
    cfg.custom_hooks = list(cfg.custom_hooks) + [_Crash()]   # in epoch 2
    with pytest.raises(KeyboardInterrupt):
        Runner.from_cfg(cfg).train()
    resumed = Runner.from_cfg(tiny_cfg('b', resume=True, **plateau))
    resumed.train()
    assert resumed.optim_wrapper.optimizer.param_groups[0]['lr'] == lr
    assert resumed.param_schedulers[0].state_dict() == state


def test_activation_checkpointing_trains_the_same(tiny_cfg):
    """activation_checkpointing recomputes the named submodules in the
    backward pass: the same weights and BatchNorm statistics as without it
    (MMEngine's updates the statistics a second time there)."""
    reference = state_of(Runner.from_cfg(tiny_cfg('a')).train())
    modules = {'+activation_checkpointing': ['backbone.layer1', 'head']}
    runner = Runner.from_cfg(tiny_cfg('b', **modules))
    assert max_abs_diff(reference, state_of(runner.train())) == 0
    wrong = {'+activation_checkpointing': 'backbone.layer9'}
    with pytest.raises(ValueError, match="no submodule 'backbone.layer9' "
                                         "\\(ResNet has no 'layer9'\\)"):
        Runner.from_cfg(tiny_cfg('c', **wrong)).train()


def test_efficient_conv_bn_eval_in_a_run(tiny_cfg, run_log):
    """efficient_conv_bn_eval on a backbone with frozen BatchNorms
    (norm_eval): the ResNet's 20 conv + BN pairs run folded; the training
    follows the plain one up to float32 rounding, which Adam can turn into
    at most 2 lr per step (a near-zero gradient changing sign): 2 steps of
    lr <= 1e-3 here."""
    frozen = {'+model.backbone.norm_eval': True, 'train_cfg.max_epochs': 1}
    reference = state_of(Runner.from_cfg(tiny_cfg('a', **frozen)).train())
    runner = Runner.from_cfg(tiny_cfg('b', **frozen, **{'+efficient_conv_bn_eval': 'backbone'}))
    trained = state_of(runner.train())
    assert 'efficient_conv_bn_eval: 20 conv + BatchNorm pairs in backbone' in run_log.text
    assert max_abs_diff(reference, trained) <= 2 * 2 * 1e-3


def test_checkpoint_hook_publishes_the_last_and_best_checkpoints(tiny_cfg):
    """published_keys: after training, copies of the last and the best
    checkpoints with only those keys, named ``<name>-<sha256[:8]>.pth``."""
    import hashlib
    import re
    cfg = tiny_cfg(**{'+default_hooks.checkpoint.published_keys': ['meta', 'state_dict']})
    Runner.from_cfg(cfg).train()
    published = sorted(p for p in Path(cfg.work_dir).glob('*.pth')
                       if re.search(r'-[0-9a-f]{8}\.pth$', p.name))
    assert len(published) == 2   # epoch_2 (last) and the best coco/AP one
    for path in published:
        assert hashlib.sha256(path.read_bytes()).hexdigest()[:8] == path.stem[-8:]
        assert set(read_checkpoint(str(path))) == {'meta', 'state_dict'}
