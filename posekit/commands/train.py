"""``posekit train CONFIG``: train a model (MMPose's ``tools/train.py``).

Flags map onto the config as MMPose's do: ``--work-dir`` sets ``work_dir``
(default ``work_dirs/<config name>``), ``--resume`` continues the newest
checkpoint of the work dir (or the one named), ``--amp`` switches the
optimizer wrapper to ``AmpOptimWrapper`` (bfloat16 on CPU, float16 on GPU),
``--channels-last`` sets ``channels_last`` (posekit's own key: channels-last
weights, see ``posekit.engine.setup.build_model``), ``--auto-scale-lr`` sets
``auto_scale_lr.enable``, ``--no-validate`` drops
the validation, ``--cfg-options`` is applied last. Multi-process training::

    torchrun --nproc-per-node 2 -m posekit train CONFIG --launcher pytorch
"""
from __future__ import annotations

import argparse
import os

from posekit.commands.print_config import add_cfg_options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('config', help='training config file (.py)')
    parser.add_argument('--work-dir', help='where logs and checkpoints go '
                        '(default: work_dirs/<config name>)')
    parser.add_argument('--resume', nargs='?', const='auto', metavar='CHECKPOINT',
                        help='resume from CHECKPOINT, or without a value from the '
                        'newest checkpoint of the work dir')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed precision (AmpOptimWrapper)')
    parser.add_argument('--channels-last', action='store_true',
                        help='train with channels-last weights (faster convolutions on '
                             'CPUs and with AMP on GPUs; config key channels_last)')
    parser.add_argument('--no-validate', action='store_true',
                        help='do not evaluate during training')
    add_decoded_cache_argument(parser)
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr by (processes x batch size) / '
                        'auto_scale_lr.base_batch_size')
    add_visualization_arguments(parser)
    add_cfg_options(parser)
    add_launcher_arguments(parser)


def add_visualization_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--show-dir', help='draw predictions into this folder '
                        '(under the run\'s log folder)')
    parser.add_argument('--show', action='store_true', help='show predictions in a window')
    parser.add_argument('--interval', type=int, default=1, help='draw every N-th sample')
    parser.add_argument('--wait-time', type=float, default=1,
                        help='seconds each shown picture stays')


def add_decoded_cache_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--decoded-cache', metavar='DIR',
                        help='keep decoded images in DIR (uncompressed: ~3 bytes a pixel) '
                             'and read them from there after the first time: the same '
                             'pixels, ~20x cheaper than decoding a JPEG (LoadImage '
                             'decoded_cache)')


def add_launcher_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--launcher', choices=['none', 'pytorch'], default='none',
                        help="'pytorch' under torchrun (one process per device)")
    parser.add_argument('--local-rank', '--local_rank', type=int, default=0,
                        help=argparse.SUPPRESS)


def merge_args(cfg, args: argparse.Namespace) -> None:
    """Apply the command-line flags to ``cfg`` in place (MMPose's order)."""
    from posekit.config import parse_cfg_options
    if getattr(args, 'no_validate', False):
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = os.path.join('work_dirs', os.path.splitext(
            os.path.basename(args.config))[0])
    if getattr(args, 'amp', False):
        kind = str(cfg.optim_wrapper.get('type', 'OptimWrapper')).rsplit('.', 1)[-1]
        if kind not in ('OptimWrapper', 'AmpOptimWrapper'):
            raise ValueError(f'--amp does not support optim_wrapper type {kind!r}')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if getattr(args, 'channels_last', False):
        cfg.channels_last = True
    if getattr(args, 'decoded_cache', None):
        set_decoded_cache(cfg, args.decoded_cache)
    resume = getattr(args, 'resume', None)
    if resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif resume is not None:
        cfg.resume, cfg.load_from = True, resume
    if getattr(args, 'auto_scale_lr', False):
        if not cfg.get('auto_scale_lr'):
            raise ValueError('--auto-scale-lr needs auto_scale_lr=dict(base_batch_size=...) '
                             'in the config')
        cfg.auto_scale_lr.enable = True
    if args.show or args.show_dir is not None:
        hooks = cfg.get('default_hooks') or {}
        if 'visualization' not in hooks:
            raise ValueError('--show/--show-dir need default_hooks.visualization='
                             "dict(type='PoseVisualizationHook')")
        vis = hooks['visualization']
        vis.update(enable=True, show=args.show, out_dir=args.show_dir,
                   interval=args.interval)
        if args.show:
            vis.wait_time = args.wait_time
    if args.cfg_options:
        cfg.merge_from_dict(parse_cfg_options(args.cfg_options))


def set_decoded_cache(cfg, folder: str) -> None:
    """``decoded_cache=folder`` on every LoadImage of the config's data loaders."""
    steps = [step for key in ('train_dataloader', 'val_dataloader', 'test_dataloader')
             for step in _load_image_steps(cfg.get(key))]
    if not steps:
        raise ValueError('--decoded-cache: no LoadImage step in the data loaders\' pipelines')
    for step in steps:
        step['decoded_cache'] = folder


def _load_image_steps(node):
    if isinstance(node, dict):
        if str(node.get('type', '')).rsplit('.', 1)[-1] == 'LoadImage':
            yield node
        for value in node.values():
            yield from _load_image_steps(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _load_image_steps(value)


def run(args: argparse.Namespace) -> int:
    from posekit.config import Config
    from posekit.engine import Runner
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    cfg = Config.fromfile(args.config)
    merge_args(cfg, args)
    Runner.from_cfg(cfg).train()
    return 0
