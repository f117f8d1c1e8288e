"""Runner: builds a run from a config and drives training, validation or testing.

>>> runner = Runner.from_cfg(Config.fromfile('configs/...py'))
>>> runner.train()          # or runner.val(), runner.test()

What it holds is the run's state that hooks read (``epoch``, ``iter``,
``model``, ``optim_wrapper``, ``param_schedulers``, data loaders, ``work_dir``,
``logger``, ``message_hub``, ``visualizer``); what happens in a run is in
``loops.py`` and the hooks. Order of ``train()`` (MMEngine's): build the
train loop, the optimizer wrapper (lr scaled by ``auto_scale_lr``), the
schedulers and the val loop; ``before_run``; initialise the weights; load or
resume; wrap in DDP; run the loop; ``after_run``.
"""
from __future__ import annotations

import copy
import logging
import os
import platform
import time
from typing import Any, Mapping

import torch
from torch import nn

from posekit import __version__
from posekit.fileio import write_text
from posekit.registry import LOOPS, config_path
from . import checkpoint as ckpt_io
from .dataloader import build_dataloader, unwrap_dataset
from .dist import barrier, broadcast_object, get_rank, get_world_size, init_dist, unwrap_model
from .hooks.hook import Hook, get_priority
from .logging import LogProcessor, MessageHub, RunLogging
from .randomness import get_rng_state, set_random_seed, set_rng_state
from .setup import (build_hooks, build_model, check_top_level, check_wrapper_cfg,
                    import_custom_modules, setup_env, turn_on_activation_checkpointing,
                    turn_on_efficient_conv_bn_eval, wrap_model)

# the config keys Runner.from_cfg passes on (MMEngine's, plus model wrapping)
RUNNER_KEYS = (
    'model', 'work_dir', 'train_dataloader', 'val_dataloader', 'test_dataloader',
    'train_cfg', 'val_cfg', 'test_cfg', 'auto_scale_lr', 'optim_wrapper',
    'param_scheduler', 'val_evaluator', 'test_evaluator', 'default_hooks',
    'custom_hooks', 'data_preprocessor', 'load_from', 'resume', 'launcher',
    'env_cfg', 'log_processor', 'log_level', 'visualizer', 'default_scope',
    'randomness', 'experiment_name', 'model_wrapper_cfg', 'find_unused_parameters',
    'sync_bn', 'compile', 'custom_imports', 'channels_last')


