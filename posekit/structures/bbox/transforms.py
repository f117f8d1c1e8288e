"""Bounding-box format conversions, flips, clipping and crop warp matrices.

Conventions (MMPose 1.x; checkpoints are only right under the same ones):

- Coordinates are pixels of the image they refer to, x to the right, y down.
- ``xyxy`` is ``(left, top, right, bottom)``; ``xywh`` is
  ``(left, top, width, height)`` with ``width = right - left`` (no ``+1``).
  Both may carry a 5th column (a score), which is passed through.
- ``center`` is ``(x, y)`` and ``scale`` is ``(w, h)`` of the box in pixels,
  already multiplied by ``padding`` (not the legacy "pixels / 200" scale).
- A single box is shape ``(4,)``, a batch ``(N, 4)``; outputs keep that.

The crop warp matrices live in :mod:`.warp` and are re-exported here.
"""
from typing import Tuple

import numpy as np

from .warp import (get_pers_warp_matrix, get_udp_warp_matrix,  # noqa: F401
                   get_warp_matrix)


def bbox_xyxy2xywh(bbox_xyxy: np.ndarray) -> np.ndarray:
    """Convert ``(left, top, right, bottom)`` boxes to ``(left, top, w, h)``.

    Args:
        bbox_xyxy (np.ndarray): (..., 4) or (..., 5) float, pixels; a 5th
            column (score) is copied unchanged.

    Returns:
        np.ndarray: Same shape and dtype, ``w = right - left``,
        ``h = bottom - top``.
    """
    out = np.array(bbox_xyxy, copy=True)
    out[..., 2] = out[..., 2] - out[..., 0]
    out[..., 3] = out[..., 3] - out[..., 1]
    return out


def bbox_xywh2xyxy(bbox_xywh: np.ndarray) -> np.ndarray:
    """Convert ``(left, top, w, h)`` boxes to ``(left, top, right, bottom)``.

    Args:
        bbox_xywh (np.ndarray): (..., 4) or (..., 5) float, pixels.

    Returns:
        np.ndarray: Same shape and dtype, ``right = left + w``.
    """
    out = np.array(bbox_xywh, copy=True)
    out[..., 2] = out[..., 2] + out[..., 0]
    out[..., 3] = out[..., 3] + out[..., 1]
    return out


def bbox_xyxy2cs(bbox: np.ndarray,
                 padding: float = 1.) -> Tuple[np.ndarray, np.ndarray]:
    """Convert ``xyxy`` boxes to centre and padded scale.

    Args:
        bbox (np.ndarray): (4,) or (N, 4) float ``(left, top, right, bottom)``
            pixels (extra columns are ignored).
        padding (float): Factor multiplied into the scale. Defaults to 1.0.

    Returns:
        tuple:
        - center (np.ndarray): (2,) or (N, 2), ``(x, y)`` box centre.
        - scale (np.ndarray): (2,) or (N, 2), ``(w, h) * padding`` pixels.
    """
    bbox = np.asarray(bbox)
    center = (bbox[..., 0:2] + bbox[..., 2:4]) * 0.5
    scale = (bbox[..., 2:4] - bbox[..., 0:2]) * padding
    return center, scale


def bbox_xywh2cs(bbox: np.ndarray,
                 padding: float = 1.) -> Tuple[np.ndarray, np.ndarray]:
    """Convert ``xywh`` boxes to centre and padded scale.

    Args:
        bbox (np.ndarray): (4,) or (N, 4) float ``(left, top, w, h)`` pixels.
        padding (float): Factor multiplied into the scale. Defaults to 1.0.

    Returns:
        tuple:
        - center (np.ndarray): (2,) or (N, 2), ``(left + w/2, top + h/2)``.
        - scale (np.ndarray): (2,) or (N, 2), ``(w, h) * padding`` pixels.
    """
    bbox = np.asarray(bbox)
    center = bbox[..., 0:2] + bbox[..., 2:4] * 0.5
    scale = bbox[..., 2:4] * padding
    return center, scale


