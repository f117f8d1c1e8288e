"""Checking a config's runtime keys and preparing the process, the model and the hooks.

Every runtime key of an MMPose 1.x config is either used or reported:
unknown arguments raise (each component is built with its own keyword
arguments), keys that MMPose 1.x itself silently ignores (MMPose 0.x
leftovers such as ``fp16`` or ``lr_config``) are warned about, and features
posekit lacks raise ``NotImplementedError`` when they are switched on.
"""
from __future__ import annotations

import importlib
import inspect
import logging
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from posekit.malloc import keep_freed_memory
from posekit.models.utils import has_sync_batchnorm, revert_sync_batchnorm
from posekit.registry import HOOKS, KNOWN_SCOPES, MODELS
from .dist import is_distributed
from .hooks.hook import Hook, get_priority

logger = logging.getLogger('posekit.engine')

# MMPose 0.x / MMCV-runner keys: MMEngine ignores them without a word.
LEGACY_KEYS = {
    'optimizer': "optim_wrapper=dict(optimizer=...)",
    'optimizer_config': "optim_wrapper (clip_grad=...)",
    'lr_config': 'param_scheduler', 'momentum_config': 'param_scheduler',
    'checkpoint_config': 'default_hooks.checkpoint',
    'log_config': 'default_hooks.logger', 'evaluation': 'val_evaluator / train_cfg.val_interval',
    'total_epochs': 'train_cfg.max_epochs', 'runner': 'train_cfg',
    'workflow': 'train_cfg / val_cfg', 'dist_params': 'env_cfg.dist_cfg',
    'data': 'train_dataloader / val_dataloader / test_dataloader',
    'fp16': "--amp (optim_wrapper type 'AmpOptimWrapper')",
    'gpu_ids': 'torchrun --nproc-per-node', 'cudnn_benchmark': 'env_cfg.cudnn_benchmark',
    'mp_start_method': 'env_cfg.mp_cfg.mp_start_method',
    'opencv_num_threads': 'env_cfg.mp_cfg.opencv_num_threads',
}
UNSUPPORTED_KEYS = ('strategy', )
_ENV_KEYS = {'cudnn_benchmark', 'mp_cfg', 'dist_cfg', 'resource_limit'}
_MP_KEYS = {'mp_start_method', 'opencv_num_threads'}
_WRAPPER_KEYS = {'type', 'find_unused_parameters', 'broadcast_buffers',
                 'detect_anomalous_params', 'static_graph', 'gradient_as_bucket_view'}


def check_top_level(cfg: Mapping) -> None:
    """Warn about keys MMPose 1.x ignores; refuse features posekit lacks."""
    for key, use in LEGACY_KEYS.items():
        if key in cfg:
            logger.warning('config key %r is an MMPose 0.x setting that MMPose 1.x '
                           'ignores, and so does posekit; use %s', key, use)
    for key in UNSUPPORTED_KEYS:
        if cfg.get(key):
            raise NotImplementedError(f'config key {key!r} is not supported by posekit')
    scope = cfg.get('default_scope')
    if scope is not None and scope not in KNOWN_SCOPES:
        logger.warning('default_scope %r is not a scope posekit knows; types '
                       'resolve in posekit\'s registries', scope)


def setup_env(env_cfg: Mapping | None) -> dict:
    """Apply ``env_cfg`` to this process; return its ``mp_cfg`` and ``dist_cfg``."""
    env_cfg = dict(env_cfg or {})
    unknown = set(env_cfg) - _ENV_KEYS
    if unknown:
        raise ValueError(f'env_cfg: unknown keys {sorted(unknown)}; known: {sorted(_ENV_KEYS)}')
    mp_cfg = dict(env_cfg.get('mp_cfg') or {})
    unknown = set(mp_cfg) - _MP_KEYS
    if unknown:
        raise ValueError(f'env_cfg.mp_cfg: unknown keys {sorted(unknown)}; known: '
                         f'{sorted(_MP_KEYS)}')
    torch.backends.cudnn.benchmark = bool(env_cfg.get('cudnn_benchmark', False))
    keep_freed_memory()   # feature maps reuse freed memory (posekit.malloc)
    if mp_cfg.get('opencv_num_threads') is not None:
        import cv2
        cv2.setNumThreads(int(mp_cfg['opencv_num_threads']))
    limit = env_cfg.get('resource_limit')
    if limit:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(int(limit), soft), hard), hard))
    return dict(mp_cfg=mp_cfg, dist_cfg=dict(env_cfg.get('dist_cfg') or {}))


