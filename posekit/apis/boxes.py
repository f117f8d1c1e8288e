"""Person boxes for top-down inference: from a JSON file or a detector.

Boxes are ``(N, 6)`` float32 rows ``[x1, y1, x2, y2, score, category_id]``
in image pixels (corners). A detector is any callable taking a BGR image and
returning ``(N, 4)``, ``(N, 5)`` (with scores) or ``(N, 6)`` (with category
ids) such rows, or a one-stage pose model (RTMO, YOLOX-Pose config and
weights; :func:`posekit.apis.model_detector.load_detector` makes one):
posekit needs no mmdet.

Degenerate boxes (a NaN or infinite number, zero or negative size, entirely
outside the image) give no pose, and in a batch with others they used to
disturb NMS: wherever boxes enter (a box file, a detector,
``inference_topdown``) they are dropped with a warning naming them, and the
kept boxes keep their order and their predictions.
"""
from __future__ import annotations

import json
import os
import warnings
from typing import Callable, Sequence

import numpy as np

from posekit.evaluation.functional.nms import nms
from .sources import Frame

Detector = Callable[[np.ndarray], np.ndarray]


class DegenerateBoxWarning(UserWarning):
    """Boxes that can give no pose were dropped."""


def box_problems(boxes: np.ndarray, image_hw: Sequence[int],
                 scores: np.ndarray | None = None, min_size: float = 0.) -> list:
    """Why each box can give no pose, or None for a usable one.

    Args:
        boxes (np.ndarray): (N, 4) xyxy corners, image pixels.
        image_hw (tuple[int, int]): ``(h, w)`` of the image.
        scores (np.ndarray, optional): (N,) box scores; NaN/inf is a problem.
        min_size (float): Boxes narrower or lower than this (pixels) are a
            problem too ('smaller than S pixel(s)').

    Returns:
        list[str | None]: (N,) a reason ('NaN or infinite coordinate', 'zero
        or negative size', 'smaller than S pixel(s)', 'entirely outside the
        WxH image', 'NaN or infinite score') or None.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    h, w = image_hw[:2]
    x1, y1, x2, y2 = boxes.T
    with np.errstate(invalid='ignore'):
        finite = np.isfinite(boxes).all(axis=1)
        empty = (x2 <= x1) | (y2 <= y1)
        small = (x2 - x1 < min_size) | (y2 - y1 < min_size)
        # the corners bound the box: it covers no pixel of [0, w) x [0, h)
        outside = (x2 <= 0) | (y2 <= 0) | (x1 >= w) | (y1 >= h)
    bad_score = np.zeros(len(boxes), bool) if scores is None else ~np.isfinite(scores)
    return ['NaN or infinite coordinate' if not f else
            'zero or negative size' if e else
            f'smaller than {min_size:g} pixel(s)' if m else
            f'entirely outside the {w}x{h} image' if o else
            'NaN or infinite score' if s else None
            for f, e, m, o, s in zip(finite, empty, small, outside, bad_score)]


def drop_degenerate(boxes: np.ndarray, image_hw: Sequence[int], source: str,
                    scores: np.ndarray | None = None,
                    labels: Sequence | None = None, min_size: float = 0.) -> np.ndarray:
    """Indices of the usable boxes, in order; one warning names the others.

    Args:
        boxes (np.ndarray): (N, 4) xyxy corners, image pixels.
        image_hw (tuple[int, int]): ``(h, w)`` of the image.
        source (str): Where the boxes come from, for the warning (a file and
            image, 'the detector', 'inference_topdown').
        scores (np.ndarray, optional): (N,) scores, checked too.
        labels (Sequence, optional): How to call each box in the warning
            (default: ``box #i``, its index in ``boxes``).
        min_size (float): See :func:`box_problems`.

    Returns:
        np.ndarray: (M,) int64 indices into ``boxes``, ascending.
    """
    problems = box_problems(boxes, image_hw, scores, min_size)
    bad = [i for i, p in enumerate(problems) if p is not None]
    if bad:
        names = labels if labels is not None else [f'box #{i}' for i in range(len(boxes))]
        # a model's junk in the padding can be dozens of boxes: name a few
        listed = '; '.join(f'{names[i]} {np.round(np.asarray(boxes[i], np.float64), 2).tolist()}'
                           f': {problems[i]}' for i in bad[:5])
        listed += f'; and {len(bad) - 5} more' if len(bad) > 5 else ''
        warnings.warn(f'{source}: dropped {len(bad)} of {len(problems)} box(es) that '
                      f'can give no pose: {listed}', DegenerateBoxWarning)
    return np.array([i for i, p in enumerate(problems) if p is None], dtype=np.int64)


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
        self._entries: dict = {}  # entry index in the file of each row
        for i, det in enumerate(data):
            try:
                x, y, w, h = (float(v) for v in det['bbox'])
                row = [x, y, x + w, y + h, float(det.get('score', 1.0)),
                       float(det.get('category_id', 1))]
                self._rows.setdefault(det['image_id'], []).append(row)
                self._entries.setdefault(det['image_id'], []).append(i)
            except (KeyError, TypeError, ValueError) as e:
                raise ValueError(f'{self.path}: entry {i} needs "image_id" and "bbox" '
                                 f'[x, y, w, h] ({e!r})') from None

    def __call__(self, frame: Frame) -> np.ndarray:
        """The boxes of ``frame`` (``(0, 6)`` when the file has none for it).

        Degenerate boxes (see :func:`drop_degenerate`) are dropped with a
        warning naming this file, the image id and the entry indices.
        """
        for key in self._keys(frame):
            if key in self._rows:
                rows = np.asarray(self._rows[key], dtype=np.float32)
                labels = [f'entry #{i}' for i in self._entries[key]]
                keep = drop_degenerate(rows[:, :4], frame.image.shape, f'{self.path}: '
                                       f'image_id {key!r}', rows[:, 4], labels)
                return rows[keep]
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


def detect(detector: Detector, image: np.ndarray, name: str = '') -> np.ndarray:
    """Run ``detector`` and bring its output to ``(N, 6)`` rows.

    Degenerate boxes, and boxes under one pixel wide or high (a one-stage
    model finds such "people" in a 1x1 image), are dropped with a warning
    naming the image ``name``.
    """
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
    keep = drop_degenerate(rows[:, :4], image.shape, f'the detector (image {name})'
                           if name else 'the detector', rows[:, 4], min_size=1.)
    return rows[keep]


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