def bbox_cs2xyxy(center: np.ndarray,
                 scale: np.ndarray,
                 padding: float = 1.) -> np.ndarray:
    """Convert centre and padded scale back to ``xyxy`` boxes.

    Args:
        center (np.ndarray): (2,) or (N, 2) float ``(x, y)`` pixels.
        scale (np.ndarray): (2,) or (N, 2) float padded ``(w, h)`` pixels.
        padding (float): The padding to divide out. Defaults to 1.0.

    Returns:
        np.ndarray: (4,) or (N, 4) ``(left, top, right, bottom)``.
    """
    center, scale = _same_ndim(center, scale)
    wh = scale / padding
    top_left = center - 0.5 * wh
    return np.concatenate([top_left, top_left + wh], axis=-1)


def bbox_cs2xywh(center: np.ndarray,
                 scale: np.ndarray,
                 padding: float = 1.) -> np.ndarray:
    """Convert centre and padded scale back to ``xywh`` boxes.

    Args:
        center (np.ndarray): (2,) or (N, 2) float ``(x, y)`` pixels.
        scale (np.ndarray): (2,) or (N, 2) float padded ``(w, h)`` pixels.
        padding (float): The padding to divide out. Defaults to 1.0.

    Returns:
        np.ndarray: (4,) or (N, 4) ``(left, top, w, h)``.
    """
    center, scale = _same_ndim(center, scale)
    wh = scale / padding
    return np.concatenate([center - 0.5 * wh, wh], axis=-1)


def _same_ndim(center, scale):
    center, scale = np.asarray(center), np.asarray(scale)
    if center.ndim != scale.ndim:
        raise ValueError(f'center {center.shape} and scale {scale.shape} '
                         'must have the same number of dimensions')
    return center, scale


def bbox_xyxy2corner(bbox: np.ndarray) -> np.ndarray:
    """Convert ``xyxy`` boxes to their 4 corners.

    Args:
        bbox (np.ndarray): (4,) or (N, 4) ``(left, top, right, bottom)``.

    Returns:
        np.ndarray: (4, 2) or (N, 4, 2) corners ``(x, y)`` in MMPose's
        order: top-left, bottom-left, top-right, bottom-right.
    """
    bbox = np.asarray(bbox)
    x1, y1, x2, y2 = (bbox[..., i] for i in range(4))
    corners = [(x1, y1), (x1, y2), (x2, y1), (x2, y2)]
    return np.stack([np.stack(c, axis=-1) for c in corners], axis=-2)


def bbox_corner2xyxy(bbox: np.ndarray) -> np.ndarray:
    """Convert corner points (any 4, e.g. of a rotated box) to ``xyxy``.

    Args:
        bbox (np.ndarray): (4, 2), (N, 4, 2), or flat (8,) / (N, 8) points
            ``(x, y)``.

    Returns:
        np.ndarray: (4,) or (N, 4) enclosing ``(left, top, right, bottom)``.
    """
    bbox = np.asarray(bbox)
    if bbox.shape[-1] == 8:
        bbox = bbox.reshape(*bbox.shape[:-1], 4, 2)
    return np.concatenate([bbox.min(axis=-2), bbox.max(axis=-2)], axis=-1)


def whole_image_bbox(shape: Tuple[int, ...]) -> np.ndarray:
    """``(1, 4)`` float32 xyxy box ``[0, 0, w, h]`` of an image of ``shape``
    ``(h, w, ...)``: the one person box when none is given."""
    h, w = shape[:2]
    return np.array([[0, 0, w, h]], dtype=np.float32)


