"""The schedules, each for any ``param_name``.

Each class gives the recurrence ``new = f(current)`` that
:class:`~posekit.engine.schedulers.base.ParamScheduler` applies at every step
of its window (``t = last_step``, 0 at ``begin``; ``T = end - begin``). The
closed form each recurrence follows when the scheduler acts alone is in its
docstring. The ``...LR`` / ``...Momentum`` names configs use are in
:mod:`~posekit.engine.schedulers.named`.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

from posekit.registry import PARAM_SCHEDULERS

from .base import INF, ParamScheduler, logger


@PARAM_SCHEDULERS.register_module()
class StepParamScheduler(ParamScheduler):
    """Multiply by ``gamma`` every ``step_size`` steps:
    ``v0 * gamma**(t // step_size)``."""

    epoch_args = ('step_size',)

    def __init__(self, optimizer: Any, param_name: str | None = None, *,
                 step_size: int, gamma: float = 0.1, **window: Any) -> None:
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, param_name, **window)

    def _get_value(self) -> list:
        t = self.last_step
        if t == 0 or t % self.step_size != 0:
            return self._current()
        return [v * self.gamma for v in self._current()]


@PARAM_SCHEDULERS.register_module()
class MultiStepParamScheduler(ParamScheduler):
    """Multiply by ``gamma`` at each milestone (a step listed twice: gamma**2)."""

    epoch_args = ('milestones',)

    def __init__(self, optimizer: Any, param_name: str | None = None, *,
                 milestones: Sequence[int], gamma: float = 0.1,
                 **window: Any) -> None:
        # {step: how many times it is listed}, a plain dict so it saves as-is
        self.milestones: dict = {}
        for m in milestones:
            self.milestones[m] = self.milestones.get(m, 0) + 1
        self.gamma = gamma
        super().__init__(optimizer, param_name, **window)

    def _get_value(self) -> list:
        times = self.milestones.get(self.last_step)
        if times is None:
            return self._current()
        return [v * self.gamma**times for v in self._current()]


@PARAM_SCHEDULERS.register_module()
class ConstantParamScheduler(ParamScheduler):
    """Multiply by ``factor`` at the first step and divide it back out at step
    ``T - 1``, so the value is ``v0 * factor`` for ``T - 1`` steps.

    With ``T == 1`` the factor is applied and never divided out: MMPose's RTMO
    configs rely on this (``factor=2.5``, ``end=begin+1``) to raise the lr for
    the following cosine. ``factor`` may be larger than 1 (MMPose's
    ``ConstantLR``, which configs use, drops MMEngine's ``<= 1`` check).
    """

    def __init__(self, optimizer: Any, param_name: str | None = None, *,
                 factor: float = 1.0 / 3, begin: int = 0, end: int = INF,
                 **window: Any) -> None:
        self.total_iters = end - begin - 1
        if factor < 0 or (factor == 0 and self.total_iters > 0):
            raise ValueError(f'{type(self).__name__}: factor must be positive, '
                             f'got {factor}')
        self.factor = factor
        super().__init__(optimizer, param_name, begin=begin, end=end, **window)

    def _get_value(self) -> list:
        if self.last_step == 0:
            return [v * self.factor for v in self._current()]
        if self.last_step != self.total_iters:
            return self._current()
        return [v * (1.0 / self.factor) for v in self._current()]


@PARAM_SCHEDULERS.register_module()
class ExponentialParamScheduler(ParamScheduler):
    """Multiply by ``gamma`` every step after the first: ``v0 * gamma**t``."""

    def __init__(self, optimizer: Any, param_name: str | None = None, *,
                 gamma: float, **window: Any) -> None:
        self.gamma = gamma
        super().__init__(optimizer, param_name, **window)

    def _get_value(self) -> list:
        if self.last_step == 0:
            return self._current()
        return [v * self.gamma for v in self._current()]


