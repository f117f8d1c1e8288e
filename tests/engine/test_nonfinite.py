"""NaN and infinity in training: the run stops (or skips, when asked) with
one clear error, and no checkpoint holding a non-finite tensor is written."""
from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
import torch

from posekit.engine import Hook, Runner
from posekit.engine.checkpoint import save_checkpoint
from posekit.engine.nonfinite import NonFiniteError, first_nonfinite, likely_cause
from posekit.engine.optim import OptimWrapper
from posekit.errors import PosekitError
from posekit.models.utils.checkpoint import read_checkpoint

from .conftest import max_abs_diff, state_of


def _pth(work_dir) -> list[str]:
    return sorted(p.name for p in Path(work_dir).glob('*.pth'))


class _NanLoss(Hook):
    """Multiply the loss by NaN at the iterations (counted from 0) in ``at``:
    the weights stay finite, only the loss is not."""

    def __init__(self, at):
        self.at = set(at)

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        runner.model.head.loss_module.loss_weight = math.nan if runner.iter in self.at else 1.0


# ---------------------------------------------------------------- the pieces
def test_first_nonfinite_names_the_first_bad_tensor():
    tree = {'meta': {'lr': math.inf},  # numbers are not checked, tensors are
            'state_dict': {'a': torch.ones(2), 'b': torch.tensor([1., math.nan])},
            'optimizer': {'state': {0: {'step': torch.tensor(3), 'exp_avg': torch.ones(1)},
                                    1: {'exp_avg': torch.tensor([-math.inf])}}},
            'list': [torch.zeros(1), (torch.tensor([math.inf]),)]}
    assert first_nonfinite(tree) == 'state_dict.b'
    del tree['state_dict']['b']
    assert first_nonfinite(tree) == 'optimizer.state.1.exp_avg'
    del tree['optimizer']
    assert first_nonfinite(tree, 'checkpoint') == 'checkpoint.list[1][0]'
    assert first_nonfinite({'ok': torch.ones(2), 'ints': torch.arange(3)}) is None


def test_likely_cause_names_the_config_key():
    cfg = {'model': {'head': {'loss': [dict(type='A', loss_weight=1.0),
                                       dict(type='B', loss_weight=1e6)]}}}
    assert likely_cause(cfg, [1e-3]) == ('likely cause: model.head.loss[1].loss_weight = '
                                         '1000000.0 is not a usual loss weight')
    assert likely_cause({'model': {}}, [1e-3, 20.0]) == (
        'likely cause: optim_wrapper.optimizer.lr: the learning rate is 20, far above '
        'usual values (below 1)')
    assert likely_cause(None, [1e-3]).startswith('no config value stands out (lr 0.001)')


def test_the_checkpoint_writer_refuses_a_nonfinite_tensor(tmp_path):
    path = tmp_path / 'epoch_1.pth'
    save_checkpoint({'state_dict': {'w': torch.ones(2)}}, str(path))
    bad = {'state_dict': {'w': torch.ones(2)},
           'optimizer': {'state': {0: {'exp_avg_sq': torch.tensor([1., math.inf])}}}}
    with pytest.raises(NonFiniteError) as error:
        save_checkpoint(bad, str(path))
    assert str(error.value) == (
        f'refusing to write the checkpoint {path}: optimizer.state.0.exp_avg_sq holds a '
        'NaN or an infinity (the previous checkpoints are left as they are)')
    assert isinstance(error.value, PosekitError)  # printed as one line by the CLI
    assert os.listdir(tmp_path) == ['epoch_1.pth']  # no temporary file left
    assert torch.equal(read_checkpoint(str(path))['state_dict']['w'], torch.ones(2))


def test_skip_update_keeps_the_accumulation_window():
    """With accumulative_counts=2, a skipped call still completes the
    window: the step uses the other call's gradient (divided by 2)."""
    param = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    wrapper = OptimWrapper(torch.optim.SGD([param], lr=0.5), accumulative_counts=2)
    wrapper.update_params((param * torch.tensor([4., -2.])).sum())  # grad (4, -2) / 2
    wrapper.skip_update()
    assert wrapper.inner_count == 2
    assert param.detach().tolist() == [1.0 - 0.5 * 2, 2.0 + 0.5 * 1]
    assert param.grad is None
    wrapper.skip_update()  # a window of skipped calls only: no step
    wrapper.skip_update()
    assert param.detach().tolist() == [0.0, 2.5]