def import_custom_modules(custom_imports: Mapping | None) -> None:
    """``custom_imports=dict(imports=[...], allow_failed_imports=False)``.

    MMPose/MMDet/MMEngine module names are skipped: their types resolve to
    posekit's own implementations through the registries.
    """
    if not custom_imports:
        return
    imports = custom_imports.get('imports', [])
    imports = [imports] if isinstance(imports, str) else list(imports)
    allow_failed = custom_imports.get('allow_failed_imports', False)
    for name in imports:
        if name.split('.')[0] in KNOWN_SCOPES:
            logger.info('custom_imports: %s is provided by posekit itself', name)
            continue
        try:
            importlib.import_module(name)
        except ImportError:
            if not allow_failed:
                raise
            logger.warning('custom_imports: failed to import %s', name)


def build_model(model: Any, data_preprocessor: Mapping | None, device: torch.device,
                sync_bn: str | None, channels_last: bool = False) -> nn.Module:
    """Build the model, fix its BatchNorm flavour for this run, move it to ``device``.

    ``channels_last`` (a posekit key, not MMEngine's) stores the 4-D weights
    channels-last: convolutions then run in that memory format (their output
    follows the weights), 15-20% faster on CPUs (oneDNN) and with AMP on
    GPUs. The values, state_dict keys and checkpoints are the same.
    """
    if not isinstance(channels_last, bool):
        raise TypeError(f'channels_last must be True or False, got {channels_last!r}')
    if isinstance(model, Mapping):
        model = dict(model)
        if data_preprocessor is not None:
            model.setdefault('data_preprocessor', data_preprocessor)
        model = MODELS.build(model, path='model')
    if not isinstance(model, nn.Module):
        raise TypeError(f'model must build an nn.Module, got {type(model).__name__}')
    if not hasattr(model, 'data_preprocessor'):
        raise TypeError(f'{type(model).__name__} has no data_preprocessor; the '
                        'engine needs model.data_preprocessor(data, training)')
    if sync_bn is not None and sync_bn not in ('torch', 'mmcv'):
        raise ValueError(f"sync_bn must be 'torch' or 'mmcv', got {sync_bn!r}")
    if is_distributed() and device.type != 'cpu':
        if sync_bn is not None:
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
            logger.info('converted BatchNorm layers to SyncBatchNorm (sync_bn=%r)', sync_bn)
    elif sync_bn is not None or has_sync_batchnorm(model):
        # torch's SyncBatchNorm runs on GPUs only and needs a process group
        why = 'CPU processes' if is_distributed() else 'a single process'
        logger.warning('SyncBatchNorm cannot run in %s: BatchNorm layers stay '
                       'per-process (SyncBuffersHook averages their statistics '
                       'after each epoch)', why)
        model = revert_sync_batchnorm(model)
    model = model.to(device)
    return model.to(memory_format=torch.channels_last) if channels_last else model


def check_wrapper_cfg(wrapper_cfg: Mapping | None) -> dict:
    """``model_wrapper_cfg`` without its type, checked."""
    wrapper_cfg = dict(wrapper_cfg or {})
    unknown = set(wrapper_cfg) - _WRAPPER_KEYS
    if unknown:
        raise ValueError(f'model_wrapper_cfg: unknown keys {sorted(unknown)}')
    kind = str(wrapper_cfg.pop('type', 'MMDistributedDataParallel')).rsplit('.', 1)[-1]
    if kind not in ('MMDistributedDataParallel', 'DistributedDataParallel'):
        raise ValueError(f'model_wrapper_cfg.type {kind!r} is not supported; posekit '
                         'wraps models in torch DistributedDataParallel')
    return wrapper_cfg


def wrap_model(model: nn.Module, device: torch.device, wrapper_cfg: Mapping | None,
               find_unused_parameters: bool | None) -> nn.Module:
    """DistributedDataParallel around ``model`` when running distributed."""
    wrapper_cfg = check_wrapper_cfg(wrapper_cfg)
    if not is_distributed():
        if wrapper_cfg:
            logger.info('model_wrapper_cfg applies to distributed runs only')
        return model
    if wrapper_cfg.pop('detect_anomalous_params', False):
        logger.warning('model_wrapper_cfg.detect_anomalous_params is not supported; '
                       'use find_unused_parameters=True to find unused parameters')
    wrapper_cfg.setdefault('find_unused_parameters', bool(find_unused_parameters))
    # buffers are not broadcast every forward (MMEngine's default; SyncBuffersHook
    # averages them per epoch); newer torch names the option forward_sync_buffers
    sync = wrapper_cfg.pop('broadcast_buffers', False)
    params = inspect.signature(nn.parallel.DistributedDataParallel).parameters
    wrapper_cfg['forward_sync_buffers' if 'forward_sync_buffers' in params
                else 'broadcast_buffers'] = sync
    ids = [device.index] if device.type == 'cuda' else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids, **wrapper_cfg)


