"""Parameter groups from ``paramwise_cfg``: per-parameter lr and weight decay.

Three constructors, named as in configs (``optim_wrapper.constructor``):

- ``DefaultOptimWrapperConstructor`` (MMEngine): one group per parameter.
  A parameter whose full name contains a ``custom_keys`` key takes that
  key's ``lr_mult`` / ``decay_mult`` (and any other optimizer option it
  sets); the longest matching key wins, ties going to the alphabetically
  first. Other parameters follow the type rules: ``bias_lr_mult`` for biases
  outside norm layers, then the first weight-decay rule that applies of
  ``norm_decay_mult`` (weight and bias of BatchNorm / InstanceNorm /
  GroupNorm / LayerNorm), ``bias_decay_mult``, ``dwconv_decay_mult``
  (``Conv2d`` with ``groups == in_channels``) and ``flat_decay_mult`` (any
  other 1-D parameter). Frozen parameters are left out.
  ``bypass_duplicate=True`` skips a parameter already placed (shared
  modules) instead of letting the optimizer fail on it.
- ``ForceDefaultOptimWrapperConstructor`` (MMPose, RTMO configs): the same,
  but ``force_default_settings=True`` applies the type rules after a custom
  key too, and frozen parameters are kept (in groups of their own).
- ``LayerDecayOptimWrapperConstructor`` (MMPose, ViTPose configs): layer-wise
  lr decay for a ViT backbone, see :func:`layer_decay_groups`.

Names are the model's, ``backbone.layer1.0.conv1.weight``; the default
constructor matches custom keys against ``'.' + name`` for parameters of
the top module itself (MMEngine's quirk, kept).
"""
from __future__ import annotations

import difflib
import warnings
from typing import Any, Iterator

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.instancenorm import _InstanceNorm

NORM_TYPES = (_BatchNorm, _InstanceNorm, nn.GroupNorm, nn.LayerNorm)

DEFAULT_KEYS = ('custom_keys', 'bias_lr_mult', 'bias_decay_mult',
                'norm_decay_mult', 'dwconv_decay_mult', 'flat_decay_mult',
                'dcn_offset_lr_mult', 'bypass_duplicate')
_DECAY_MULTS = ('bias_decay_mult', 'norm_decay_mult', 'dwconv_decay_mult',
                'flat_decay_mult')


def default_groups(model: nn.Module, base_lr: float | None,
                   base_wd: float | None, paramwise_cfg: dict,
                   group_options: set[str], force_default: bool = False
                   ) -> list[dict]:
    """Parameter groups of the default (or force-default) constructor.

    Args:
        model (nn.Module): The model (not a DDP wrapper).
        base_lr (float, optional): ``optimizer.lr`` of the config.
        base_wd (float, optional): ``optimizer.weight_decay`` of the config.
        paramwise_cfg (dict): The rules (keys in ``DEFAULT_KEYS``, plus
            ``force_default_settings`` when ``force_default``).
        group_options (set[str]): Options a param group of this optimizer
            may set (its constructor's arguments), for custom keys.
        force_default (bool): ForceDefaultOptimWrapperConstructor's behaviour.

    Returns:
        list[dict]: one ``{'params': [param], ...}`` per parameter.
    """
    known = DEFAULT_KEYS + (('force_default_settings',) if force_default else ())
    _check_keys(paramwise_cfg, known, 'paramwise_cfg')
    cfg = dict(paramwise_cfg)
    custom_keys = cfg.get('custom_keys', {})
    _check_custom_keys(custom_keys, base_wd, group_options)
    if base_wd is None and any(k in cfg for k in _DECAY_MULTS):
        raise ValueError('paramwise_cfg decay multipliers need '
                         'optimizer.weight_decay to be set')
    # longest key first; equal lengths in alphabetical order
    keys = sorted(sorted(custom_keys), key=len, reverse=True)
    force = force_default and cfg.get('force_default_settings', False)
    if cfg.get('dcn_offset_lr_mult') is not None:
        warnings.warn('paramwise_cfg.dcn_offset_lr_mult has no effect: posekit '
                      'has no deformable convolutions')

    groups: list[dict] = []
    placed: set[int] = set()
    for prefix, module in _walk(model):
        for name, param in module.named_parameters(recurse=False):
            if cfg.get('bypass_duplicate', False) and id(param) in placed:
                continue
            if not param.requires_grad:
                if force_default:
                    groups.append({'params': [param]})
                    placed.add(id(param))
                continue
            group = {'params': [param]}
            key = next((k for k in keys if k in f'{prefix}.{name}'), None)
            if key is not None:
                rule = custom_keys[key]
                group['lr'] = _times(base_lr, rule.get('lr_mult', 1.), key)
                if base_wd is not None:
                    group['weight_decay'] = base_wd * rule.get('decay_mult', 1.)
                group.update(rule)
            if key is None or force:
                _type_rules(group, cfg, module, name, param, base_lr, base_wd)
            groups.append(group)
            placed.add(id(param))
    return groups


