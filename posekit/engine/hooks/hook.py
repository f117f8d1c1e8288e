"""Hook: code that runs at named points of a run.

The loops call, in this order (``runner.call_hook(name, **kwargs)`` calls the
method of that name of every hook, highest priority first)::

    before_run
    after_load_checkpoint(checkpoint)           when a checkpoint is loaded
    before_train
      (validation, as below, when resuming at a step whose validation
       the checkpoint does not record: the run that saved it was stopped)
      before_train_epoch
        before_train_iter(batch_idx, data_batch)
        after_train_iter(batch_idx, data_batch, outputs)
      after_train_epoch
      before_val / before_val_epoch             when validation is due
        before_val_iter / after_val_iter(batch_idx, data_batch, outputs)
      after_val_epoch(metrics) / after_val
    after_train
    before_test / before_test_epoch / *_test_iter / after_test_epoch(metrics) / after_test
    after_run
    before_save_checkpoint(checkpoint)          just before a checkpoint is written

These are MMEngine's names and arguments, so an MMPose hook ports by
changing its imports. Each hook receives the runner, a small object with the
run's state (``epoch``, ``iter``, ``max_epochs``, ``max_iters``, ``model``,
``optim_wrapper``, ``param_schedulers``, the data loaders, ``work_dir``,
``logger``, ``message_hub``, ``cfg``) and ``save_checkpoint``.

``priority`` orders hooks at every point: a name of :data:`PRIORITIES` or
an int from 0 (first) to 100 (last); equal priorities keep the order the
hooks were registered in.
"""
from __future__ import annotations

from typing import Any

PRIORITIES = {'HIGHEST': 0, 'VERY_HIGH': 10, 'HIGH': 30, 'ABOVE_NORMAL': 40,
              'NORMAL': 50, 'BELOW_NORMAL': 60, 'LOW': 70, 'VERY_LOW': 90,
              'LOWEST': 100}

STAGES = ('before_run', 'after_load_checkpoint', 'before_train',
          'before_train_epoch', 'before_train_iter', 'after_train_iter',
          'after_train_epoch', 'before_val', 'before_val_epoch',
          'before_val_iter', 'after_val_iter', 'after_val_epoch', 'after_val',
          'after_train', 'before_test', 'before_test_epoch',
          'before_test_iter', 'after_test_iter', 'after_test_epoch',
          'after_test', 'after_run', 'before_save_checkpoint')


def get_priority(priority: int | str) -> int:
    """An int in [0, 100] from an int or a name ('NORMAL' -> 50)."""
    if isinstance(priority, str):
        if priority.upper() not in PRIORITIES:
            raise ValueError(f'unknown hook priority {priority!r}; use one of '
                             f'{list(PRIORITIES)} or an int in [0, 100]')
        return PRIORITIES[priority.upper()]
    if not isinstance(priority, int) or not 0 <= priority <= 100:
        raise ValueError(f'hook priority must be an int in [0, 100], got {priority!r}')
    return priority


class Hook:
    """Base class: every stage is a method that does nothing."""

    priority: int | str = 'NORMAL'

    def before_run(self, runner) -> None: ...
    def after_run(self, runner) -> None: ...
    def after_load_checkpoint(self, runner, checkpoint: dict) -> None: ...
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None: ...
    def before_train(self, runner) -> None: ...
    def after_train(self, runner) -> None: ...
    def before_train_epoch(self, runner) -> None: ...
    def after_train_epoch(self, runner) -> None: ...
    def before_val(self, runner) -> None: ...
    def after_val(self, runner) -> None: ...
    def before_val_epoch(self, runner) -> None: ...
    def after_val_epoch(self, runner, metrics: dict | None = None) -> None: ...
    def before_test(self, runner) -> None: ...
    def after_test(self, runner) -> None: ...
    def before_test_epoch(self, runner) -> None: ...
    def after_test_epoch(self, runner, metrics: dict | None = None) -> None: ...

    def before_train_iter(self, runner, batch_idx: int, data_batch: Any = None) -> None: ...
    def after_train_iter(self, runner, batch_idx: int, data_batch: Any = None,
                         outputs: Any = None) -> None: ...
    def before_val_iter(self, runner, batch_idx: int, data_batch: Any = None) -> None: ...
    def after_val_iter(self, runner, batch_idx: int, data_batch: Any = None,
                       outputs: Any = None) -> None: ...
    def before_test_iter(self, runner, batch_idx: int, data_batch: Any = None) -> None: ...
    def after_test_iter(self, runner, batch_idx: int, data_batch: Any = None,
                        outputs: Any = None) -> None: ...

    # ------------------------------------------------------------- helpers
    @staticmethod
    def every_n_epochs(runner, n: int, start: int = 0) -> bool:
        """Whether the epoch just run (``runner.epoch + 1``) is ``start + k*n``."""
        done = runner.epoch + 1 - start
        return n > 0 and done >= 0 and done % n == 0

    @staticmethod
    def every_n_train_iters(runner, n: int, start: int = 0) -> bool:
        """Whether the iteration just run (``runner.iter + 1``) is ``start + k*n``."""
        done = runner.iter + 1 - start
        return n > 0 and done >= 0 and done % n == 0

    @staticmethod
    def every_n_inner_iters(batch_idx: int, n: int) -> bool:
        return n > 0 and (batch_idx + 1) % n == 0

    @staticmethod
    def end_of_epoch(dataloader, batch_idx: int) -> bool:
        return batch_idx + 1 == len(dataloader)

    @staticmethod
    def is_last_train_epoch(runner) -> bool:
        return runner.epoch + 1 == runner.max_epochs

    @staticmethod
    def is_last_train_iter(runner) -> bool:
        return runner.iter + 1 == runner.max_iters