class Runner:
    """A training / evaluation run. Arguments are the config keys of the same name."""

    def __init__(self, model: Any, work_dir: str, train_dataloader: Any = None,
                 val_dataloader: Any = None, test_dataloader: Any = None,
                 train_cfg: Mapping | None = None, val_cfg: Mapping | None = None,
                 test_cfg: Mapping | None = None, auto_scale_lr: Mapping | None = None,
                 optim_wrapper: Any = None, param_scheduler: Any = None,
                 val_evaluator: Any = None, test_evaluator: Any = None,
                 default_hooks: Mapping | None = None, custom_hooks: list | None = None,
                 data_preprocessor: Mapping | None = None, load_from: str | None = None,
                 resume: bool = False, launcher: str = 'none', env_cfg: Mapping | None = None,
                 log_processor: Mapping | None = None, log_level: str | int = 'INFO',
                 visualizer: Mapping | None = None, default_scope: str | None = None,
                 randomness: Mapping | None = None, experiment_name: str | None = None,
                 cfg: Mapping | None = None, model_wrapper_cfg: Mapping | None = None,
                 find_unused_parameters: bool | None = None, sync_bn: str | None = None,
                 compile: bool | Mapping = False, custom_imports: Mapping | None = None,
                 channels_last: bool = False) -> None:
        self.cfg = cfg
        import_custom_modules(custom_imports)
        env = setup_env(env_cfg)
        self._mp_cfg = env['mp_cfg']
        self.launcher = launcher
        self.device = init_dist(launcher, **env['dist_cfg'])
        self.rank, self.world_size = get_rank(), get_world_size()
        self._randomness = dict(randomness or {})
        self.seed = set_random_seed(**self._randomness)
        self.deterministic = bool(self._randomness.get('deterministic', False))

        self.work_dir = os.path.abspath(work_dir)
        self.timestamp = broadcast_object(time.strftime('%Y%m%d_%H%M%S'))
        self.log_dir = os.path.join(self.work_dir, self.timestamp)
        stem = (os.path.splitext(os.path.basename(cfg.filename))[0]
                if getattr(cfg, 'filename', None) else self.timestamp)
        self.experiment_name = experiment_name or f'{stem}_{self.timestamp}'
        if self.rank == 0:
            os.makedirs(self.log_dir, exist_ok=True)
        barrier()
        self._log_level = log_level
        self._logging: RunLogging | None = None
        self._open_logging()
        try:  # the handlers are closed again below, also on an error
            self.logger = logging.getLogger('posekit.engine')
            self.message_hub = MessageHub()
            self.log_processor = self._build_log_processor(log_processor)
            self.visualizer = self._build_visualizer(visualizer)
            self._log_environment()
            self._dump_config()
            if self.cfg is not None:
                self.visualizer.add_config(self.cfg)  # vis_data/config.py (rank 0)

            self.model = build_model(model, data_preprocessor, self.device, sync_bn,
                                     channels_last)
            check_wrapper_cfg(model_wrapper_cfg)
            self._wrapper_cfg = (model_wrapper_cfg, find_unused_parameters)
            self._compile = compile
            self.hooks: list[Hook] = build_hooks(default_hooks, custom_hooks)

            self._train = (train_dataloader, train_cfg)
            self._val = self._check_eval('val', val_dataloader, val_cfg, val_evaluator)
            self._test = self._check_eval('test', test_dataloader, test_cfg, test_evaluator)
            self._optim_cfg, self._scheduler_cfg = optim_wrapper, param_scheduler
            self.auto_scale_lr = auto_scale_lr
            self.load_from, self.resuming = load_from, bool(resume)
            self.train_loop = self.val_loop = self.test_loop = None
            self.optim_wrapper = None
            self.param_schedulers: list = []
            self._loaded = False
        finally:
            self._close_logging()  # reopened by train(), val() and test()

    @classmethod
    def from_cfg(cls, cfg: Mapping) -> 'Runner':
        """A runner from a loaded config; ``work_dir`` defaults to
        ``work_dirs/<config file name>``."""
        check_top_level(cfg)
        kwargs = {k: copy.deepcopy(cfg[k]) for k in RUNNER_KEYS if cfg.get(k) is not None}
        if 'work_dir' not in kwargs:
            name = os.path.splitext(os.path.basename(getattr(cfg, 'filename', None)
                                                     or 'posekit'))[0]
            kwargs['work_dir'] = os.path.join('work_dirs', name)
        if 'model' not in kwargs:
            raise KeyError('the config has no "model"')
        return cls(**kwargs, cfg=cfg)

    # ------------------------------------------------------------- state
    @property
    def epoch(self) -> int:
        return self.train_loop.epoch if self.train_loop else 0

    @property
    def iter(self) -> int:
        return self.train_loop.iter if self.train_loop else 0

    @property
    def max_epochs(self) -> int:
        return self.train_loop.max_epochs if self.train_loop else 0

    @property
    def max_iters(self) -> int:
        return self.train_loop.max_iters if self.train_loop else 0

    @property
    def train_dataloader(self):
        return self.train_loop.dataloader if self.train_loop else None

    @property
    def val_dataloader(self):
        return self.val_loop.dataloader if self.val_loop else None

    @property
    def test_dataloader(self):
        return self.test_loop.dataloader if self.test_loop else None

    @property
    def val_evaluator(self):
        return self.val_loop.evaluator if self.val_loop else None

    @property
    def test_evaluator(self):
        return self.test_loop.evaluator if self.test_loop else None

    def call_hook(self, stage: str, **kwargs: Any) -> None:
        """Call ``stage`` of every hook, in priority order."""
        for hook in self.hooks:
            getattr(hook, stage)(self, **kwargs)

    def register_hook(self, hook: Hook, priority: int | str | None = None) -> None:
        """Add a hook (after those of equal priority)."""
        hook.priority = get_priority(hook.priority if priority is None else priority)
        at = sum(1 for h in self.hooks if h.priority <= hook.priority)
        self.hooks.insert(at, hook)

    def build_dataloader(self, cfg: Any):
        return build_dataloader(cfg, self.seed, self._mp_cfg,
                                self._randomness.get('diff_rank_seed', False))

    # --------------------------------------------------------------- runs
    def train(self) -> nn.Module:
        """Train as ``train_cfg`` says; returns the (unwrapped) model."""
        from .optim import auto_scale_lr, build_optim_wrapper
        from .schedulers import build_param_schedulers
        loader_cfg, train_cfg = self._train
        if loader_cfg is None or train_cfg is None or self._optim_cfg is None:
            raise ValueError('training needs train_dataloader, train_cfg and optim_wrapper')
        self._open_logging()
        try:
            self.train_loop = self._build_train_loop(loader_cfg, train_cfg)
            with config_path(self._optim_cfg, 'optim_wrapper'):
                self.optim_wrapper = build_optim_wrapper(self.model, self._optim_cfg)
            batch = self.world_size * (self.train_dataloader.batch_size or 1)
            scale = auto_scale_lr(self.auto_scale_lr, batch, self.optim_wrapper)
            if scale != 1.0:
                self.logger.info('auto_scale_lr: lr x %.4g (batch %d, base batch %s)',
                                 scale, batch, self.auto_scale_lr.get('base_batch_size'))
            with config_path(self._scheduler_cfg, 'param_scheduler'):
                self.param_schedulers = build_param_schedulers(
                    self.optim_wrapper, self._scheduler_cfg, len(self.train_dataloader),
                    max_epochs=self.max_epochs, max_iters=self.max_iters)
            if self._val is not None:
                self.val_loop = self._build_eval_loop('val')
            self.call_hook('before_run')
            core = unwrap_model(self.model)
            if hasattr(core, 'init_weights'):
                core.init_weights()
            modules = (self.cfg or {}).get('activation_checkpointing')
            if modules:
                self.logger.info('activation checkpointing: %s', modules)
                turn_on_activation_checkpointing(core, modules)
            modules = (self.cfg or {}).get('efficient_conv_bn_eval')
            if modules:
                pairs = turn_on_efficient_conv_bn_eval(core, modules)
                self.logger.info('efficient_conv_bn_eval: %d conv + BatchNorm pairs in %s',
                                 pairs, modules)
            self.load_or_resume()
            self.model = wrap_model(self.model, self.device, *self._wrapper_cfg)
            if self._compile:
                opts = self._compile if isinstance(self._compile, Mapping) else {}
                self.model = torch.compile(self.model, **opts)
            self.optim_wrapper.initialize_count_status(self.model, self.iter, self.max_iters)
            self.train_loop.run()
            self.call_hook('after_run')
            return unwrap_model(self.model)
        finally:
            self.visualizer.close()
            self._close_logging()

    def val(self) -> dict:
        """Evaluate on the validation set; returns the metrics."""
        return self._evaluate('val')

    def test(self) -> dict:
        """Evaluate on the test set; returns the metrics."""
        return self._evaluate('test')

    def _evaluate(self, mode: str) -> dict:
        if getattr(self, f'_{mode}') is None:
            raise ValueError(f'{mode} needs {mode}_dataloader, {mode}_cfg and {mode}_evaluator')
        self._open_logging()
        try:
            loop = self._build_eval_loop(mode)
            setattr(self, f'{mode}_loop', loop)
            self.call_hook('before_run')
            self.load_or_resume()
            metrics = loop.run()
            self.call_hook('after_run')
            return metrics
        finally:
            self.visualizer.close()
            self._close_logging()

    # -------------------------------------------------------- checkpoints
    def save_checkpoint(self, path: str, save_optimizer: bool = True,
                        save_param_scheduler: bool = True, meta: Mapping | None = None) -> None:
        """Write a checkpoint (rank 0 only; atomically). ``meta`` defaults to
        the current epoch and iteration."""
        meta = dict(meta or dict(epoch=self.epoch, iter=self.iter))
        meta.update(seed=self.seed, experiment_name=self.experiment_name,
                    time=time.strftime('%Y%m%d_%H%M%S'), posekit_version=__version__,
                    rng=get_rng_state())
        if self.cfg is not None and hasattr(self.cfg, 'pretty_text'):
            meta['cfg'] = self.cfg.pretty_text
        if self.train_loop is not None:
            dataset_meta = getattr(unwrap_dataset(self.train_dataloader.dataset), 'metainfo', None)
            if dataset_meta is not None:
                meta['dataset_meta'] = dataset_meta
        checkpoint = {'meta': meta, 'state_dict': unwrap_model(self.model).state_dict(),
                      'message_hub': self.message_hub.state_dict()}
        if save_optimizer and self.optim_wrapper is not None:
            checkpoint['optimizer'] = self.optim_wrapper.state_dict()
        if save_param_scheduler and self.param_schedulers:
            checkpoint['param_schedulers'] = [s.state_dict() for s in self.param_schedulers]
        self.call_hook('before_save_checkpoint', checkpoint=checkpoint)
        if self.rank == 0:
            ckpt_io.save_checkpoint(checkpoint, path)

    def load_checkpoint(self, path: str, strict: bool = False) -> dict:
        """Load a checkpoint's weights into the model (non-strict: mismatches
        are warned about); MMEngine/MMPose 1.x checkpoints are accepted, and
        MMPose 0.x head names are upgraded."""
        from posekit.models.heads import upgrade_legacy_keys
        from posekit.models.utils.checkpoint import load_state_dict
        checkpoint = ckpt_io.read_checkpoint(path)
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        core = unwrap_model(self.model)
        weights = upgrade_legacy_keys(core, ckpt_io.state_dict_of(checkpoint))
        load_state_dict(core, weights, strict=strict)
        dataset_meta = checkpoint.get('meta', {}).get('dataset_meta')
        if dataset_meta is not None and getattr(core, 'dataset_meta', 0) is None:
            core.dataset_meta = dataset_meta
        self.logger.info('Load checkpoint from %s', path)
        return checkpoint

    def load_or_resume(self) -> None:
        """Resume (``resume=True``) or load ``load_from`` weights, if asked
        (once per runner: ``val()`` after ``train()`` keeps the trained weights)."""
        if self._loaded:
            return
        self._loaded = True
        path = None
        if self.resuming and self.train_loop is not None:
            path = self.load_from or ckpt_io.find_latest_checkpoint(self.work_dir)
            if path is None:
                self.logger.warning('resume=True but %s has no last_checkpoint; '
                                    'training from the start', self.work_dir)
            else:
                self.resume(path)
                return
        if self.load_from:
            self.load_checkpoint(self.load_from)

    def resume(self, path: str) -> None:
        """Continue a run from a training checkpoint: weights, optimizer,
        schedulers, epoch/iteration, runtime info and random states."""
        checkpoint = self.load_checkpoint(path, strict=True)
        meta = checkpoint.get('meta', {})
        self.train_loop.epoch, self.train_loop.iter = int(meta['epoch']), int(meta['iter'])
        if meta.get('seed') is not None and meta['seed'] != self.seed:
            self.logger.warning('resuming with the seed of the checkpoint (%s) instead of %s',
                                meta['seed'], self.seed)
            self.seed = set_random_seed(**{**self._randomness, 'seed': meta['seed']})
            sampler = self.train_dataloader.sampler  # the order and augmentations follow the seed
            for part in (sampler, getattr(sampler, 'sampler', None)):
                if part is not None and hasattr(part, 'seed'):
                    part.seed = self.seed
        self.message_hub.load_state_dict(checkpoint.get('message_hub', {}))
        if 'optimizer' in checkpoint:
            self.optim_wrapper.load_state_dict(checkpoint['optimizer'])
        else:
            self.logger.warning('%s has no optimizer state (not a training '
                                'checkpoint?): the optimizer starts afresh', path)
        saved = checkpoint.get('param_schedulers', [])
        if len(saved) != len(self.param_schedulers):
            self.logger.warning('the checkpoint has %d scheduler states, the config %d',
                                len(saved), len(self.param_schedulers))
        for scheduler, state in zip(self.param_schedulers, saved):
            scheduler.load_state_dict(state)
        if 'rng' in meta:
            set_rng_state(meta['rng'])
        self.logger.info('resumed epoch: %d, iter: %d', self.epoch, self.iter)

    # ------------------------------------------------------------ building
    def _build_train_loop(self, loader_cfg: Any, train_cfg: Mapping):
        cfg = dict(train_cfg)
        by_epoch = cfg.pop('by_epoch', None)
        if 'type' in cfg and by_epoch is not None:
            raise ValueError('train_cfg: give either type or by_epoch, not both')
        if 'type' not in cfg:
            cfg['type'] = 'EpochBasedTrainLoop' if by_epoch in (None, True) else 'IterBasedTrainLoop'
        with config_path(loader_cfg, 'train_dataloader'):  # the loop builds it
            return LOOPS.build(cfg, default_args=dict(runner=self, dataloader=loader_cfg),
                               path='train_cfg')

    def _check_eval(self, mode: str, loader: Any, loop_cfg: Any, evaluator: Any):
        given = [x is not None for x in (loader, loop_cfg, evaluator)]
        if any(given) and not all(given):
            names = [f'{mode}_dataloader', f'{mode}_cfg', f'{mode}_evaluator']
            missing = [n for n, g in zip(names, given) if not g]
            raise ValueError(f'{", ".join(names)} must be all set or all None; '
                             f'missing: {", ".join(missing)}')
        return (loader, loop_cfg, evaluator) if all(given) else None

    def _build_eval_loop(self, mode: str):
        loader, loop_cfg, evaluator = getattr(self, f'_{mode}')
        cfg = dict(loop_cfg)
        cfg.setdefault('type', 'ValLoop' if mode == 'val' else 'TestLoop')
        with config_path(loader, f'{mode}_dataloader'), \
                config_path(evaluator, f'{mode}_evaluator'):  # the loop builds them
            return LOOPS.build(cfg, default_args=dict(runner=self, dataloader=loader,
                                                      evaluator=evaluator),
                               path=f'{mode}_cfg')

    def _build_log_processor(self, cfg: Mapping | None) -> LogProcessor:
        cfg = dict(cfg or {})
        kind = str(cfg.pop('type', 'LogProcessor')).rsplit('.', 1)[-1]
        if kind != 'LogProcessor':
            raise ValueError(f'log_processor type {kind!r} is not supported (LogProcessor only)')
        return LogProcessor(**cfg)

    def _build_visualizer(self, cfg: Any):
        """The run's visualizer (MMEngine's defaults: ``name`` = the
        experiment name, backends under ``log_dir/vis_data``; without a
        ``visualizer`` config, a ``Visualizer`` with a ``LocalVisBackend``)."""
        from posekit.registry import VISUALIZERS
        from posekit.visualization import Visualizer
        if isinstance(cfg, Visualizer):
            return cfg
        if cfg is None:
            cfg = dict(type='Visualizer', vis_backends=[dict(type='LocalVisBackend')])
        if not isinstance(cfg, Mapping):
            raise TypeError(f'visualizer must be a dict or a Visualizer, got {cfg!r}')
        cfg = dict(cfg)
        cfg.setdefault('name', self.experiment_name)
        cfg.setdefault('save_dir', self.log_dir)
        return VISUALIZERS.build(cfg, path='visualizer')

    # ------------------------------------------------------------ logging
    def _open_logging(self) -> None:
        if self._logging is None:
            self._logging = RunLogging(os.path.join(self.log_dir, f'{self.timestamp}.log'),
                                       self._log_level, self.rank)

    def _close_logging(self) -> None:
        if self._logging is not None:
            self._logging.close()
            self._logging = None

    def _log_environment(self) -> None:
        cuda = torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none'
        self.logger.info('posekit %s, Python %s, torch %s, GPU: %s, device: %s, processes: %d, '
                         'seed: %d, deterministic: %s, threads: %d', __version__,
                         platform.python_version(), torch.__version__, cuda, self.device,
                         self.world_size, self.seed, self.deterministic, torch.get_num_threads())

    def _dump_config(self) -> None:
        if self.rank != 0 or self.cfg is None or not hasattr(self.cfg, 'dump'):
            return
        name = os.path.basename(self.cfg.filename) if getattr(self.cfg, 'filename', None) \
            else f'{self.timestamp}.py'
        try:
            self.cfg.dump(os.path.join(self.work_dir, name))
        except Exception as e:  # noqa: BLE001 (a config holding classes cannot be dumped)
            self.logger.warning('could not save the config as Python (%s); saving its text', e)
            write_text(os.path.join(self.work_dir, name), self.cfg.pretty_text)
        self.logger.info('config saved to %s', os.path.join(self.work_dir, name))
