"""Affine and perspective matrices that warp a box of an image to a crop.

Conventions: pixel coordinates, x to the right, y down; ``center`` is the
box centre ``(x, y)`` and ``scale`` its size ``(w, h)`` in image pixels;
``output_size`` is ``(w, h)`` of the crop; angles are in degrees. The
matrices are for ``cv2.warpAffine`` / ``cv2.warpPerspective`` and map image
coordinates to crop coordinates unless ``inv=True``.
"""
import math
from typing import Tuple

import cv2
import numpy as np


def get_warp_matrix(center: np.ndarray,
                    scale: np.ndarray,
                    rot: float,
                    output_size: Tuple[int, int],
                    shift: Tuple[float, float] = (0., 0.),
                    inv: bool = False,
                    fix_aspect_ratio: bool = True,
                    use_udp: bool = False) -> np.ndarray:
    """Affine matrix mapping a (rotated) box of the image onto the output.

    With ``c = center + scale * shift``, ``(sw, sh) = scale`` and
    ``(ow, oh) = output_size``, a point ``p`` of the image maps to::

        out = diag(kx, ky) @ R(-rot) @ (p - c) + (ow / 2, oh / 2)

    where ``R(a) = [[cos a, -sin a], [sin a, cos a]]``, ``kx = ow / sw`` and
    ``ky = kx`` when ``fix_aspect_ratio`` else ``oh / sh``. So the box centre
    lands on the output centre ``(ow / 2, oh / 2)`` and its left/right edges
    on ``x = 0`` and ``x = ow``. In image coordinates (y down), a positive
    ``rot`` turns the crop window clockwise on screen, i.e. the output shows
    the content turned counter-clockwise, as ``cv2.getRotationMatrix2D``.

    The matrix is not computed in closed form: like MMPose, it is solved by
    ``cv2.getAffineTransform`` from three point pairs (the centre, the middle
    of the left edge and a third point a quarter turn from it) stored as
    float32. That rounding moves the matrix by about 1e-7 relative, enough
    to change which crop pixels round up a grey level in ``cv2.warpAffine``,
    and so the network's input: an MMPose checkpoint gives MMPose's numbers
    only with MMPose's matrix.

    Args:
        center (np.ndarray): (2,) float box centre ``(x, y)``, image pixels.
        scale (np.ndarray): (2,) float box size ``(w, h)``, image pixels.
        rot (float): Rotation in degrees (see above).
        output_size (tuple[int, int]): Output size ``(w, h)`` in pixels.
        shift (tuple[float, float]): Centre shift as a fraction of
            ``(w, h)`` of the box. Defaults to ``(0., 0.)``.
        inv (bool): Return the inverse map, output -> image.
        fix_aspect_ratio (bool): Use the x zoom for y too (the box is
            assumed to already have the output's aspect ratio).
        use_udp (bool): Use :func:`get_udp_warp_matrix` instead (``shift``
            moves its centre too; ``fix_aspect_ratio`` does not apply).

    Returns:
        np.ndarray: (2, 3) float64 matrix for ``cv2.warpAffine``.
    """
    center, scale = _check_pair(center, 'center'), _check_pair(scale, 'scale')
    ow, oh = _check_pair(output_size, 'output_size')
    offset = scale * _check_pair(shift, 'shift')
    if use_udp:
        mat = _udp_matrix(center + offset, scale, rot, (ow, oh))
        return _invert_affine(mat) if inv else mat
    src, dst = _point_pairs(center, offset, scale, rot, (ow, oh),
                            fix_aspect_ratio)
    return cv2.getAffineTransform(dst, src) if inv else \
        cv2.getAffineTransform(src, dst)


def _point_pairs(center, offset, scale, rot, output_size, fix_aspect_ratio
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(3, 2) float32 image points and the crop points they map to.

    Each sum is rounded to float32 once, in MMPose's order (inputs in
    float64, which holds float32 inputs exactly), so the points and the
    solved matrix are MMPose's bit for bit.
    """
    ow, oh = output_size
    rad = np.deg2rad(rot)
    cos, sin = np.cos(rad), np.sin(rad)
    half_w = -0.5 * scale[0]
    src = np.zeros((3, 2), np.float32)
    dst = np.zeros((3, 2), np.float32)
    src[0] = center + offset
    src[1] = center + np.array([cos * half_w, sin * half_w]) + offset
    dst[0] = [ow * 0.5, oh * 0.5]
    dst[1] = [0., oh * 0.5]
    if fix_aspect_ratio:
        src[2] = _quarter_turn(src[0], src[1])
        dst[2] = _quarter_turn(dst[0], dst[1])
    else:
        half_h = -0.5 * scale[1]
        src[2] = center + np.array([-sin * half_h, cos * half_h]) + offset
        dst[2] = [ow * 0.5, 0.]
    return src, dst


def _quarter_turn(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``b + R(90)(a - b)`` in float32: the third point of a right angle."""
    d = a - b
    return b + np.array([-d[1], d[0]], np.float32)


