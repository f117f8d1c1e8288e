"""VideoPoseLifting: targets of temporal 2D -> 3D lifting (VideoPose3D,
Pavllo et al., 2019)."""
from typing import List, Optional, Tuple, Union

import numpy as np

from posekit.registry import KEYPOINT_CODECS
from .base import BaseKeypointCodec, visibility_or_ones
from .image_pose_lifting import (LIFTING_INSTANCE_TABLE, LIFTING_LABEL_TABLE,
                                 restore_root)
from .utils.lifting import (check_root_index, flatten_keypoint_labels,
                            lifting_target_weights, normalize_camera_param,
                            remove_root_joint)


@KEYPOINT_CODECS.register_module()
class VideoPoseLifting(BaseKeypointCodec):
    """2D keypoint sequence normalised by the image size -> 3D target.

    The 2D keypoints (pixels) become ``(p - (w / 2, h / 2)) / (w / 2)``
    with ``w``, ``h`` from ``camera_param``: x in [-1, 1], y in
    [-h / w, h / w], y down as in the image. With ``zero_center`` the 3D
    target (camera space, metres for H3.6M) is made relative to the mean
    of its ``root_index`` joints (``target_root``), optionally dropping the
    root. Decoding adds ``target_root`` back.

    Args:
        num_keypoints (int): K.
        zero_center (bool): Root-relative target. Defaults to True.
        root_index (int | list[int]): Root joint(s). Defaults to 0.
        remove_root (bool): Drop the root from the target (one root only;
            needs ``zero_center``). Defaults to False.
        save_index (bool): Also output ``target_root_index`` when the root
            is removed. Defaults to False.
        reshape_keypoints (bool): Input as ``(K * D, T)`` instead of
            ``(T, K, D)``. Defaults to True.
        concat_vis (bool): Append the 2D visibility as a channel. Defaults
            to False.
        normalize_camera (bool): Also output ``camera_param`` with ``f``
            and ``c`` in the normalised 2D frame. Defaults to False.

    Encoded:
        keypoint_labels (K * D, T) or (T, K, D); keypoints_visible (T, K);
        lifting_target_label (T', K[-1], C); lifting_target_weight
        (T', K[-1]); trajectory_weights; and, as configured, target_root
        (T', C), target_root_removed, target_root_index, camera_param.
    """

    auxiliary_encode_keys = frozenset({'lifting_target',
                                       'lifting_target_visible',
                                       'camera_param'})
    instance_mapping_table = LIFTING_INSTANCE_TABLE
    label_mapping_table = LIFTING_LABEL_TABLE

    def __init__(self, num_keypoints: int, zero_center: bool = True,
                 root_index: Union[int, List[int]] = 0,
                 remove_root: bool = False, save_index: bool = False,
                 reshape_keypoints: bool = True, concat_vis: bool = False,
                 normalize_camera: bool = False) -> None:
        self.num_keypoints = num_keypoints
        self.zero_center = zero_center
        self.root_index = [root_index] if isinstance(root_index, int) \
            else list(root_index)
        self.remove_root = remove_root
        self.save_index = save_index
        self.reshape_keypoints = reshape_keypoints
        self.concat_vis = concat_vis
        self.normalize_camera = normalize_camera
        if remove_root and not zero_center:
            # MMPose would keep the root at encoding but insert one again
            # at decoding
            raise ValueError('VideoPoseLifting: remove_root=True needs '
                             'zero_center=True')

    @property
    def root_removed(self) -> bool:
        """Removed only when zero-centred on a single root joint."""
        return (self.zero_center and self.remove_root
                and len(self.root_index) == 1)

    def encode(self, keypoints: np.ndarray,
               keypoints_visible: Optional[np.ndarray] = None,
               lifting_target: Optional[np.ndarray] = None,
               lifting_target_visible: Optional[np.ndarray] = None,
               camera_param: Optional[dict] = None) -> dict:
        """Encode one sample.

        Args:
            keypoints (np.ndarray): (T, K, D) 2D keypoints, pixels.
            keypoints_visible (np.ndarray, optional): (T, K).
            lifting_target (np.ndarray): (T', K, C) 3D target.
            lifting_target_visible (np.ndarray, optional): (T', K).
            camera_param (dict): with ``w`` and ``h`` (pixels); ``f`` and
                ``c`` too with ``normalize_camera``.

        Returns:
            dict: see the class docstring.
        """
        keypoints = np.asarray(keypoints)
        keypoints_visible = visibility_or_ones(keypoints, keypoints_visible)
        if lifting_target is None:
            raise ValueError('VideoPoseLifting.encode needs lifting_target '
                             '(T, K, C)')
        if not camera_param or 'w' not in camera_param \
                or 'h' not in camera_param:
            raise KeyError('VideoPoseLifting.encode needs camera_param with '
                           '"w" and "h" (the image size in pixels)')
        target_visible, weights, trajectory = lifting_target_weights(
            lifting_target, lifting_target_visible)
        encoded = {}
        label = lifting_target.copy()
        if self.zero_center:
            check_root_index(lifting_target, self.root_index)
            root = np.mean(lifting_target[..., self.root_index, :], axis=-2)
            label -= root[..., None, :]
            encoded['target_root'] = root
            if self.root_removed:
                label, target_visible, weights = remove_root_joint(
                    label, target_visible, weights, self.root_index[0])
                encoded['target_root_removed'] = True
                if self.save_index:
                    encoded['target_root_index'] = self.root_index[0]

        w, h = camera_param['w'], camera_param['h']
        center = np.array([0.5 * w, 0.5 * h], dtype=np.float32)
        scale = np.array(0.5 * w, dtype=np.float32)
        keypoint_labels = (keypoints - center) / scale
        if self.normalize_camera:
            encoded['camera_param'] = normalize_camera_param(
                camera_param, center, scale)

        encoded['keypoint_labels'] = flatten_keypoint_labels(
            keypoint_labels, keypoints_visible, self.concat_vis,
            self.reshape_keypoints)
        encoded['keypoints_visible'] = keypoints_visible
        encoded['lifting_target_label'] = label
        encoded['lifting_target_weight'] = weights
        encoded['trajectory_weights'] = trajectory
        return encoded

    def decode(self, encoded: np.ndarray,
               target_root: Optional[np.ndarray] = None
               ) -> Tuple[np.ndarray, np.ndarray]:
        """Root-relative prediction -> absolute 3D joints.

        Args:
            encoded (np.ndarray): (B, K', C) or (B, T, K', C) prediction.
            target_root (np.ndarray, optional): the encoder's
                ``target_root``, broadcastable to ``encoded``; None or
                empty: stay root-relative.

        Returns:
            tuple: keypoints and scores (ones of keypoints.shape[:-1],
            float32).
        """
        keypoints = restore_root(np.array(encoded, copy=True), target_root,
                                 self.root_index, self.root_removed)
        return keypoints, np.ones(keypoints.shape[:-1], dtype=np.float32)