# MMEngine's default hooks, in its registration order
DEFAULT_HOOKS = (('runtime_info', None), ('timer', 'IterTimerHook'),
                 ('sampler_seed', 'DistSamplerSeedHook'), ('logger', 'LoggerHook'),
                 ('param_scheduler', 'ParamSchedulerHook'),
                 ('checkpoint', 'CheckpointHook'))


def build_hooks(default_hooks: Mapping | None, custom_hooks: Sequence | None) -> list[Hook]:
    """The run's hooks, sorted by priority (stable: registration order breaks ties).

    ``default_hooks`` entries override MMEngine's defaults by name; ``None``
    removes one. ``custom_hooks`` follow. A config's ``priority`` key sets
    the hook's priority.
    """
    cfgs = {f'default_hooks.{name}': dict(type=kind) for name, kind in DEFAULT_HOOKS if kind}
    for name, hook_cfg in (default_hooks or {}).items():
        if name == 'runtime_info':
            if hook_cfg is not None:
                logger.info('default_hooks.runtime_info: the loops record runtime '
                            'info themselves; the entry is not needed')
            continue
        cfgs[f'default_hooks.{name}'] = hook_cfg
    cfgs.update((f'custom_hooks[{i}]', c) for i, c in enumerate(custom_hooks or []))
    hooks: list[tuple[int, int, Hook]] = []
    for path, entry in cfgs.items():
        if entry is None:
            continue
        if isinstance(entry, Hook):
            hook, priority = entry, entry.priority
        else:
            entry = dict(entry)
            priority = entry.pop('priority', None)
            hook = HOOKS.build(entry, path=path)
            priority = hook.priority if priority is None else priority
        hook.priority = get_priority(priority)
        hooks.append((hook.priority, len(hooks), hook))
    return [h for _, _, h in sorted(hooks, key=lambda t: (t[0], t[1]))]


def turn_on_efficient_conv_bn_eval(model: nn.Module, modules: str | Sequence[str]) -> int:
    """The config's ``efficient_conv_bn_eval`` (MMEngine's): in each named
    submodule a convolution followed by a BatchNorm in eval mode (frozen,
    e.g. ``norm_eval=True``) runs as one convolution with the folded weights
    (:func:`posekit.models.utils.fuse.efficient_conv_bn_eval`); returns the
    number of pairs."""
    from posekit.models.utils.fuse import efficient_conv_bn_eval
    return sum(efficient_conv_bn_eval(_submodule(model, name, 'efficient_conv_bn_eval'))
               for name in ([modules] if isinstance(modules, str) else list(modules)))


def _submodule(model: nn.Module, name: str, key: str) -> nn.Module:
    module = model
    for part in str(name).split('.'):
        if not isinstance(getattr(module, part, None), nn.Module):
            raise ValueError(f'{key}: the model has no submodule {name!r} '
                             f'({type(module).__name__} has no {part!r})')
        module = getattr(module, part)
    return module


def turn_on_activation_checkpointing(model: nn.Module, modules: str | Sequence[str]) -> None:
    """The config's ``activation_checkpointing`` (MMEngine's): each named
    submodule (``'backbone'``, ``'backbone.layer2'``...) keeps no activations
    for the backward pass and computes its forward again there
    (``torch.utils.checkpoint``): less memory, one more forward of it.

    The recomputation leaves the submodule's buffers as the first forward
    left them, so BatchNorm statistics are updated once per step (MMEngine's
    updates them twice): training is the same as without it.
    """
    from torch.utils.checkpoint import checkpoint
    for name in [modules] if isinstance(modules, str) else list(modules):
        module = _submodule(model, name, 'activation_checkpointing')
        module.forward = _checkpointed(module, module.forward, checkpoint)


def _checkpointed(module: nn.Module, forward, checkpoint):
    def run(*args, **kwargs):
        first = [True]

        def compute(*inner_args, **inner_kwargs):
            if first[0]:
                first[0] = False
                return forward(*inner_args, **inner_kwargs)
            buffers = [(b, b.clone()) for b in module.buffers()]
            try:   # the recomputation in backward
                return forward(*inner_args, **inner_kwargs)
            finally:
                with torch.no_grad():
                    for buffer, saved in buffers:
                        buffer.copy_(saved)
        if not torch.is_grad_enabled():
            return forward(*args, **kwargs)
        return checkpoint(compute, *args, use_reentrant=False, **kwargs)
    return run