def get_udp_warp_matrix(center: np.ndarray, scale: np.ndarray, rot: float,
                        output_size: Tuple[int, int]) -> np.ndarray:
    """Affine matrix of UDP (Huang et al., CVPR 2020, "The Devil is in the
    Details: Unbiased Data Processing").

    UDP measures sizes in pixel *intervals*: an output of ``ow`` pixels spans
    ``ow - 1`` units, so the box's left edge ``cx - sw/2`` lands on the centre
    of the first output pixel (``x = 0``) and its right edge ``cx + sw/2`` on
    the centre of the last one (``x = ow - 1``); same for y. A point ``p``
    maps to::

        out = diag((ow - 1) / sw, (oh - 1) / sh) @ (R(rot) @ (p - c) + s / 2)

    with ``R(a) = [[cos a, -sin a], [sin a, cos a]]``. Note the rotation sign
    is the opposite of :func:`get_warp_matrix` (MMPose's behaviour, kept for
    compatibility): a positive ``rot`` turns the output content clockwise on
    screen.

    Args:
        center (np.ndarray): (2,) float box centre ``(x, y)``, image pixels.
        scale (np.ndarray): (2,) float box size ``(w, h)``, image pixels.
        rot (float): Rotation in degrees.
        output_size (tuple[int, int]): Output size ``(w, h)`` in pixels.

    Returns:
        np.ndarray: (2, 3) float32 matrix, image -> output.
    """
    center, scale = _check_pair(center, 'center'), _check_pair(scale, 'scale')
    output_size = _check_pair(output_size, 'output_size')
    return _udp_matrix(center, scale, rot, output_size).astype(np.float32)


def _udp_matrix(center, scale, rot, output_size) -> np.ndarray:
    kx = (output_size[0] - 1) / scale[0]
    ky = (output_size[1] - 1) / scale[1]
    cos, sin = math.cos(math.radians(rot)), math.sin(math.radians(rot))
    linear = np.array([[cos, -sin], [sin, cos]])
    offset = 0.5 * scale - linear @ center
    zoom = np.array([[kx], [ky]])
    return zoom * np.concatenate([linear, offset[:, None]], axis=1)


def _check_pair(value, name: str) -> np.ndarray:
    value = np.asarray(value, dtype=np.float64).reshape(-1)
    if value.shape != (2, ):
        raise ValueError(f'{name} must have 2 values, got {value.shape[0]}')
    return value


def _invert_affine(mat: np.ndarray) -> np.ndarray:
    """Inverse of a (2, 3) affine matrix, as a (2, 3) matrix."""
    linear_inv = np.linalg.inv(mat[:, :2])
    return np.concatenate([linear_inv, -linear_inv @ mat[:, 2:]], axis=1)


def get_pers_warp_matrix(center: np.ndarray, translate: np.ndarray,
                         scale: float, rot: float,
                         shear: np.ndarray) -> np.ndarray:
    """3x3 matrix of a scale, rotation and shear about ``center``.

    A point ``p`` maps to ``T @ Sh @ R @ S @ (p - center)`` where ``S`` zooms
    by ``scale``, ``R = [[cos, -sin], [sin, cos]]`` of ``rot`` degrees (a
    positive angle turns points clockwise on screen, as y points down),
    ``Sh = [[1, tan(shear_x)], [tan(shear_y), 1]]`` and ``T`` moves the
    result to ``center + translate``. Used by bottom-up random affine.

    Args:
        center (np.ndarray): (2,) float ``(x, y)`` pixels, fixed point before
            translation.
        translate (np.ndarray): (2,) float translation ``(dx, dy)`` pixels.
        scale (float): Zoom factor.
        rot (float): Rotation in degrees.
        shear (np.ndarray): (2,) shear angles in degrees along x and y.

    Returns:
        np.ndarray: (3, 3) float32 matrix for ``cv2.warpPerspective``.
    """
    def affine(linear, offset=(0., 0.)):
        mat = np.eye(3)
        mat[:2, :2] = linear
        mat[:2, 2] = offset
        return mat

    cos, sin = math.cos(math.radians(rot)), math.sin(math.radians(rot))
    tan_x = math.tan(math.radians(shear[0]))
    tan_y = math.tan(math.radians(shear[1]))
    to_origin = affine(np.eye(2), -np.asarray(center, dtype=np.float64))
    zoom = affine(np.eye(2) * scale)
    rotate = affine([[cos, -sin], [sin, cos]])
    shear_mat = affine([[1., tan_x], [tan_y, 1.]])
    back = affine(np.eye(2),
                  np.asarray(translate, np.float64) + np.asarray(center))
    return (back @ shear_mat @ rotate @ zoom @ to_origin).astype(np.float32)
