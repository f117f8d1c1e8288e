"""Box centre/scale, flip and half-body transforms.

Conventions (MMPose 1.x): ``bbox`` is ``(N, 4)`` ``xyxy`` pixels of the
current image; ``bbox_center`` ``(N, 2)`` is ``(x, y)`` and ``bbox_scale``
``(N, 2)`` is ``(w, h)`` in pixels *after* padding;
keypoints are ``(N, K, 2)`` pixels, x right, y down; a flip maps ``x`` to
``w - 1 - x`` (pixel ``i`` swaps with pixel ``w - 1 - i``, as ``cv2.flip``).

Random transforms draw all their random numbers in one ``_draw`` method, from
NumPy's global generator (so ``np.random.seed`` and the data loader's
per-worker seeding make them reproducible), then apply them with a
deterministic public method.
"""
from __future__ import annotations

import warnings
from typing import Sequence

import cv2
import numpy as np

from posekit.registry import TRANSFORMS
from posekit.structures import bbox_xyxy2cs, flip_bbox, flip_keypoints

FLIP_DIRECTIONS = ('horizontal', 'vertical', 'diagonal')
_CV2_FLIP_CODE = {'horizontal': 1, 'vertical': 0, 'diagonal': -1}
_NP_FLIP_AXES = {'horizontal': (1, ), 'vertical': (0, ), 'diagonal': (0, 1)}
_CV2_DTYPES = (np.uint8, np.int8, np.uint16, np.int16, np.int32, np.float32,
               np.float64)


@TRANSFORMS.register_module()
class GetBBoxCenterScale:
    """Turn the ``xyxy`` box into a centre and a padded ``(w, h)`` scale.

    If ``bbox_center`` and ``bbox_scale`` are already in the results (e.g.
    set by the dataset from a detector's output), they are kept and only
    the padding is multiplied into the scale, as MMPose does.

    Required Keys:
        - bbox (np.ndarray): ``(N, 4)`` xyxy pixels (unless both keys below
          are present).

    Added Keys:
        - bbox_center (np.ndarray): ``(N, 2)`` ``((x1 + x2) / 2, (y1 + y2) / 2)``.
        - bbox_scale (np.ndarray): ``(N, 2)`` ``(x2 - x1, y2 - y1) * padding``.

    Args:
        padding (float): Factor multiplied into the box size. Defaults to 1.25.
    """

    def __init__(self, padding: float = 1.25) -> None:
        self.padding = padding

    def __call__(self, results: dict) -> dict:
        if 'bbox_center' in results and 'bbox_scale' in results:
            warnings.warn('GetBBoxCenterScale: using the existing bbox_center '
                          'and bbox_scale; the padding is still applied')
            results['bbox_scale'] = results['bbox_scale'] * self.padding
        else:
            center, scale = bbox_xyxy2cs(results['bbox'], padding=self.padding)
            results['bbox_center'] = center
            results['bbox_scale'] = scale
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(padding={self.padding})'


