"""Hand3DHeatmap: InterNet's targets (Moon et al., InterHand2.6M, 2020).

One 3D Gaussian volume per keypoint (x, y in heatmap pixels, z the depth
relative to the hand root binned into ``D`` slices), plus the relative depth
of the left root to the right root binned into ``heatmap_size_root`` bins and
the two-label hand type.
"""
from typing import Optional, Sequence, Tuple, Union

import numpy as np

from posekit.registry import KEYPOINT_CODECS
from .base import BaseKeypointCodec, visibility_or_ones


def generate_3d_gaussian_heatmaps(
        heatmap_size: Sequence[int], keypoints: np.ndarray,
        keypoints_visible: np.ndarray, sigma: Union[float, Sequence[float]],
        image_size: Sequence[int], depth_bound: float = 400.0,
        max_bound: float = 1.0) -> Tuple[np.ndarray, np.ndarray]:
    """Draw a Gaussian volume per keypoint.

    Heatmap voxel of keypoint ``(x, y, z)``: ``(x * W / w, y * H / h,
    (z / depth_bound + 0.5) * D)``. Each Gaussian is evaluated on the
    ``(2 * 3 sigma + 1)^3`` offsets around that point, each offset rounded
    (half to even, as numpy) and clipped into the volume, so keypoints
    outside it still paint its border (MMPose does the same); overlapping
    instances keep the maximum. Visibility does not stop the drawing; it
    only sets the weights, which are also zeroed for depths outside
    ``[0, D)``.

    Args:
        heatmap_size (Sequence[int]): (W, H, D).
        keypoints (np.ndarray): (N, K, 3) float: x, y in input pixels, z
            the depth relative to the root in camera units (mm).
        keypoints_visible (np.ndarray): (N, K) float.
        sigma (float | Sequence[float]): Gaussian sigma in voxels, one for
            all or one per instance.
        image_size (Sequence[int]): (w, h) of the input image.
        depth_bound (float): Depth range covered by the D slices.
        max_bound (float): Peak value.

    Returns:
        tuple: heatmaps (K * D, H, W) float32 and keypoint_weights (N, K).
    """
    # numpy ints (not Python ints) keep MMPose's float64 promotion of mu
    W, H, D = np.asarray(heatmap_size)
    N, K, _ = keypoints.shape
    heatmaps = np.zeros((K, D, H, W), dtype=np.float32)
    weights = np.array(keypoints_visible, copy=True)
    sigmas = [sigma] * N if np.isscalar(sigma) else list(sigma)
    for n in range(N):
        mu = np.stack([keypoints[n, :, 0] * W / image_size[0],
                       keypoints[n, :, 1] * H / image_size[1],
                       (keypoints[n, :, 2] / depth_bound + 0.5) * D], -1)
        weights[n] = weights[n] * (mu[:, 2] >= 0) * (mu[:, 2] < D)
        radius = sigmas[n] * 3
        offsets = np.arange(2 * radius + 1, dtype=np.float32) - radius
        # (K, S) rounded, clipped voxel indices per axis
        axes = [np.clip(np.round(offsets[None] + mu[:, i:i + 1]), 0, size - 1)
                for i, size in enumerate((W, H, D))]
        sq = [(a - mu[:, i:i + 1])**2 for i, a in enumerate(axes)]
        dist2 = (sq[2][:, :, None, None] + sq[1][:, None, :, None] +
                 sq[0][:, None, None, :])                    # (K, z, y, x)
        gauss = np.exp(-dist2 / (2 * sigmas[n]**2))
        kk = np.broadcast_to(np.arange(K)[:, None, None, None], gauss.shape)
        zz = np.broadcast_to(axes[2][:, :, None, None], gauss.shape)
        yy = np.broadcast_to(axes[1][:, None, :, None], gauss.shape)
        xx = np.broadcast_to(axes[0][:, None, None, :], gauss.shape)
        index = tuple(a.reshape(-1).astype(int) for a in (kk, zz, yy, xx))
        # clipped offsets collide on a border voxel with equal values, so
        # an unbuffered maximum equals MMPose's "last write wins"
        np.maximum.at(heatmaps, index, gauss.reshape(-1).astype(np.float32))
    return (heatmaps * max_bound).reshape(-1, H, W), weights


