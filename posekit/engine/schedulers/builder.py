"""Build a config's ``param_scheduler`` list, and step it from a training loop.

What the training loop must do (MMEngine's ``ParamSchedulerHook``)::

    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    auto_scale_lr(cfg.get('auto_scale_lr'), real_batch_size, optim_wrapper)
    schedulers = build_param_schedulers(
        optim_wrapper, cfg.get('param_scheduler'),
        epoch_length=len(train_dataloader),
        max_epochs=max_epochs, max_iters=max_iters)
    # resume: optim_wrapper.load_state_dict(...), then each scheduler's
    # load_state_dict(...) with the states saved by state_dict(), in order
    for epoch in ...:
        for batch in train_dataloader:
            ...  # forward, optim_wrapper.update_params(loss)
            step_iter_schedulers(schedulers)   # after every iteration
        step_epoch_schedulers(schedulers)      # after every epoch

Schedulers are built after the optimizer wrapper and after lr scaling (they
record the lr they start from) and stepped *after* the optimizer has stepped;
the lr of iteration ``i`` is the one set before it. An iteration-based loop
that has no epochs never steps the ``by_epoch=True`` schedulers (as in
MMEngine, where such a loop has no epoch end).
"""
from __future__ import annotations

import copy
from typing import Any, Iterable, Mapping

from posekit.argcheck import check_arguments
from posekit.registry import PARAM_SCHEDULERS, path_of

from .base import ParamScheduler


def build_param_schedulers(optim_wrapper: Any, cfgs: Any,
                           epoch_length: int | None = None, *,
                           max_epochs: int | None = None,
                           max_iters: int | None = None) -> list[ParamScheduler]:
    """Build the schedulers of ``cfgs``, in order, on ``optim_wrapper``.

    Args:
        optim_wrapper (OptimWrapper or Optimizer): What they schedule.
        cfgs (dict or list): ``param_scheduler`` of a config: a dict, a list
            of dicts, or built schedulers (kept as they are); None: no schedule.
        epoch_length (int, optional): Iterations per epoch,
            ``len(train_dataloader)``. Needed by ``convert_to_iter_based=True``.
        max_epochs (int, optional): The train loop's epochs; the default
            ``end`` of a ``by_epoch=True`` scheduler that gives none.
        max_iters (int, optional): The train loop's iterations; the default
            ``end`` of a ``by_epoch=False`` scheduler that gives none.

    Returns:
        list[ParamScheduler]

    ``convert_to_iter_based=True`` (with ``by_epoch=True``) builds the
    iteration-based equivalent: ``begin``/``end``/``milestones``/``T_max``...
    times ``epoch_length``, stepped every iteration (a smooth cosine instead
    of one jump per epoch).
    """
    if cfgs is None:
        return []
    if isinstance(cfgs, (Mapping, ParamScheduler)):
        cfgs = [cfgs]
    return [_build_one(optim_wrapper, cfg, epoch_length, max_epochs, max_iters)
            for cfg in cfgs]


def _build_one(optim_wrapper: Any, cfg: Any, epoch_length: int | None,
               max_epochs: int | None, max_iters: int | None) -> ParamScheduler:
    if isinstance(cfg, ParamScheduler):
        return cfg
    if not isinstance(cfg, Mapping):
        raise TypeError('param_scheduler entries must be dicts or built '
                        f'schedulers, got {cfg!r}')
    args = copy.deepcopy(dict(cfg))
    by_epoch = args.get('by_epoch', True)
    default_end = max_epochs if by_epoch else max_iters
    if default_end is not None:
        args.setdefault('end', default_end)
    if not args.pop('convert_to_iter_based', False):
        return PARAM_SCHEDULERS.build(args, default_args=dict(optimizer=optim_wrapper))

    if 'type' not in args:
        raise KeyError(f'param_scheduler entry has no "type": {dict(cfg)!r}')
    kind = args.pop('type')
    args.pop('_scope_', None)
    cls = PARAM_SCHEDULERS.get(kind) if isinstance(kind, str) else kind
    if not by_epoch:
        raise ValueError(f'{cfg!r}: convert_to_iter_based=True needs an '
                         'epoch-based scheduler (by_epoch=True)')
    if epoch_length is None:
        raise ValueError(f'{cfg!r}: convert_to_iter_based=True needs '
                         'epoch_length (the number of iterations per epoch)')
    if not hasattr(cls, 'build_iter_from_epoch'):
        raise TypeError(f'{kind!r} cannot be converted to iterations')
    # built without Registry.build: check the config's values here alike
    check_arguments(cls, args, path=path_of(cfg) or cls.__name__)
    args.setdefault('optimizer', optim_wrapper)
    try:
        return cls.build_iter_from_epoch(epoch_length=epoch_length, **args)
    except TypeError as e:
        raise TypeError(f'PARAM_SCHEDULERS.build({cls.__name__}): {e}') from e


def step_iter_schedulers(schedulers: Iterable[ParamScheduler]) -> None:
    """Step the iteration-based schedulers: call after every train iteration."""
    for scheduler in schedulers:
        if not scheduler.by_epoch:
            scheduler.step()


def step_epoch_schedulers(schedulers: Iterable[ParamScheduler]) -> None:
    """Step the epoch-based schedulers: call after every train epoch."""
    for scheduler in schedulers:
        if scheduler.by_epoch:
            scheduler.step()