# ---------------------------------------------------------------- stopping
def test_an_infinite_loss_weight_stops_at_the_first_iteration(tiny_cfg):
    cfg = tiny_cfg()
    cfg.model.head.loss.loss_weight = math.inf
    with pytest.raises(NonFiniteError) as error:
        Runner.from_cfg(cfg).train()
    assert str(error.value) == (
        'training stopped at iteration 1 (epoch 1, batch 1/5): loss_kpt is inf '
        '(train_cfg.skip_nonfinite=N would skip up to N such steps in a row); likely '
        'cause: model.head.loss.loss_weight = inf is not a usual loss weight. Nothing of '
        'this iteration was saved; no checkpoint was written')
    assert _pth(cfg.work_dir) == []


def test_a_huge_lr_stops_when_the_step_makes_the_weights_nonfinite(tiny_cfg):
    # SGD at lr 1e37 with weight decay 1e3: the BatchNorm weights (1.0) get a
    # gradient >= 1e3, so the first step overflows float32 (3.4e38)
    cfg = tiny_cfg(param_scheduler=None)
    cfg.optim_wrapper.optimizer = dict(type='SGD', lr=1e37, weight_decay=1e3)
    with pytest.raises(NonFiniteError) as error:
        Runner.from_cfg(cfg).train()
    message = str(error.value)
    assert message.startswith('training stopped at iteration 1 (epoch 1, batch 1/5): the '
                              'optimizer step made backbone.')
    assert ('non-finite (the loss was finite: ' in message and 'likely cause: '
            'optim_wrapper.optimizer.lr: the learning rate is 1e+37, far above usual '
            'values (below 1)' in message), message
    assert _pth(cfg.work_dir) == []


def test_a_nonfinite_optimizer_state_stops_training(tiny_cfg):
    # Adam with a loss weight of 1e36: the squared gradients overflow in
    # exp_avg_sq, while the weights (normalised steps) stay finite
    cfg = tiny_cfg()
    cfg.model.head.loss.loss_weight = 1e36
    with pytest.raises(NonFiniteError) as error:
        Runner.from_cfg(cfg).train()
    message = str(error.value)
    assert message.startswith('training stopped at iteration 1 (epoch 1, batch 1/5): the '
                              'optimizer step made exp_avg_sq of '), message
    assert ('(optimizer state) non-finite' in message and 'likely cause: '
            'model.head.loss.loss_weight = 1e+36 is not a usual loss weight' in message)


def test_stop_then_resume_from_the_last_good_checkpoint(tiny_cfg):
    """A NaN loss at the last iteration of epoch 2: nothing of epoch 2 is
    saved; resuming (the NaN gone) ends with the uninterrupted run's weights."""
    reference = state_of(Runner.from_cfg(tiny_cfg('a')).train())
    cfg = tiny_cfg('b')
    cfg.custom_hooks = list(cfg.custom_hooks) + [_NanLoss(at=[9])]
    with pytest.raises(NonFiniteError) as error:
        Runner.from_cfg(cfg).train()
    work = Path(cfg.work_dir)
    assert str(error.value).startswith('training stopped at iteration 10 (epoch 2, batch '
                                       '5/5): loss_kpt is nan (')
    assert str(error.value).endswith(f'the last checkpoint is {work / "epoch_1.pth"} '
                                     '(--resume continues from it)')
    assert [p for p in _pth(work) if not p.startswith('best_')] == ['epoch_1.pth']
    assert (work / 'last_checkpoint').read_text() == str(work / 'epoch_1.pth')
    resumed = state_of(Runner.from_cfg(tiny_cfg('b', resume=True)).train())
    assert max_abs_diff(reference, resumed) == 0


def test_the_error_is_one_line_from_posekit_train(tiny_cfg, tmp_path, capsys):
    from posekit.cli import main
    config = tmp_path / 'diverges.py'
    tiny_cfg().dump(config)
    code = main(['train', str(config), '--cfg-options', '+model.head.loss.loss_weight=1e400'])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith('posekit train: error: training stopped at iteration 1 (epoch 1, '
                          'batch 1/5): loss_kpt is inf (') and err.count('\n') == 1, err
    assert 'likely cause: model.head.loss.loss_weight = inf' in err


