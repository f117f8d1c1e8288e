"""``posekit test CONFIG CHECKPOINT``: evaluate a checkpoint (MMPose's ``tools/test.py``).

Prints the metrics of ``test_evaluator`` on ``test_dataloader``.
CHECKPOINT may also be an ``.onnx`` file of ``posekit export`` (fp32 or
``--quantize int8``): its network then runs in ONNX Runtime (on the GPU of
the process where onnxruntime has CUDA, else the CPU) with the config's
preprocessing, flip test and decoding, as ``init_onnx_model``'s.
``--out results.json`` writes the metrics (``.pkl``: pickled), ``--dump
preds.pkl`` writes the predictions (a list of dicts, one per sample, as
MMPose's ``DumpResults``; ``.json``: JSON), ``--show-dir DIR`` draws them.
"""
from __future__ import annotations

import argparse
import copy
import os
import pickle
from typing import Any

import torch

from posekit.commands.print_config import add_cfg_options
from posekit.commands.train import (add_decoded_cache_argument, add_launcher_arguments,
                                    add_visualization_arguments)
from posekit.engine.hooks.hook import Hook
from posekit.fileio import write_bytes, write_json
from posekit.structures import to_numpy, to_plain


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('config', help='config file (.py)')
    parser.add_argument('checkpoint', help='checkpoint file (.pth), or an .onnx file of '
                        'posekit export (its network runs in ONNX Runtime)')
    parser.add_argument('--work-dir', help='where the logs go '
                        '(default: work_dirs/<config name>)')
    parser.add_argument('--out', help='write the metrics to this file (.json or .pkl)')
    parser.add_argument('--dump', help='write the predictions to this file (.pkl or .json)')
    parser.add_argument('--badcase', action='store_true',
                        help='draw the instances scoring worst (default_hooks.badcase: the '
                             "head's loss >= badcase_thr by default) to WORK_DIR/TIMESTAMP/"
                             'badcase/ with a results.json')
    parser.add_argument('--precision', choices=('fp32', 'bf16'),
                        help='evaluate the model optimized for inference: fp32 (BatchNorms '
                             'folded) or bf16 (autocast); default: the model as trained')
    add_decoded_cache_argument(parser)
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
    # with --badcase, --show shows the bad cases, not every prediction
    merge_args(cfg, argparse.Namespace(**{**vars(args), 'show': args.show and not args.badcase}))
    if args.badcase:
        _enable_badcase(cfg, args)
    onnx_file = args.checkpoint if args.checkpoint.endswith('.onnx') else None
    if onnx_file and args.precision:
        raise ValueError(f'--precision {args.precision}: {onnx_file} runs at the precision it '
                         'was exported with (posekit export --quantize int8 for int8)')
    cfg.load_from = None if onnx_file else args.checkpoint
    cfg.resume = False
    runner = Runner.from_cfg(cfg)
    if onnx_file:
        _run_onnx(runner, cfg, onnx_file)
    if args.precision:
        runner.register_hook(_Optimize(args.precision, cfg), 'HIGHEST')
    if args.dump:
        runner.register_hook(_DumpPredictions(args.dump), 'LOWEST')
    metrics = runner.test()
    if runner.rank == 0:
        for name, value in metrics.items():
            print(f'{name}: {value:.4f}' if isinstance(value, float) else f'{name}: {value}')
        if args.out:
            _write(args.out, to_plain(dict(metrics), where='metrics'))
            print(f'metrics written to {args.out}')
    return 0


def _write(path: str, obj: Any) -> None:
    """``obj`` as JSON (``.json``) or pickled, written atomically."""
    if path.endswith('.json'):
        write_json(path, obj, indent=1)
    else:
        write_bytes(path, pickle.dumps(obj))


