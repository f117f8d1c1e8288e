"""Where the inferencer's frames come from and where drawn frames go.

An input is an image file, a folder of images, a glob pattern, a video file,
an image array, or a list of these. :func:`iter_frames` turns it into
:class:`Frame` records, one per image or video frame, decoding as it goes so
a long video is never held in memory (with ``prefetch``, a background
thread decodes a few frames ahead). Images are BGR uint8 (OpenCV's order):
grayscale, BGRA and 16-bit images (files or arrays) are converted to it.

A file that cannot be read (a truncated JPEG, a video OpenCV cannot open, a
video frame that does not decode) does not stop the run: it is skipped with
a :class:`SkippedInputWarning` and recorded in the ``skipped`` list given to
:func:`iter_frames`.
"""
from __future__ import annotations

import os
import queue
import threading
import warnings
from dataclasses import dataclass
from typing import Iterator, Sequence

import cv2
import numpy as np

from posekit.datasets.media_files import is_video
from posekit.datasets.transforms.loading import ImageLoadError, read_image
from posekit.fileio import temporary_name


@dataclass
class Frame:
    """One image to run.

    Attributes:
        image (np.ndarray): (H, W, 3) uint8, BGR.
        name (str): File name the outputs are named after (``a.jpg``; a
            video's frames carry the video's name).
        path (str, optional): The image file, when it came from one.
        video (str, optional): The video file this frame belongs to.
        frame_id (int): Index of the frame in its video (0 for images).
        fps (float): The video's frame rate (0 for images).
    """

    image: np.ndarray
    name: str
    path: str | None = None
    video: str | None = None
    frame_id: int = 0
    fps: float = 0.


@dataclass
class Skipped:
    """An input file (or one frame of a video) that could not be read.

    Attributes:
        path (str): The file.
        reason (str): Why, as the decoder said it (names the file).
        frame_id (int, optional): The frame's index, for a video frame.
    """

    path: str
    reason: str
    frame_id: int | None = None


class SkippedInputWarning(UserWarning):
    """An input file or video frame was skipped because it could not be read."""


def summarize_skipped(skipped: Sequence[Skipped], limit: int = 5) -> str:
    """One line: how many inputs were skipped and the first few of them."""
    names = [s.path if s.frame_id is None else f'{s.path} (frame {s.frame_id})'
             for s in skipped[:limit]]
    more = f' and {len(skipped) - limit} more' if len(skipped) > limit else ''
    return (f'skipped {len(skipped)} input(s) that could not be read: '
            f'{", ".join(names)}{more}')


def _skip(skipped: list | None, record: Skipped) -> None:
    warnings.warn(f'skipping {record.reason}', SkippedInputWarning)
    if skipped is not None:
        skipped.append(record)


def count_frames(items: Sequence) -> int:
    """Frames :func:`iter_frames` will yield (a video's count is its header's)."""
    total = 0
    for item in items:
        if isinstance(item, str) and is_video(item):
            cap = cv2.VideoCapture(item)
            total += max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), 0)
            cap.release()
        else:
            total += 1
    return total


def iter_frames(items: Sequence, skipped: list | None = None,
                prefetch: int = 0) -> Iterator[Frame]:
    """Decode the items of :func:`~posekit.datasets.media_files.expand_inputs`,
    one frame at a time.

    Images are decoded as :class:`~posekit.datasets.transforms.LoadImage`
    does (``cv2.imdecode``, colour: grayscale, BGRA and 16-bit files come out
    BGR uint8). A file or video frame that cannot be read is skipped with a
    :class:`SkippedInputWarning` and appended to ``skipped`` as a
    :class:`Skipped`; the others still run.

    Args:
        items (Sequence): From :func:`~posekit.datasets.media_files.expand_inputs`.
        skipped (list, optional): Receives the :class:`Skipped` records.
        prefetch (int): 0 decodes in the caller's thread, when the next
            frame is asked for. N > 0 decodes in a background thread up to
            N frames ahead (OpenCV releases the GIL while decoding, so it
            overlaps the network). Frames, warnings and ``skipped`` come in
            the same order either way: the warnings are given in the
            caller's thread as the frames are handed over. Closing the
            generator (or an error on either side) stops and joins the
            thread.
    """
    if prefetch < 0:
        raise ValueError(f'prefetch must be >= 0 (0: no background reader), got {prefetch}')
    events = _prefetched(_events(items), prefetch) if prefetch else _events(items)
    try:
        for event in events:
            if isinstance(event, Skipped):
                _skip(skipped, event)
            else:
                yield event
    finally:
        events.close()  # joins the reader thread at once