@PARAM_SCHEDULERS.register_module()
class LinearParamScheduler(ParamScheduler):
    """Linear factor from ``start_factor`` (step 0) to ``end_factor`` (step
    ``T - 1``): ``v0 * (s + (e - s) * t / (T - 1))``. Both factors in [0, 1]."""

    def __init__(self, optimizer: Any, param_name: str | None = None, *,
                 start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 begin: int = 0, end: int = INF, **window: Any) -> None:
        for arg, value in (('start_factor', start_factor),
                           ('end_factor', end_factor)):
            if not 0 <= value <= 1:
                raise ValueError(f'{type(self).__name__}: {arg} must be in '
                                 f'[0, 1], got {value}')
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = end - begin - 1
        super().__init__(optimizer, param_name, begin=begin, end=end, **window)

    def _get_value(self) -> list:
        if self.last_step == 0:
            return [v * self.start_factor for v in self._current()]
        delta = self.end_factor - self.start_factor
        ratio = 1. + delta / (self.total_iters * self.start_factor
                              + (self.last_step - 1) * delta)
        return [v * ratio for v in self._current()]


@PARAM_SCHEDULERS.register_module()
class PolyParamScheduler(ParamScheduler):
    """Polynomial decay to ``eta_min`` at step ``T - 1``:
    ``eta_min + (v0 - eta_min) * (1 - t / (T - 1))**power``."""

    def __init__(self, optimizer: Any, param_name: str | None = None, *,
                 eta_min: float = 0, power: float = 1.0, begin: int = 0,
                 end: int = INF, **window: Any) -> None:
        self.eta_min = eta_min
        self.power = power
        self.total_iters = end - begin - 1
        super().__init__(optimizer, param_name, begin=begin, end=end, **window)

    def _get_value(self) -> list:
        if self.last_step == 0:
            return self._current()
        keep = (1 - 1 / (self.total_iters - self.last_step + 1))**self.power
        return [(v - self.eta_min) * keep + self.eta_min
                for v in self._current()]