def _enable_badcase(cfg, args: argparse.Namespace) -> None:
    """``--badcase`` (MMPose's rules): the hook on, showing with ``--show``;
    its metric, unless the config names one, the head's loss or (accuracy)
    the test evaluator."""
    hooks = cfg.get('default_hooks') or {}
    if 'badcase' not in hooks:
        raise ValueError("--badcase needs default_hooks.badcase=dict(type='BadCaseAnalysisHook')"
                         ' in the config')
    badcase = hooks['badcase']
    badcase.update(enable=True, show=args.show, interval=args.interval)
    if args.show:
        badcase.wait_time = args.wait_time
    if not badcase.get('metric'):
        if badcase.get('metric_type', 'loss') == 'loss':
            loss = (cfg.model.get('head') or {}).get('loss')
            if loss is not None:
                badcase.metric = copy.deepcopy(loss)
        else:
            badcase.metric = copy.deepcopy(cfg.test_evaluator)


def _run_onnx(runner, cfg, onnx_file: str) -> None:
    """The runner's model replaced by ``onnx_file`` in ONNX Runtime."""
    from posekit.apis import init_onnx_model
    from posekit.engine.hooks import EMAHook
    if not os.path.isfile(onnx_file):
        raise FileNotFoundError(f'{onnx_file}: no such file')
    if (cfg.get('test_cfg') or {}).get('fp16'):
        raise ValueError('test_cfg.fp16 (autocast) does not apply to an ONNX file: '
                         f'{onnx_file} runs at the precision it was exported with')
    device = 'cpu'
    if runner.device.type == 'cuda':
        import onnxruntime
        if 'CUDAExecutionProvider' in onnxruntime.get_available_providers():
            device = f'cuda:{runner.device.index or 0}'
    runner.model = _OnnxModel(init_onnx_model(cfg, onnx_file, device=device))
    # the weights are the file's: a hook that swaps in averaged ones has none
    dropped = [type(h).__name__ for h in runner.hooks if isinstance(h, EMAHook)]
    runner.hooks = [h for h in runner.hooks if not isinstance(h, EMAHook)]
    runner.logger.info('testing %s in ONNX Runtime (%s)%s', onnx_file, device,
                       f'; not applied: {", ".join(dropped)}' if dropped else '')


class _OnnxModel(torch.nn.Module):
    """An :class:`~posekit.apis.OnnxPoseModel` as the runner's model."""

    def __init__(self, onnx_model) -> None:
        super().__init__()
        self.onnx_model = onnx_model
        self.dataset_meta = onnx_model.dataset_meta

    def val_step(self, data: dict) -> list:
        return self.onnx_model.test_step(data)

    test_step = val_step


class _Optimize(Hook):
    """Optimizes the loaded model for inference before the test runs."""

    def __init__(self, precision: str, cfg) -> None:
        self.precision, self.cfg = precision, cfg

    def before_test(self, runner) -> None:
        from posekit.apis.optimize import optimize_for_inference
        from posekit.models.builder import config_input_size
        model = getattr(runner.model, 'module', runner.model)   # a DDP wrapper's
        optimize_for_inference(model, self.precision, input_size=config_input_size(self.cfg))
        runner.logger.info('model optimized for inference: precision %s',
                           model.inference_precision)


class _DumpPredictions(Hook):
    """Collects every prediction as a dict and writes them after the test."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.results: list = []

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        for sample in outputs or ():
            as_dict = sample.to_dict() if hasattr(sample, 'to_dict') else dict(sample)
            # converted now: no tensor (maybe on a GPU) is kept until the end
            self.results.append(to_plain(as_dict, where='prediction')
                                if self.path.endswith('.json') else to_numpy(as_dict))

    def after_test_epoch(self, runner, metrics=None):
        from posekit.evaluation.metrics.base_metric import collect_results
        results = collect_results(self.results, len(runner.test_dataloader.dataset))
        if runner.rank == 0:
            _write(self.path, results)
            runner.logger.info('predictions written to %s', self.path)
        self.results = []
