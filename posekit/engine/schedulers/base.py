"""The parameter-scheduler protocol shared by every schedule.

A scheduler changes one hyper-parameter (``param_name``: ``'lr'`` or
``'momentum'``) of every parameter group of an optimizer (a
``torch.optim.Optimizer`` or an :class:`~posekit.engine.optim.OptimWrapper`).
The semantics are MMEngine 0.10's, because MMPose configs are written for them:

- **Counting.** A scheduler counts its calls to :meth:`step` in
  ``_global_step``. Building it is the first call (step 0), so a warm-up
  that starts at 0 already lowers the lr before the first iteration.
- **Window.** Only steps with ``begin <= _global_step < end`` change the
  value; ``last_step`` counts those (0 at the first one). Outside the window
  the value is left as it is.
- **Chained.** Each update is computed from the group's *current* value
  (``new = f(current)``), not from a closed form, so several schedulers
  compose: ``LinearLR`` warm-up then ``MultiStepLR`` decay multiply. The
  recurrences are written exactly as MMEngine evaluates them, so the float
  sequence is identical, not only close.
- **Base values.** The first scheduler built on a group stores the group's
  value as ``initial_<param_name>`` in the group; every scheduler reads its
  ``base_values`` from there (so a second scheduler still sees the config's lr).
- **Units.** ``by_epoch=True``: the caller steps it once after every epoch and
  ``begin``/``end``/milestones count epochs. ``by_epoch=False``: after every
  iteration, counted in iterations. ``build_iter_from_epoch`` (used for
  ``convert_to_iter_based=True``) turns an epoch config into an iteration
  one by multiplying the step-counting arguments by the epoch length.
- **Momentum** of Adam-like optimizers is ``betas[0]``: a momentum scheduler
  keeps a ``'momentum'`` entry in each group and writes it back into ``betas``.
"""
from __future__ import annotations

import logging
from typing import Any, Sequence

INF = int(1e9)  # "no end": MMEngine's sentinel, kept so configs and states agree

logger = logging.getLogger('posekit.engine')


