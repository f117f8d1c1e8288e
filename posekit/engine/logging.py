"""Run logs: the text log, the JSON-lines scalars file, log lines, a progress bar.

Files of a run (MMEngine's layout, so tools that read MMPose work dirs work)::

    WORK_DIR/TIMESTAMP/TIMESTAMP.log            the text log
    WORK_DIR/TIMESTAMP/vis_data/scalars.json    one JSON object per log step
    WORK_DIR/TIMESTAMP/vis_data/config.py       the resolved config

(the ``vis_data`` files are written by the run's visualizer and its
``LocalVisBackend``, see ``posekit.visualization``).

Only rank 0 writes files and prints below ERROR level.

:class:`MessageHub` holds what hooks share during a run: scalar histories
(``train/loss``, ``train/time``...) and runtime info (``best_score``,
``last_ckpt``...). It belongs to one runner; there is no global instance.
"""
from __future__ import annotations

import datetime
import logging
import os
import re
import sys
import time
from collections import OrderedDict
from typing import Any, Mapping, Sequence

import torch

LOG_FORMAT = '%(asctime)s - posekit - %(levelname)s - %(message)s'
DATE_FORMAT = '%Y/%m/%d %H:%M:%S'


class RunLogging:
    """Console and file handlers on the ``posekit`` logger for one run.

    Args:
        log_file (str, optional): The text log (rank 0 only).
        log_level (str | int): ``log_level`` of the config.
        rank (int): Non-zero ranks only print errors.
    """

    def __init__(self, log_file: str | None, log_level: str | int = 'INFO',
                 rank: int = 0) -> None:
        self.logger = logging.getLogger('posekit')
        level = logging.getLevelName(log_level) if isinstance(log_level, str) else log_level
        if not isinstance(level, int):
            raise ValueError(f'log_level {log_level!r} is not a logging level '
                             '(DEBUG, INFO, WARNING, ERROR, CRITICAL)')
        self.level = level if rank == 0 else logging.ERROR
        self.handlers: list[logging.Handler] = []
        formatter = logging.Formatter(LOG_FORMAT, DATE_FORMAT)
        console = logging.StreamHandler(sys.stdout)
        console.setLevel(self.level)
        self.handlers.append(console)
        if log_file and rank == 0:
            os.makedirs(os.path.dirname(log_file), exist_ok=True)
            file = logging.FileHandler(log_file, encoding='utf-8')
            file.setLevel(self.level)
            self.handlers.append(file)
        # Python warnings (e.g. from loading weights) go to the log as well
        self.warnings_logger = logging.getLogger('py.warnings')
        for handler in self.handlers:
            handler.setFormatter(formatter)
            self.logger.addHandler(handler)
            self.warnings_logger.addHandler(handler)
        self._old_level = self.logger.level
        self._old_propagate = self.logger.propagate
        self.logger.setLevel(min(self.level, self.logger.level or logging.WARNING))
        self.logger.propagate = False  # no duplicate lines via the root logger
        logging.captureWarnings(True)

    def close(self) -> None:
        logging.captureWarnings(False)
        for handler in self.handlers:
            self.logger.removeHandler(handler)
            self.warnings_logger.removeHandler(handler)
            handler.close()
        self.handlers = []
        self.logger.setLevel(self._old_level)
        self.logger.propagate = self._old_propagate


class History:
    """The values of one scalar, with how many samples each one averages."""

    def __init__(self, max_length: int = 100_000) -> None:
        self.values: list[float] = []
        self.counts: list[int] = []
        self.max_length = max_length

    def update(self, value: float, count: int = 1) -> None:
        self.values.append(float(value))
        self.counts.append(int(count))
        if len(self.values) > self.max_length:
            del self.values[:-self.max_length], self.counts[:-self.max_length]

    def current(self) -> float:
        return self.values[-1]

    def mean(self, window: int | None = None) -> float:
        values = self.values[-window:] if window else self.values
        counts = self.counts[-window:] if window else self.counts
        return sum(v * c for v, c in zip(values, counts)) / max(sum(counts), 1)

    def max(self, window: int | None = None) -> float:
        return max(self.values[-window:] if window else self.values)

    def min(self, window: int | None = None) -> float:
        return min(self.values[-window:] if window else self.values)