@TRANSFORMS.register_module()
class RandomFlip:
    """Randomly mirror the image and its annotations.

    A horizontal flip maps ``x -> w - 1 - x`` and swaps left/right keypoints
    via ``flip_indices``; vertical maps ``y -> h - 1 - y`` and swaps too;
    diagonal does both (a 180 degree turn) and swaps nothing. ``(w, h)`` is
    ``input_size`` when present (the image was already warped to the model
    input; MMPose 1.3.2 unpacks it as ``(h, w)``, which flips non-square
    inputs about the wrong size), else the ``img_shape``. All N instances
    flip at once (bottom-up);
    boxes are ``(N, 4)`` xyxy or ``(N, 4, 2)`` corners (each corner flips as
    a point, its order kept, as MMPose).

    Required Keys:
        - img (np.ndarray | list[np.ndarray]): ``(H, W, C)`` image(s).
        - img_shape (tuple[int, int]): ``(h, w)``.
        - flip_indices (list[int]): each keypoint's mirror partner (only
          read when keypoints are flipped).
        - input_size (optional), bbox (optional), bbox_center (optional),
          keypoints (optional), keypoints_visible (optional), img_mask
          (optional), heatmap_mask (optional, an array or a list per level).

    Modified Keys:
        - img, img_mask, heatmap_mask, bbox, bbox_center, keypoints,
          keypoints_visible: flipped (new arrays) when present. MMPose
          leaves ``heatmap_mask`` alone; flipping it keeps a mask made
          before the flip aligned (``BottomupGetHeatmapMask`` placed after
          the flip, as in MMPose's configs, flips its own mask).

    Added Keys:
        - flip (bool): whether a flip was applied.
        - flip_direction (str | None): the direction, ``None`` if no flip.

    Args:
        prob (float | list[float]): Flip probability. With a list, one
            probability per entry of ``direction`` (their sum is at most 1).
            A single float is shared evenly by all directions. Defaults to 0.5.
        direction (str | list[str]): ``'horizontal'``, ``'vertical'``,
            ``'diagonal'`` or a list of them. Defaults to ``'horizontal'``.
    """

    def __init__(self,
                 prob: float | Sequence[float] = 0.5,
                 direction: str | Sequence[str] = 'horizontal') -> None:
        directions = [direction] if isinstance(direction, str) else \
            list(direction)
        if not directions or any(d not in FLIP_DIRECTIONS for d in directions):
            raise ValueError(f'RandomFlip: direction must be one of '
                             f'{FLIP_DIRECTIONS} or a list of them, got '
                             f'{direction!r}')
        if isinstance(prob, (list, tuple)):
            probs = [float(p) for p in prob]
            if isinstance(direction, str) or len(probs) != len(directions):
                raise ValueError('RandomFlip: a list of probs needs a list of '
                                 f'directions of the same length, got prob='
                                 f'{prob!r}, direction={direction!r}')
        elif isinstance(prob, (int, float)):
            probs = [float(prob) / len(directions)] * len(directions)
        else:
            raise TypeError('RandomFlip: prob must be a float or a list of '
                            f'floats, got {prob!r}')
        if min(probs) < 0 or sum(probs) > 1 + 1e-9:
            raise ValueError('RandomFlip: probabilities must be >= 0 and sum '
                             f'to at most 1, got {prob!r}')
        self.prob = prob
        self.direction = direction
        self._directions = directions
        self._cumulative = np.cumsum(probs)

    def _draw(self) -> str | None:
        """Pick a direction with the configured probabilities (None: no flip)."""
        index = int(np.searchsorted(self._cumulative, np.random.rand(),
                                    side='right'))
        return self._directions[index] if index < len(self._directions) \
            else None

    def __call__(self, results: dict) -> dict:
        return self.flip(results, self._draw())

    @staticmethod
    def flip(results: dict, direction: str | None) -> dict:
        """Flip ``results`` in ``direction`` (``None``: only record no flip)."""
        results['flip'] = direction is not None
        results['flip_direction'] = direction
        if direction is None:
            return results
        if 'input_size' in results:
            w, h = results['input_size']
        else:
            h, w = results['img_shape'][:2]
        img = results['img']
        results['img'] = [flip_image(i, direction) for i in img] \
            if isinstance(img, list) else flip_image(img, direction)
        if 'img_mask' in results:
            results['img_mask'] = flip_image(results['img_mask'], direction)
        if 'heatmap_mask' in results:
            mask = results['heatmap_mask']
            results['heatmap_mask'] = [flip_image(m, direction) for m in mask] \
                if isinstance(mask, list) else flip_image(mask, direction)
        if results.get('bbox') is not None:
            bbox = results['bbox']
            # (N, 4, 2) corners (BottomupRandomAffine) flip as points
            results['bbox'] = flip_bbox(bbox, (w, h), 'center', direction) \
                if bbox.shape[-1] == 2 else \
                flip_bbox(bbox, (w, h), 'xyxy', direction)
        if results.get('bbox_center') is not None:
            results['bbox_center'] = flip_bbox(results['bbox_center'], (w, h),
                                               'center', direction)
        if results.get('keypoints') is not None:
            results['keypoints'], results['keypoints_visible'] = \
                flip_keypoints(results['keypoints'],
                               results.get('keypoints_visible'), (w, h),
                               results['flip_indices'], direction)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(prob={self.prob}, '
                f'direction={self.direction!r})')


def flip_image(img: np.ndarray, direction: str) -> np.ndarray:
    """Mirror an ``(H, W[, C])`` array; always returns a new contiguous array.

    ``cv2.flip`` where OpenCV supports the dtype (faster, and a contiguous
    result keeps the later ``warpAffine`` fast), ``np.flip`` otherwise.
    """
    if img.dtype.type in _CV2_DTYPES and img.ndim in (2, 3):
        return cv2.flip(img, _CV2_FLIP_CODE[direction])
    return np.ascontiguousarray(np.flip(img, _NP_FLIP_AXES[direction]))


