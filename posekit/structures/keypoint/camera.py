"""The pinhole camera: camera-space points to pixels."""
from __future__ import annotations

import numpy as np


def camera_to_pixel(points: np.ndarray, fx, fy, cx, cy, shift: bool = False) -> np.ndarray:
    """Pinhole projection ``(x / z * fx + cx, y / z * fy + cy)``.

    Args:
        points (np.ndarray): (..., 3) camera coordinates, z > 0 forward.
        fx, fy, cx, cy (float | np.ndarray): intrinsics in the units of the
            returned pixels.
        shift (bool): Add ``1e-8`` to the depth, so that a point on the
            camera plane does not divide by zero (MMPose's ``shift=True``,
            which its InterHand datasets use).

    Returns:
        np.ndarray: (..., 2), the dtype of ``points``.
    """
    pixels = points[..., :2] / (points[..., 2:3] + 1e-8 if shift else points[..., 2:3])
    pixels[..., 0] *= fx
    pixels[..., 1] *= fy
    pixels[..., 0] += cx
    pixels[..., 1] += cy
    return pixels
