"""OptimWrapper: one call per iteration updates the parameters.

``optim_wrapper.update_params(loss)`` backpropagates ``loss`` and, when an
update is due, clips the gradients, steps the optimizer and zeroes the
gradients. Semantics are MMEngine 0.10's (MMPose configs name
``type='OptimWrapper'``, ``clip_grad``, ``accumulative_counts``):

- **Gradient accumulation** (``accumulative_counts=n``): the optimizer steps
  every ``n`` calls, and each loss is divided by ``n`` first, so ``n``
  batches of size ``b`` give the step of one batch of size ``n*b`` (for a
  mean loss and no BatchNorm). ``initialize_count_status(model, start,
  max_counts)`` tells the wrapper where training starts and ends: the last,
  incomplete window of ``max_counts % n`` calls then divides by that
  remainder instead, and steps at ``max_counts``. Without it every window
  divides by ``n`` and a final incomplete window is never stepped.
- **Clipping** happens just before each optimizer step, on the parameters
  of all groups that have a gradient.
- **Param groups**: with more than one group, ``param_groups`` has one more
  entry at the end, the optimizer's defaults (``base_param_settings``):
  schedulers update it like the others, and ``get_lr()`` reports its lr as
  ``base_lr``, the config's lr before any paramwise multiplier.
"""
from __future__ import annotations

