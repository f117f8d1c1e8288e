"""PoseVisualizationHook (draw predictions) and BadCaseAnalysisHook (refused when on).

Pictures are drawn with OpenCV from the dataset meta (MMPose's keypoint and
skeleton colours): predicted keypoints, skeleton links and boxes.
"""
from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any, Mapping, Sequence

import cv2
import numpy as np

from posekit.registry import HOOKS
from ..dist import is_main_process
from .hook import Hook


def draw_poses(image: np.ndarray, keypoints: np.ndarray, scores: np.ndarray,
               meta: Mapping | None, kpt_thr: float = 0.3,
               bboxes: np.ndarray | None = None) -> np.ndarray:
    """Draw keypoints and skeleton links on a copy of a BGR image.

    Args:
        image (np.ndarray): (H, W, 3) uint8, BGR.
        keypoints (np.ndarray): (N, K, 2) pixels of ``image``.
        scores (np.ndarray): (N, K); keypoints below ``kpt_thr`` are not drawn.
        meta (Mapping, optional): Dataset meta (``skeleton_links``,
            ``keypoint_colors`` and ``skeleton_link_colors``, BGR).
        bboxes (np.ndarray, optional): (N, 4) xyxy boxes, drawn in white.
    """
    out = image.copy()
    meta = meta or {}
    links = meta.get('skeleton_links') or []
    k = keypoints.shape[1] if keypoints.ndim == 3 else 0
    kcolors = np.asarray(meta.get('keypoint_colors', [[0, 255, 0]] * max(k, 1)))
    lcolors = np.asarray(meta.get('skeleton_link_colors', [[255, 128, 0]] * max(len(links), 1)))
    thickness = max(1, round(max(image.shape[:2]) / 300))
    for box in bboxes if bboxes is not None else ():
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        cv2.rectangle(out, (x0, y0), (x1, y1), (255, 255, 255), 1)
    for kpts, score in zip(keypoints, scores):
        for j, (a, b) in enumerate(links):
            if score[a] > kpt_thr and score[b] > kpt_thr:
                pa = tuple(int(round(v)) for v in kpts[a])
                pb = tuple(int(round(v)) for v in kpts[b])
                color = tuple(int(c) for c in lcolors[j % len(lcolors)])
                cv2.line(out, pa, pb, color, thickness, cv2.LINE_AA)
        for j, (p, s) in enumerate(zip(kpts, score)):
            if s > kpt_thr:
                color = tuple(int(c) for c in kcolors[j % len(kcolors)])
                cv2.circle(out, (int(round(p[0])), int(round(p[1]))),
                           thickness + 1, color, -1, cv2.LINE_AA)
    return out


def _prediction(sample: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    pred = sample.pred_instances
    kpts = np.asarray(pred.keypoints, dtype=np.float32)
    scores = np.asarray(pred.keypoint_scores, dtype=np.float32)
    boxes = np.asarray(pred.bboxes) if 'bboxes' in pred else None
    return kpts, scores, boxes


@HOOKS.register_module()
class PoseVisualizationHook(Hook):
    """Draw predictions during validation and testing.

    Args:
        enable (bool): Off by default (MMPose's default runtime has it off).
        interval (int): Validation: draw the first sample of every this many
            batches into ``vis_data/vis_image/``. Defaults to 50.
        kpt_thr (float): Keypoints scoring below are not drawn.
        show (bool): Show in a window instead of saving (needs a display).
        wait_time (float): Seconds each shown image stays.
        out_dir (str, optional): Testing: write one picture per image, with
            all its instances, to ``WORK_DIR/TIMESTAMP/out_dir/``.
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

    def _draw(self, runner, sample: Any, meta: Mapping | None,
              instances: Sequence[Any] | None = None) -> np.ndarray | None:
        path = sample.metainfo.get('img_path')
        image = cv2.imread(path) if path else None
        if image is None:
            runner.logger.warning('PoseVisualizationHook: cannot read %s', path)
            return None
        parts = [_prediction(s) for s in (instances or [sample])]
        kpts = np.concatenate([p[0] for p in parts])
        scores = np.concatenate([p[1] for p in parts])
        boxes = None if any(p[2] is None for p in parts) else np.concatenate([p[2] for p in parts])
        return draw_poses(image, kpts, scores, meta, self.kpt_thr, boxes)

    def _emit(self, name: str, image: np.ndarray, out_file: str | None) -> None:
        if self.show:
            cv2.imshow(name, image)
            cv2.waitKey(max(1, int(self.wait_time * 1000)))
        if out_file:
            os.makedirs(os.path.dirname(out_file), exist_ok=True)
            cv2.imwrite(out_file, image)

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if not self.enable or not outputs or not is_main_process():
            return
        step = runner.iter + batch_idx
        if step % self.interval:
            return
        meta = getattr(runner.val_dataloader.dataset, 'metainfo', None)
        image = self._draw(runner, outputs[0], meta)
        if image is not None:
            out = None if self.show else os.path.join(
                runner.log_dir, 'vis_data', 'vis_image', f'val_img_{step}.png')
            self._emit('val_img', image, out)

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
        meta = getattr(runner.test_dataloader.dataset, 'metainfo', None)
        image = self._draw(runner, samples[0], meta, samples)
        if image is None:
            return
        out = None
        if self.out_dir is not None:
            out = os.path.join(runner.log_dir, self.out_dir, os.path.basename(path))
        self._emit(os.path.basename(path), image, out)


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
