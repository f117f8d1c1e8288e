"""Build an optimizer wrapper from a config's ``optim_wrapper``, scale its lr.

``optim_wrapper`` keys (MMEngine's / MMPose's):

- ``optimizer``: ``dict(type='AdamW', lr=..., weight_decay=...)``, any
  ``torch.optim`` class (see :mod:`~posekit.engine.optim.optimizers`);
- ``type``: ``'OptimWrapper'`` (default) or ``'AmpOptimWrapper'``;
- ``paramwise_cfg``: per-parameter rules, see
  :mod:`~posekit.engine.optim.param_groups`;
- ``constructor``: ``'DefaultOptimWrapperConstructor'`` (default),
  ``'ForceDefaultOptimWrapperConstructor'`` or
  ``'LayerDecayOptimWrapperConstructor'``;
- anything else is an argument of the wrapper (``clip_grad``,
  ``accumulative_counts``, ``loss_scale``, ``dtype``); an unknown one raises.
"""
from __future__ import annotations

import copy
import inspect
from typing import Any, Mapping

from torch import nn

from posekit.registry import OPTIM_WRAPPERS, OPTIMIZERS, strip_scope

from .optim_wrapper import OptimWrapper
from .param_groups import default_groups, layer_decay_groups

CONSTRUCTORS = ('DefaultOptimWrapperConstructor',
                'ForceDefaultOptimWrapperConstructor',
                'LayerDecayOptimWrapperConstructor')


def build_optim_wrapper(model: nn.Module, cfg: Mapping) -> OptimWrapper:
    """Build the optimizer of ``model``'s parameters and wrap it.

    Args:
        model (nn.Module): The model; a DDP wrapper is unwrapped (``.module``).
        cfg (Mapping): The config's ``optim_wrapper`` (not modified).

    Returns:
        OptimWrapper: or the class ``cfg['type']`` names.
    """
    cfg = copy.deepcopy(dict(cfg))
    if 'optimizer' not in cfg:
        raise KeyError('optim_wrapper needs an "optimizer" dict, e.g. '
                       "optimizer=dict(type='Adam', lr=5e-4)")
    optimizer_cfg = dict(cfg.pop('optimizer'))
    paramwise_cfg = cfg.pop('paramwise_cfg', None) or {}
    constructor = strip_scope(cfg.pop('constructor', CONSTRUCTORS[0]),
                              'optim_wrapper.constructor')
    if constructor not in CONSTRUCTORS:
        raise ValueError(f'optim_wrapper.constructor {constructor!r} is not '
                         f'supported; posekit has {", ".join(CONSTRUCTORS)}')
    cfg.setdefault('type', 'OptimWrapper')
    model = getattr(model, 'module', model)

    optimizer_cls = _optimizer_class(optimizer_cfg)
    first_arg, *options = inspect.signature(optimizer_cls).parameters
    base_lr = optimizer_cfg.get('lr')
    base_wd = optimizer_cfg.get('weight_decay')
    if not paramwise_cfg:
        params: Any = model.parameters()
    elif constructor == 'LayerDecayOptimWrapperConstructor':
        params = layer_decay_groups(model, base_lr, base_wd, paramwise_cfg)
    else:
        force = constructor == 'ForceDefaultOptimWrapperConstructor'
        params = default_groups(model, base_lr, base_wd, paramwise_cfg,
                                set(options), force_default=force)
    optimizer_cfg[first_arg] = params
    optimizer = OPTIMIZERS.build(optimizer_cfg)
    return OPTIM_WRAPPERS.build(cfg, default_args=dict(optimizer=optimizer))


def _optimizer_class(optimizer_cfg: dict) -> type:
    if 'type' not in optimizer_cfg:
        raise KeyError(f'optim_wrapper.optimizer has no "type": {optimizer_cfg!r}')
    kind = optimizer_cfg['type']
    return OPTIMIZERS.get(kind) if isinstance(kind, str) else kind


def auto_scale_lr(cfg: Mapping | None, real_batch_size: int,
                  optim_wrapper: OptimWrapper) -> float:
    """Scale the lr linearly with the batch size, if ``cfg`` enables it.

    MMPose configs carry ``auto_scale_lr = dict(base_batch_size=512)``: the
    total batch size their lr was tuned for. As in MMEngine the scaling only
    happens when ``cfg['enable']`` is true (``--auto-scale-lr`` on the
    command line sets it); then every group's lr is multiplied by
    ``real_batch_size / base_batch_size``. Call it after building the
    wrapper and before building the schedulers (they record the starting lr).

    Args:
        cfg (Mapping, optional): The config's ``auto_scale_lr``.
        real_batch_size (int): Samples per optimizer step over all processes:
            ``world_size * train_dataloader.batch_size``.
        optim_wrapper (OptimWrapper): Its groups are scaled in place (and its
            ``base_param_settings``, so the logged ``base_lr`` is the scaled
            one; MMEngine leaves that one unscaled).

    Returns:
        float: The factor applied (1.0 when disabled).
    """
    if not cfg or not cfg.get('enable', False):
        return 1.0
    if 'base_batch_size' not in cfg:
        raise KeyError('auto_scale_lr needs base_batch_size')
    groups = optim_wrapper.param_groups
    if any('initial_lr' in group for group in groups):
        raise RuntimeError('auto_scale_lr must run before the parameter '
                           'schedulers are built: they record the initial lr')
    ratio = float(real_batch_size) / float(cfg['base_batch_size'])
    for group in groups:
        group['lr'] = group['lr'] * ratio
    return ratio