class MessageHub:
    """Scalars and runtime info shared by the loop and the hooks of one run."""

    def __init__(self) -> None:
        self.log_scalars: dict[str, History] = OrderedDict()
        self.runtime_info: dict[str, Any] = OrderedDict()

    def update_scalar(self, key: str, value: Any, count: int = 1) -> None:
        if isinstance(value, torch.Tensor):
            value = value.item()
        self.log_scalars.setdefault(key, History()).update(value, count)

    def update_scalars(self, values: Mapping[str, Any]) -> None:
        for key, value in values.items():
            self.update_scalar(key, value)

    def get_scalar(self, key: str) -> History:
        return self.log_scalars[key]

    def update_info(self, key: str, value: Any) -> None:
        self.runtime_info[key] = value

    def get_info(self, key: str, default: Any = None) -> Any:
        return self.runtime_info.get(key, default)

    def state_dict(self) -> dict:
        return {'runtime_info': dict(self.runtime_info)}

    def load_state_dict(self, state: Mapping) -> None:
        self.runtime_info.update(state.get('runtime_info', {}))


class LogProcessor:
    """Turns the message hub's scalars into log lines and scalar records.

    Args (MMEngine's ``LogProcessor``):
        window_size (int): Smooth ``loss``/``time`` entries over this many
            iterations. Defaults to 10.
        by_epoch (bool): ``Epoch(train) [e][i/n]`` rather than ``Iter(train)
            [i/N]``. Defaults to True.
        custom_cfg (list[dict], optional): Extra statistics, each
            ``dict(data_src='loss', method_name='mean'|'max'|'min'|'current',
            window_size=int|'global'|'epoch', log_name=...)``.
        num_digits (int): Digits after the point in log lines. Defaults to 4.
        log_with_hierarchy (bool): Scalar records named ``train/loss`` rather
            than ``loss``. Defaults to False.
        mean_pattern (str): Scalars whose names match are smoothed; the
            others show their latest value.
    """

    def __init__(self, window_size: int = 10, by_epoch: bool = True,
                 custom_cfg: Sequence[Mapping] | None = None,
                 num_digits: int = 4, log_with_hierarchy: bool = False,
                 mean_pattern: str = r'.*(loss|time|data_time|grad_norm).*') -> None:
        self.window_size = int(window_size)
        self.by_epoch = by_epoch
        self.num_digits = num_digits
        self.log_with_hierarchy = log_with_hierarchy
        self.mean_pattern = re.compile(mean_pattern)
        self.custom_cfg = [dict(c) for c in custom_cfg or ()]
        for c in self.custom_cfg:
            unknown = set(c) - {'data_src', 'method_name', 'window_size', 'log_name'}
            if unknown or 'data_src' not in c or c.get('method_name', 'mean') not in (
                    'mean', 'max', 'min', 'current'):
                raise ValueError(f'log_processor.custom_cfg entry {c!r}: needs '
                                 'data_src, method_name in mean/max/min/current, '
                                 'optional window_size and log_name')

    def _stat(self, history: History, method: str, window: Any, epoch_iters: int) -> float:
        if window == 'global':
            window = None
        elif window == 'epoch':
            window = max(epoch_iters, 1)
        if method == 'current':
            return history.current()
        return getattr(history, method)(window)

    def collect(self, hub: MessageHub, mode: str, epoch_iters: int) -> dict:
        """Smoothed scalars of ``mode`` (``train``, ``val``, ``test``)."""
        out: dict[str, float] = OrderedDict()
        prefix = f'{mode}/'
        for name, history in hub.log_scalars.items():
            if not name.startswith(prefix) or not history.values:
                continue
            key = name[len(prefix):]
            window = self.window_size if mode == 'train' else None
            out[key] = (history.mean(window) if self.mean_pattern.match(key)
                        else history.current())
        for c in self.custom_cfg:
            name = prefix + c['data_src']
            if name in hub.log_scalars:
                out[c.get('log_name', c['data_src'])] = self._stat(
                    hub.log_scalars[name], c.get('method_name', 'mean'),
                    c.get('window_size', self.window_size), epoch_iters)
        return out

    def format_value(self, value: Any) -> str:
        if isinstance(value, float):
            if value != 0 and (abs(value) < 10 ** -self.num_digits or abs(value) >= 1e6):
                return f'{value:.{self.num_digits}e}'
            return f'{value:.{self.num_digits}f}'
        return str(value)

    def train_line(self, hub: MessageHub, epoch: int, batch_idx: int,
                   epoch_length: int, iteration: int, max_iters: int) -> tuple[dict, str]:
        """(scalar record, log line) after a training iteration.

        ``epoch`` and ``iteration`` count from 0; ``batch_idx`` is the index
        in the epoch.
        """
        values = self.collect(hub, 'train', batch_idx + 1)
        lr_keys = [k for k in values if k.endswith('lr')]
        if self.by_epoch:
            width = len(str(epoch_length))
            head = f'Epoch(train) [{epoch + 1}][{batch_idx + 1:>{width}}/{epoch_length}]'
        else:
            width = len(str(max_iters))
            head = f'Iter(train) [{iteration + 1:>{width}}/{max_iters}]'
        parts = [f'{k}: {values[k]:.{self.num_digits}e}' for k in lr_keys]
        eta = hub.get_info('eta')
        if eta is not None:
            parts.append(f'eta: {datetime.timedelta(seconds=int(eta))}')
        first = [k for k in ('time', 'data_time') if k in values]
        parts += [f'{k}: {self.format_value(values[k])}' for k in first]
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            mb = int(torch.cuda.max_memory_allocated() / 2 ** 20)
            torch.cuda.reset_peak_memory_stats()
            parts.append(f'memory: {mb}')
            values['memory'] = mb
        parts += [f'{k}: {self.format_value(v)}' for k, v in values.items()
                  if k not in lr_keys and k not in first and k != 'memory']
        record = self._name(values, 'train')
        record.update(epoch=epoch + 1, iter=iteration + 1)
        return record, f'{head}  ' + '  '.join(parts)

    def eval_iter_line(self, hub: MessageHub, mode: str, epoch: int,
                       batch_idx: int, length: int) -> str:
        """Log line during a val/test pass (``batch_idx`` counts from 0)."""
        parts = []
        if f'{mode}/time' in hub.log_scalars:
            mean = hub.get_scalar(f'{mode}/time').mean(self.window_size)
            eta = datetime.timedelta(seconds=int(mean * (length - batch_idx - 1)))
            parts.append(f'eta: {eta}')
        for key in ('time', 'data_time'):
            if f'{mode}/{key}' in hub.log_scalars:
                value = hub.get_scalar(f'{mode}/{key}').mean(self.window_size)
                parts.append(f'{key}: {self.format_value(value)}')
        return f'{self._head(mode, epoch, batch_idx + 1, length)}  ' + '  '.join(parts)

    def _head(self, mode: str, epoch: int, done: int, length: int) -> str:
        width = len(str(length))
        if self.by_epoch and mode == 'val':
            return f'Epoch(val) [{epoch}][{done:>{width}}/{length}]'
        return f'{"Epoch" if self.by_epoch else "Iter"}({mode}) [{done:>{width}}/{length}]'

    def eval_line(self, hub: MessageHub, mode: str, metrics: Mapping,
                  epoch: int, batch_idx: int, length: int) -> tuple[dict, str]:
        """(scalar record, log line) at the end of a val/test pass."""
        values = OrderedDict((k, _plain_number(v)) for k, v in metrics.items())
        for key in ('data_time', 'time'):
            name = f'{mode}/{key}'
            if name in hub.log_scalars and hub.log_scalars[name].values:
                values[key] = hub.log_scalars[name].mean()
        head = self._head(mode, epoch, batch_idx, length)
        parts = [f'{k}: {self.format_value(v)}' for k, v in values.items()
                 if isinstance(v, (int, float))]
        return self._name(values, mode), f'{head}  ' + '  '.join(parts)

    def _name(self, values: Mapping, mode: str) -> dict:
        if not self.log_with_hierarchy:
            return dict(values)
        return {(k if '/' in k else f'{mode}/{k}'): v for k, v in values.items()}


def _plain_number(value: Any) -> Any:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    if hasattr(value, 'item') and getattr(value, 'size', 2) == 1:
        return value.item()
    return value


class ProgressBar:
    """A one-line progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, total: int, title: str, enabled: bool = True) -> None:
        self.total, self.title, self.done = max(int(total), 1), title, 0
        self.enabled = enabled and sys.stderr.isatty()
        self.start = time.perf_counter()

    def update(self, n: int = 1) -> None:
        self.done += n
        if not self.enabled:
            return
        frac = min(self.done / self.total, 1.0)
        elapsed = time.perf_counter() - self.start
        eta = elapsed / frac * (1 - frac) if frac > 0 else 0
        bar = '#' * int(frac * 30)
        sys.stderr.write(f'\r{self.title} [{bar:<30}] {self.done}/{self.total} '
                         f'{elapsed:.0f}s<{eta:.0f}s')
        if self.done >= self.total:
            sys.stderr.write('\n')
        sys.stderr.flush()
