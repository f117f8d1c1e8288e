"""Person boxes for top-down inference: from a JSON file or a detector.

Boxes are ``(N, 6)`` float32 rows ``[x1, y1, x2, y2, score, category_id]``
in image pixels (corners). A detector is any callable taking a BGR image and
returning ``(N, 4)``, ``(N, 5)`` (with scores) or ``(N, 6)`` (with category
ids) such rows: posekit ships no detector and needs no mmdet.
"""
from __future__ import annotations

import importlib
import json
import os
from typing import Callable, Sequence

import numpy as np

from posekit.evaluation.functional.nms import nms
from .sources import Frame

Detector = Callable[[np.ndarray], np.ndarray]


class BoxFile:
    """Boxes read from a COCO-format JSON file.

    Two layouts are read:

    * detection results (``[{"image_id", "bbox": [x, y, w, h], "score",
      "category_id"}, ...]``, MMPose's ``bbox_file``); a video frame's
      ``image_id`` is its frame index, an image's is its file name, its stem
      (``"a"`` for ``a.jpg``) or the stem as a number (COCO's
      ``000000197388.jpg`` is 197388);
    * a COCO annotation file (``{"images", "annotations"}``): the annotated
      boxes (score 1), found by the image's ``file_name``.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        with open(self.path, encoding='utf-8') as f:
            data = json.load(f)
        names: dict = {}
        if isinstance(data, dict) and 'annotations' in data:
            names = {os.path.basename(im['file_name']): im['id']
                     for im in data.get('images', ())}
            data = data['annotations']
        if not isinstance(data, list):
            raise ValueError(f'{self.path}: expected a list of detections or a COCO '
                             'annotation file with "images" and "annotations"')
        self._names = names
        self._rows: dict = {}
        for i, det in enumerate(data):
            try:
                x, y, w, h = (float(v) for v in det['bbox'])
                row = [x, y, x + w, y + h, float(det.get('score', 1.0)),
                       float(det.get('category_id', 1))]
                self._rows.setdefault(det['image_id'], []).append(row)
            except (KeyError, TypeError, ValueError) as e:
                raise ValueError(f'{self.path}: entry {i} needs "image_id" and "bbox" '
                                 f'[x, y, w, h] ({e!r})') from None

    def __call__(self, frame: Frame) -> np.ndarray:
        """The boxes of ``frame`` (``(0, 6)`` when the file has none for it)."""
        for key in self._keys(frame):
            if key in self._rows:
                return np.asarray(self._rows[key], dtype=np.float32)
        return np.zeros((0, 6), dtype=np.float32)

    def _keys(self, frame: Frame) -> list:
        if frame.video is not None:
            return [frame.frame_id, str(frame.frame_id)]
        stem = os.path.splitext(frame.name)[0]
        keys = [self._names[frame.name]] if frame.name in self._names else []
        keys += [frame.name, stem]
        if stem.isdigit():
            keys.append(int(stem))
        return keys


def load_detector(spec: str | Detector) -> Detector:
    """A detector from a callable or ``'package.module:function'``."""
    if callable(spec):
        return spec
    if not isinstance(spec, str) or ':' not in spec or spec.endswith('.py'):
        raise ValueError(
            f'det_model {spec!r}: posekit runs no mmdet detectors; give a callable, '
            "'package.module:function' (BGR image -> (N, 4|5|6) xyxy boxes), or "
            'boxes from a COCO-format JSON file (--bboxes)')
    module_name, _, attr = spec.partition(':')
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ValueError(f'det_model {spec!r}: {module_name} has no {attr!r}') from None


def detect(detector: Detector, image: np.ndarray) -> np.ndarray:
    """Run ``detector`` and bring its output to ``(N, 6)`` rows."""
    out = np.asarray(detector(image), dtype=np.float32)
    if out.size == 0:
        return np.zeros((0, 6), dtype=np.float32)
    if out.ndim != 2 or out.shape[1] not in (4, 5, 6):
        raise ValueError(f'the detector returned shape {out.shape}; expected (N, 4), '
                         '(N, 5) with scores or (N, 6) with category ids')
    rows = np.zeros((len(out), 6), dtype=np.float32)
    rows[:, 4] = 1.0
    rows[:, :out.shape[1]] = out
    if out.shape[1] < 6:
        rows[:, 5] = np.nan  # no category: kept whatever det_cat_ids says
    return rows


def select_boxes(rows: np.ndarray, bbox_thr: float, nms_thr: float,
                 cat_ids: Sequence[int] | None) -> np.ndarray:
    """Rows of the wanted categories scoring above ``bbox_thr``, then NMS."""
    keep = rows[:, 4] > bbox_thr
    if cat_ids is not None:
        cats = rows[:, 5]
        keep &= np.isnan(cats) | np.isin(cats, list(cat_ids))
    rows = rows[keep]
    if len(rows) > 1 and nms_thr < 1:
        rows = rows[nms(rows[:, :5], nms_thr)]
    return rows
