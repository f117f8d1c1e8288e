"""CheckpointHook: periodic, last and best checkpoints (MMEngine's semantics).

Files in ``out_dir`` (the work dir by default)::

    epoch_N.pth / iter_N.pth          every ``interval`` epochs (iterations)
    best_coco_AP_epoch_N.pth          the best score so far of ``save_best``
                                      (``/`` in the metric name becomes ``_``)
    last_checkpoint                   the path of the newest periodic checkpoint

The best score, the best file and the kept ids are runtime info saved in
every checkpoint, so a resumed run keeps comparing against the right best
and deletes the right old files. A NaN metric is never the best: it is
logged as a warning and the previous best checkpoint stays.

A run killed while writing a checkpoint leaves its temporary file
(``.epoch_2.tmp-1234.pth``, see :func:`posekit.fileio.temporary_name`) and
the previous checkpoint intact; the next run removes such files of
processes that are gone.
"""
from __future__ import annotations

import math
import os
import re
from collections import deque
from math import inf
from typing import Sequence

from posekit.registry import HOOKS
from ..checkpoint import publish_checkpoint, write_pointer
from ..dist import is_main_process
from .hook import Hook

_RULES = {'greater': lambda a, b: a > b, 'less': lambda a, b: a < b}
_INIT = {'greater': -inf, 'less': inf}
GREATER_KEYS = ('acc', 'top', 'AR@', 'auc', 'precision', 'mAP', 'mDice', 'mIoU',
                'mAcc', 'aAcc')
LESS_KEYS = ('loss',)
_TEMPORARY = re.compile(r'\..+\.tmp-(\d+)\.pth')  # fileio.temporary_name's, with a pid


