"""``posekit test CONFIG CHECKPOINT``: evaluate a checkpoint (MMPose's ``tools/test.py``).

Prints the metrics of ``test_evaluator`` on ``test_dataloader``.
``--out results.json`` writes the metrics (``.pkl``: pickled), ``--dump
preds.pkl`` writes the predictions (a list of dicts, one per sample, as
MMPose's ``DumpResults``; ``.json``: JSON), ``--show-dir DIR`` draws them.
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
from typing import Any

from posekit.commands.print_config import add_cfg_options
from posekit.commands.train import add_launcher_arguments, add_visualization_arguments
from posekit.engine.hooks.hook import Hook


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('config', help='config file (.py)')
    parser.add_argument('checkpoint', help='checkpoint file (.pth)')
    parser.add_argument('--work-dir', help='where the logs go '
                        '(default: work_dirs/<config name>)')
    parser.add_argument('--out', help='write the metrics to this file (.json or .pkl)')
    parser.add_argument('--dump', help='write the predictions to this file (.pkl or .json)')
    parser.add_argument('--badcase', action='store_true',
                        help="MMPose's bad-case analysis (not supported: raises)")
    add_visualization_arguments(parser)
    add_cfg_options(parser)
    add_launcher_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from posekit.config import Config
    from posekit.engine import Runner
    from posekit.commands.train import merge_args
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    for path, kinds in ((args.out, ('.json', '.pkl', '.pickle')),
                        (args.dump, ('.json', '.pkl', '.pickle'))):
        if path and not path.endswith(kinds):
            raise ValueError(f'{path}: use a {" / ".join(kinds)} file')
    cfg = Config.fromfile(args.config)
    if args.badcase:
        cfg.default_hooks.badcase.enable = True  # BadCaseAnalysisHook refuses it
    merge_args(cfg, args)
    cfg.load_from = args.checkpoint
    cfg.resume = False
    runner = Runner.from_cfg(cfg)
    if args.dump:
        runner.register_hook(_DumpPredictions(args.dump), 'LOWEST')
    metrics = runner.test()
    if runner.rank == 0:
        for name, value in metrics.items():
            print(f'{name}: {value:.4f}' if isinstance(value, float) else f'{name}: {value}')
        if args.out:
            _write(args.out, {k: _plain(v) for k, v in metrics.items()})
            print(f'metrics written to {args.out}')
    return 0


def _plain(value: Any) -> Any:
    """Tensors and NumPy values as lists and numbers (JSON-able)."""
    if hasattr(value, 'detach'):
        value = value.detach().cpu().numpy()
    if hasattr(value, 'tolist'):
        return value.tolist()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _write(path: str, obj: Any) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if path.endswith('.json'):
        with open(path, 'w', encoding='utf-8') as f:
            json.dump(obj, f, indent=1)
    else:
        with open(path, 'wb') as f:
            pickle.dump(obj, f)


class _DumpPredictions(Hook):
    """Collects every prediction as a dict and writes them after the test."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.results: list = []

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        for sample in outputs or ():
            as_dict = sample.to_dict() if hasattr(sample, 'to_dict') else dict(sample)
            self.results.append(_plain(as_dict) if self.path.endswith('.json')
                                else _numpy(as_dict))

    def after_test_epoch(self, runner, metrics=None):
        from posekit.evaluation.metrics.base_metric import collect_results
        results = collect_results(self.results, len(runner.test_dataloader.dataset))
        if runner.rank == 0:
            _write(self.path, results)
            runner.logger.info('predictions written to %s', self.path)
        self.results = []


def _numpy(value: Any) -> Any:
    if hasattr(value, 'detach'):
        return value.detach().cpu().numpy()
    if isinstance(value, dict):
        return {k: _numpy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numpy(v) for v in value]
    return value
