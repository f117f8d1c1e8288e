"""``RandomBBoxTransform``: random shift, resize and rotation of boxes.

Conventions as in :mod:`.common_transforms`: ``bbox_center`` ``(N, 2)`` is
``(x, y)`` pixels, ``bbox_scale`` ``(N, 2)`` is the padded ``(w, h)`` in
pixels and ``bbox_rotation`` ``(N,)`` is in degrees, applied later by
:class:`TopdownAffine` (see :func:`posekit.structures.get_warp_matrix` for
its sign). Random numbers come from NumPy's global generator.
"""
from __future__ import annotations

import numpy as np

from posekit.registry import TRANSFORMS


def truncated_standard_normal(size: tuple, low: float = -1.,
                              high: float = 1.) -> np.ndarray:
    """Standard normal samples conditioned on ``low <= x <= high``.

    The distribution of ``scipy.stats.truncnorm(low, high)``, drawn by
    redrawing the samples that fall outside (68% are kept per round for
    ``[-1, 1]``), which is much cheaper than scipy's per-call overhead.

    Returns:
        np.ndarray: ``float32`` of shape ``size``.
    """
    out = np.random.standard_normal(size)
    outside = (out < low) | (out > high)
    while outside.any():
        out[outside] = np.random.standard_normal(int(outside.sum()))
        outside = (out < low) | (out > high)
    return out.astype(np.float32)


@TRANSFORMS.register_module()
class RandomBBoxTransform:
    r"""Randomly shift, resize and rotate the boxes (top-down augmentation).

    Per box, with ``t`` a standard normal truncated to ``[-1, 1]``:

    - shift (with probability ``shift_prob``): the centre moves by
      ``t * shift_factor * bbox_scale`` in x and in y (independent ``t``);
    - scale (with probability ``scale_prob``): ``bbox_scale`` is multiplied
      by ``mu + t * sigma``, ``mu``/``sigma`` the middle/half-width of
      ``scale_factor``, so the factor lies in ``scale_factor``;
    - rotation (with probability ``rotate_prob``): ``t * rotate_factor``
      degrees, else 0.

    Required Keys:
        - bbox_center (np.ndarray): ``(N, 2)``.
        - bbox_scale (np.ndarray): ``(N, 2)``.

    Modified Keys:
        - bbox_center, bbox_scale: ``(N, 2)``.

    Added Keys:
        - bbox_rotation (np.ndarray): ``(N,)`` float32 degrees.

    Args:
        shift_factor (float): Maximum shift as a fraction of the box size.
            Defaults to 0.16.
        shift_prob (float): Probability of shifting. Defaults to 0.3.
        scale_factor (tuple[float, float]): Range of the resize factor.
            Defaults to (0.5, 1.5).
        scale_prob (float): Probability of resizing. Defaults to 1.0.
        rotate_factor (float): Maximum rotation in degrees. Defaults to 80.0.
        rotate_prob (float): Probability of rotating. Defaults to 0.6.
    """

    def __init__(self,
                 shift_factor: float = 0.16,
                 shift_prob: float = 0.3,
                 scale_factor: tuple[float, float] = (0.5, 1.5),
                 scale_prob: float = 1.0,
                 rotate_factor: float = 80.0,
                 rotate_prob: float = 0.6) -> None:
        self.shift_factor = shift_factor
        self.shift_prob = shift_prob
        self.scale_factor = scale_factor
        self.scale_prob = scale_prob
        self.rotate_factor = rotate_factor
        self.rotate_prob = rotate_prob

    def _draw(self, num_boxes: int
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Draw ``(offset (N, 2), scale (N, 1), rotation (N,))`` float32."""
        t = truncated_standard_normal((num_boxes, 4))
        offset = np.where(np.random.rand(num_boxes, 1) < self.shift_prob,
                          t[:, :2] * self.shift_factor, 0.)
        low, high = self.scale_factor
        scale = np.where(np.random.rand(num_boxes, 1) < self.scale_prob,
                         t[:, 2:3] * ((high - low) * 0.5) + (high + low) * 0.5,
                         1.)
        rotation = np.where(np.random.rand(num_boxes) < self.rotate_prob,
                            t[:, 3] * self.rotate_factor, 0.)
        return (offset.astype(np.float32), scale.astype(np.float32),
                rotation.astype(np.float32))

    def __call__(self, results: dict) -> dict:
        return self.apply(results, *self._draw(len(results['bbox_scale'])))

    @staticmethod
    def apply(results: dict, offset: np.ndarray, scale: np.ndarray,
              rotation: np.ndarray) -> dict:
        """Shift by ``offset * bbox_scale``, resize by ``scale``, set rotation."""
        bbox_scale = results['bbox_scale']
        results['bbox_center'] = results['bbox_center'] + offset * bbox_scale
        results['bbox_scale'] = bbox_scale * scale
        results['bbox_rotation'] = rotation
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(shift_factor={self.shift_factor}, '
                f'shift_prob={self.shift_prob}, scale_factor='
                f'{self.scale_factor}, scale_prob={self.scale_prob}, '
                f'rotate_factor={self.rotate_factor}, '
                f'rotate_prob={self.rotate_prob})')