@HOOKS.register_module()
class CheckpointHook(Hook):
    """Save checkpoints periodically, at the end, and when a metric improves.

    Args:
        interval (int): Save every this many epochs (``by_epoch``) or
            iterations; -1: never periodically. Defaults to -1.
        by_epoch (bool): Count epochs (True) or iterations. Defaults to True.
        save_optimizer (bool): Include the optimizer state. Defaults to True.
        save_param_scheduler (bool): Include the schedulers' states.
        out_dir (str, optional): Save to ``out_dir/<work dir name>/``.
        max_keep_ckpts (int): Keep only the newest this many periodic
            checkpoints; -1 keeps all. Defaults to -1.
        save_last (bool): Also save after the last epoch/iteration.
        save_best (str | list[str], optional): Metric(s) (``'coco/AP'``,
            ``'PCK'``) whose best value's checkpoint is kept; ``'auto'`` is
            the first metric.
        rule (str | list[str], optional): ``'greater'`` or ``'less'``; None
            infers it from the metric name (``acc``, ``AR@``... greater;
            ``loss`` less) and raises when it cannot.
        greater_keys / less_keys (Sequence[str], optional): Replace the
            names used to infer ``rule``.
        filename_tmpl (str, optional): ``'epoch_{}.pth'`` / ``'iter_{}.pth'``.
        published_keys (str | list[str], optional): After training, write a
            copy of the last and best checkpoints with only these keys, named
            ``<name>-<sha256[:8]>.pth``.
        save_begin (int): First epoch/iteration that may be saved periodically.
        backend_args (dict, optional): Only local files are supported.
    """

    priority = 'VERY_LOW'

    def __init__(self, interval: int = -1, by_epoch: bool = True,
                 save_optimizer: bool = True, save_param_scheduler: bool = True,
                 out_dir: str | None = None, max_keep_ckpts: int = -1,
                 save_last: bool = True, save_best: str | Sequence[str] | None = None,
                 rule: str | Sequence[str] | None = None,
                 greater_keys: Sequence[str] | None = None,
                 less_keys: Sequence[str] | None = None,
                 filename_tmpl: str | None = None, backend_args: dict | None = None,
                 published_keys: str | Sequence[str] | None = None,
                 save_begin: int = 0, file_client_args: dict | None = None) -> None:
        if backend_args not in (None, {}, {'backend': 'local'}) or file_client_args:
            raise ValueError('CheckpointHook: only local files are supported '
                             f'(backend_args={backend_args!r})')
        if save_begin < 0:
            raise ValueError(f'CheckpointHook: save_begin must be >= 0, got {save_begin}')
        self.interval, self.by_epoch = interval, by_epoch
        self.save_optimizer, self.save_param_scheduler = save_optimizer, save_param_scheduler
        self.out_dir, self.max_keep_ckpts, self.save_last = out_dir, max_keep_ckpts, save_last
        self._training = False  # set by before_train
        self.filename_tmpl = filename_tmpl or ('epoch_{}.pth' if by_epoch else 'iter_{}.pth')
        self.save_begin = save_begin
        self.published_keys = [published_keys] if isinstance(published_keys, str) \
            else (list(published_keys) if published_keys else None)
        self.greater_keys = tuple(greater_keys) if greater_keys else GREATER_KEYS
        self.less_keys = tuple(less_keys) if less_keys else LESS_KEYS
        keys = [save_best] if isinstance(save_best, str) else list(save_best or [])
        if len(set(keys)) != len(keys) or ('auto' in keys and len(keys) > 1):
            raise ValueError(f'CheckpointHook: bad save_best {save_best!r}')
        rules = list(rule) if isinstance(rule, (list, tuple)) else [rule]
        if keys and len(rules) not in (1, len(keys)):
            raise ValueError('CheckpointHook: give one rule or one per save_best metric')
        self.keys = keys
        self.rules = rules * len(keys) if len(rules) == 1 else rules
        for key, r in zip(self.keys, self.rules):
            if r is not None and r not in _RULES:
                raise ValueError(f"CheckpointHook: rule must be 'greater' or 'less', got {r!r}")
            if r is None and key != 'auto':
                self.rules[self.keys.index(key)] = self._infer_rule(key)
        self.last_ckpt: str | None = None
        self.keep_ids: deque = deque()

    def _infer_rule(self, key: str) -> str:
        low = key.lower()
        greater = [k.lower() for k in self.greater_keys]
        less = [k.lower() for k in self.less_keys]
        if low in greater:
            return 'greater'
        if low in less:
            return 'less'
        if any(k in low for k in greater):
            return 'greater'
        if any(k in low for k in less):
            return 'less'
        raise ValueError(f'CheckpointHook: cannot tell whether a greater or a smaller '
                         f'{key!r} is better; set rule="greater" or rule="less"')

    # ------------------------------------------------------------ stages
    def before_train(self, runner):
        self._training = True
        if self.out_dir is None:
            self.out_dir = runner.work_dir
        elif os.path.abspath(self.out_dir) != os.path.abspath(runner.work_dir):
            self.out_dir = os.path.join(self.out_dir, os.path.basename(
                os.path.normpath(runner.work_dir)))
        runner.logger.info('Checkpoints will be saved to %s', self.out_dir)
        self._remove_dead_temporaries(runner)
        # a resumed run rewrites the checkpoint it resumed from when a better
        # score comes first, so that the checkpoint records the new best
        self.last_ckpt = runner.message_hub.get_info('last_ckpt')
        if self.max_keep_ckpts > 0:
            ids = list(runner.message_hub.get_info('keep_ckpt_ids', []))
            while len(ids) > self.max_keep_ckpts:
                self._remove(self.filename_tmpl.format(ids.pop(0)))
            self.keep_ids = deque(ids, self.max_keep_ckpts)

    def after_train_epoch(self, runner):
        if self.by_epoch and (self.every_n_epochs(runner, self.interval, self.save_begin)
                              or (self.save_last and self.is_last_train_epoch(runner))):
            runner.logger.info('Saving checkpoint at %d epochs', runner.epoch + 1)
            self._save_step(runner, runner.epoch + 1,
                            dict(epoch=runner.epoch + 1, iter=runner.iter))

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if not self.by_epoch and (
                self.every_n_train_iters(runner, self.interval, self.save_begin)
                or (self.save_last and self.is_last_train_iter(runner))):
            runner.logger.info('Saving checkpoint at %d iterations', runner.iter + 1)
            self._save_step(runner, runner.iter + 1,
                            dict(epoch=runner.epoch, iter=runner.iter + 1))

    def after_val_epoch(self, runner, metrics=None):
        # a validation run on its own (runner.val()) trains nothing to keep
        if not self.keys or not self._training:
            return
        if not metrics:
            runner.logger.warning('CheckpointHook: no metrics, no best checkpoint')
            return
        self._save_best(runner, metrics)

    def after_train(self, runner):
        if not self.published_keys or not is_main_process():
            return
        paths = [self.last_ckpt] if self.save_last else []
        paths += [runner.message_hub.get_info(self._info_names(k)[1]) for k in self.keys]
        for path in filter(None, paths):
            self._publish(runner, path)

    # ------------------------------------------------------------ saving
    def _save_step(self, runner, step: int, meta: dict) -> None:
        if self.max_keep_ckpts > 0 and not (self.keep_ids and self.keep_ids[-1] == step):
            if len(self.keep_ids) == self.max_keep_ckpts:
                self._remove(self.filename_tmpl.format(self.keep_ids.popleft()))
            self.keep_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ids))
        self.last_ckpt = os.path.join(self.out_dir, self.filename_tmpl.format(step))
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(self.last_ckpt, save_optimizer=self.save_optimizer,
                               save_param_scheduler=self.save_param_scheduler, meta=meta)
        if is_main_process():
            write_pointer(runner.work_dir, self.last_ckpt)

    def _info_names(self, key: str) -> tuple[str, str]:
        if len(self.keys) == 1:
            return 'best_score', 'best_ckpt'
        return f'best_score_{key}', f'best_ckpt_{key}'

    def _save_best(self, runner, metrics: dict) -> None:
        if self.keys == ['auto']:
            self.keys, self.rules = [next(iter(metrics))], [self.rules[0] or
                                                            self._infer_rule(next(iter(metrics)))]
        step_name = runner.epoch if self.by_epoch else runner.iter
        filename = self.filename_tmpl.format(step_name)
        meta = dict(epoch=runner.epoch, iter=runner.iter)
        improved = False
        for key, rule in zip(self.keys, self.rules):
            if key not in metrics:
                raise KeyError(f'CheckpointHook: save_best={key!r} is not among the '
                               f'metrics {sorted(metrics)}')
            score_name, path_name = self._info_names(key)
            best = runner.message_hub.get_info(score_name, _INIT[rule])
            score = float(metrics[key])
            if math.isnan(score):
                runner.logger.warning('CheckpointHook: %s is NaN at %s %d: not a candidate '
                                      'for the best checkpoint', key,
                                      'epoch' if self.by_epoch else 'iter', step_name)
                continue
            if not _RULES[rule](score, best) and not math.isnan(best):
                continue
            improved = True
            runner.message_hub.update_info(score_name, score)
            old = runner.message_hub.get_info(path_name)
            if old and is_main_process() and os.path.isfile(old):
                os.remove(old)
                runner.logger.info('The previous best checkpoint %s is removed', old)
            name = f'best_{key}_{filename}'.replace('/', '_')
            path = os.path.join(self.out_dir, name)
            runner.message_hub.update_info(path_name, path)
            runner.save_checkpoint(path, save_optimizer=False,
                                   save_param_scheduler=False, meta=dict(meta))
            runner.logger.info('The best checkpoint with %.4f %s at %d %s is saved '
                               'to %s.', score, key, step_name,
                               'epoch' if self.by_epoch else 'iter', name)
        if improved and self.last_ckpt is not None:
            # rewrite the periodic checkpoint so that it records the new best
            self._save_step(runner, step_name, meta)

    def _remove_dead_temporaries(self, runner) -> None:
        # os.kill(pid, 0) probes a process on POSIX only (on Windows 0 is CTRL_C_EVENT)
        if not is_main_process() or os.name != 'posix' or not os.path.isdir(self.out_dir):
            return
        for name in sorted(os.listdir(self.out_dir)):
            match = _TEMPORARY.fullmatch(name)
            if match and not _running(int(match[1])):
                os.remove(os.path.join(self.out_dir, name))
                runner.logger.info('Removed %s, left by a run that stopped while writing it',
                                   name)

    def _remove(self, filename: str) -> None:
        path = os.path.join(self.out_dir, filename)
        if is_main_process() and os.path.isfile(path):
            os.remove(path)

    def _publish(self, runner, path: str) -> None:
        final, dropped = publish_checkpoint(path, self.published_keys)
        runner.logger.info('Published %s to %s (removed keys: %s)', path, final, dropped)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