def _type_rules(group: dict, cfg: dict, module: nn.Module, name: str,
                param: nn.Parameter, base_lr: float | None,
                base_wd: float | None) -> None:
    is_norm = isinstance(module, NORM_TYPES)
    is_dwconv = (isinstance(module, nn.Conv2d)
                 and module.in_channels == module.groups)
    if name == 'bias' and not is_norm and cfg.get('bias_lr_mult') is not None:
        group['lr'] = _times(base_lr, cfg['bias_lr_mult'], 'bias_lr_mult')
    if base_wd is None:
        return
    if is_norm and cfg.get('norm_decay_mult') is not None:
        group['weight_decay'] = base_wd * cfg['norm_decay_mult']
    elif name == 'bias' and cfg.get('bias_decay_mult') is not None:
        group['weight_decay'] = base_wd * cfg['bias_decay_mult']
    elif is_dwconv and cfg.get('dwconv_decay_mult') is not None:
        group['weight_decay'] = base_wd * cfg['dwconv_decay_mult']
    elif param.ndim == 1 and cfg.get('flat_decay_mult') is not None:
        group['weight_decay'] = base_wd * cfg['flat_decay_mult']


def layer_decay_groups(model: nn.Module, base_lr: float | None,
                       base_wd: float | None, paramwise_cfg: dict) -> list[dict]:
    """Layer-wise lr decay for ViT backbones (MMPose's constructor).

    With ``L = num_layers + 2``, a parameter gets layer id 0 (``cls_token``,
    ``mask_token``, ``pos_embed`` and ``patch_embed`` of the backbone),
    ``i + 1`` (``backbone.layers.i``) or ``L - 1`` (everything else: the
    final norm, the neck, the head), and lr ``base_lr * layer_decay_rate **
    (L - 1 - id)``. 1-D parameters, biases and ``pos_embed`` get no weight
    decay. One group per (layer id, decay or not), in order of first use;
    frozen parameters are left out. ``custom_keys`` and the other default
    rules are not used (MMPose ignores them too).
    """
    unused = sorted(set(paramwise_cfg) - {'num_layers', 'layer_decay_rate'})
    if unused:
        warnings.warn('LayerDecayOptimWrapperConstructor ignores paramwise_cfg '
                      f'keys {unused} (as MMPose does)')
    for key in ('num_layers', 'layer_decay_rate'):
        if key not in paramwise_cfg:
            raise KeyError(f'LayerDecayOptimWrapperConstructor needs '
                           f'paramwise_cfg.{key}')
    if base_lr is None or base_wd is None:
        raise ValueError('LayerDecayOptimWrapperConstructor needs optimizer.lr '
                         'and optimizer.weight_decay')
    num_layers = paramwise_cfg['num_layers'] + 2
    rate = paramwise_cfg['layer_decay_rate']
    groups: dict[str, dict] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        no_decay = param.ndim == 1 or name.endswith('.bias') or 'pos_embed' in name
        layer_id = _vit_layer_id(name, num_layers)
        group_name = f'layer_{layer_id}_{"no_decay" if no_decay else "decay"}'
        if group_name not in groups:
            scale = rate**(num_layers - layer_id - 1)
            groups[group_name] = {
                'weight_decay': 0. if no_decay else base_wd, 'params': [],
                'param_names': [], 'lr_scale': scale, 'group_name': group_name,
                'lr': scale * base_lr}
        groups[group_name]['params'].append(param)
        groups[group_name]['param_names'].append(name)
    return list(groups.values())


def _vit_layer_id(name: str, num_layers: int) -> int:
    if name in ('backbone.cls_token', 'backbone.mask_token', 'backbone.pos_embed'):
        return 0
    if name.startswith('backbone.patch_embed'):
        return 0
    if name.startswith('backbone.layers'):
        return int(name.split('.')[2]) + 1
    return num_layers - 1


def _walk(module: nn.Module, prefix: str = '') -> Iterator[tuple[str, nn.Module]]:
    """(prefix, module) for the module and its children, depth first.

    Unlike ``named_modules`` a module shared by two parents is visited twice,
    so its parameters are duplicates that ``bypass_duplicate`` is about.
    """
    yield prefix, module
    for child_name, child in module.named_children():
        yield from _walk(child, f'{prefix}.{child_name}' if prefix else child_name)


def _times(base_lr: float | None, mult: float, what: str) -> float:
    if base_lr is None:
        raise ValueError(f'paramwise_cfg {what!r} multiplies optimizer.lr, '
                         'which the config does not set')
    return base_lr * mult


def _check_keys(given: Any, known: tuple[str, ...], where: str) -> None:
    if not isinstance(given, dict):
        raise TypeError(f'{where} must be a dict, got {type(given).__name__}')
    for key in given:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=3)
            hint = f'; did you mean {", ".join(map(repr, close))}?' if close else ''
            raise KeyError(f'{where}: unknown key {key!r}{hint} '
                           f'(known: {", ".join(known)})')


def _check_custom_keys(custom_keys: Any, base_wd: float | None,
                       group_options: set[str]) -> None:
    if not isinstance(custom_keys, dict):
        raise TypeError('paramwise_cfg.custom_keys must be a dict, got '
                        f'{type(custom_keys).__name__}')
    allowed = tuple(sorted({'lr_mult', 'decay_mult'} | group_options))
    for key, rule in custom_keys.items():
        _check_keys(rule, allowed, f'paramwise_cfg.custom_keys[{key!r}]')
        if 'decay_mult' in rule and base_wd is None:
            raise ValueError(f'paramwise_cfg.custom_keys[{key!r}] sets '
                             'decay_mult but optimizer.weight_decay is not set')
