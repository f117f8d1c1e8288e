"""``TopdownAffine``: crop the person box out of the image, as the model input.

Spaces: the *image* space is pixels of the loaded image; the *input* space
is pixels of the ``input_size = (w, h)`` crop fed to the network. The box
``(bbox_center, bbox_scale, bbox_rotation)`` is mapped onto the whole input:
its centre to the input centre ``(w / 2, h / 2)`` (or, with UDP, its edges to
the centres of the first and last pixels), see
:func:`posekit.structures.get_warp_matrix`.
"""
from __future__ import annotations

import threading
from typing import Sequence

import cv2
import numpy as np

from posekit.registry import TRANSFORMS
from posekit.structures import (fix_aspect_ratio, get_udp_warp_matrix,
                                get_warp_matrix)

_SCRATCH = threading.local()
_MAX_SCRATCH_BYTES = 64 << 20      # 4096 x 4096 pixels


@TRANSFORMS.register_module()
class TopdownAffine:
    """Warp the box region to ``input_size`` with one ``cv2.warpAffine``.

    The box scale is first enlarged to the input's aspect ratio
    (:func:`~posekit.structures.fix_aspect_ratio`) so the person is not
    distorted; pixels outside the image are black (0). Interpolation is
    bilinear (``cv2.INTER_LINEAR``), as MMPose.

    Required Keys:
        - img (np.ndarray | list[np.ndarray]): ``(H, W, C)`` image(s).
        - bbox_center (np.ndarray): ``(1, 2)`` ``(x, y)`` image pixels.
        - bbox_scale (np.ndarray): ``(1, 2)`` ``(w, h)`` image pixels.
        - bbox_rotation (np.ndarray, optional): ``(1,)`` degrees.
        - keypoints (np.ndarray, optional): ``(1, K, D)`` image pixels.

    Modified Keys:
        - img: ``(h, w, C)`` crop(s), same dtype.
        - bbox_scale: ``(1, 2)``, with the input's aspect ratio ``w / h``.

    Added Keys:
        - transformed_keypoints (np.ndarray): ``(1, K, D)`` keypoints with x, y
          in input pixels (other coordinates copied). Without keypoints:
          an empty array, and ``keypoints_visible`` becomes ``ones((1, 1, 1))``
          (MMPose's placeholders).
        - input_size (tuple[int, int]): ``(w, h)``.
        - input_center (np.ndarray): ``(2,)`` the box centre, image pixels.
        - input_scale (np.ndarray): ``(2,)`` the fixed box scale, image pixels.

    Args:
        input_size (tuple[int, int]): Model input ``(w, h)``, e.g. (192, 256).
        use_udp (bool): Use the unbiased (UDP, CVPR 2020) warp. Defaults to
            False.
    """

    def __init__(self, input_size: Sequence[int], use_udp: bool = False
                 ) -> None:
        if len(input_size) != 2 or not all(
                isinstance(v, (int, np.integer)) for v in input_size):
            raise ValueError('TopdownAffine: input_size must be two ints '
                             f'(w, h), got {input_size!r}')
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.use_udp = use_udp

    def __call__(self, results: dict) -> dict:
        w, h = self.input_size
        results['bbox_scale'] = fix_aspect_ratio(results['bbox_scale'], w / h)
        if results['bbox_center'].shape[0] != 1:
            raise ValueError(
                'TopdownAffine: a top-down sample has exactly one instance, '
                f'got bbox_center of shape {results["bbox_center"].shape}')
        center = results['bbox_center'][0]
        scale = results['bbox_scale'][0]
        rotation = float(results['bbox_rotation'][0]) \
            if 'bbox_rotation' in results else 0.
        if self.use_udp:
            # float32, like MMPose's UDP matrix (unrotated crops then match
            # MMPose's bit for bit)
            matrix = get_udp_warp_matrix(center, scale, rotation, (w, h))
        else:
            matrix = get_warp_matrix(center, scale, rotation, (w, h))

        img = results['img']
        results['img'] = [self._warp(i, matrix) for i in img] \
            if isinstance(img, list) else self._warp(img, matrix)

        if results.get('keypoints') is not None:
            results['transformed_keypoints'] = transform_keypoints(
                results['keypoints'], matrix,
                results.get('transformed_keypoints'))
        else:
            results['transformed_keypoints'] = np.zeros([])
            results['keypoints_visible'] = np.ones((1, 1, 1))
        results['input_size'] = (w, h)
        results['input_center'] = center
        results['input_scale'] = scale
        return results

    def _warp(self, img: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        return warp_image(img, matrix, self.input_size)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(input_size={self.input_size}, '
                f'use_udp={self.use_udp})')


def warp_image(img: np.ndarray, matrix: np.ndarray,
               size: tuple[int, int]) -> np.ndarray:
    """``cv2.warpAffine`` (bilinear, black border) to ``size = (w, h)``.

    A ``uint8`` 3-channel image is warped as 4 channels: OpenCV's vectorised
    path for 4 channels is about twice as fast as its 3-channel path, and its
    fixed-point arithmetic is the same per channel, so the 3 channels kept
    are bit-identical to a direct 3-channel warp.
    """
    if img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3:
        bgra = cv2.cvtColor(img, cv2.COLOR_BGR2BGRA,
                            dst=_scratch_image(img.shape[0], img.shape[1]))
        warped = cv2.warpAffine(bgra, matrix, size, flags=cv2.INTER_LINEAR)
        return cv2.cvtColor(warped, cv2.COLOR_BGRA2BGR)
    return cv2.warpAffine(img, matrix, size, flags=cv2.INTER_LINEAR)


def _scratch_image(height: int, width: int) -> np.ndarray:
    """A reusable ``(height, width, 4) uint8`` buffer of this thread.

    The 4-channel copy is only read by the warp, so its memory is reused
    from sample to sample: a fresh megabyte per sample costs more in page
    faults than the colour conversion itself. One buffer per thread keeps
    concurrent pipelines (threads) apart; very large images are not kept.
    """
    need = height * width * 4
    buffer = getattr(_SCRATCH, 'buffer', None)
    if buffer is None or buffer.size < need:
        buffer = np.empty(need, np.uint8)
        if need <= _MAX_SCRATCH_BYTES:
            _SCRATCH.buffer = buffer
    return buffer[:need].reshape(height, width, 4)


def transform_keypoints(keypoints: np.ndarray, matrix: np.ndarray,
                        template: np.ndarray | None = None) -> np.ndarray:
    """Apply a ``(2, 3)`` affine matrix to the x, y of keypoints.

    Args:
        keypoints (np.ndarray): ``(..., K, D)``, x and y first.
        matrix (np.ndarray): ``(2, 3)`` affine map.
        template (np.ndarray, optional): Array of the same shape whose
            coordinates beyond x, y are copied into the result (MMPose keeps
            earlier ``transformed_keypoints`` this way); defaults to
            ``keypoints`` itself.

    Returns:
        np.ndarray: A new array of ``keypoints``' shape and dtype.
    """
    out = np.array(keypoints if template is None else template, copy=True)
    xy = keypoints[..., :2].astype(np.float64)
    out[..., :2] = xy @ matrix[:, :2].T + matrix[:, 2]
    return out
