"""The loops: epoch- or iteration-based training, validation, testing.

``train_cfg = dict(by_epoch=True, max_epochs=210, val_interval=10)`` builds
:class:`EpochBasedTrainLoop`; ``by_epoch=False, max_iters=...`` builds
:class:`IterBasedTrainLoop`; ``type=...`` names a loop in ``LOOPS``.

A training iteration is :func:`train_step`: preprocess the batch, forward in
``'loss'`` mode, sum the losses, ``optim_wrapper.update_params(loss)``.
The loops call the hooks at the points listed in ``hooks/hook.py``; they
also record the learning rate (before the step) and the losses (after it)
in the runner's message hub, where the logger hook reads them.

A NaN or infinite loss, or weights that a step made non-finite, stop
training with a :class:`~posekit.engine.nonfinite.NonFiniteError` before
anything of that iteration is saved; ``train_cfg.skip_nonfinite`` skips a
few steps with a non-finite loss instead.
"""
from __future__ import annotations

import bisect
from contextlib import nullcontext
from typing import Any, Mapping, Sequence

import torch

from posekit.registry import LOOPS
from .dist import is_distributed, unwrap_model
from .logging import ProgressBar
from .nonfinite import (NonFiniteError, first_nonfinite_loss, first_nonfinite_state,
                        likely_cause)


def parse_losses(losses: Mapping[str, Any]) -> tuple[torch.Tensor, dict]:
    """Sum the entries whose name contains ``'loss'``; every entry is logged.

    Each value is a tensor (averaged) or a list of tensors (averages summed).
    """
    log_vars = {}
    for name, value in losses.items():
        if isinstance(value, torch.Tensor):
            log_vars[name] = value.mean()
        elif isinstance(value, (list, tuple)) and all(isinstance(v, torch.Tensor) for v in value):
            log_vars[name] = sum(v.mean() for v in value)
        else:
            raise TypeError(f'{name} is not a tensor or a list of tensors: {type(value).__name__}')
    total = sum(v for k, v in log_vars.items() if 'loss' in k)
    if not isinstance(total, torch.Tensor):
        raise ValueError(f'the model returned no loss (keys: {sorted(losses)}); the '
                         "entries to optimise must have 'loss' in their names")
    return total, {'loss': total, **log_vars}


def train_step(model: torch.nn.Module, data: Any, optim_wrapper: Any,
               skip_nonfinite: bool = False) -> dict[str, float]:
    """One optimisation step on one batch; returns the logged values.

    ``model`` may be wrapped in DistributedDataParallel: the forward goes
    through the wrapper (so gradients are all-reduced) while the data
    preprocessor is the wrapped model's.

    A loss term that is NaN or infinite (on any process) raises
    :class:`~posekit.engine.nonfinite.NonFiniteError`, or with
    ``skip_nonfinite`` skips the backward pass and the update (the call
    still counts for gradient accumulation) and leaves it to the caller to
    see in the returned values.
    """
    core = unwrap_model(model)
    with optim_wrapper.optim_context(model):
        data = core.data_preprocessor(data, True)
        losses = (model(**data, mode='loss') if isinstance(data, Mapping)
                  else model(*data, mode='loss'))
    total, log_vars = getattr(core, 'parse_losses', parse_losses)(losses)
    values = {k: float(v.detach()) for k, v in log_vars.items()}
    if not _any_process(first_nonfinite_loss(values) is not None, total.device):
        optim_wrapper.update_params(total)
    elif skip_nonfinite:
        optim_wrapper.skip_update()
    else:
        term = first_nonfinite_loss(values) or 'a loss on another process'
        raise NonFiniteError(f'{term} is {values.get(term)}: not a finite loss')
    return values


