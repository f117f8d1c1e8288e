"""Which files are images or videos, and the files an input names.

An input is an image or video file, a folder (its images, sorted, not
recursive), a glob pattern (its sorted images and videos), an image array,
or a list of these: :func:`expand_inputs` lists them, for the inferencers
and for the int8 calibration of ``posekit export``.
"""
from __future__ import annotations

import glob
import os

import numpy as np

from posekit.datasets.transforms.loading import as_bgr_uint8

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mov', '.mkv', '.webm', '.m4v', '.mpg', '.mpeg')


def is_video(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in VIDEO_EXTENSIONS


def is_image(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in IMAGE_EXTENSIONS


def expand_inputs(inputs) -> list:
    """The list of image files, video files and arrays that ``inputs`` names.

    A folder contributes its images (sorted, not recursive); a pattern with
    ``*``, ``?`` or ``[`` its sorted matches. Raises FileNotFoundError for a
    path that does not exist or a pattern/folder with no image or video.
    Arrays are brought to (H, W, 3) uint8 BGR (:func:`as_bgr_uint8`).
    """
    if isinstance(inputs, (str, os.PathLike, np.ndarray)):
        inputs = [inputs]
    items: list = []
    for item in inputs:
        if isinstance(item, np.ndarray):
            items.append(as_bgr_uint8(item))
            continue
        path = os.fspath(item)
        if os.path.isdir(path):
            found = sorted(os.path.join(path, f) for f in os.listdir(path) if is_image(f))
            what = f'folder {path}'
        elif any(c in path for c in '*?['):
            found = sorted(p for p in glob.glob(path) if is_image(p) or is_video(p))
            what = f'pattern {path!r}'
        elif os.path.isfile(path):
            if not (is_image(path) or is_video(path)):
                raise ValueError(f'{path}: not an image ({", ".join(IMAGE_EXTENSIONS)}) '
                                 f'or a video ({", ".join(VIDEO_EXTENSIONS)})')
            found, what = [path], path
        else:
            raise FileNotFoundError(f'input {path} does not exist')
        if not found:
            raise FileNotFoundError(f'{what}: no image or video found')
        items.extend(found)
    return items
