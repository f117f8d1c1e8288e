"""PoseVisualizationHook (draw predictions) and BadCaseAnalysisHook (refused when on).

Pictures are drawn by the run's visualizer (``runner.visualizer``, a
``PoseLocalVisualizer`` in MMPose configs) with the dataset's meta colours:
predicted keypoints, skeleton links, boxes and, when the model outputs them
(``test_cfg.output_heatmaps``), heatmaps stacked below.
"""
from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any, Sequence

import cv2

from posekit.registry import HOOKS
from posekit.structures import merge_data_samples
from ..dataloader import unwrap_dataset
from ..dist import is_main_process
from .hook import Hook


def _merge(samples: Sequence[Any]) -> Any:
    """The instances (and image-space heatmaps) of one image in one sample."""
    if len(samples) == 1 and 'pred_fields' not in samples[0]:
        return samples[0]
    return merge_data_samples(list(samples))


@HOOKS.register_module()
class PoseVisualizationHook(Hook):
    """Draw predictions during validation and testing (MMPose's arguments).

    Args:
        enable (bool): Off by default (MMPose's default runtime has it off).
        interval (int): Validation: draw the first sample of every this many
            batches, recorded by the visualizer's backends as ``val_img`` at
            step ``iteration + batch index`` (``vis_data/vis_image/
            val_img_STEP.png`` with LocalVisBackend). Defaults to 50.
        kpt_thr (float): Keypoints scoring at or below are not drawn.
        show (bool): Show in a window instead of recording (needs a display);
            scalars are still recorded (MMPose drops every backend).
        wait_time (float): Seconds each shown image stays.
        out_dir (str, optional): Testing: write one picture per image, with
            all its instances, to ``WORK_DIR/TIMESTAMP/out_dir/`` under the
            image's file name. Without it (and without ``show``) test
            pictures go to the backends as ``test_img``, one step per image.
        backend_args (dict, optional): Only local files are supported.
    """

    def __init__(self, enable: bool = False, interval: int = 50, kpt_thr: float = 0.3,
                 show: bool = False, wait_time: float = 0., out_dir: str | None = None,
                 backend_args: dict | None = None) -> None:
        if backend_args not in (None, {}, {'backend': 'local'}):
            raise ValueError('PoseVisualizationHook: only local files are supported')
        self.enable, self.interval, self.kpt_thr = enable, max(int(interval), 1), kpt_thr
        self.show, self.wait_time, self.out_dir = show, wait_time, out_dir
        self._pending: dict[str, list] = OrderedDict()
        self._test_index = 0

    def _draw(self, runner, dataloader, sample: Any, name: str, step: int,
              out_file: str | None = None) -> None:
        path = sample.metainfo.get('img_path')
        image = cv2.imread(path) if path else None
        if image is None:
            runner.logger.warning('PoseVisualizationHook: cannot read %s', path)
            return
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        visualizer = runner.visualizer
        visualizer.set_dataset_meta(getattr(unwrap_dataset(dataloader.dataset), 'metainfo', None))
        options = dict(draw_gt=False, draw_pred=True, draw_heatmap=True, draw_bbox=True,
                       kpt_thr=self.kpt_thr)
        if self.show:
            drawn = visualizer.draw_datasample(image, sample, **options)
            visualizer.show(drawn, win_name=os.path.basename(path), wait_time=self.wait_time)
        else:
            visualizer.add_datasample(name, image, sample, out_file=out_file, step=step,
                                      **options)

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if not self.enable or not outputs or not is_main_process():
            return
        step = runner.iter + batch_idx
        if step % self.interval == 0:
            self._draw(runner, runner.val_dataloader, _merge(outputs[:1]), 'val_img', step)

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if not self.enable or not is_main_process():
            return
        for sample in outputs or ():
            self._pending.setdefault(sample.metainfo.get('img_path'), []).append(sample)
        # pictures are written once all instances of an image have been seen
        # (a top-down sample is one instance); keep the newest image open
        while len(self._pending) > 1:
            self._flush(runner, *self._pending.popitem(last=False))

    def after_test_epoch(self, runner, metrics=None):
        if self.enable and is_main_process():
            while self._pending:
                self._flush(runner, *self._pending.popitem(last=False))

    def _flush(self, runner, path: str, samples: list) -> None:
        self._test_index += 1
        out_file = None
        if self.out_dir is not None and not self.show:
            out_file = os.path.join(runner.log_dir, self.out_dir, os.path.basename(path))
        self._draw(runner, runner.test_dataloader, _merge(samples), 'test_img',
                   self._test_index, out_file)


@HOOKS.register_module()
class BadCaseAnalysisHook(Hook):
    """MMPose's bad-case analysis; posekit accepts its config but does not
    implement it: ``enable=True`` raises."""

    def __init__(self, enable: bool = False, show: bool = False, wait_time: float = 0.,
                 interval: int = 50, kpt_thr: float = 0.3, out_dir: str | None = None,
                 backend_args: dict | None = None, metric_type: str = 'loss',
                 metric: dict | None = None, metric_key: str = 'PCK',
                 badcase_thr: float = 5) -> None:
        if enable:
            raise NotImplementedError(
                'BadCaseAnalysisHook(enable=True) is not supported by posekit; '
                'set default_hooks.badcase.enable=False')
        if metric_type not in ('loss', 'accuracy'):
            raise ValueError("BadCaseAnalysisHook: metric_type must be 'loss' or 'accuracy'")