@TRANSFORMS.register_module()
class RandomHalfBody:
    """Randomly shrink the box to the visible upper or lower body.

    Per instance: when at least ``min_total_keypoints`` keypoints are
    visible, with probability ``prob`` the box becomes the bounding box of
    the visible keypoints of one half (upper preferred with probability
    ``upper_prioritized_prob``; a half with too few visible keypoints is not
    chosen), centred on their mean and scaled by ``padding``.

    Required Keys:
        - keypoints (np.ndarray): ``(N, K, 2)`` pixels.
        - keypoints_visible (np.ndarray): ``(N, K)`` or ``(N, K, 2)`` (only
          channel 0, the visibility, is read).
        - upper_body_ids, lower_body_ids (list[int]): from the dataset meta.
        - bbox_center, bbox_scale (np.ndarray): ``(N, 2)``.

    Modified Keys:
        - bbox_center, bbox_scale: ``(N, 2)``, replaced for chosen instances.

    Args:
        min_total_keypoints (int): Minimum visible keypoints. Defaults to 9.
        min_upper_keypoints (int): Minimum visible upper-body keypoints for
            the upper half to be eligible. Defaults to 2.
        min_lower_keypoints (int): Same for the lower half. Defaults to 3.
        padding (float): Scale factor of the half-body box. Defaults to 1.5.
        prob (float): Probability of applying it. Defaults to 0.3.
        upper_prioritized_prob (float): Probability of choosing the upper
            half when both are eligible. Defaults to 0.7.
    """

    def __init__(self,
                 min_total_keypoints: int = 9,
                 min_upper_keypoints: int = 2,
                 min_lower_keypoints: int = 3,
                 padding: float = 1.5,
                 prob: float = 0.3,
                 upper_prioritized_prob: float = 0.7) -> None:
        self.min_total_keypoints = min_total_keypoints
        self.min_upper_keypoints = min_upper_keypoints
        self.min_lower_keypoints = min_lower_keypoints
        self.padding = padding
        self.prob = prob
        self.upper_prioritized_prob = upper_prioritized_prob

    def _draw(self, keypoints_visible: np.ndarray, upper_ids: Sequence[int],
              lower_ids: Sequence[int]) -> list[list[int] | None]:
        """Keypoint ids to crop to, per instance (None: keep the box)."""
        if keypoints_visible.ndim == 3:
            keypoints_visible = keypoints_visible[..., 0]
        chosen: list[list[int] | None] = []
        for visible in keypoints_visible:
            if visible.sum() < self.min_total_keypoints or \
                    np.random.rand() > self.prob:
                chosen.append(None)
                continue
            upper = [i for i in upper_ids if visible[i] > 0]
            lower = [i for i in lower_ids if visible[i] > 0]
            prefer_upper = np.random.rand() < self.upper_prioritized_prob
            upper_ok = len(upper) >= self.min_upper_keypoints
            lower_ok = len(lower) >= self.min_lower_keypoints
            if upper_ok and lower_ok:
                chosen.append(upper if prefer_upper else lower)
            else:
                chosen.append(upper if upper_ok else lower if lower_ok
                              else None)
        return chosen

    def __call__(self, results: dict) -> dict:
        chosen = self._draw(results['keypoints_visible'],
                            results['upper_body_ids'],
                            results['lower_body_ids'])
        return self.crop_to_half_body(results, chosen)

    def crop_to_half_body(self, results: dict,
                          chosen: list[list[int] | None]) -> dict:
        """Replace the boxes of instances with ids in ``chosen``."""
        if all(ids is None for ids in chosen):
            return results
        centers = np.array(results['bbox_center'], copy=True)
        scales = np.array(results['bbox_scale'], copy=True)
        for i, ids in enumerate(chosen):
            if ids is not None:
                points = results['keypoints'][i][ids, :2]
                centers[i] = points.mean(axis=0)
                scales[i] = (points.max(axis=0) - points.min(axis=0)) * \
                    self.padding
        results['bbox_center'] = centers
        results['bbox_scale'] = scales
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(min_total_keypoints='
                f'{self.min_total_keypoints}, min_upper_keypoints='
                f'{self.min_upper_keypoints}, min_lower_keypoints='
                f'{self.min_lower_keypoints}, padding={self.padding}, '
                f'prob={self.prob}, upper_prioritized_prob='
                f'{self.upper_prioritized_prob})')