class ParamScheduler:
    """Base class: window, counting, chaining, state. Subclasses give the value.

    Args:
        optimizer (Optimizer or OptimWrapper): Anything with ``param_groups``
            (and ``defaults``, for momentum).
        param_name (str): Group key to schedule, e.g. ``'lr'``. Fixed (and
            not accepted) by the ``...LR`` and ``...Momentum`` classes.
        begin (int): First step (epoch or iteration) that changes the value.
        end (int): First step that no longer changes it. Default: no end.
        last_step (int): ``-1`` for a new schedule. Another value resumes a
            schedule without a state dict: the groups must then already hold
            ``initial_<param_name>``.
        by_epoch (bool): Whether steps are epochs (True) or iterations.
        verbose (bool): Log every new value at INFO level.
    """

    #: Set by the ``...LR`` / ``...Momentum`` classes.
    fixed_param_name: str | None = None
    #: Arguments counted in steps, multiplied by the epoch length when an
    #: epoch-based config is converted to iterations.
    epoch_args: tuple[str, ...] = ()

    def __init__(self, optimizer: Any, param_name: str | None = None, *,
                 begin: int = 0, end: int = INF, last_step: int = -1,
                 by_epoch: bool = True, verbose: bool = False) -> None:
        name = type(self).__name__
        if not hasattr(optimizer, 'param_groups'):
            raise TypeError(f'{name}: optimizer must be a torch Optimizer or '
                            f'an OptimWrapper, got {type(optimizer).__name__}')
        if self.fixed_param_name is not None:
            if param_name not in (None, self.fixed_param_name):
                raise TypeError(f'{name} schedules {self.fixed_param_name!r}; '
                                f'it takes no param_name (got {param_name!r})')
            param_name = self.fixed_param_name
        if param_name is None:
            raise TypeError(f'{name}: param_name is required (e.g. "lr")')
        if end <= begin:
            raise ValueError(f'{name}: end must be larger than begin, got '
                             f'begin={begin}, end={end}')
        if not isinstance(last_step, int) or last_step < -1:
            raise ValueError(f'{name}: last_step must be an int >= -1, got '
                             f'{last_step!r}')
        self.optimizer = optimizer
        self.param_name = param_name
        self.begin = begin
        self.end = end
        self.by_epoch = by_epoch
        self.verbose = verbose
        self.use_betas = param_name == 'momentum' and _momentum_is_beta(
            optimizer, name)
        if self.use_betas:
            for group in optimizer.param_groups:
                group['momentum'] = group['betas'][0]

        key = f'initial_{param_name}'
        for i, group in enumerate(optimizer.param_groups):
            if last_step == -1:
                group.setdefault(key, group[param_name])
            elif key not in group:
                raise KeyError(f'{name}: resuming with last_step={last_step} '
                               f'needs {key!r} in param_groups[{i}]')
        self.base_values = [group[key] for group in optimizer.param_groups]
        self.last_step = last_step
        self._global_step = -1
        self._last_value: list = []
        self.step()

    @classmethod
    def build_iter_from_epoch(cls, *args: Any, begin: int = 0, end: int = INF,
                              by_epoch: bool = True,
                              epoch_length: int | None = None,
                              **kwargs: Any) -> 'ParamScheduler':
        """Build the iteration-based equivalent of an epoch-based config.

        ``begin``, ``end`` (unless it is INF) and the class's ``epoch_args``
        are multiplied by ``epoch_length`` (iterations per epoch).
        """
        if not by_epoch:
            raise ValueError(f'{cls.__name__}: only an epoch-based config '
                             '(by_epoch=True) can be converted to iterations')
        if not isinstance(epoch_length, int) or epoch_length <= 0:
            raise ValueError(f'{cls.__name__}: epoch_length must be a positive '
                             f'int to convert epochs to iterations, got '
                             f'{epoch_length!r}')
        for arg in cls.epoch_args:
            if kwargs.get(arg) is not None:
                kwargs[arg] = _times(kwargs[arg], epoch_length)
        begin = int(begin * epoch_length)
        if end != INF:
            end = int(end * epoch_length)
        return cls(*args, begin=begin, end=end, by_epoch=False, **kwargs)

    def _get_value(self) -> list:
        """New values of every group at ``self.last_step`` (in the window)."""
        raise NotImplementedError

    def _current(self) -> list:
        return [group[self.param_name] for group in self.optimizer.param_groups]

    def step(self) -> None:
        """Advance one step; update the groups if the step is in the window."""
        self._global_step += 1
        if self.begin <= self._global_step < self.end:
            self.last_step += 1
            values = self._get_value()
            for i, (group, value) in enumerate(
                    zip(self.optimizer.param_groups, values)):
                group[self.param_name] = value
                if self.verbose:
                    logger.info('%s: %s of group %d set to %.4e',
                                type(self).__name__, self.param_name, i, value)
        self._end_step()

    def _end_step(self) -> None:
        """Record the values; Adam-like momentum goes back into ``betas``."""
        self._last_value = self._current()
        if self.use_betas:
            for group in self.optimizer.param_groups:
                group['betas'] = (group['momentum'], group['betas'][1])

    def get_last_value(self) -> list:
        """The value of every group after the last :meth:`step`."""
        return self._last_value

    def state_dict(self) -> dict:
        """Everything but the optimizer: plain Python values, so a checkpoint
        holding it loads with ``torch.load(weights_only=True)``."""
        return {key: value for key, value in self.__dict__.items()
                if key != 'optimizer'}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a state from :meth:`state_dict` (after the optimizer's own
        state, whose groups hold the current values)."""
        self.__dict__.update(state_dict)

    def __repr__(self) -> str:
        unit = 'epoch' if self.by_epoch else 'iter'
        end = 'inf' if self.end == INF else self.end
        return (f'{type(self).__name__}({self.param_name}, {unit} '
                f'[{self.begin}, {end}), last_step={self.last_step})')


def _momentum_is_beta(optimizer: Any, name: str) -> bool:
    defaults = getattr(optimizer, 'defaults', {})
    if 'momentum' in defaults:
        return False
    if 'betas' in defaults:
        return True
    raise ValueError(f'{name}: the optimizer has neither momentum nor betas '
                     'to schedule')


def _times(value: Any, factor: int) -> Any:
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [v * factor for v in value]
    return value * factor
