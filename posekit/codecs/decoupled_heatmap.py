"""DecoupledHeatmap: the targets of CID, "Contextual Instance Decoupling for
Robust Multi-Person Pose Estimation" (Wang et al., CVPR 2022)."""
import random
from typing import Optional, Tuple

import numpy as np

from posekit.registry import KEYPOINT_CODECS
from posekit.structures import to_numpy
from .base import BaseKeypointCodec, visibility_or_ones
from .utils import generate_gaussian_heatmaps
from .utils.decoupled import (decode_instance_heatmaps,
                              get_instance_wise_sigmas, select_instances)
from .utils.instance_property import (bbox_xyxy_to_corners, check_root_type,
                                      get_diagonal_lengths, get_instance_bbox,
                                      get_instance_root)


@KEYPOINT_CODECS.register_module()
class DecoupledHeatmap(BaseKeypointCodec):
    """Keypoints <-> global heatmaps plus one heatmap set per instance.

    Input pixel ``p`` maps to heatmap pixel ``p / s`` with ``s = input_size
    / heatmap_size`` (float32, per axis); decoding multiplies by ``s`` (the
    CID head then adds half a stride). Each instance gets a sigma from its
    box (:func:`~posekit.codecs.utils.decoupled.get_instance_wise_sigmas`).

    Args:
        input_size (tuple[int, int]): (w, h) of the network input.
        heatmap_size (tuple[int, int]): (W, H) of the heatmaps.
        root_type (str): ``'kpt_center'`` or ``'bbox_center'``.
        heatmap_min_overlap (float): IoU that sets the sigmas. Defaults 0.7.
        encode_max_instances (int): Most training instances per image.
            Defaults to 30.

    Encoded:
        heatmaps (K + 1, H, W) float32 (keypoints, then roots);
        instance_heatmaps (M * K, H, W) float32; keypoint_weights (M, K);
        instance_coords (M, 2) int32, M <= N the chosen instances.
    """

    # the box of each instance sets its sigma
    auxiliary_encode_keys = frozenset({'bbox'})
    label_mapping_table = {
        'keypoint_weights': 'keypoint_weights',
        'instance_coords': 'instance_coords',
    }
    field_mapping_table = {
        'heatmaps': 'heatmaps',
        'instance_heatmaps': 'instance_heatmaps',
    }

    def __init__(self, input_size: Tuple[int, int],
                 heatmap_size: Tuple[int, int],
                 root_type: str = 'kpt_center',
                 heatmap_min_overlap: float = 0.7,
                 encode_max_instances: int = 30) -> None:
        check_root_type(root_type)
        if not 0 < heatmap_min_overlap < 1:
            raise ValueError('DecoupledHeatmap: heatmap_min_overlap must be '
                             f'in (0, 1), got {heatmap_min_overlap}')
        self.input_size = input_size
        self.heatmap_size = heatmap_size
        self.root_type = root_type
        self.encode_max_instances = encode_max_instances
        self.heatmap_min_overlap = heatmap_min_overlap
        self.scale_factor = (np.array(input_size) /
                             heatmap_size).astype(np.float32)

    def encode(self, keypoints: np.ndarray,
               keypoints_visible: Optional[np.ndarray] = None,
               bbox: Optional[np.ndarray] = None) -> dict:
        """Draw the global and instance heatmaps.

        Training instances are visited small to large with a random
        {-1, 0, 1} root jitter, drawn from numpy's and Python's global
        generators as MMPose does (seed them for reproducible targets).

        Args:
            keypoints (np.ndarray): (N, K, 2) float, input pixels.
            keypoints_visible (np.ndarray, optional): (N, K); None means
                all visible.
            bbox (np.ndarray, optional): (N, 4, 2) box corners in input
                pixels (left-top, left-bottom, right-top, right-bottom, as
                ``BottomupRandomAffine`` keeps them); None means the box of
                the visible keypoints.

        Returns:
            dict: see the class docstring. Without a chosen instance,
            ``instance_heatmaps`` is (0, H, W), ``keypoint_weights`` (0, K)
            and ``instance_coords`` (0, 2).
        """
        keypoints = np.asarray(keypoints)
        visible = visibility_or_ones(keypoints, keypoints_visible)
        N, K = visible.shape
        if bbox is None:
            bbox = bbox_xyxy_to_corners(get_instance_bbox(keypoints, visible))
        bbox = np.asarray(bbox)
        if bbox.size != N * 8:
            raise ValueError(f'bbox must hold 4 corners per instance, (N, 4, '
                             f'2) with N = {N}, got shape {bbox.shape}')
        scaled = keypoints / self.scale_factor
        corners = bbox.reshape(-1, 4, 2) / self.scale_factor
        roots, roots_visible = get_instance_root(scaled, visible,
                                                 self.root_type)
        sigmas = get_instance_wise_sigmas(corners, self.heatmap_min_overlap)
        heatmaps, weights = generate_gaussian_heatmaps(
            self.heatmap_size, np.concatenate((scaled, roots[:, None]), 1),
            np.concatenate((visible, roots_visible[:, None]), 1), sigmas)
        indices, coords = select_instances(
            roots, weights[:, -1], get_diagonal_lengths(scaled, visible),
            self.heatmap_size, self.encode_max_instances, np.random, random)
        W, H = self.heatmap_size
        inst_maps = [np.zeros((0, H, W), np.float32)]
        inst_weights = [np.zeros((0, K), np.float32)]
        for i in indices:
            # a Python float sigma, as MMPose passes it (its window maths
            # depends on the scalar type)
            maps, w = generate_gaussian_heatmaps(
                self.heatmap_size, scaled[i:i + 1], visible[i:i + 1],
                sigmas[i].item())
            inst_maps.append(maps)
            inst_weights.append(w)
        return dict(heatmaps=heatmaps,
                    instance_heatmaps=np.concatenate(inst_maps),
                    keypoint_weights=np.concatenate(inst_weights),
                    instance_coords=coords)

    def decode(self, instance_heatmaps, instance_scores
               ) -> Tuple[np.ndarray, np.ndarray]:
        """Keypoints of the instances found in one image.

        Args:
            instance_heatmaps (np.ndarray | Tensor): (N, K, H, W) float; a
                (K, H, W) array is one instance.
            instance_scores (np.ndarray | Tensor): (N, 1) or (N,) float root
                confidences.

        Returns:
            tuple: keypoints (N, K, 2) float32 in input pixels and scores
            (N, K) = keypoint heatmap maxima times the instance score.
        """
        maps = np.asarray(to_numpy(instance_heatmaps))
        if maps.ndim == 3:
            maps = maps[None]
        if maps.ndim != 4:
            raise ValueError('instance_heatmaps must be (N, K, H, W), got '
                             f'shape {maps.shape}')
        inst = np.asarray(to_numpy(instance_scores))
        if inst.size != len(maps):
            raise ValueError('instance_scores must hold one score per '
                             f'instance ({len(maps)} in instance_heatmaps), '
                             f'got shape {inst.shape}')
        keypoints, scores = decode_instance_heatmaps(maps)
        return keypoints * self.scale_factor, scores * inst.reshape(-1, 1)