def bbox_clip_border(bbox: np.ndarray, shape: Tuple[int, int]) -> np.ndarray:
    """Clip boxes or points into ``[0, w] x [0, h]`` **in place**.

    Args:
        bbox (np.ndarray): (..., 4) ``xyxy`` boxes or (..., 2) points, float.
        shape (tuple[int, int]): Image size ``(w, h)`` (width first).

    Returns:
        np.ndarray: ``bbox`` itself, clipped.
    """
    width, height = shape[:2]
    if bbox.shape[-1] == 2:
        bbox[..., 0] = np.clip(bbox[..., 0], 0, width)
        bbox[..., 1] = np.clip(bbox[..., 1], 0, height)
    else:
        bbox[..., 0::2] = np.clip(bbox[..., 0::2], 0, width)
        bbox[..., 1::2] = np.clip(bbox[..., 1::2], 0, height)
    return bbox


def flip_bbox(bbox: np.ndarray,
              image_size: Tuple[int, int],
              bbox_format: str = 'xywh',
              direction: str = 'horizontal') -> np.ndarray:
    """Mirror boxes in an image of size ``image_size``.

    A coordinate ``x`` maps to ``w - 1 - x`` (and ``y`` to ``h - 1 - y``),
    the same pixel-index convention as :func:`flip_keypoints`. For ``xyxy``
    the two edges are swapped so ``left <= right`` still holds; for
    ``center`` only the point moves; for ``xywh`` the new left edge is the
    mirror of the old right edge, ``w - 1 - (left + width)``.

    Args:
        bbox (np.ndarray): (..., 4) for ``'xyxy'``/``'xywh'`` or (..., 2) for
            ``'center'``, float pixels.
        image_size (tuple[int, int]): Image size ``(w, h)``.
        bbox_format (str): ``'xywh'``, ``'xyxy'`` or ``'center'``.
        direction (str): ``'horizontal'``, ``'vertical'`` or ``'diagonal'``
            (both at once).

    Returns:
        np.ndarray: The flipped boxes, a new array of the input's shape.
    """
    if direction not in ('horizontal', 'vertical', 'diagonal'):
        raise ValueError(f'invalid flip direction {direction!r}; expected '
                         "'horizontal', 'vertical' or 'diagonal'")
    if bbox_format not in ('xywh', 'xyxy', 'center'):
        raise ValueError(f'invalid bbox_format {bbox_format!r}; expected '
                         "'xywh', 'xyxy' or 'center'")
    w, h = image_size
    out = np.array(bbox, copy=True)
    axes = {'horizontal': [(0, w)], 'vertical': [(1, h)],
            'diagonal': [(0, w), (1, h)]}[direction]
    for axis, size in axes:
        if bbox_format == 'center':
            out[..., axis] = size - 1 - bbox[..., axis]
        elif bbox_format == 'xyxy':
            out[..., axis] = size - 1 - bbox[..., axis + 2]
            out[..., axis + 2] = size - 1 - bbox[..., axis]
        else:  # xywh: the left edge becomes the mirrored right edge
            out[..., axis] = size - 1 - (bbox[..., axis] + bbox[..., axis + 2])
    return out


def fix_aspect_ratio(bbox_scale: np.ndarray,
                     aspect_ratio: float) -> np.ndarray:
    """Enlarge box scales to the aspect ratio ``w / h`` of the model input.

    The shorter side (relative to ``aspect_ratio``) grows; the box never
    shrinks, so the whole person stays inside the crop (TopdownAffine).

    Args:
        bbox_scale (np.ndarray): (2,) or (N, 2) float ``(w, h)`` pixels.
        aspect_ratio (float): Target ``w / h``, e.g. ``192 / 256``.

    Returns:
        np.ndarray: Scales of the input's shape with ``w / h == aspect_ratio``.
    """
    bbox_scale = np.asarray(bbox_scale)
    w, h = bbox_scale[..., 0:1], bbox_scale[..., 1:2]
    return np.where(w > h * aspect_ratio,
                    np.concatenate([w, w / aspect_ratio], axis=-1),
                    np.concatenate([h * aspect_ratio, h], axis=-1))


