"""Annotations no pose can have, found while a dataset loads.

A COCO-style dataset (:class:`~posekit.datasets.BaseCocoStyleDataset`) checks
every annotation as it parses it, so that nothing non-finite reaches a
transform or a codec (a NaN keypoint used to surface only as NumPy's
"invalid value encountered in cast" inside the heatmap codec, and trained on).
Invalid are:

- a NaN or infinite number in a box, a keypoint or a visibility flag;
- a box (COCO ``[x, y, w, h]``) with a negative width or height (zero-size
  boxes are MMPose's business: top-down mode drops them, bottom-up keeps
  them, without a word, and so does posekit);
- a visibility flag outside ``[0, 2]`` (COCO's flags are 0, 1 and 2;
  COCO-WholeBody stores a confidence in ``[0, 1]`` for face and hand points);
- a keypoint list whose length is not ``3 x`` the metainfo's keypoint count,
  or that holds something other than numbers.

By default such an annotation is dropped and the dataset warns once, with the
count and the first few (file, annotation id, image id, field, problem);
``strict_annotations=True`` raises :class:`InvalidAnnotation` at the first one
instead. A file in which every annotation is invalid raises either way: it is
the wrong file or the wrong metainfo.
"""
from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np

from posekit.errors import PosekitError

# The parsed fields that feed transforms and codecs: none may be non-finite.
NUMERIC_FIELDS = ('bbox', 'bbox_center', 'bbox_scale', 'keypoints',
                  'keypoints_visible')
# How many dropped annotations the summary warning names.
NAMED_IN_SUMMARY = 3


class InvalidAnnotation(PosekitError, ValueError):
    """An annotation with a value no pose can have (or malformed).

    Args:
        owner (str): The dataset class name.
        path (str): The annotation file.
        where (str): Which annotation and field, e.g. ``"annotation id 7
            (image 3) field 'keypoints'"``.
        problem (str): What is wrong with it.
    """

    def __init__(self, owner: str, path: str, where: str, problem: str) -> None:
        self.owner, self.path, self.where, self.problem = owner, path, where, problem
        super().__init__(f'{owner}: {path}: {where}: {problem}')

    def __reduce__(self):
        return type(self), (self.owner, self.path, self.where, self.problem)

    @property
    def short(self) -> str:
        """The message without the dataset and file (for summaries)."""
        return f'{self.where}: {self.problem}'


class InvalidAnnotationWarning(UserWarning):
    """Invalid annotations were dropped while a dataset loaded."""


def keypoint_problem(arr: np.ndarray) -> str | None:
    """What is wrong with ``(1, K, 3)`` ``[x, y, v]`` values, or None."""
    arr = np.asarray(arr, dtype=np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        k, c = np.argwhere(bad[0])[0]
        return (f'non-finite {"xyv"[c]} ({arr[0, k, c]}) at keypoint {k}')
    v = arr[0, :, 2]
    out = (v < 0) | (v > 2)
    if out.any():
        k = int(np.argmax(out))
        return f'visibility flag {v[k]:g} at keypoint {k} (expected 0, 1 or 2)'
    return None


def xywh_problem(box: list) -> str | None:
    """What is wrong with a COCO ``[x, y, w, h]`` box, or None."""
    try:
        values = np.array(box, dtype=np.float64)
    except (TypeError, ValueError):
        return f'expected 4 numbers [x, y, w, h], got {box!r}'
    if not np.isfinite(values).all():
        return f'non-finite value in [x, y, w, h] = {box!r}'
    if values[2] < 0 or values[3] < 0:
        return f'negative width or height in [x, y, w, h] = {box!r}'
    return None


def detection_problem(box: list, score: Any) -> tuple[str, str] | None:
    """``(field, problem)`` for a detection result (``bbox_file``) whose box
    is non-finite or empty (it would give NaN keypoints) or whose score is
    not finite, else None."""
    problem = xywh_problem(box)
    if problem is None and not (box[2] > 0 and box[3] > 0):
        problem = f'zero width or height in [x, y, w, h] = {box!r}'
    if problem:
        return 'bbox', problem
    try:
        if np.isfinite(np.float64(score)):
            return None
    except (TypeError, ValueError):
        pass
    return 'score', f'non-finite score {score!r}'


def parsed_problem(info: dict) -> tuple[str, str] | None:
    """``(field, problem)`` for a parsed instance holding a non-finite
    number in one of :data:`NUMERIC_FIELDS`, else None."""
    for field in NUMERIC_FIELDS:
        value = info.get(field)
        if value is None:
            continue
        try:
            finite = np.isfinite(np.asarray(value, dtype=np.float64)).all()
        except (TypeError, ValueError):
            return field, f'not numbers: {value!r}'
        if not finite:
            return field, 'holds a NaN or an infinite value'
    return None


class AnnotationChecks:
    """Parses the annotations of one file, dropping (or raising on) invalid ones.

    Args:
        owner (str): The dataset class name, for messages.
        path (str): The file being read.
        strict (bool): Raise at the first invalid annotation instead of
            dropping it.
        what (str): What the file's entries are called in the summary.
    """

    def __init__(self, owner: str, path: str, strict: bool,
                 what: str = 'annotations') -> None:
        self.owner, self.path, self.strict, self.what = owner, path, strict, what
        self.total = self.kept = 0
        self.dropped: list[InvalidAnnotation] = []

    def error(self, where: str, problem: str) -> InvalidAnnotation:
        return InvalidAnnotation(self.owner, self.path, where, problem)

    def parse(self, parse: Callable[..., dict | None], *args: Any) -> dict | None:
        """``parse(*args)``, or None when it raises InvalidAnnotation or its
        result holds a non-finite number (raised instead when strict)."""
        self.total += 1
        try:
            info = parse(*args)
            if info is not None:
                problem = parsed_problem(info)
                if problem is not None:
                    where = (f'annotation id {info.get("id")!r} (image '
                             f'{info.get("img_id")!r}) field {problem[0]!r}')
                    raise self.error(where, problem[1])
        except InvalidAnnotation as e:
            if self.strict:
                raise
            self.dropped.append(e)
            return None
        if info is not None:
            self.kept += 1
        return info

    def report(self) -> None:
        """Warn once about the dropped annotations; raise if none was kept."""
        if not self.dropped:
            return
        n = len(self.dropped)
        first = '; '.join(e.short for e in self.dropped[:NAMED_IN_SUMMARY])
        more = f'; and {n - NAMED_IN_SUMMARY} more' if n > NAMED_IN_SUMMARY else ''
        if not self.kept:
            raise InvalidAnnotation(
                self.owner, self.path, f'all {n} {self.what} are invalid',
                f'{first}{more} (is the metainfo the right one for this file?)')
        warnings.warn(
            f'{self.owner}: {self.path}: dropped {n} of {self.total} {self.what} '
            f'with invalid values: {first}{more}. Pass strict_annotations=True '
            'to raise instead.', InvalidAnnotationWarning)
