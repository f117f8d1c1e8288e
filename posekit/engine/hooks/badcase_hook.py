"""BadCaseAnalysisHook: find the test instances a model gets worst, and draw them.

``posekit test CONFIG CKPT --badcase`` turns on ``default_hooks.badcase``
(MMPose's default runtime declares it, off). For every test sample (one
person of a top-down model) it scores the prediction against the ground
truth, in image pixels:

- ``metric_type='loss'``: ``metric`` is a loss config called as
  ``loss(pred (1, K, D), gt (1, K, D), keypoints_visible (1, K))``;
  a bad case scores ``>= badcase_thr``. ``KeypointMSELoss`` (the default)
  gives the mean squared keypoint error in pixels^2, visible keypoints
  only. ``--badcase`` fills in the head's loss when the config names no
  metric, as MMPose's ``tools/test.py`` does: that must be a loss taking
  coordinates (a heatmap or SimCC loss is refused with a clear error).
- ``metric_type='accuracy'``: ``metric`` is an evaluator config (one metric
  or a list; ``--badcase`` fills in ``test_evaluator``) computed on the
  sample alone, and ``metric_key`` picks the value; a bad case scores
  ``<= badcase_thr``. Per-instance metrics mean something (PCK, EPE, NME);
  a COCO AP of one instance against the whole annotation file does not.

Each bad case is drawn on its image, ground truth in blue and prediction
(with its box) in red, to ``WORK_DIR/TIMESTAMP/out_dir/`` as
``<image>_bbox[[x1, y1, x2, y2]]_<metric><value>.<ext>`` (MMPose's name),
or shown (``show``), or recorded by the visualizer's backends without
``out_dir``. After the test ``results.json`` lists them (``img``, ``bbox``,
the metric's value), all ranks' together, in ``out_dir`` (else the log
folder). Differences from MMPose 1.3.2 on purpose: its ``out_dir`` grew by
one more level every batch, and it failed without ``out_dir``.
"""
from __future__ import annotations

import inspect
import os
from typing import Any

import numpy as np
import torch

from posekit.evaluation.metrics.base_metric import as_dict
from posekit.fileio import write_json
from posekit.registry import HOOKS, MODELS
from posekit.structures import InstanceData, PoseDataSample, to_numpy
from ..dataloader import unwrap_dataset
from ..dist import get_rank, is_distributed
from .hook import Hook
from .visualization_hook import picture_of


