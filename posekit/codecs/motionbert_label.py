"""MotionBERTLabel: targets of MotionBERT (Zhu et al., 2023) lifting."""
from typing import Optional, Tuple

import numpy as np

from posekit.registry import KEYPOINT_CODECS
from .base import BaseKeypointCodec, visibility_or_ones
from .image_pose_lifting import LIFTING_INSTANCE_TABLE, LIFTING_LABEL_TABLE
from .utils.lifting import (camera_to_image_coord, flatten_keypoint_labels,
                            lifting_target_weights)

MODES = ('train', 'test')


def normalize_screen(xy: np.ndarray, w: float, h: float) -> np.ndarray:
    """``x / w * 2 - 1`` and ``y / w * 2 - h / w``, in place on ``xy``'s
    dtype: x in [-1, 1] over the width, y in [-h / w, h / w], both scaled
    by the width (so the aspect ratio is kept)."""
    xy[...] = xy / w * 2 - [1, h / w]
    return xy


@KEYPOINT_CODECS.register_module()
class MotionBERTLabel(BaseKeypointCodec):
    """2D sequences in screen units <-> MotionBERT's 3D targets.

    Encoding maps the 2D keypoints (pixels) to :func:`normalize_screen`
    units. With ``camera_param`` ``f`` and ``c``, the camera-space target
    (metres) goes to "image coordinates" (:func:`camera_to_image_coord`:
    pixels / 1000, depth in the same units, root-relative) and the factor
    back to metres is computed (4 when it cannot be). In ``'train'`` mode
    the target is then normalised like the 2D input (with ``w / 1000``,
    ``h / 1000``); every target is made relative to joint ``root_index``;
    in ``'test'`` mode it is multiplied by the factor (camera units). The
    dataset's ``factor``, when given and nonzero, replaces the computed one.

    Decoding maps screen units back to pixels (with ``w``, ``h``), scales
    by the factor, makes the pose relative to ``root_index`` and divides by
    1000 (MMPose's final unit change; H3.6M metrics then read metres).

    Args:
        num_keypoints (int): K.
        root_index (int): Root joint. Defaults to 0.
        remove_root (bool): Accepted for MMPose configs; MMPose 1.3.2's
            MotionBERTLabel ignores it, so True raises. Defaults to False.
        save_index (bool): As ``remove_root``. Defaults to False.
        concat_vis (bool): Append the 2D visibility as a channel. Defaults
            to False.
        rootrel (bool): Decoding sets joint 0 (MMPose uses index 0 here,
            not ``root_index``) to zero first. Defaults to False.
        mode (str): ``'train'`` or ``'test'`` (case-insensitive). Defaults
            to ``'test'``.

    Encoded:
        keypoint_labels (T, K, D[+1]); keypoint_labels_visible (T, K);
        lifting_target_label (T', K, 3); lifting_target_weight (T', K);
        lifting_target (the label again) and lifting_target_visible
        (T', K); factor (T, 1).
    """

    auxiliary_encode_keys = frozenset({'lifting_target',
                                       'lifting_target_visible',
                                       'camera_param', 'factor'})
    instance_mapping_table = LIFTING_INSTANCE_TABLE
    label_mapping_table = LIFTING_LABEL_TABLE

    def __init__(self, num_keypoints: int, root_index: int = 0,
                 remove_root: bool = False, save_index: bool = False,
                 concat_vis: bool = False, rootrel: bool = False,
                 mode: str = 'test') -> None:
        if remove_root or save_index:
            raise ValueError('MotionBERTLabel: remove_root/save_index have '
                             'no effect in MMPose 1.3.2; leave them False')
        if mode.lower() not in MODES:
            raise ValueError(f'MotionBERTLabel: mode must be one of {MODES}, '
                             f'got {mode!r}')
        self.num_keypoints = num_keypoints
        self.root_index = root_index
        self.remove_root = remove_root
        self.save_index = save_index
        self.concat_vis = concat_vis
        self.rootrel = rootrel
        self.mode = mode.lower()

    def encode(self, keypoints: np.ndarray,
               keypoints_visible: Optional[np.ndarray] = None,
               lifting_target: Optional[np.ndarray] = None,
               lifting_target_visible: Optional[np.ndarray] = None,
               camera_param: Optional[dict] = None,
               factor: Optional[np.ndarray] = None) -> dict:
        """Encode one sample.

        Args:
            keypoints (np.ndarray): (T, K, D) or (K, D) 2D keypoints, pixels.
            keypoints_visible (np.ndarray, optional): (T, K).
            lifting_target (np.ndarray): (T', K, 3) camera space.
            lifting_target_visible (np.ndarray, optional): (T', K).
            camera_param (dict): ``w``, ``h`` (pixels); ``f``, ``c``
                (2, 1) optional.
            factor (np.ndarray, optional): (T,) dataset factors; None or a
                first entry of 0 means "compute".

        Returns:
            dict: see the class docstring.
        """
        keypoints = np.asarray(keypoints)
        if keypoints.ndim not in (2, 3):
            raise ValueError('MotionBERTLabel: keypoints must be (T, K, D) or '
                             f'(K, D), got {keypoints.shape}')
        if keypoints_visible is None:
            keypoints_visible = visibility_or_ones(keypoints, None)
        if lifting_target is None:
            raise ValueError('MotionBERTLabel.encode needs lifting_target')
        camera_param = camera_param or {}
        if 'w' not in camera_param or 'h' not in camera_param:
            raise KeyError('MotionBERTLabel.encode needs camera_param with '
                           '"w" and "h" (the image size in pixels)')
        target_visible, weights, _ = lifting_target_weights(
            lifting_target, lifting_target_visible)
        w, h = camera_param['w'], camera_param['h']
        keypoint_labels = keypoints.copy()
        if keypoint_labels.ndim == 2:
            keypoint_labels = keypoint_labels[None]
        normalize_screen(keypoint_labels[..., :2], w, h)

        label = lifting_target.copy()
        computed = np.full(keypoint_labels.shape[0], 4, dtype=np.float32)
        if 'f' in camera_param and 'c' in camera_param:
            label, computed = camera_to_image_coord(self.root_index, label,
                                                    camera_param)
        if self.mode == 'train':
            w_k, h_k = w / 1000, h / 1000
            normalize_screen(label[..., :2], w_k, h_k)
            label[..., 2] = label[..., 2] / w_k * 2
        label[...] = label - label[..., self.root_index:self.root_index + 1,
                                   :]
        if factor is None or factor[0] == 0:
            factor = computed
        if factor.ndim == 1:
            factor = factor[:, None]
        if self.mode == 'test':
            label *= factor[..., None]

        return dict(
            keypoint_labels=flatten_keypoint_labels(
                keypoint_labels, keypoints_visible, self.concat_vis, False),
            keypoint_labels_visible=keypoints_visible,
            lifting_target_label=label, lifting_target_weight=weights,
            lifting_target=label, lifting_target_visible=target_visible,
            factor=factor)

    def decode(self, encoded: np.ndarray, w: Optional[np.ndarray] = None,
               h: Optional[np.ndarray] = None,
               factor: Optional[np.ndarray] = None
               ) -> Tuple[np.ndarray, np.ndarray]:
        """Prediction in screen units -> root-relative joints / 1000.

        Args:
            encoded (np.ndarray): (B, T, K, 3) prediction (B = 1 when a
                head decodes one sample).
            w, h (np.ndarray, optional): (B,) or (B, 1) image sizes; None or
                empty: no screen -> pixel step.
            factor (np.ndarray, optional): (B, T, 1) or (B, T); None or
                empty: no scaling.

        Returns:
            tuple: keypoints (B, T, K, 3) and scores (B, T, K) float32 ones.
        """
        keypoints = np.array(encoded, copy=True)
        scores = np.ones(keypoints.shape[:-1], dtype=np.float32)
        if self.rootrel:
            keypoints[..., 0, :] = 0
        if w is not None and w.size > 0:
            keypoints = self._to_pixels(keypoints, w, h)
        if factor is not None and factor.size > 0:
            if factor.shape[0] != keypoints.shape[0]:
                raise ValueError(f'MotionBERTLabel: factor {factor.shape} and '
                                 f'keypoints {keypoints.shape} differ in B')
            keypoints *= factor[..., None]
        keypoints[...] = keypoints - keypoints[
            ..., self.root_index:self.root_index + 1, :]
        keypoints /= 1000.
        return keypoints, scores

    @staticmethod
    def _to_pixels(keypoints: np.ndarray, w: np.ndarray,
                   h: np.ndarray) -> np.ndarray:
        """Inverse of :func:`normalize_screen` (x and y), depth times
        ``w / 2``."""
        if w.shape != h.shape or w.shape[0] != keypoints.shape[0] \
                or w.ndim not in (1, 2):
            raise ValueError(f'MotionBERTLabel: w {w.shape} and h {h.shape} '
                             'must both be (B,) or (B, 1) with B = '
                             f'{keypoints.shape[0]}')
        if w.ndim == 1:
            w, h = w[:, None], h[:, None]
        shift = np.append(np.ones((w.shape[0], 1)), h / w, axis=1)[:, None]
        keypoints[..., :2] = (keypoints[..., :2] + shift) * w[:, None] / 2
        keypoints[..., 2:] = keypoints[..., 2:] * w[:, None] / 2
        return keypoints
