"""LoggerHook: log lines every ``interval`` iterations and after every evaluation.

Each log line's numbers also go to ``runner.visualizer.add_scalars`` (one
``vis_data/scalars.json`` line with its ``step``: the iteration after
training iterations; the epoch, or the iteration with
``log_metric_by_epoch=False``, after an evaluation).
"""
from __future__ import annotations

import os
import shutil
from typing import Sequence

from posekit.registry import HOOKS
from posekit.visualization.vis_backends import scalar_value
from ..dist import is_main_process
from .hook import Hook


@HOOKS.register_module()
class LoggerHook(Hook):
    """Writes training log lines and scalar records, and evaluation results.

    Args:
        interval (int): Log every this many iterations. Defaults to 10.
        ignore_last (bool): Skip the last, shorter interval of an epoch.
            Defaults to True.
        interval_exp_name (int): Print the experiment name every this many
            iterations (and at every epoch end). Defaults to 1000.
        out_dir (str, optional): Also copy the log files (those ending with
            ``out_suffix``) to ``out_dir/<work dir name>/`` after the run.
        out_suffix (str | Sequence[str]): See ``out_dir``.
        keep_local (bool): With ``out_dir``, keep the local copies.
            Defaults to True.
        log_metric_by_epoch (bool): Record evaluation scalars at step =
            epoch (True) or iteration (False). Defaults to True.
        backend_args (dict, optional): Only local files are supported.
    """

    priority = 'BELOW_NORMAL'

    def __init__(self, interval: int = 10, ignore_last: bool = True,
                 interval_exp_name: int = 1000, out_dir: str | None = None,
                 out_suffix: str | Sequence[str] = ('.json', '.log', '.py', 'yaml'),
                 keep_local: bool = True, log_metric_by_epoch: bool = True,
                 backend_args: dict | None = None,
                 file_client_args: dict | None = None) -> None:
        if backend_args not in (None, {}, {'backend': 'local'}) or file_client_args:
            raise ValueError('LoggerHook: only local files are supported '
                             f'(backend_args={backend_args!r})')
        if int(interval) < 1:
            raise ValueError(f'LoggerHook: interval must be >= 1, got {interval}')
        self.interval = int(interval)
        self.ignore_last = ignore_last
        self.interval_exp_name = interval_exp_name
        self.out_dir = out_dir
        self.out_suffix = (out_suffix,) if isinstance(out_suffix, str) else tuple(out_suffix)
        self.keep_local = keep_local
        self.log_metric_by_epoch = log_metric_by_epoch

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        loader = runner.train_dataloader
        by_epoch = runner.log_processor.by_epoch
        index = batch_idx if by_epoch else runner.iter
        end_of_epoch = by_epoch and self.end_of_epoch(loader, batch_idx)
        if self.every_n_train_iters(runner, self.interval_exp_name) or end_of_epoch:
            runner.logger.info('Exp name: %s', runner.experiment_name)
        if not (self.every_n_inner_iters(index, self.interval) or (
                end_of_epoch and (not self.ignore_last or len(loader) <= self.interval))):
            return
        record, line = runner.log_processor.train_line(
            runner.message_hub, runner.epoch, batch_idx, len(loader),
            runner.iter, runner.max_iters)
        runner.logger.info(line)
        runner.visualizer.add_scalars(_scalars(record), step=runner.iter + 1)

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if self.every_n_inner_iters(batch_idx, self.interval):
            runner.logger.info(runner.log_processor.eval_iter_line(
                runner.message_hub, 'val', runner.epoch, batch_idx,
                len(runner.val_dataloader)))

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if self.every_n_inner_iters(batch_idx, self.interval):
            runner.logger.info(runner.log_processor.eval_iter_line(
                runner.message_hub, 'test', runner.epoch, batch_idx,
                len(runner.test_dataloader)))

    def _after_eval(self, runner, mode: str, metrics: dict | None) -> None:
        loader = runner.val_dataloader if mode == 'val' else runner.test_dataloader
        record, line = runner.log_processor.eval_line(
            runner.message_hub, mode, metrics or {}, runner.epoch, len(loader), len(loader))
        runner.logger.info(line)
        step = runner.epoch if self.log_metric_by_epoch else runner.iter
        runner.visualizer.add_scalars(_scalars(record), step=step)

    def after_val_epoch(self, runner, metrics=None):
        self._after_eval(runner, 'val', metrics)

    def after_test_epoch(self, runner, metrics=None):
        self._after_eval(runner, 'test', metrics)

    def after_run(self, runner):
        if self.out_dir is None or not is_main_process():
            return
        target = os.path.join(self.out_dir, os.path.basename(
            os.path.normpath(runner.work_dir)))
        os.makedirs(target, exist_ok=True)
        for root, _, files in os.walk(runner.log_dir):
            for name in files:
                if name.endswith(self.out_suffix):
                    src = os.path.join(root, name)
                    dst = os.path.join(target, os.path.relpath(src, runner.work_dir))
                    os.makedirs(os.path.dirname(dst), exist_ok=True)
                    shutil.copy2(src, dst)
                    if not self.keep_local:
                        os.remove(src)
        runner.logger.info('LoggerHook: copied the logs to %s', target)


def _scalars(record: dict) -> dict:
    """The numbers of a log record; other results (lists, strings) are only
    in the text log."""
    out = {}
    for key, value in record.items():
        try:
            out[key] = scalar_value(key, value)
        except TypeError:
            pass
    return out