@HOOKS.register_module()
class BadCaseAnalysisHook(Hook):
    """Draw the test instances whose keypoint error is worst (see the module
    docstring).

    Args:
        enable (bool): Off by default (MMPose's default runtime has it off).
        show (bool): Show each bad case in a window instead of writing it.
        wait_time (float): Seconds each shown picture stays.
        interval (int): Accepted for MMPose's configs; every bad case is drawn.
        kpt_thr (float): Keypoints scoring at or below are not drawn.
        out_dir (str, optional): Folder under the run's log folder.
        backend_args (dict, optional): Only local files are supported.
        metric_type (str): ``'loss'`` or ``'accuracy'``.
        metric (dict, optional): The loss config (default
            ``KeypointMSELoss``) or the evaluator config (required).
        metric_key (str): The accuracy value to judge by, e.g. ``'PCK'``.
        badcase_thr (float): Bad from this loss up, or this accuracy down.
    """

    def __init__(self, enable: bool = False, show: bool = False, wait_time: float = 0.,
                 interval: int = 50, kpt_thr: float = 0.3, out_dir: str | None = None,
                 backend_args: dict | None = None, metric_type: str = 'loss',
                 metric: dict | None = None, metric_key: str = 'PCK',
                 badcase_thr: float = 5) -> None:
        if metric_type not in ('loss', 'accuracy'):
            raise ValueError("BadCaseAnalysisHook: metric_type must be 'loss' or "
                             f"'accuracy', got {metric_type!r}")
        if backend_args not in (None, {}, {'backend': 'local'}):
            raise ValueError('BadCaseAnalysisHook: only local files are supported')
        self.enable, self.show, self.wait_time = enable, show, wait_time
        self.interval, self.kpt_thr, self.out_dir = interval, kpt_thr, out_dir
        self.metric_type, self.metric_key, self.badcase_thr = metric_type, metric_key, badcase_thr
        self.scorer, self.metric_name = None, metric_key
        if enable and metric_type == 'loss':
            self.scorer = MODELS.build(metric or dict(type='KeypointMSELoss'))
            self.metric_name = type(self.scorer).__name__
            _check_takes_coordinates(self.scorer)   # now, not after testing the whole set
        elif enable:
            if not metric:
                raise ValueError("BadCaseAnalysisHook: metric_type='accuracy' needs metric="
                                 '<evaluator config>, e.g. the test_evaluator')
            from posekit.evaluation import build_evaluator
            self.scorer = build_evaluator(metric)
        self.results: list[dict] = []
        self._count = 0

    def before_test(self, runner) -> None:
        self.results, self._count = [], 0
        if self.enable and self.metric_type == 'accuracy':
            meta = getattr(unwrap_dataset(runner.test_dataloader.dataset), 'metainfo', None)
            self.scorer.dataset_meta = meta

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if not self.enable:
            return
        for sample in outputs or ():
            self._count += 1
            value = self.score(data_batch, sample)
            if (value >= self.badcase_thr if self.metric_type == 'loss'
                    else value <= self.badcase_thr):
                self._keep(runner, sample, value)

    def score(self, data_batch: Any, sample: Any) -> float:
        """The sample's loss or accuracy (see the module docstring)."""
        if self.metric_type == 'accuracy':
            return self._accuracy(data_batch, sample)
        gt, pred = sample.get('gt_instances'), sample.get('pred_instances')
        if gt is None or 'keypoints' not in gt or pred is None:
            raise ValueError('BadCaseAnalysisHook: a test sample without ground-truth '
                             f'keypoints ({sample.metainfo.get("img_path")}); it needs an '
                             'annotated test set')
        gts, preds = (np.asarray(to_numpy(x), np.float32)
                      for x in (gt.keypoints, pred.keypoints))
        if gts.shape != preds.shape:
            raise ValueError(
                f'BadCaseAnalysisHook compares each predicted instance with its ground '
                f'truth (top-down samples): {sample.metainfo.get("img_path")} has predicted '
                f'keypoints {preds.shape} and ground truth {gts.shape}')
        weights = np.asarray(to_numpy(gt.get('keypoints_visible', np.ones(gts.shape[:2]))),
                             np.float32)
        return self._loss(preds, gts, weights)

    def _loss(self, preds: np.ndarray, gts: np.ndarray, weights: np.ndarray) -> float:
        try:
            with torch.no_grad():
                value = self.scorer(torch.from_numpy(preds), torch.from_numpy(gts),
                                    torch.from_numpy(weights))
            return float(value)
        except (TypeError, ValueError, RuntimeError, AttributeError) as error:
            raise ValueError(
                f'BadCaseAnalysisHook: {self.metric_name} cannot score keypoints '
                f'{preds.shape} against ground truth in image pixels ({error}); set '
                "default_hooks.badcase.metric=dict(type='KeypointMSELoss') or "
                "metric_type='accuracy'") from error

    def _accuracy(self, data_batch: Any, sample: Any) -> float:
        values: dict = {}
        for metric in self.scorer.metrics:  # this sample alone: no gathering
            metric.process(data_batch, [as_dict(sample)])
            found = metric.compute_metrics(metric.results)
            metric.results.clear()
            values.update({f'{metric.prefix}/{k}' if metric.prefix else k: v
                           for k, v in found.items()})
        if self.metric_key not in values:
            raise KeyError(f'BadCaseAnalysisHook: metric_key {self.metric_key!r} is not '
                           f'among the metrics {sorted(values)}')
        return float(values[self.metric_key])

    def _keep(self, runner, sample: Any, value: float) -> None:
        path = sample.metainfo.get('img_path')
        name, ext = os.path.splitext(os.path.basename(path))
        bboxes = np.asarray(to_numpy(sample.gt_instances.bboxes)).astype(int).tolist()
        self.results.append({'img': name, 'bbox': bboxes, self.metric_name: value})
        image = picture_of(runner, runner.test_dataloader, path, type(self).__name__)
        if image is None:
            return
        title = f'{name}_bbox{bboxes}_{self.metric_name}{round(value, 2)}'
        out_file = None
        if self.out_dir is not None and not self.show:
            out_file = os.path.join(runner.log_dir, self.out_dir, title + ext)
        visualizer = runner.visualizer
        colors = visualizer.kpt_color, visualizer.link_color
        truth = PoseDataSample(gt_instances=InstanceData(
            keypoints=sample.gt_instances.keypoints,
            keypoints_visible=sample.gt_instances.get('keypoints_visible')))
        try:
            visualizer.kpt_color = visualizer.link_color = 'blue'
            drawn = visualizer.draw_datasample(image, truth,
                                               draw_gt=True, draw_pred=False,
                                               kpt_thr=self.kpt_thr)
            visualizer.kpt_color = visualizer.link_color = 'red'
            visualizer.add_datasample(title if self.show else 'test_img', drawn, sample,
                                      draw_gt=False, draw_pred=True, draw_bbox=True,
                                      show=self.show, wait_time=self.wait_time,
                                      out_file=out_file, kpt_thr=self.kpt_thr,
                                      step=self._count)
        finally:
            visualizer.kpt_color, visualizer.link_color = colors

    def after_test_epoch(self, runner, metrics=None):
        if not self.enable:
            return
        results = self.results
        if is_distributed():
            parts: list = [None] * torch.distributed.get_world_size()
            torch.distributed.all_gather_object(parts, results)
            results = [r for part in parts for r in part]
        if get_rank() == 0:
            folder = os.path.join(runner.log_dir, self.out_dir or '')
            write_json(os.path.join(folder, 'results.json'), results)
            runner.logger.info('BadCaseAnalysisHook: %d bad cases (%s %s %s) listed in %s',
                               len(results), self.metric_name,
                               '>=' if self.metric_type == 'loss' else '<=',
                               self.badcase_thr, folder)


def _check_takes_coordinates(loss: Any) -> None:
    """A loss called as ``loss(output, target, weights)``: its forward's
    second argument is the target (RLELoss takes ``pred, sigma, target``,
    KLDiscretLoss SimCC vectors)."""
    params = list(inspect.signature(loss.forward).parameters)
    if len(params) < 2 or params[1] != 'target':
        raise ValueError(
            f'BadCaseAnalysisHook: {type(loss).__name__}.forward{tuple(params)} does not '
            'take (output, target, weights): it cannot score keypoints against the ground '
            "truth; set default_hooks.badcase.metric=dict(type='KeypointMSELoss') or "
            "metric_type='accuracy'")
