"""Augmentations of 3D pose-lifting samples (no image).

Conventions: 2D ``keypoints`` are ``(T, K, 2)`` and the 3D
``lifting_target`` ``(T', K, 3)``, x first in both; a flip mirrors x about a
vertical line ``x = x_c`` (``x -> 2 * x_c - x``, no ``- 1``: the values are
normalised or camera coordinates, not pixel indices) and swaps left/right
partners by ``flip_indices``. The line is either static (``center_x``) or
the mean x of the root joint(s) of each pose (``center_mode='root'``). With
a static line, or a root that is its own partner, flipping twice gives the
sample back.

Random transforms draw their random numbers in one ``_draw`` method from
NumPy's global generator, then apply them deterministically.
"""
from __future__ import annotations

import numpy as np

from posekit.registry import TRANSFORMS
from posekit.structures import flip_keypoints_custom_center

_FLIP_CFG_KEYS = frozenset({'center_mode', 'center_x', 'center_index'})


def _check_flip_cfg(name: str, cfg: dict) -> dict:
    unknown = set(cfg) - _FLIP_CFG_KEYS
    if unknown:
        raise ValueError(f'RandomFlipAroundRoot: {name} has unknown key(s) '
                         f'{sorted(unknown)}; allowed: '
                         f'{sorted(_FLIP_CFG_KEYS)}')
    return dict(center_mode=cfg.get('center_mode', 'static'),
                center_x=cfg.get('center_x', 0.5),
                center_index=cfg.get('center_index', 0))


@TRANSFORMS.register_module()
class RandomFlipAroundRoot:
    """Randomly mirror the 2D keypoints and the 3D target horizontally.

    Required Keys:
        - keypoints (np.ndarray): ``(T, K, 2)``; ``keypoint_labels`` with
          ``flip_label`` (the codec's output, after GenerateTarget).
        - lifting_target (np.ndarray): ``(T', K, 3)``;
          ``lifting_target_label`` with ``flip_label``.
        - flip_indices (list[int]): K left/right partners.
        - keypoints_visible / keypoint_labels_visible,
          lifting_target_visible (optional; ones when absent).
        - camera_param (dict): with ``c`` (and optionally ``p``), only when
          ``flip_camera``.

    Modified Keys:
        When flipped: keypoints (or keypoint_labels), keypoints_visible (or
        keypoint_labels_visible), lifting_target (or lifting_target_label),
        lifting_target_visible (added when absent), and with
        ``flip_camera`` camera_param (a new dict: ``c[0]`` and ``p[0]``
        negated, i.e. principal point x and first tangential distortion
        coefficient of a normalised camera).

    Args:
        keypoints_flip_cfg (dict): Flip line of the 2D keypoints:
            ``center_mode`` ('static' | 'root', default 'static'),
            ``center_x`` (default 0.5), ``center_index`` (int | list[int],
            default 0).
        target_flip_cfg (dict): The same for the 3D target.
        flip_prob (float): Probability of a flip (flips when a uniform draw
            is ``<= flip_prob``, as MMPose). Defaults to 0.5.
        flip_camera (bool): Also mirror the camera parameters. Defaults to
            False.
        flip_label (bool): Flip the encoded labels instead of the raw data.
            Defaults to False.
    """

    def __init__(self, keypoints_flip_cfg: dict, target_flip_cfg: dict,
                 flip_prob: float = 0.5, flip_camera: bool = False,
                 flip_label: bool = False) -> None:
        self.keypoints_flip_cfg = dict(keypoints_flip_cfg)
        self.target_flip_cfg = dict(target_flip_cfg)
        self._keypoints_flip = _check_flip_cfg('keypoints_flip_cfg',
                                               keypoints_flip_cfg)
        self._target_flip = _check_flip_cfg('target_flip_cfg',
                                            target_flip_cfg)
        self.flip_prob = flip_prob
        self.flip_camera = flip_camera
        self.flip_label = flip_label

    def _draw(self) -> bool:
        return bool(np.random.rand() <= self.flip_prob)

    def __call__(self, results: dict) -> dict:
        if self._draw():
            self.flip(results)
        return results

    def flip(self, results: dict) -> dict:
        """Mirror the sample in place (no randomness)."""
        if self.flip_label:
            kpt_key, vis_key, target_key = (
                'keypoint_labels', 'keypoint_labels_visible',
                'lifting_target_label')
        else:
            kpt_key, vis_key, target_key = (
                'keypoints', 'keypoints_visible', 'lifting_target')
        for key in (kpt_key, target_key, 'flip_indices'):
            if key not in results:
                raise KeyError(f'RandomFlipAroundRoot(flip_label='
                               f'{self.flip_label}) needs {key!r}')
        keypoints = results[kpt_key]
        target = results[target_key]
        flip_indices = results['flip_indices']
        results[kpt_key], results[vis_key] = flip_keypoints_custom_center(
            keypoints, _visible_or_ones(results, vis_key, keypoints),
            flip_indices, **self._keypoints_flip)
        results[target_key], results['lifting_target_visible'] = \
            flip_keypoints_custom_center(
                target, _visible_or_ones(results, 'lifting_target_visible',
                                         target),
                flip_indices, **self._target_flip)
        if self.flip_camera:
            results['camera_param'] = _flip_camera(results.get('camera_param'))
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(keypoints_flip_cfg='
                f'{self.keypoints_flip_cfg}, target_flip_cfg='
                f'{self.target_flip_cfg}, flip_prob={self.flip_prob}, '
                f'flip_camera={self.flip_camera}, '
                f'flip_label={self.flip_label})')


def _visible_or_ones(results: dict, key: str,
                     keypoints: np.ndarray) -> np.ndarray:
    if key in results:
        return results[key]
    return np.ones(keypoints.shape[:-1], dtype=np.float32)


def _flip_camera(camera_param: dict | None) -> dict:
    """A copy with ``c[0]`` (and ``p[0]`` if present) negated."""
    if not camera_param or 'c' not in camera_param:
        raise KeyError('RandomFlipAroundRoot(flip_camera=True) needs '
                       'camera_param with "c"')
    flipped = dict(camera_param)
    for key in ('c', 'p'):
        if key in flipped:
            value = np.array(flipped[key], copy=True)
            value[0] *= -1
            flipped[key] = value
    return flipped
