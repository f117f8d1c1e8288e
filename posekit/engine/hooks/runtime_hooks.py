"""Small hooks: timing, LR schedules, sampler epochs, buffer syncing, caches, pipelines."""
from __future__ import annotations

import time
from typing import Any, Sequence

import torch

from posekit.registry import HOOKS
from ..dataloader import unwrap_dataset
from ..dist import all_reduce_mean, is_distributed, unwrap_model
from .hook import Hook


@HOOKS.register_module()
class IterTimerHook(Hook):
    """Records ``{mode}/data_time`` (waiting for the batch) and ``{mode}/time``
    (the whole iteration), and the training ``eta`` (seconds left)."""

    priority = 'NORMAL'

    def _start(self, runner) -> None:
        self._t = time.perf_counter()

    before_train_epoch = before_val_epoch = before_test_epoch = _start

    def _data(self, runner, mode: str) -> None:
        runner.message_hub.update_scalar(f'{mode}/data_time', time.perf_counter() - self._t)

    def _done(self, runner, mode: str) -> None:
        now = time.perf_counter()
        runner.message_hub.update_scalar(f'{mode}/time', now - self._t)
        self._t = now

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self._data(runner, 'train')

    def before_val_iter(self, runner, batch_idx, data_batch=None):
        self._data(runner, 'val')

    def before_test_iter(self, runner, batch_idx, data_batch=None):
        self._data(runner, 'test')

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self._done(runner, 'train')
        mean = runner.message_hub.get_scalar('train/time').mean()
        runner.message_hub.update_info('eta', mean * (runner.max_iters - runner.iter - 1))

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self._done(runner, 'val')

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self._done(runner, 'test')


@HOOKS.register_module()
class ParamSchedulerHook(Hook):
    """Steps the parameter schedulers: iteration-based ones after every
    training iteration, epoch-based ones after every epoch, and those that
    need metrics (``need_val_args``) after every validation."""

    priority = 'LOW'

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        for scheduler in runner.param_schedulers or ():
            if not scheduler.by_epoch and not getattr(scheduler, 'need_val_args', False):
                scheduler.step()

    def after_train_epoch(self, runner):
        for scheduler in runner.param_schedulers or ():
            if scheduler.by_epoch and not getattr(scheduler, 'need_val_args', False):
                scheduler.step()

    def after_val_epoch(self, runner, metrics=None):
        if not metrics:
            return
        for scheduler in runner.param_schedulers or ():
            if getattr(scheduler, 'need_val_args', False):
                scheduler.step(metrics)


@HOOKS.register_module()
class DistSamplerSeedHook(Hook):
    """Gives the training sampler the epoch number, so every epoch (on every
    rank alike) has its own order."""

    priority = 'NORMAL'

    def before_train_epoch(self, runner):
        sampler = runner.train_dataloader.sampler
        if hasattr(sampler, 'set_epoch'):
            sampler.set_epoch(runner.epoch)


@HOOKS.register_module()
class SyncBuffersHook(Hook):
    """Averages the model's buffers (BN running statistics) over ranks after
    every training epoch, and before a validation that does not follow one
    (iteration-based training). Does nothing in one process."""

    priority = 'NORMAL'

    def __init__(self) -> None:
        self._synced = False

    def after_train_epoch(self, runner):
        if is_distributed():
            all_reduce_mean(unwrap_model(runner.model).buffers())
            self._synced = True

    def before_val_epoch(self, runner):
        if is_distributed() and not self._synced:
            all_reduce_mean(unwrap_model(runner.model).buffers())
        self._synced = False


@HOOKS.register_module()
class SyncNormHook(Hook):
    """Averages the normalisation layers' state over ranks before validation."""

    def before_val_epoch(self, runner):
        if not is_distributed():
            return
        model = unwrap_model(runner.model)
        norms = (torch.nn.modules.batchnorm._NormBase, torch.nn.GroupNorm,
                 torch.nn.LayerNorm)
        tensors = [t for m in model.modules() if isinstance(m, norms)
                   for t in list(m.parameters(recurse=False)) + list(m.buffers(recurse=False))]
        all_reduce_mean(tensors)


@HOOKS.register_module()
class EmptyCacheHook(Hook):
    """Releases cached GPU memory (``torch.cuda.empty_cache``) before and/or
    after epochs and after iterations; nothing on a CPU.

    Args:
        before_epoch (bool): Before every train/val/test epoch. Defaults to False.
        after_epoch (bool): After every epoch. Defaults to True.
        after_iter (bool): After every iteration. Defaults to False.
    """

    def __init__(self, before_epoch: bool = False, after_epoch: bool = True,
                 after_iter: bool = False) -> None:
        self._before_epoch, self._after_epoch = before_epoch, after_epoch
        self._after_iter = after_iter

    @staticmethod
    def _empty() -> None:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def _on_before_epoch(self, runner) -> None:
        if self._before_epoch:
            self._empty()

    def _on_after_epoch(self, runner, metrics=None) -> None:
        if self._after_epoch:
            self._empty()

    def _on_after_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if self._after_iter:
            self._empty()

    before_train_epoch = before_val_epoch = before_test_epoch = _on_before_epoch
    after_val_epoch = after_test_epoch = _on_after_epoch
    after_train_iter = after_val_iter = after_test_iter = _on_after_iter

    def after_train_epoch(self, runner):
        self._on_after_epoch(runner)


@HOOKS.register_module()
class PipelineSwitchHook(Hook):
    """Replaces the training pipeline from epoch ``switch_epoch`` on (RTMPose
    turns its strong augmentations down for the last epochs).

    Args:
        switch_epoch (int): First epoch (counting from 0) of the new pipeline.
        switch_pipeline (list[dict]): The new pipeline's transforms.

    Persistent workers hold a copy of the dataset, so they are restarted
    once at the switch. Resuming after the switch epoch switches at once.
    """

    def __init__(self, switch_epoch: int, switch_pipeline: Sequence[Any]) -> None:
        self.switch_epoch = int(switch_epoch)
        self.switch_pipeline = list(switch_pipeline)
        self._switched = False

    def before_train_epoch(self, runner):
        if self._switched or runner.epoch < self.switch_epoch:
            return
        from posekit.datasets.transforms import Compose
        loader = runner.train_dataloader
        unwrap_dataset(loader.dataset).pipeline = Compose(self.switch_pipeline)
        # a persistent worker keeps the old pipeline: drop the iterator so the
        # next epoch starts new workers with the new one
        if getattr(loader, 'persistent_workers', False):
            loader._iterator = None
        runner.logger.info('PipelineSwitchHook: switched the training pipeline '
                           'at epoch %d', runner.epoch + 1)
        self._switched = True