# ---------------------------------------------------------------- skipping
def test_skip_nonfinite_skips_counts_and_logs(tiny_cfg, run_log):
    cfg = tiny_cfg(**{'+train_cfg.skip_nonfinite': 2})
    cfg.custom_hooks = list(cfg.custom_hooks) + [_NanLoss(at=[1, 2, 6])]
    runner = Runner.from_cfg(cfg)
    model = runner.train()
    warnings = [r.getMessage() for r in run_log.records if 'step skipped' in r.getMessage()]
    assert warnings == [
        'iteration 2 (epoch 1, batch 2/5): loss_kpt is nan; step skipped '
        '(train_cfg.skip_nonfinite=2: 1 in a row, 1 in all)',
        'iteration 3 (epoch 1, batch 3/5): loss_kpt is nan; step skipped '
        '(train_cfg.skip_nonfinite=2: 2 in a row, 2 in all)',
        'iteration 7 (epoch 2, batch 2/5): loss_kpt is nan; step skipped '
        '(train_cfg.skip_nonfinite=2: 1 in a row, 3 in all)']
    # 10 iterations, 3 skipped: 7 Adam steps, 7 logged losses, finite weights
    assert runner.iter == 10
    state = runner.optim_wrapper.state_dict()['state']
    assert {int(s['step']) for s in state.values()} == {7}
    assert len(runner.message_hub.get_scalar('train/loss').values) == 7
    assert all(math.isfinite(v) for v in runner.message_hub.get_scalar('train/loss').values)
    assert first_nonfinite(state_of(model)) is None
    saved = read_checkpoint(os.path.join(cfg.work_dir, 'epoch_2.pth'))
    assert saved['message_hub']['runtime_info']['nonfinite_skipped'] == 3


def test_too_many_nonfinite_losses_in_a_row_still_stop(tiny_cfg):
    cfg = tiny_cfg(**{'+train_cfg.skip_nonfinite': 1})
    cfg.custom_hooks = list(cfg.custom_hooks) + [_NanLoss(at=[1, 2])]
    with pytest.raises(NonFiniteError) as error:
        Runner.from_cfg(cfg).train()
    message = str(error.value)
    # the lr of iteration 3 in the LinearLR warm-up: 1e-3 * (0.1 + 0.9 * 2 / 3)
    assert message.startswith('training stopped at iteration 3 (epoch 1, batch 3/5): loss_kpt '
                              'is nan, 2 steps in a row; no config value stands out (lr '
                              '0.0007); '), message


def test_skip_nonfinite_is_a_count(tiny_cfg):
    with pytest.raises(ValueError, match='train_cfg.skip_nonfinite is how many steps with '
                                         'a NaN or infinite loss to skip in a row'):
        Runner.from_cfg(tiny_cfg(**{'+train_cfg.skip_nonfinite': -1})).train()
    with pytest.raises(TypeError, match='train_cfg.skip_nonfinite: True is a bool, expected int'):
        Runner.from_cfg(tiny_cfg(**{'+train_cfg.skip_nonfinite': True})).train()


# ---------------------------------------------------------------- best checkpoint
def test_a_nan_metric_is_logged_and_never_the_best(tiny_cfg, run_log):
    class NanAtEpochOne(Hook):  # runs before the logger and checkpoint hooks
        def after_val_epoch(self, runner, metrics=None):
            if runner.epoch == 1:
                metrics['coco/AP'] = math.nan

    cfg = tiny_cfg()
    cfg.custom_hooks = list(cfg.custom_hooks) + [NanAtEpochOne()]
    Runner.from_cfg(cfg).train()
    messages = [r.getMessage() for r in run_log.records]
    assert 'CheckpointHook: coco/AP is NaN at epoch 1: not a candidate for the best ' \
           'checkpoint' in messages
    assert any(m.startswith('Epoch(val) [1]') and 'coco/AP: nan' in m for m in messages)
    assert [p for p in _pth(cfg.work_dir) if p.startswith('best_')] == \
        ['best_coco_AP_epoch_2.pth']


# ---------------------------------------------------------------- AMP
@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_amp_overflow_steps_are_skipped_by_the_loss_scaler_not_stopped(tiny_cfg):
    """float16 with a loss scale of 2**40: every scaled gradient overflows,
    the scaler skips the step and halves the scale; training goes on."""
    cfg = tiny_cfg(**{'train_cfg.max_epochs': 1, 'val_dataloader': None, 'val_cfg': None,
                      'val_evaluator': None})
    cfg.optim_wrapper = dict(type='AmpOptimWrapper', optimizer=dict(type='Adam', lr=1e-3),
                             loss_scale=dict(init_scale=2.0 ** 40))
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 5
    assert runner.optim_wrapper.loss_scaler.get_scale() < 2.0 ** 40
    assert first_nonfinite(read_checkpoint(os.path.join(cfg.work_dir, 'epoch_1.pth'))) is None