@PARAM_SCHEDULERS.register_module()
class CosineAnnealingParamScheduler(ParamScheduler):
    """Half a cosine from the base value to ``eta_min`` over ``T_max`` steps:
    ``eta_min + (v0 - eta_min) * (1 + cos(pi * t / T_max)) / 2``.

    Args:
        T_max (int, optional): Steps of the half period. Default: ``end - begin``.
        eta_min (float, optional): Final value. Default 0 unless
            ``eta_min_ratio`` is given; give one of the two.
        eta_min_ratio (float, optional): Final value as a fraction of each
            group's base value.
    """

    epoch_args = ('T_max',)

    def __init__(self, optimizer: Any, param_name: str | None = None, *,
                 T_max: int | None = None, eta_min: float | None = None,
                 eta_min_ratio: float | None = None, begin: int = 0,
                 end: int = INF, **window: Any) -> None:
        if eta_min is None and eta_min_ratio is None:
            eta_min = 0.
        if eta_min is not None and eta_min_ratio is not None:
            raise ValueError(f'{type(self).__name__}: give eta_min or '
                             'eta_min_ratio, not both')
        self.T_max = T_max or (end - begin)
        self.eta_min = eta_min
        self.eta_min_ratio = eta_min_ratio
        super().__init__(optimizer, param_name, begin=begin, end=end, **window)

    def _floor(self, base: float) -> float:
        return self.eta_min if self.eta_min_ratio is None else base * self.eta_min_ratio

    def _get_value(self) -> list:
        t, T = self.last_step, self.T_max
        if t == 0:
            return self._current()
        pairs = zip(self.base_values, self._current())
        if (t - 1 - T) % (2 * T) == 0:
            # at the trough the ratio below is 0/0: step up by the first increment
            return [v + (base - self._floor(base)) * (1 - math.cos(math.pi / T)) / 2
                    for base, v in pairs]
        ratio = (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
        return [ratio * (v - self._floor(base)) + self._floor(base)
                for base, v in pairs]


@PARAM_SCHEDULERS.register_module()
class CosineRestartParamScheduler(ParamScheduler):
    """Cosine annealing restarted at the end of each of ``periods``; cycle
    ``i`` starts from ``base * restart_weights[i]``. Give ``eta_min`` or
    ``eta_min_ratio`` (exactly one). After the last period the value stays."""

    epoch_args = ('periods',)

    def __init__(self, optimizer: Any, param_name: str | None = None, *,
                 periods: Sequence[int], restart_weights: Sequence[float] = (1,),
                 eta_min: float | None = None,
                 eta_min_ratio: float | None = None, **window: Any) -> None:
        if (eta_min is None) == (eta_min_ratio is None):
            raise ValueError(f'{type(self).__name__}: give exactly one of '
                             'eta_min and eta_min_ratio')
        if len(periods) != len(restart_weights):
            raise ValueError(f'{type(self).__name__}: periods and '
                             'restart_weights must have the same length')
        self.periods = list(periods)
        self.restart_weights = list(restart_weights)
        self.eta_min = eta_min
        self.eta_min_ratio = eta_min_ratio
        self.cumulative_periods = [sum(self.periods[:i + 1])
                                   for i in range(len(self.periods))]
        super().__init__(optimizer, param_name, **window)

    def _get_value(self) -> list:
        t = self.last_step
        cycle = next((i for i, c in enumerate(self.cumulative_periods) if t < c),
                     None)
        if cycle is None:
            return self._current()
        start = 0 if cycle == 0 else self.cumulative_periods[cycle - 1]
        period, t = self.periods[cycle], t - start
        values = []
        for base, v in zip(self.base_values, self._current()):
            top = base * self.restart_weights[cycle]
            floor = (self.eta_min if self.eta_min_ratio is None
                     else base * self.eta_min_ratio)
            if t == 0:
                values.append(top)
            else:
                values.append((1 + math.cos(math.pi * t / period))
                              / (1 + math.cos(math.pi * (t - 1) / period))
                              * (v - floor) + floor)
        return values


@PARAM_SCHEDULERS.register_module()
class QuadraticWarmupParamScheduler(ParamScheduler):
    """Quadratic warm-up from 0 to the base value over ``T`` steps:
    ``v0 * ((t + 1) / T)**2``, accumulated as ``v += v0 * (2t + 1) / T**2``.

    Needs a finite ``end``. (MMPose / MMDetection's scheduler.)
    """

    def __init__(self, optimizer: Any, param_name: str | None = None, *,
                 begin: int = 0, end: int = INF, **window: Any) -> None:
        if end >= INF:
            raise ValueError(f'{type(self).__name__}: set end to the step the '
                             'warm-up ends at')
        self.total_iters = end - begin
        super().__init__(optimizer, param_name, begin=begin, end=end, **window)

    def _get_value(self) -> list:
        t, T = self.last_step, self.total_iters
        if t == 0:
            return [base * (2 * t + 1) / T**2 for base in self.base_values]
        return [v + base * (2 * t + 1) / T**2
                for base, v in zip(self.base_values, self._current())]


@PARAM_SCHEDULERS.register_module()
class OneCycleParamScheduler(ParamScheduler):
    """The 1cycle policy (learning rate only): from ``eta_max / div_factor``
    up to ``eta_max`` over ``pct_start`` of ``total_steps``, then down to
    ``initial / final_div_factor`` (or, with ``three_phase``, back to the
    initial value and then down). Sets the lr itself; does not chain.

    Args:
        eta_max (float or list[float]): Peak value (one per group, or shared).
        total_steps (int, optional): Length of the cycle. Default ``end - begin``.
        pct_start (float): Fraction of the cycle spent going up.
        anneal_strategy (str): ``'cos'`` or ``'linear'``.
        div_factor (float): ``initial = eta_max / div_factor``.
        final_div_factor (float): ``minimum = initial / final_div_factor``.
        three_phase (bool): Use the paper's three phases.
    """

    epoch_args = ('total_steps',)

    def __init__(self, optimizer: Any, param_name: str | None = None, *,
                 eta_max: float | Sequence[float] = 0,
                 total_steps: int | None = None, pct_start: float = 0.3,
                 anneal_strategy: str = 'cos', div_factor: float = 25.,
                 final_div_factor: float = 1e4, three_phase: bool = False,
                 begin: int = 0, end: int = INF, last_step: int = -1,
                 **window: Any) -> None:
        name = type(self).__name__
        if (param_name or self.fixed_param_name) != 'lr':
            raise ValueError(f'{name} only schedules the learning rate')
        if total_steps is not None and (not isinstance(total_steps, int)
                                        or total_steps <= 0):
            raise ValueError(f'{name}: total_steps must be a positive int, '
                             f'got {total_steps!r}')
        if not 0 <= pct_start <= 1:
            raise ValueError(f'{name}: pct_start must be in [0, 1], got {pct_start}')
        if anneal_strategy not in ('cos', 'linear'):
            raise ValueError(f"{name}: anneal_strategy must be 'cos' or "
                             f"'linear', got {anneal_strategy!r}")
        self.total_steps = total_steps or (end - begin)
        self.anneal_strategy = anneal_strategy
        self.phases = _one_cycle_phases(self.total_steps, pct_start, three_phase)
        groups = optimizer.param_groups
        peaks = (list(eta_max) if isinstance(eta_max, Sequence)
                 else [eta_max] * len(groups))
        if len(peaks) != len(groups):
            raise ValueError(f'{name}: expected {len(groups)} values of '
                             f'eta_max, got {len(peaks)}')
        if last_step == -1:
            for group, peak in zip(groups, peaks):
                group['initial_lr'] = peak / div_factor
                group['max_lr'] = peak
                group['min_lr'] = group['initial_lr'] / final_div_factor
        super().__init__(optimizer, param_name, begin=begin, end=end,
                         last_step=last_step, **window)

    def _get_value(self) -> list:
        t = self.last_step
        if t > self.total_steps:
            raise ValueError(f'{type(self).__name__}: stepped {t + 1} times, '
                             f'more than total_steps={self.total_steps}')
        values = []
        for group in self.optimizer.param_groups:
            start_step = 0
            for i, (end_step, start_key, end_key) in enumerate(self.phases):
                if t <= end_step or i == len(self.phases) - 1:
                    pct = (t - start_step) / (end_step - start_step)
                    values.append(self._anneal(group[start_key], group[end_key], pct))
                    break
                start_step = end_step
        return values

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == 'cos':
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start


def _one_cycle_phases(total: int, pct_start: float, three_phase: bool) -> list:
    """[(last step of the phase, group key it starts at, key it ends at)]."""
    up = float(pct_start * total) - 1
    if three_phase:
        return [(up, 'initial_lr', 'max_lr'),
                (float(2 * pct_start * total) - 2, 'max_lr', 'initial_lr'),
                (total - 1, 'initial_lr', 'min_lr')]
    return [(up, 'initial_lr', 'max_lr'), (total - 1, 'max_lr', 'min_lr')]


@PARAM_SCHEDULERS.register_module()
class ReduceOnPlateauParamScheduler(ParamScheduler):
    """Multiply by ``factor`` when the validation metric ``monitor`` has not
    improved for more than ``patience`` validations (MMEngine's, after
    PyTorch's ``ReduceLROnPlateau``).

    Driven by metrics (``need_val_args``): after every training epoch
    :meth:`step` without metrics only counts the epoch (``begin`` / ``end``
    are training epochs); after every validation ``step(metrics)`` judges
    ``metrics[monitor]`` when the epoch count is in the window. A value is
    better than the best so far when it beats it by ``threshold``: relative
    (``best * (1 -/+ threshold)``) or absolute (``best -/+ threshold``),
    below for ``rule='less'``, above for ``'greater'``. After a reduction
    ``cooldown`` validations pass without counting. Values never go below
    ``min_value``, and a change smaller than ``eps`` is not made.

    Args:
        monitor (str): The metric's name, e.g. ``'coco/AP'``.
        rule (str): ``'less'`` or ``'greater'``: which way is better.
        factor (float): Multiplier, < 1.
        patience (int): Validations without improvement that are tolerated.
        threshold (float): Margin of a significant improvement.
        threshold_rule (str): ``'rel'`` or ``'abs'``.
        cooldown (int): Validations to wait after a reduction.
        min_value (float or list[float]): Lower bound (per group).
        eps (float): Smallest change made.
    """

    need_val_args = True

    def __init__(self, optimizer: Any, param_name: str | None = None, *,
                 monitor: str = 'loss', rule: str = 'less', factor: float = 0.1,
                 patience: int = 10, threshold: float = 1e-4,
                 threshold_rule: str = 'rel', cooldown: int = 0,
                 min_value: float | Sequence[float] = 0., eps: float = 1e-8,
                 by_epoch: bool = True, **window: Any) -> None:
        name = type(self).__name__
        if not by_epoch:
            raise ValueError(f'{name} steps after validations: by_epoch must be True '
                             '(and convert_to_iter_based False)')
        if not factor < 1.0:
            raise ValueError(f'{name}: factor must be < 1, got {factor}')
        if rule not in ('less', 'greater'):
            raise ValueError(f"{name}: rule must be 'less' or 'greater', got {rule!r}")
        if threshold_rule not in ('rel', 'abs'):
            raise ValueError(f"{name}: threshold_rule must be 'rel' or 'abs', got "
                             f'{threshold_rule!r}')
        groups = optimizer.param_groups
        self.min_values = (list(min_value) if isinstance(min_value, Sequence)
                           else [min_value] * len(groups))
        if len(self.min_values) != len(groups):
            raise ValueError(f'{name}: expected {len(groups)} values of min_value, '
                             f'got {len(self.min_values)}')
        self.monitor, self.rule, self.factor = monitor, rule, factor
        self.patience, self.cooldown, self.eps = patience, cooldown, eps
        self.threshold, self.threshold_rule = threshold, threshold_rule
        self.best = math.inf if rule == 'less' else -math.inf
        self.num_bad_epochs = self.cooldown_counter = 0
        super().__init__(optimizer, param_name, by_epoch=True, **window)

    def step(self, metrics: dict | None = None) -> None:
        """Without ``metrics``: count a training epoch. With them: judge
        ``metrics[monitor]`` (a validation)."""
        if metrics is None:
            self._global_step += 1
            self._end_step()
            return
        if not isinstance(metrics, dict):
            raise TypeError(f'{type(self).__name__}.step: metrics must be a dict, got '
                            f'{type(metrics).__name__}')
        if self.begin <= self._global_step < self.end:
            if self.monitor not in metrics:
                raise KeyError(f'{type(self).__name__}: monitor {self.monitor!r} is not '
                               f'among the validation metrics {sorted(metrics)}')
            self.last_step += 1
            value = float(metrics[self.monitor])
            if self._is_better(value):
                self.best, self.num_bad_epochs = value, 0
            else:
                self.num_bad_epochs += 1
            if self.cooldown_counter > 0:
                self.cooldown_counter -= 1
                self.num_bad_epochs = 0
            if self.num_bad_epochs > self.patience:
                for i, (group, value) in enumerate(zip(self.optimizer.param_groups,
                                                       self._get_value())):
                    if group[self.param_name] - value > self.eps:
                        group[self.param_name] = value
                        if self.verbose:
                            logger.info('%s: %s of group %d set to %.4e (%s %s for %d '
                                        'validations)', type(self).__name__, self.param_name,
                                        i, value, self.monitor, 'not better',
                                        self.patience + 1)
                self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._end_step()

    def _is_better(self, value: float) -> bool:
        sign = -1 if self.rule == 'less' else 1
        bar = (self.best * (1 + sign * self.threshold) if self.threshold_rule == 'rel'
               else self.best + sign * self.threshold)
        return value < bar if self.rule == 'less' else value > bar

    def _get_value(self) -> list:
        return [max(v * self.factor, low) for v, low in zip(self._current(), self.min_values)]