def get_heatmap_3d_maximum(heatmaps: np.ndarray
                           ) -> Tuple[np.ndarray, np.ndarray]:
    """Argmax voxel of each (D, H, W) volume.

    Args:
        heatmaps (np.ndarray): (K, D, H, W).

    Returns:
        tuple: locations (K, 3) float32 as (x, y, z) voxel indices (-1 where
        the maximum is <= 0) and maxima (K,).
    """
    K, D, H, W = heatmaps.shape
    flat = heatmaps.reshape(K, -1)
    z, y, x = np.unravel_index(np.argmax(flat, axis=1), (D, H, W))
    locs = np.stack((x, y, z), axis=-1).astype(np.float32)
    vals = np.amax(flat, axis=1)
    locs[vals <= 0.] = -1
    return locs, vals


@KEYPOINT_CODECS.register_module()
class Hand3DHeatmap(BaseKeypointCodec):
    """Hand keypoints <-> 3D heatmaps, root depth bin, hand type.

    Args:
        image_size (Sequence[int]): (w, h) of the network input.
        root_heatmap_size (int): Bins of the root-depth output (decoding).
        heatmap_size (Sequence[int]): (W, H, D) of the 3D heatmaps.
        heatmap3d_depth_bound (float): Relative depth range (mm) of the D
            slices, centred on the root.
        heatmap_size_root (int): Bins of the root-depth target (encoding).
        root_depth_bound (float): Range (mm) of the relative root depth.
        depth_size (int): Slices used to decode keypoint depth.
        use_different_joint_weights (bool): Multiply the weights by the
            dataset's per-keypoint weights.
        sigma (float): Gaussian sigma in voxels.
        joint_indices (list[int], optional): Draw only these keypoints.
        max_bound (float): Heatmap peak value.

    Encoded:
        heatmaps (K * D, H, W) float32, keypoint_weights (N, K),
        root_depth (1,) in bins, root_depth_weight (1,), type (hand type as
        given, (1, 2) for [right, left]) and type_weight (hand_type_valid).
    """

    auxiliary_encode_keys = frozenset({
        'dataset_keypoint_weights', 'rel_root_depth', 'rel_root_valid',
        'hand_type', 'hand_type_valid', 'focal', 'principal_pt'})
    field_mapping_table = {'heatmaps': 'heatmaps'}
    instance_mapping_table = {'keypoints': 'keypoints',
                              'keypoints_visible': 'keypoints_visible',
                              'keypoints_cam': 'keypoints_cam'}
    label_mapping_table = {'keypoint_weights': 'keypoint_weights',
                           'root_depth_weight': 'root_depth_weight',
                           'type_weight': 'type_weight',
                           'root_depth': 'root_depth', 'type': 'type'}

    def __init__(self, image_size: Sequence[int] = (256, 256),
                 root_heatmap_size: int = 64,
                 heatmap_size: Sequence[int] = (64, 64, 64),
                 heatmap3d_depth_bound: float = 400.0,
                 heatmap_size_root: int = 64,
                 root_depth_bound: float = 400.0, depth_size: int = 64,
                 use_different_joint_weights: bool = False,
                 sigma: float = 2, joint_indices: Optional[list] = None,
                 max_bound: float = 1.0) -> None:
        self.image_size = np.array(image_size)
        self.root_heatmap_size = root_heatmap_size
        self.heatmap_size = np.array(heatmap_size)
        self.heatmap3d_depth_bound = heatmap3d_depth_bound
        self.heatmap_size_root = heatmap_size_root
        self.root_depth_bound = root_depth_bound
        self.depth_size = depth_size
        self.use_different_joint_weights = use_different_joint_weights
        self.sigma = sigma
        self.joint_indices = joint_indices
        self.max_bound = max_bound
        self.scale_factor = (self.image_size /
                             self.heatmap_size[:-1]).astype(np.float32)

    def encode(self, keypoints: np.ndarray,
               keypoints_visible: Optional[np.ndarray] = None,
               dataset_keypoint_weights: Optional[np.ndarray] = None,
               rel_root_depth: float = 0.0, rel_root_valid: float = 1.0,
               hand_type: Optional[np.ndarray] = None,
               hand_type_valid: Optional[np.ndarray] = None,
               focal: Optional[np.ndarray] = None,
               principal_pt: Optional[np.ndarray] = None) -> dict:
        """Targets of one sample.

        Args:
            keypoints (np.ndarray): (N, K, 3): x, y input pixels, z depth
                relative to the root (mm).
            keypoints_visible (np.ndarray, optional): (N, K).
            dataset_keypoint_weights (np.ndarray, optional): (K,), needed
                with ``use_different_joint_weights``.
            rel_root_depth (float): Left-root minus right-root depth (mm).
            rel_root_valid (float): 1 if both roots are annotated.
            hand_type (np.ndarray): (1, 2) [right, left] labels.
            hand_type_valid (np.ndarray): (1,).
            focal, principal_pt: Accepted (the pipeline passes them), unused.

        Returns:
            dict: see the class docstring.
        """
        if hand_type is None or hand_type_valid is None:
            raise ValueError('Hand3DHeatmap.encode needs hand_type and '
                             'hand_type_valid (from InterHand3DDataset)')
        visible = visibility_or_ones(keypoints, keypoints_visible)
        if self.joint_indices is not None:
            keypoints = keypoints[:, self.joint_indices]
            visible = visible[:, self.joint_indices]
        heatmaps, weights = generate_3d_gaussian_heatmaps(
            self.heatmap_size, keypoints, visible, self.sigma,
            self.image_size, self.heatmap3d_depth_bound, self.max_bound)
        if self.use_different_joint_weights:
            if dataset_keypoint_weights is None:
                raise ValueError('use_different_joint_weights=True needs '
                                 'dataset_keypoint_weights')
            weights = weights * dataset_keypoint_weights
        root = (rel_root_depth / self.root_depth_bound +
                0.5) * self.heatmap_size_root
        root_valid = rel_root_valid * (root >= 0) * (
            root <= self.heatmap_size_root)
        return dict(heatmaps=heatmaps, keypoint_weights=weights,
                    root_depth=root * np.ones(1, dtype=np.float32),
                    type=hand_type, type_weight=hand_type_valid,
                    root_depth_weight=root_valid * np.ones(1,
                                                           dtype=np.float32))

    def decode(self, heatmaps: np.ndarray, root_depth: np.ndarray,
               hand_type: np.ndarray):
        """One sample's head outputs -> keypoints and hand quantities.

        Args:
            heatmaps (np.ndarray): (K, D, H, W).
            root_depth (np.ndarray): (1,) soft-argmax bin of the root depth.
            hand_type (np.ndarray): (2,) logits [right, left].

        Returns:
            tuple: keypoints (1, K, 3) (x, y input pixels, z relative depth
            in mm), scores (1, K), rel_root_depth (1,) mm, hand_type (1, 2)
            int (logit > 0).
        """
        keypoints, scores = get_heatmap_3d_maximum(heatmaps)
        keypoints[:, 2] = (keypoints[:, 2] / self.depth_size -
                           0.5) * self.heatmap3d_depth_bound
        keypoints, scores = keypoints[None], scores[None]
        keypoints[..., :2] = keypoints[..., :2] * self.scale_factor
        rel_root_depth = (root_depth / self.root_heatmap_size -
                          0.5) * self.root_depth_bound
        hand_type = (hand_type > 0).reshape(1, -1).astype(int)
        return keypoints, scores, rel_root_depth, hand_type
