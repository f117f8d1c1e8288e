"""NaN and infinity: the checks that stop a diverging run before it saves.

A learning rate typo (``lr=1e3``), a huge ``loss_weight`` or a broken sample
makes a loss NaN or infinite; one optimizer step with it turns the weights
into NaN, and a run that trained on would write checkpoints full of NaN
(the "best" one too) and exit 0. posekit stops instead, with a
:class:`NonFiniteError` naming the iteration, the loss term or the weight,
and the config key that most likely caused it:

- the training loop checks the loss terms of every iteration before the
  backward pass, and the weights and buffers after it (``train_cfg``'s
  ``skip_nonfinite`` skips steps whose loss is not finite instead, see
  :class:`~posekit.engine.loops.EpochBasedTrainLoop`);
- the checkpoint writer refuses a checkpoint holding a non-finite tensor.

AMP's loss scaler is not affected: float16 gradients that overflow (with a
finite loss) make the scaler skip that step and lower the scale, as they
should, and the weights stay finite.
"""
from __future__ import annotations

import itertools
import math
from typing import Any, Iterator, Mapping, Sequence

import torch
from torch import nn

from posekit.errors import PosekitError

# above these, a value is named as the likely cause of a divergence; common
# learning rates are below 0.1 and loss weights below 1e3
LARGE_LR = 1.0
LARGE_LOSS_WEIGHT = 1e4


class NonFiniteError(PosekitError, RuntimeError):
    """A loss, a weight or a checkpoint tensor is NaN or infinite; the
    message says which, at which iteration, and the likely cause."""


def first_nonfinite(tree: Any, where: str = '') -> str | None:
    """The key path of the first floating-point tensor in ``tree`` holding
    a NaN or an infinity, or None when there is none.

    Args:
        tree: A tensor, or dicts, lists and tuples of them (other values,
            e.g. numbers and strings, are not checked).
        where (str): The name of ``tree``; nested values are named
            ``where.key`` and ``where[i]`` (``state_dict.head.final_layer.weight``).
    """
    if isinstance(tree, torch.Tensor):
        floating = tree.is_floating_point() or tree.is_complex()
        return where if floating and not bool(torch.isfinite(tree).all()) else None
    if isinstance(tree, Mapping):
        items: Iterator = ((f'{where}.{k}' if where else str(k), v) for k, v in tree.items())
    elif isinstance(tree, (list, tuple)):
        items = ((f'{where}[{i}]', v) for i, v in enumerate(tree))
    else:
        return None
    for name, value in items:
        found = first_nonfinite(value, name)
        if found is not None:
            return found
    return None


def first_nonfinite_state(model: nn.Module, optimizer: Any = None) -> str | None:
    """The name of the first parameter or floating-point buffer of
    ``model``, or tensor of ``optimizer``'s state (``exp_avg_sq of
    head.final_layer.weight``), holding a NaN or an infinity; None if all
    are finite.

    Fast in the usual case, all finite: one fused norm per device and
    dtype, then one device sync. Only when a norm is not finite (a NaN, an
    infinity, or values too large to square) is each tensor checked.
    """
    named = [(name, t) for name, t in itertools.chain(model.named_parameters(),
                                                      model.named_buffers())]
    if optimizer is not None:
        names = {id(p): name for name, p in model.named_parameters()}
        for param, state in optimizer.state.items():
            named += [(f'{key} of {names.get(id(param), "a parameter")} (optimizer state)', t)
                      for key, t in state.items() if isinstance(t, torch.Tensor)]
    named = [(name, t) for name, t in named if t.is_floating_point() and t.numel()]
    if _all_finite([t for _, t in named]):
        return None
    return next((name for name, t in named if not bool(torch.isfinite(t).all())), None)


def _all_finite(tensors: list[torch.Tensor]) -> bool:
    """True if the norm of every tensor is finite (then all are)."""
    groups: dict = {}
    for t in tensors:
        groups.setdefault((t.device, t.dtype), []).append(t.detach())
    flags = [torch.isfinite(torch.stack(torch._foreach_norm(group))).all().cpu()
             for group in groups.values()]
    return all(bool(f) for f in flags)


def first_nonfinite_loss(values: Mapping[str, float]) -> str | None:
    """The first loss term of ``values`` (a name containing ``'loss'``)
    that is NaN or infinite; the total, ``'loss'``, only when every term
    is finite but their sum is not."""
    names = [k for k in values if 'loss' in k and k != 'loss'] + ['loss']
    return next((k for k in names if k in values and not math.isfinite(values[k])), None)


def likely_cause(cfg: Mapping | None, lrs: Sequence[float]) -> str:
    """Which config keys most likely made training diverge, in a few words.

    Deliberately simple: a ``loss_weight`` under ``model`` that is not
    finite or above :data:`LARGE_LOSS_WEIGHT`, and a learning rate (the
    largest of the optimizer's groups, as scheduled now) that is not finite
    or above :data:`LARGE_LR`. When neither stands out it says so, with
    the usual remedies.

    Args:
        cfg (Mapping, optional): The run's config (``runner.cfg``).
        lrs (Sequence[float]): The current learning rate of each group.
    """
    suspects = [f'{path} = {value!r} is not a usual loss weight'
                for path, value in _loss_weights(cfg.get('model') if cfg else None, 'model')
                if not math.isfinite(value) or abs(value) > LARGE_LOSS_WEIGHT]
    bad_lrs = [lr for lr in lrs if not math.isfinite(lr) or lr > LARGE_LR]
    if bad_lrs:
        suspects.append(f'optim_wrapper.optimizer.lr: the learning rate is {bad_lrs[0]:.3g}, '
                        f'far above usual values (below {LARGE_LR:g})')
    if suspects:
        return 'likely cause: ' + '; '.join(suspects)
    return ('no config value stands out (lr ' + ', '.join(f'{lr:g}' for lr in lrs[:1]) +
            '); a smaller optim_wrapper.optimizer.lr or gradient clipping '
            '(optim_wrapper.clip_grad=dict(max_norm=...)) may help, or a sample is broken')


def _loss_weights(cfg: Any, path: str) -> Iterator[tuple[str, float]]:
    """``(key path, value)`` of every numeric ``loss_weight`` in ``cfg``."""
    if isinstance(cfg, Mapping):
        for key, value in cfg.items():
            if key == 'loss_weight' and isinstance(value, (int, float)) \
                    and not isinstance(value, bool):
                yield f'{path}.{key}', float(value)
            else:
                yield from _loss_weights(value, f'{path}.{key}')
    elif isinstance(cfg, (list, tuple)):
        for i, value in enumerate(cfg):
            yield from _loss_weights(value, f'{path}[{i}]')