def _events(items: Sequence) -> Iterator[Frame | Skipped]:
    """The frames of ``items`` and, in their place, what could not be read."""
    for index, item in enumerate(items):
        if isinstance(item, np.ndarray):
            yield Frame(item, f'{index:08d}.jpg')
        elif is_video(item):
            yield from _video_frames(item)
        else:
            try:
                image = read_image(item, cv2.IMREAD_COLOR)
            except ImageLoadError as e:
                yield Skipped(item, str(e))
                continue
            yield Frame(image, os.path.basename(item), path=item)


def _video_frames(path: str) -> Iterator[Frame | Skipped]:
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        yield Skipped(path, f'video {path}: OpenCV cannot open it')
        return
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.
    name = os.path.basename(path)
    try:
        frame_id = decoded = 0
        # grab() fails at the end of the stream; retrieve() on a frame that
        # does not decode: that frame alone is skipped
        while cap.grab():
            ok, image = cap.retrieve()
            if ok and image is not None:
                decoded += 1
                yield Frame(image, name, video=path, frame_id=frame_id, fps=fps)
            else:
                yield Skipped(path, f'video {path}: frame {frame_id} does not decode',
                              frame_id)
            frame_id += 1
    finally:
        cap.release()
    if not decoded and not frame_id:
        yield Skipped(path, f'video {path}: no frame could be read')


_END = object()  # the reader thread's last message


def _prefetched(events: Iterator, size: int) -> Iterator:
    """``events`` read ahead by a daemon thread into a queue of ``size``.

    An exception in the thread is raised here, in order; when this generator
    is closed or the consumer raises, the thread stops at its next put (it
    checks every 0.1 s) and is joined, and ``events`` is closed in it (a
    video capture is released).
    """
    out: queue.Queue = queue.Queue(maxsize=size)
    stop = threading.Event()

    def put(message) -> bool:
        while not stop.is_set():
            try:
                out.put(message, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for event in events:
                if not put((event, None)):
                    return
            put((_END, None))
        except BaseException as e:  # noqa: BLE001 - handed to the consumer
            put((_END, e))
        finally:
            events.close()

    thread = threading.Thread(target=read, name='posekit-frame-reader', daemon=True)
    thread.start()
    try:
        while True:
            event, error = out.get()
            if error is not None:
                raise error
            if event is _END:
                return
            yield event
    finally:
        stop.set()
        thread.join()


class VideoWriter:
    """Writes BGR frames to an mp4 (``mp4v``) with OpenCV, opened on the first frame.

    The frames go to a hidden temporary file, renamed to ``path`` by
    :meth:`close`: a run that dies midway leaves no truncated video under
    the real name.
    """

    def __init__(self, path: str, fps: float) -> None:
        self.path, self.fps, self._writer = path, fps, None
        self._tmp = ''
        self.frames = 0

    def write(self, image: np.ndarray) -> None:
        if self._writer is None:
            self._tmp = temporary_name(self.path)
            h, w = image.shape[:2]
            self._writer = cv2.VideoWriter(self._tmp, cv2.VideoWriter_fourcc(*'mp4v'),
                                           self.fps, (w, h))
            if not self._writer.isOpened():
                self._writer = None
                raise OSError(f'{self.path}: OpenCV cannot write an mp4 here')
        self._writer.write(image)
        self.frames += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
            os.replace(self._tmp, self.path)
