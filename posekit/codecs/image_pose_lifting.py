"""ImagePoseLifting: targets of single-frame 2D -> 3D lifting (SimpleBaseline3D,
Martinez et al., 2017)."""
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from posekit.registry import KEYPOINT_CODECS
from .base import BaseKeypointCodec, visibility_or_ones
from .utils.lifting import (check_root_index, flatten_keypoint_labels,
                            lifting_target_weights, remove_root_joint)

LIFTING_INSTANCE_TABLE = dict(lifting_target='lifting_target',
                              lifting_target_visible='lifting_target_visible')
LIFTING_LABEL_TABLE = dict(trajectory_weights='trajectory_weights',
                           lifting_target_label='lifting_target_label',
                           lifting_target_weight='lifting_target_weight')


def _statistics(mean, std, num_keypoints: int, name: str):
    """Mean/std config lists -> float32 (1, K, D) arrays (or None, None)."""
    if mean is None:
        if std is not None:
            raise ValueError(f'{name}_std is given without {name}_mean')
        return None, None
    if std is None:
        raise ValueError(f'{name}_mean is given without {name}_std')
    mean = np.array(mean, dtype=np.float32).reshape(1, num_keypoints, -1)
    std = np.array(std, dtype=np.float32).reshape(1, num_keypoints, -1)
    if mean.shape != std.shape:
        raise ValueError(f'{name}_mean {mean.shape} and {name}_std '
                         f'{std.shape} differ in shape')
    return mean, std


def restore_root(keypoints: np.ndarray, target_root: Optional[np.ndarray],
                 root_index: List[int], root_removed: bool) -> np.ndarray:
    """Root-relative joints -> absolute joints (the decoding of both
    ImagePoseLifting and VideoPoseLifting).

    Args:
        keypoints (np.ndarray): (B, T, K, C) or (B, K, C) root-relative.
        target_root (np.ndarray, optional): broadcastable to ``keypoints``,
            e.g. (B, T, C) for (B, T, K, C); None or empty: no change.
        root_index (list[int]): Root joint(s) of the encoder.
        root_removed (bool): The root joint was removed at encoding; it is
            inserted back at ``root_index`` along axis 1 (MMPose's axis,
            the joint axis of (B, K, C) outputs).

    Returns:
        np.ndarray: absolute joints.
    """
    if target_root is None or target_root.size == 0:
        return keypoints
    keypoints = keypoints + target_root
    if root_removed:
        keypoints = np.insert(keypoints, root_index, target_root, axis=1)
    return keypoints


