"""Top-down inference of several frames as one network batch.

:class:`~posekit.apis.PoseInferencer` with ``batch_size=N`` collects up to N
consecutive frames, asks each for its boxes, runs all their crops through
:func:`~posekit.apis.inference.inference_topdown_batch` at once and hands
the results back frame by frame, in order. Per-frame results equal those of
``batch_size=1`` up to the float rounding of the batched kernels.
"""
from __future__ import annotations

import itertools
from typing import Callable, Iterable, Iterator

import numpy as np

from posekit.structures import PoseDataSample, merge_data_samples
from .inference import inference_topdown_batch
from .sources import Frame


def check_batch_size(batch_size) -> int:
    """``batch_size`` as an int >= 1, else a ValueError naming it."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise ValueError(f'batch_size must be an integer >= 1 (frames per network '
                         f'batch), got {batch_size!r}')
    return int(batch_size)


def iter_batches(items: Iterable, size: int) -> Iterator[list]:
    """Consecutive lists of ``size`` items (the last may be shorter)."""
    items = iter(items)
    while batch := list(itertools.islice(items, size)):
        yield batch


def topdown_batches(model, frames: Iterable[Frame], batch_size: int,
                    boxes_of: Callable[[Frame], np.ndarray]
                    ) -> Iterator[tuple[Frame, PoseDataSample]]:
    """``(frame, merged sample)`` for each frame, in order.

    Args:
        model: A top-down model (PyTorch or ONNX Runtime).
        frames (Iterable[Frame]): The frames to run.
        batch_size (int): Frames per network batch.
        boxes_of (callable): Frame -> ``(N, 6)`` float32 rows ``x1, y1, x2,
            y2, score, category`` in its pixels; N = 0 means one box over
            the whole image (with no score).
    """
    for batch in iter_batches(frames, batch_size):
        rows = [boxes_of(frame) for frame in batch]
        results = inference_topdown_batch(model, [f.image for f in batch],
                                          [r[:, :4] for r in rows])
        for frame, samples, frame_rows in zip(batch, results, rows):
            yield frame, merge_frame_samples(frame, samples, frame_rows)


def merge_frame_samples(frame: Frame, samples: list[PoseDataSample],
                        rows: np.ndarray) -> PoseDataSample:
    """One frame's per-box samples as one sample, with the boxes' scores
    (``rows[:, 4]``; none when ``rows`` is empty: the whole-image box)."""
    if len(rows):
        for sample, score in zip(samples, rows[:, 4]):
            sample.pred_instances.bbox_scores = np.array([score], dtype=np.float32)
    merged = merge_data_samples(samples)
    merged.set_metainfo(dict(img_path=frame.path or frame.name))
    return merged
