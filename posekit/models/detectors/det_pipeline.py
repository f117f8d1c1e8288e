"""The test pipeline of MMDetection detector configs, as inference needs it.

Steps read from the config (``test_dataloader.dataset.pipeline``, else
``test_pipeline``), in order: ``LoadImageFromFile`` / ``LoadImageFromNDArray``
(BGR uint8), ``Resize`` (``scale=(w, h)``, ``keep_ratio``), ``Pad``
(``size=(w, h)``, ``size_divisor`` or ``pad_to_square``; ``pad_val``),
``LoadAnnotations`` (no annotations at inference: a no-op) and
``PackDetInputs``. Another step raises, naming it.

Conventions (MMDetection's / MMCV's): a ``keep_ratio`` resize scales by
``r = min(max(scale) / max(h, w), min(scale) / min(h, w))`` to
``(int(w * r + 0.5), int(h * r + 0.5))`` with bilinear interpolation
(``cv2.INTER_LINEAR``), and ``scale_factor = (new_w / w, new_h / h)``;
padding adds ``pad_val`` pixels at the bottom and right only, and
``img_shape`` becomes the padded ``(h, w)`` (boxes are clamped to it).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import cv2
import numpy as np

_LOADERS = ('LoadImageFromFile', 'LoadImageFromNDArray')
_NO_OPS = ('LoadAnnotations', 'PackDetInputs')


def pipeline_steps(cfg: Mapping) -> list[dict]:
    """The config's test pipeline, each step a dict with a bare ``type``.

    Raises:
        ValueError: The config has no test pipeline, or names a step other
            than those of the module docstring.
    """
    dataset = (cfg.get('test_dataloader') or {}).get('dataset') or {}
    while 'pipeline' not in dataset and isinstance(dataset.get('dataset'), Mapping):
        dataset = dataset['dataset']  # dataset wrappers
    steps = dataset.get('pipeline') or cfg.get('test_pipeline')
    if not steps:
        raise ValueError('detector config: no test_dataloader.dataset.pipeline '
                         'or test_pipeline to preprocess images with')
    out = []
    for step in steps:
        step = {k: v for k, v in dict(step).items() if k != '_scope_'}
        step['type'] = str(step.get('type', '')).rsplit('.', 1)[-1]
        if step['type'] not in _LOADERS + _NO_OPS + ('Resize', 'Pad'):
            raise ValueError(f'detector config: test pipeline step {step["type"]!r} is '
                             'not supported (known: '
                             f'{", ".join(_LOADERS + _NO_OPS + ("Resize", "Pad"))})')
        out.append(step)
    return out


def resize(img: np.ndarray, scale: Sequence[int], keep_ratio: bool
           ) -> tuple[np.ndarray, tuple[float, float]]:
    """Resize ``img`` (H, W, C) to ``scale = (w, h)`` (or within it, keeping
    the aspect ratio); returns the image and ``(w_scale, h_scale)``."""
    h, w = img.shape[:2]
    if keep_ratio:
        r = min(max(scale) / max(h, w), min(scale) / min(h, w))
        new_w, new_h = int(w * r + 0.5), int(h * r + 0.5)
    else:
        new_w, new_h = int(scale[0]), int(scale[1])
    out = cv2.resize(img, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    return out, (new_w / w, new_h / h)


def pad(img: np.ndarray, size: Sequence[int] | None = None,
        size_divisor: int | None = None, pad_to_square: bool = False,
        pad_val: float | Sequence[float] | Mapping = 0) -> np.ndarray:
    """Pad ``img`` (H, W, C) at the bottom and right.

    Args:
        size (tuple[int, int], optional): Target ``(w, h)``.
        size_divisor (int, optional): Round the size up to a multiple.
        pad_to_square (bool): Target ``max(h, w)`` on both sides.
        pad_val: A number, a per-channel sequence, or ``dict(img=...)``.

    Raises:
        ValueError: The target is smaller than the image, or no target given.
    """
    h, w = img.shape[:2]
    if isinstance(pad_val, Mapping):
        pad_val = pad_val.get('img', 0)
    if pad_to_square:
        size = (max(h, w), max(h, w))
    if size_divisor:
        tw, th = size if size is not None else (w, h)
        size = (-(-tw // size_divisor) * size_divisor, -(-th // size_divisor) * size_divisor)
    if size is None:
        raise ValueError('Pad: give size, size_divisor or pad_to_square=True')
    tw, th = int(size[0]), int(size[1])
    if tw < w or th < h:
        raise ValueError(f'Pad: the image ({w}x{h}) is larger than the pad size ({tw}x{th})')
    fill = np.broadcast_to(np.asarray(pad_val, dtype=img.dtype), img.shape[2:])
    out = np.empty((th, tw) + img.shape[2:], dtype=img.dtype)
    out[...] = fill
    out[:h, :w] = img
    return out


def run_pipeline(steps: Sequence[Mapping], img: np.ndarray) -> tuple[np.ndarray, dict]:
    """Apply the resize and pad steps to a BGR image.

    Args:
        steps (Sequence[Mapping]): From :func:`pipeline_steps`.
        img (np.ndarray): (H, W, 3) uint8 BGR.

    Returns:
        tuple: the network input (H', W', 3) and its metainfo ``ori_shape``
        (H, W), ``img_shape`` (H', W'), ``scale_factor`` (w_scale, h_scale).
    """
    meta = dict(ori_shape=img.shape[:2], scale_factor=(1.0, 1.0))
    for step in steps:
        args = {k: v for k, v in step.items() if k != 'type'}
        if step['type'] == 'Resize':
            defaults = dict(interpolation='bilinear', backend='cv2')
            unusual = {k: v for k, v in args.items() if defaults.get(k, v) != v}
            if set(args) - {'scale', 'keep_ratio', *defaults} or unusual or 'scale' not in args:
                raise ValueError(f'Resize: supported arguments are scale=(w, h), keep_ratio '
                                 f"and interpolation='bilinear', got {dict(step)!r}")
            img, factor = resize(img, args['scale'], args.get('keep_ratio', False))
            meta['scale_factor'] = (meta['scale_factor'][0] * factor[0],
                                    meta['scale_factor'][1] * factor[1])
        elif step['type'] == 'Pad':
            if args.pop('padding_mode', 'constant') != 'constant':
                raise ValueError(f"Pad: only padding_mode='constant' is supported, got {dict(step)!r}")
            img = pad(img, **args)
    meta['img_shape'] = img.shape[:2]
    return img, meta