@KEYPOINT_CODECS.register_module()
class ImagePoseLifting(BaseKeypointCodec):
    """2D keypoints (optionally standardised) -> root-relative 3D target.

    Encoding centres the 3D target on the mean of its ``root_index`` joints
    (``target_root``, same units as the target: metres for H3.6M), drops
    the root when ``remove_root`` (one root only), then standardises with
    ``target_mean``/``target_std``; the 2D keypoints (pixels) are
    standardised with ``keypoints_mean``/``keypoints_std``. Decoding undoes
    the target standardisation and adds ``target_root`` back.

    Args:
        num_keypoints (int): K.
        root_index (int | list[int]): Root joint(s). Defaults to 0.
        remove_root (bool): Drop the (all-zero) root from the target.
            Defaults to False.
        save_index (bool): Also output ``target_root_index`` when the root
            is removed. Defaults to False.
        reshape_keypoints (bool): Input as ``(K * D, T)`` instead of
            ``(T, K, D)``. Defaults to True.
        concat_vis (bool): Append the 2D visibility as a channel. Defaults
            to False.
        keypoints_mean, keypoints_std (array-like, optional): (K, D) pixels.
        target_mean, target_std (array-like, optional): (K, C) or
            (K - 1, C) with ``remove_root``, root-relative target units.
        additional_encode_keys (list[str], optional): More results keys
            passed to ``encode`` by ``GenerateTarget``. ``encode`` takes no
            other keys, so any given here raises there.

    Encoded:
        keypoint_labels (K * D, T) or (T, K, D); keypoint_labels_visible
        (T, K); lifting_target_label (T', K[-1], C); lifting_target_weight
        (T', K[-1]); trajectory_weights; target_root (T', C) float32; and,
        as configured, keypoints_mean/std, target_mean/std,
        target_root_removed, target_root_index.
    """

    auxiliary_encode_keys = frozenset({'lifting_target',
                                       'lifting_target_visible'})
    instance_mapping_table = LIFTING_INSTANCE_TABLE
    label_mapping_table = LIFTING_LABEL_TABLE

    def __init__(self, num_keypoints: int,
                 root_index: Union[int, List[int]] = 0,
                 remove_root: bool = False, save_index: bool = False,
                 reshape_keypoints: bool = True, concat_vis: bool = False,
                 keypoints_mean: Optional[Sequence] = None,
                 keypoints_std: Optional[Sequence] = None,
                 target_mean: Optional[Sequence] = None,
                 target_std: Optional[Sequence] = None,
                 additional_encode_keys: Optional[List[str]] = None) -> None:
        self.num_keypoints = num_keypoints
        self.root_index = [root_index] if isinstance(root_index, int) \
            else list(root_index)
        self.remove_root = remove_root
        self.save_index = save_index
        self.reshape_keypoints = reshape_keypoints
        self.concat_vis = concat_vis
        self.keypoints_mean, self.keypoints_std = _statistics(
            keypoints_mean, keypoints_std, num_keypoints, 'keypoints')
        target_k = num_keypoints - 1 if remove_root else num_keypoints
        self.target_mean, self.target_std = _statistics(
            target_mean, target_std, target_k, 'target')
        if additional_encode_keys:
            # per instance: MMPose adds them to the class-wide set
            self.auxiliary_encode_keys = (type(self).auxiliary_encode_keys |
                                          set(additional_encode_keys))

    @property
    def root_removed(self) -> bool:
        """The root is dropped only when there is a single root joint."""
        return self.remove_root and len(self.root_index) == 1

    def encode(self, keypoints: np.ndarray,
               keypoints_visible: Optional[np.ndarray] = None,
               lifting_target: Optional[np.ndarray] = None,
               lifting_target_visible: Optional[np.ndarray] = None) -> dict:
        """Encode one sample.

        Args:
            keypoints (np.ndarray): (T, K, D) 2D keypoints, pixels.
            keypoints_visible (np.ndarray, optional): (T, K).
            lifting_target (np.ndarray): (T', K, C) 3D target.
            lifting_target_visible (np.ndarray, optional): (T', K).

        Returns:
            dict: see the class docstring.
        """
        keypoints = np.asarray(keypoints)
        keypoints_visible = visibility_or_ones(keypoints, keypoints_visible)
        if lifting_target is None:
            raise ValueError(f'{type(self).__name__}.encode needs '
                             'lifting_target (T, K, C)')
        check_root_index(lifting_target, self.root_index)
        target_visible, weights, trajectory = lifting_target_weights(
            lifting_target, lifting_target_visible)
        encoded = {}
        root = np.mean(lifting_target[..., self.root_index, :], axis=-2,
                       dtype=np.float32)
        label = lifting_target - root[..., None, :]
        if self.root_removed:
            label, target_visible, weights = remove_root_joint(
                label, target_visible, weights, self.root_index[0])
            encoded['target_root_removed'] = True
            if self.save_index:
                encoded['target_root_index'] = self.root_index[0]

        keypoint_labels = keypoints.copy()
        if self.keypoints_mean is not None:
            self._check_shape('keypoints_mean', self.keypoints_mean[0],
                              keypoints.shape[1:])
            encoded['keypoints_mean'] = self.keypoints_mean.copy()
            encoded['keypoints_std'] = self.keypoints_std.copy()
            keypoint_labels = (keypoint_labels - self.keypoints_mean) / \
                self.keypoints_std
        if self.target_mean is not None:
            self._check_shape('target_mean', self.target_mean, label.shape)
            encoded['target_mean'] = self.target_mean.copy()
            encoded['target_std'] = self.target_std.copy()
            label = (label - self.target_mean) / self.target_std

        encoded['keypoint_labels'] = flatten_keypoint_labels(
            keypoint_labels, keypoints_visible, self.concat_vis,
            self.reshape_keypoints)
        encoded['keypoint_labels_visible'] = keypoints_visible
        encoded['lifting_target_label'] = label
        encoded['lifting_target_weight'] = weights
        encoded['trajectory_weights'] = trajectory
        encoded['target_root'] = root
        return encoded

    def decode(self, encoded: np.ndarray,
               target_root: Optional[np.ndarray] = None
               ) -> Tuple[np.ndarray, np.ndarray]:
        """Standardised root-relative prediction -> absolute 3D joints.

        Args:
            encoded (np.ndarray): (B, K', C) or (B, T, K', C) prediction
                (``K' = K - 1`` with the root removed).
            target_root (np.ndarray, optional): the encoder's
                ``target_root``, broadcastable to ``encoded`` (e.g. (B, 1, C)
                for (B, 1, K, C)); None or empty: stay root-relative.

        Returns:
            tuple: keypoints (same layout, K joints when the root is put
            back) and scores (ones of keypoints.shape[:-1], float32).
        """
        keypoints = np.array(encoded, copy=True)
        if self.target_mean is not None:
            self._check_shape('target_mean', self.target_mean,
                              keypoints.shape)
            keypoints = keypoints * self.target_std + self.target_mean
        keypoints = restore_root(keypoints, target_root, self.root_index,
                                 self.root_removed)
        return keypoints, np.ones(keypoints.shape[:-1], dtype=np.float32)

    def _check_shape(self, name: str, array: np.ndarray,
                     expected: Tuple[int, ...]) -> None:
        if array.shape != tuple(expected):
            raise ValueError(f'{type(self).__name__}: {name} has shape '
                             f'{array.shape}, the data {tuple(expected)}')
