"""Small hooks: timing, LR schedules, sampler epochs, buffer syncing, caches, pipelines."""
from __future__ import annotations

import copy
import time
from typing import Any, Mapping, Sequence

import torch

from posekit.registry import HOOKS
from ..schedulers import step_epoch_schedulers, step_iter_schedulers
from ..dataloader import unwrap_dataset
from ..dist import all_reduce_mean, is_distributed, unwrap_model
from ..loops import EpochBasedTrainLoop
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
    training iteration, epoch-based ones after every epoch (those that need
    metrics, ``need_val_args``, only count it then), and those that need
    metrics with the metrics of every validation (MMEngine's order)."""

    priority = 'LOW'

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        step_iter_schedulers(runner.param_schedulers or ())

    def after_train_epoch(self, runner):
        step_epoch_schedulers(runner.param_schedulers or ())

    def after_val_epoch(self, runner, metrics=None):
        if not metrics:
            return
        for scheduler in runner.param_schedulers or ():
            if scheduler.by_epoch and getattr(scheduler, 'need_val_args', False):
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


def switch_train_data(runner, pipeline: Sequence[Any] | None = None,
                      dataset: Mapping | None = None) -> None:
    """Give the training loader a new pipeline, or a new dataset.

    Without ``dataset``, the pipeline of the loader's dataset is replaced in
    place (mmdet's ``PipelineSwitchHook``). With ``dataset`` (a dataset
    config; ``pipeline``, if given, replaces its own), the loader is rebuilt
    from the run's ``train_dataloader`` config with that dataset (MMPose's
    ``YOLOXPoseModeSwitchHook``); an epoch-based loop then counts its
    remaining epochs at the new loader's length (``runner.max_iters``).

    Persistent workers keep a copy of the old dataset, so they are shut
    down; the next epoch starts new ones.

    Args:
        runner (Runner): The run; its ``train_loop.dataloader`` changes.
        pipeline (list[dict | Callable], optional): The new transforms.
        dataset (Mapping, optional): The new dataset's config.
    """
    from posekit.datasets.transforms import Compose
    loop = runner.train_loop
    old = loop.dataloader
    if dataset is None:
        target = unwrap_dataset(old.dataset)
        if not hasattr(target, 'pipeline'):
            raise TypeError(f'cannot switch the pipeline of a {type(target).__name__}: '
                            'it has no "pipeline" attribute')
        target.pipeline = Compose(list(pipeline or ()))
        _stop_workers(old)
        return
    loader_cfg = runner._train[0]  # the train_dataloader config the loop was built from
    if not isinstance(loader_cfg, Mapping):
        raise TypeError('switching to a new training dataset rebuilds the loader from '
                        'the train_dataloader config; it was given as a built '
                        f'{type(loader_cfg).__name__}')
    cfg = copy.deepcopy(dict(loader_cfg))
    cfg['dataset'] = copy.deepcopy(dict(dataset))
    if pipeline is not None:
        cfg['dataset']['pipeline'] = copy.deepcopy(list(pipeline))
    new = runner.build_dataloader(cfg)
    if hasattr(new.sampler, 'set_epoch'):  # whatever the order of the sampler-seed hook
        new.sampler.set_epoch(runner.epoch)
    _stop_workers(old)
    loop.dataloader = new
    if isinstance(loop, EpochBasedTrainLoop):
        loop.max_iters = loop.iter + (loop.max_epochs - loop.epoch) * len(new)


def _stop_workers(loader) -> None:
    """Shut down a loader's persistent workers (they hold the old dataset);
    its next iteration starts new ones."""
    iterator = getattr(loader, '_iterator', None)
    if iterator is not None:
        shutdown = getattr(iterator, '_shutdown_workers', None)
        if shutdown is not None:
            shutdown()
        loader._iterator = None


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
        switch_train_data(runner, pipeline=self.switch_pipeline)
        runner.logger.info('PipelineSwitchHook: switched the training pipeline '
                           'at epoch %d', runner.epoch + 1)
        self._switched = True