def _any_process(flag: bool, device: torch.device) -> bool:
    """Whether ``flag`` is true on any process: all skip a step, or none
    (a process that skipped the backward alone would hang the others)."""
    if not is_distributed():
        return flag
    import torch.distributed as dist
    tensor = torch.tensor(float(flag), device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return bool(tensor.item())


def predict_step(model: torch.nn.Module, data: Any) -> list:
    """Predictions of one batch (the model's ``val_step`` if it has one)."""
    core = unwrap_model(model)
    if hasattr(core, 'val_step'):
        return core.val_step(data)
    data = core.data_preprocessor(data, False)
    return core(**data, mode='predict')


class _TrainLoop:
    """What both training loops share."""

    def __init__(self, runner, dataloader: Any, val_begin: int, val_interval: int,
                 dynamic_intervals: Sequence[Sequence[int]] | None,
                 skip_nonfinite: int) -> None:
        if isinstance(skip_nonfinite, bool) or not isinstance(skip_nonfinite, int) \
                or skip_nonfinite < 0:
            raise ValueError('train_cfg.skip_nonfinite is how many steps with a NaN or '
                             'infinite loss to skip in a row before stopping (0 stops at '
                             f'the first), e.g. skip_nonfinite=10; got {skip_nonfinite!r}')
        self.skip_nonfinite = skip_nonfinite
        self._nonfinite_in_a_row = 0
        self.runner = runner
        self.dataloader = runner.build_dataloader(dataloader)
        self.epoch = 0
        self.iter = 0
        self.val_begin = val_begin
        self.val_interval = val_interval
        self.stop_training = False
        # [(milestone, interval)]: from each milestone on, use that interval
        pairs = sorted(dynamic_intervals or [])
        self._milestones = [0] + [m for m, _ in pairs]
        self._intervals = [val_interval] + [i for _, i in pairs]

    def _interval_at(self, step: int) -> int:
        return self._intervals[bisect.bisect(self._milestones, step) - 1]

    def _validate_if_due(self, step: int, last: int, note: str = '') -> None:
        """Validate after ``step`` epochs (iterations) if the intervals say
        so; log ``note`` first, if any."""
        runner = self.runner
        self.val_interval = self._interval_at(step + 1)
        if runner.val_loop is not None and step >= self.val_begin and (
                step % self.val_interval == 0 or step == last):
            if note:
                runner.logger.info(note)
            # set first, so the best checkpoint written during validation records it
            runner.message_hub.update_info('validated', step)
            runner.val_loop.run()

    def _catch_up_validation(self, step: int, last: int) -> None:
        """After resuming at ``step``: validate it if that was due and its
        checkpoint does not record it. A run stopped during that validation
        (or while writing the best checkpoint) would otherwise never pick
        the best of ``step``. The periodic checkpoint is written before the
        validation, so it records it only when a better score rewrote it."""
        if step > 0 and self.runner.message_hub.get_info('validated') != step:
            self._validate_if_due(step, last, note=(
                'validating the resumed checkpoint first: the run that saved it stopped '
                'before its validation ended (or its checkpoint predates the record)'))

    def run_iter(self, batch_idx: int, data_batch: Any) -> None:
        runner = self.runner
        runner.call_hook('before_train_iter', batch_idx=batch_idx, data_batch=data_batch)
        for name, values in runner.optim_wrapper.get_lr().items():
            runner.message_hub.update_scalar(f'train/{name}', values[0])
        outputs = train_step(runner.model, data_batch, runner.optim_wrapper,
                             skip_nonfinite=True)
        if self._check_finite(outputs, batch_idx):
            runner.message_hub.update_scalars({f'train/{k}': v for k, v in outputs.items()})
        runner.call_hook('after_train_iter', batch_idx=batch_idx,
                         data_batch=data_batch, outputs=outputs)
        self.iter += 1

    def _check_finite(self, outputs: dict[str, float], batch_idx: int) -> bool:
        """Whether the step of this iteration was taken. Raises
        NonFiniteError when the weights or buffers are not finite, or the
        loss is not, past ``skip_nonfinite`` such steps in a row."""
        runner = self.runner
        term = first_nonfinite_loss(outputs)
        state = first_nonfinite_state(unwrap_model(runner.model),
                                      getattr(runner.optim_wrapper, 'optimizer', None))
        if term is None and state is None:
            self._nonfinite_in_a_row = 0
            return True
        self._nonfinite_in_a_row += term is not None
        if state is None and self._nonfinite_in_a_row <= self.skip_nonfinite:
            skipped = runner.message_hub.get_info('nonfinite_skipped', 0) + 1
            runner.message_hub.update_info('nonfinite_skipped', skipped)
            runner.logger.warning('%s: %s is %s; step skipped (train_cfg.skip_nonfinite=%d: '
                                  '%d in a row, %d in all)', self._where(batch_idx), term,
                                  outputs[term], self.skip_nonfinite,
                                  self._nonfinite_in_a_row, skipped)
            return False
        if term is None:
            what = (f'the optimizer step made {state} non-finite (the loss was finite: '
                    f'{outputs["loss"]:.6g})')
        else:
            what = f'{term} is {outputs[term]}'
            if self._nonfinite_in_a_row > 1:
                what += f', {self._nonfinite_in_a_row} steps in a row'
            if state is not None:
                what += f', and the forward pass made {state} non-finite'
            elif not self.skip_nonfinite:
                what += ' (train_cfg.skip_nonfinite=N would skip up to N such steps in a row)'
        last = runner.message_hub.get_info('last_ckpt')
        saved = (f'the last checkpoint is {last} (--resume continues from it)' if last
                 else 'no checkpoint was written')
        lrs = runner.optim_wrapper.get_lr()['lr']
        raise NonFiniteError(f'training stopped at {self._where(batch_idx)}: {what}; '
                             f'{likely_cause(runner.cfg, lrs)}. Nothing of this iteration '
                             f'was saved; {saved}')

    def _where(self, batch_idx: int) -> str:
        return f'iteration {self.iter + 1}'

    def _skip_samples(self, num_batches: int) -> None:
        """Resume inside an epoch: the next pass starts ``num_batches`` in."""
        if num_batches > 0:
            self.runner.logger.info('resuming mid-epoch: skipping the first %d '
                                    'batches of the sampler order', num_batches)
            self.dataloader.sampler.skip_next(num_batches * (self.dataloader.batch_size or 1))


@LOOPS.register_module()
class EpochBasedTrainLoop(_TrainLoop):
    """Train for ``max_epochs`` passes over the data; validate every
    ``val_interval`` epochs from ``val_begin`` on, and after the last.

    Args:
        runner (Runner): The runner.
        dataloader (dict | DataLoader): ``train_dataloader``.
        max_epochs (int): Number of epochs.
        val_begin (int): First epoch after which to validate. Defaults to 1.
        val_interval (int): Validate every this many epochs. Defaults to 1.
        dynamic_intervals (list[tuple[int, int]], optional): ``(epoch,
            interval)`` pairs: from that epoch on, use that interval.
        skip_nonfinite (int): How many steps with a NaN or infinite loss to
            skip in a row before stopping. 0 (the default): the first one
            stops training with a NonFiniteError naming the iteration, the
            loss term and the likely cause. N > 0: such a step is skipped
            (no backward, no update; the losses are not logged), with a
            warning that counts it (``nonfinite_skipped`` in the runtime
            info of checkpoints holds the total); the (N+1)-th in a row
            stops training. Weights or buffers that became non-finite
            always stop training.
    """

    def __init__(self, runner, dataloader: Any, max_epochs: int, val_begin: int = 1,
                 val_interval: int = 1,
                 dynamic_intervals: Sequence[Sequence[int]] | None = None,
                 skip_nonfinite: int = 0) -> None:
        super().__init__(runner, dataloader, val_begin, val_interval, dynamic_intervals,
                         skip_nonfinite)
        if int(max_epochs) != max_epochs or max_epochs < 1:
            raise ValueError(f'max_epochs must be a positive integer, got {max_epochs}')
        self.max_epochs = int(max_epochs)
        self.max_iters = self.max_epochs * len(self.dataloader)

    def run(self) -> torch.nn.Module:
        runner = self.runner
        runner.call_hook('before_train')
        self._catch_up_validation(self.epoch, self.max_epochs)
        while self.epoch < self.max_epochs and not self.stop_training:
            self.run_epoch()
            self._validate_if_due(self.epoch, self.max_epochs)
        runner.call_hook('after_train')
        return runner.model

    def run_epoch(self) -> None:
        runner = self.runner
        runner.call_hook('before_train_epoch')
        runner.model.train()
        # modules whose loss changes with the epoch (DSNTHead's lambda_t,
        # DWPoseDistiller's decay) read it here, with the number of epochs;
        # MMPose's read both from its message hub
        for module in unwrap_model(runner.model).modules():
            if callable(getattr(module, 'set_epoch', None)):
                module.set_epoch(self.epoch, self.max_epochs)
        done = self._done_in_epoch()  # > 0 after a mid-epoch resume
        runner.message_hub.update_info('train_epoch_start', [self.epoch, self.iter - done])
        self._skip_samples(done)
        for batch_idx, data_batch in enumerate(self.dataloader, start=max(done, 0)):
            self.run_iter(batch_idx, data_batch)
        runner.call_hook('after_train_epoch')
        self.epoch += 1

    def _done_in_epoch(self) -> int:
        """Batches of the current epoch already run: 0 unless resumed from a
        checkpoint written mid-epoch. Read from where the epoch started
        (``train_epoch_start`` in the runtime info), not from ``epoch *
        len(dataloader)``: a mode-switch hook may have changed the loader's
        length at an earlier epoch."""
        start = self.runner.message_hub.get_info('train_epoch_start')
        if start is None:  # a checkpoint of an older posekit
            return self.iter - self.epoch * len(self.dataloader)
        return self.iter - int(start[1]) if int(start[0]) == self.epoch else 0

    def _where(self, batch_idx: int) -> str:
        return (f'iteration {self.iter + 1} (epoch {self.epoch + 1}, batch '
                f'{batch_idx + 1}/{len(self.dataloader)})')


@LOOPS.register_module()
class IterBasedTrainLoop(_TrainLoop):
    """Train for ``max_iters`` batches, restarting the data as needed;
    validate every ``val_interval`` iterations from ``val_begin`` on, and
    after the last. The whole run is one "epoch" for the hooks.

    Args:
        runner (Runner): The runner.
        dataloader (dict | DataLoader): ``train_dataloader`` (usually with
            ``sampler=dict(type='InfiniteSampler')``).
        max_iters (int): Number of iterations.
        val_begin (int): First iteration after which to validate.
        val_interval (int): Validate every this many iterations. Defaults to 1000.
        dynamic_intervals (list[tuple[int, int]], optional): As in
            :class:`EpochBasedTrainLoop`, in iterations.
        skip_nonfinite (int): As in :class:`EpochBasedTrainLoop`.
    """

    def __init__(self, runner, dataloader: Any, max_iters: int, val_begin: int = 1,
                 val_interval: int = 1000,
                 dynamic_intervals: Sequence[Sequence[int]] | None = None,
                 skip_nonfinite: int = 0) -> None:
        super().__init__(runner, dataloader, val_begin, val_interval, dynamic_intervals,
                         skip_nonfinite)
        if int(max_iters) != max_iters or max_iters < 1:
            raise ValueError(f'max_iters must be a positive integer, got {max_iters}')
        self.max_iters = int(max_iters)
        self.max_epochs = 1

    def _batches(self):
        """Endless batches; a finite sampler is restarted with the next epoch."""
        sampler = self.dataloader.sampler
        infinite = type(getattr(sampler, 'sampler', sampler)).__name__ == 'InfiniteSampler'
        if infinite:
            self._skip_samples(self.iter)
            yield from self.dataloader
            return
        data_epoch, done = divmod(self.iter, len(self.dataloader))
        while True:
            sampler.set_epoch(data_epoch)
            self._skip_samples(done)
            yield from self.dataloader
            data_epoch, done = data_epoch + 1, 0

    def run(self) -> torch.nn.Module:
        runner = self.runner
        runner.call_hook('before_train')
        runner.call_hook('before_train_epoch')
        batches = self._batches()
        self._catch_up_validation(self.iter, self.max_iters)
        while self.iter < self.max_iters and not self.stop_training:
            runner.model.train()
            self.run_iter(self.iter, next(batches))
            self._validate_if_due(self.iter, self.max_iters)
        runner.call_hook('after_train_epoch')
        runner.call_hook('after_train')
        return runner.model


class _EvalLoop:
    """Validation and testing: predict every batch, then compute the metrics."""

    mode = 'val'

    def __init__(self, runner, dataloader: Any, evaluator: Any, fp16: bool = False) -> None:
        from posekit.evaluation import build_evaluator
        self.runner = runner
        self.dataloader = runner.build_dataloader(dataloader)
        self.evaluator = build_evaluator(evaluator)
        meta = getattr(self.dataloader.dataset, 'metainfo', None)
        if meta is not None:
            self.evaluator.dataset_meta = meta
        self.fp16 = fp16

    def _autocast(self):
        if not self.fp16:
            return nullcontext()
        device = next(unwrap_model(self.runner.model).parameters()).device.type
        dtype = torch.float16 if device == 'cuda' else torch.bfloat16
        return torch.autocast(device_type=device, dtype=dtype)

    def run(self) -> dict:
        runner, mode = self.runner, self.mode
        runner.call_hook(f'before_{mode}')
        runner.call_hook(f'before_{mode}_epoch')
        for name in [k for k in runner.message_hub.log_scalars if k.startswith(f'{mode}/')]:
            del runner.message_hub.log_scalars[name]
        runner.model.eval()
        bar = ProgressBar(len(self.dataloader), mode, enabled=runner.rank == 0)
        for batch_idx, data_batch in enumerate(self.dataloader):
            self.run_iter(batch_idx, data_batch)
            bar.update()
        metrics = self.evaluator.evaluate(len(self.dataloader.dataset))
        runner.call_hook(f'after_{mode}_epoch', metrics=metrics)
        runner.call_hook(f'after_{mode}')
        return metrics

    @torch.no_grad()
    def run_iter(self, batch_idx: int, data_batch: Any) -> None:
        runner, mode = self.runner, self.mode
        runner.call_hook(f'before_{mode}_iter', batch_idx=batch_idx, data_batch=data_batch)
        with self._autocast():
            outputs = predict_step(runner.model, data_batch)
        self.evaluator.process(data_samples=outputs, data_batch=data_batch)
        runner.call_hook(f'after_{mode}_iter', batch_idx=batch_idx,
                         data_batch=data_batch, outputs=outputs)


@LOOPS.register_module()
class ValLoop(_EvalLoop):
    """Validation: ``val_dataloader`` + ``val_evaluator``; ``val_cfg`` may set
    ``fp16=True`` (autocast: float16 on GPU, bfloat16 on CPU)."""

    mode = 'val'


@LOOPS.register_module()
class TestLoop(_EvalLoop):
    """Testing: ``test_dataloader`` + ``test_evaluator``; ``test_cfg`` may set ``fp16``."""

    mode = 'test'