import inspect
import warnings
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from posekit.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class OptimWrapper:
    """Backward, accumulate, clip, step and zero the gradients of one optimizer.

    Args:
        optimizer (torch.optim.Optimizer): The optimizer it drives.
        accumulative_counts (int): Calls of :meth:`update_params` per
            optimizer step.
        clip_grad (dict, optional): ``dict(max_norm=..., norm_type=2)`` (keys
            of ``torch.nn.utils.clip_grad_norm_``; ``type='norm'`` optional)
            or ``dict(type='value', clip_value=...)`` (keys of
            ``clip_grad_value_``). The gradient norm before clipping is kept
            in :attr:`last_grad_norm` for logging.
    """

    def __init__(self, optimizer: torch.optim.Optimizer,
                 accumulative_counts: int = 1,
                 clip_grad: dict | None = None) -> None:
        if not isinstance(accumulative_counts, int) or accumulative_counts < 1:
            raise ValueError('accumulative_counts must be an int >= 1, got '
                             f'{accumulative_counts!r}')
        self.optimizer = optimizer
        self._accumulative_counts = accumulative_counts
        self.clip_grad_kwargs, self._clip_func = _parse_clip_grad(clip_grad)
        self.last_grad_norm: float | None = None
        self._inner_count = 0
        self._max_counts = -1       # unknown until initialize_count_status
        self._remainder_counts = -1
        self.base_param_settings: dict | None = None
        if len(optimizer.param_groups) > 1:
            self.base_param_settings = {'params': [], **optimizer.defaults}

    # -- the update ------------------------------------------------------------

    def update_params(self, loss: torch.Tensor, step_kwargs: dict | None = None,
                      zero_kwargs: dict | None = None) -> None:
        """Backpropagate ``loss`` (scaled for accumulation); step and zero
        the gradients if this call completes a window."""
        self.backward(self.scale_loss(loss))
        if self.should_update():
            self.step(**(step_kwargs or {}))
            self.zero_grad(**(zero_kwargs or {}))

    def skip_update(self, step_kwargs: dict | None = None,
                    zero_kwargs: dict | None = None) -> None:
        """Count a call of :meth:`update_params` whose loss is left out (a
        NaN or infinite one, see ``train_cfg.skip_nonfinite``): no backward.
        When the call completes an accumulation window, the optimizer steps
        on the gradients the window's other calls left, if there are any."""
        self._inner_count += 1
        if self.should_update():
            if any(p.grad is not None for group in self.optimizer.param_groups
                   for p in group['params']):
                self.step(**(step_kwargs or {}))
            self.zero_grad(**(zero_kwargs or {}))

    def scale_loss(self, loss: torch.Tensor) -> torch.Tensor:
        """``loss`` divided by the number of calls in the current window."""
        n = self._accumulative_counts
        if n == 1 or self._max_counts == -1:
            return loss / n
        if self._inner_count < self._max_counts - self._remainder_counts:
            return loss / n
        if self._remainder_counts <= 0:
            raise RuntimeError(
                f'update_params called {self._inner_count + 1} times, past '
                f'max_counts={self._max_counts} given to initialize_count_status')
        return loss / self._remainder_counts

    def backward(self, loss: torch.Tensor, **kwargs: Any) -> None:
        """``loss.backward(**kwargs)``, counting the call."""
        loss.backward(**kwargs)
        self._inner_count += 1

    def step(self, **kwargs: Any) -> None:
        """Clip the gradients (if configured), then ``optimizer.step``."""
        if self.clip_grad_kwargs:
            self._clip_grad()
        self.optimizer.step(**kwargs)

    def zero_grad(self, **kwargs: Any) -> None:
        """``optimizer.zero_grad(**kwargs)``."""
        self.optimizer.zero_grad(**kwargs)

    def _clip_grad(self) -> None:
        params = [p for group in self.optimizer.param_groups
                  for p in group['params']
                  if p.requires_grad and p.grad is not None]
        if params:
            norm = self._clip_func(params, **self.clip_grad_kwargs)
            if norm is not None:  # clip_grad_value_ returns None
                self.last_grad_norm = float(norm)

    # -- accumulation bookkeeping ---------------------------------------------

    def should_update(self) -> bool:
        """Whether the call just counted completes a window (or training)."""
        return (self._inner_count % self._accumulative_counts == 0
                or self._inner_count == self._max_counts)

    def should_sync(self) -> bool:
        """Whether the *next* backward completes a window: only then must
        DDP all-reduce the gradients."""
        upcoming = self._inner_count + 1
        return (upcoming % self._accumulative_counts == 0
                or upcoming == self._max_counts)

    def initialize_count_status(self, model: nn.Module, init_counts: int,
                                max_counts: int) -> None:
        """Tell the wrapper the first and the last count of training.

        Call before training: ``init_counts`` is the iteration training
        starts (or resumes) at, ``max_counts`` the total number of
        iterations (``max_epochs * len(train_dataloader)`` or ``max_iters``).
        """
        self._inner_count = init_counts
        self._max_counts = max_counts
        self._remainder_counts = max_counts % self._accumulative_counts
        if init_counts % self._accumulative_counts != 0:
            warnings.warn(f'resuming at count {init_counts}, which is not a '
                          f'multiple of accumulative_counts='
                          f'{self._accumulative_counts}: the gradients of the '
                          'interrupted window were lost')
        if self._accumulative_counts > 1 and any(
                isinstance(m, _BatchNorm) for m in model.modules()):
            warnings.warn('gradient accumulation with BatchNorm layers is not '
                          'equivalent to a larger batch (BatchNorm statistics '
                          'still see the small batch)')

    @property
    def inner_count(self) -> int:
        """Number of backward calls counted so far."""
        return self._inner_count

    @contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        """Wrap the forward pass. Skips DDP's gradient all-reduce during
        the backward passes that do not complete an accumulation window."""
        if not self.should_sync() and hasattr(model, 'no_sync'):
            with model.no_sync():
                yield
        else:
            yield

    # -- what schedulers and loggers read -------------------------------------

    @property
    def param_groups(self) -> list[dict]:
        """The optimizer's groups, plus ``base_param_settings`` if there is one."""
        if self.base_param_settings is None:
            return self.optimizer.param_groups
        return self.optimizer.param_groups + [self.base_param_settings]

    @property
    def defaults(self) -> dict:
        """The optimizer's defaults."""
        return self.optimizer.defaults

    def get_lr(self) -> dict[str, list[float]]:
        """``{'lr': [lr of each group]}``, plus ``'base_lr': [lr]`` if there
        are several groups."""
        result = {}
        if self.base_param_settings is not None:
            result['base_lr'] = [self.base_param_settings['lr']]
        result['lr'] = [group['lr'] for group in self.optimizer.param_groups]
        return result

    def get_momentum(self) -> dict[str, list[float]]:
        """``{'momentum': [...]}``: ``momentum``, else ``betas[0]``, else 0."""
        values = []
        for group in self.optimizer.param_groups:
            if 'momentum' in group:
                values.append(group['momentum'])
            elif 'betas' in group:
                values.append(group['betas'][0])
            else:
                values.append(0)
        return {'momentum': values}

    # -- checkpoints ------------------------------------------------------------

    def state_dict(self) -> dict:
        """The optimizer's state dict, plus ``base_param_settings`` if any."""
        state = self.optimizer.state_dict()
        if self.base_param_settings is not None:
            state['base_param_settings'] = self.base_param_settings
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a state from :meth:`state_dict` (the argument is not modified)."""
        state = dict(state_dict)
        base = state.pop('base_param_settings', None)
        if base is not None:
            self.base_param_settings = base
        self.optimizer.load_state_dict(state)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(accumulative_counts='
                f'{self._accumulative_counts}, clip_grad='
                f'{self.clip_grad_kwargs}, optimizer={self.optimizer})')


def _parse_clip_grad(clip_grad: dict | None) -> tuple[dict | None, Callable | None]:
    """Validate ``clip_grad``: (keyword arguments, torch clipping function)."""
    if clip_grad is None:
        return None, None
    if not isinstance(clip_grad, dict) or not clip_grad:
        raise TypeError('clip_grad must be None or a non-empty dict such as '
                        f'dict(max_norm=35, norm_type=2), got {clip_grad!r}')
    kwargs = dict(clip_grad)
    kind = kwargs.pop('type', 'norm')
    funcs = {'norm': torch.nn.utils.clip_grad_norm_,
             'value': torch.nn.utils.clip_grad_value_}
    if kind not in funcs:
        raise ValueError(f"clip_grad type must be 'norm' or 'value', got {kind!r}")
    func = funcs[kind]
    params = inspect.signature(func).parameters
    allowed = [name for name in params if name != 'parameters']
    required = [name for name in allowed
                if params[name].default is inspect.Parameter.empty]
    unknown = sorted(set(kwargs) - set(allowed))
    missing = [name for name in required if name not in kwargs]
    if unknown or missing:
        raise TypeError(f'clip_grad of type {kind!r} takes {allowed} (needs '
                        f'{required}); got {sorted(kwargs)}')
    return kwargs, func
