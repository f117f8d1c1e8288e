"""MegviiHeatmap: blurred one-hot heatmaps of CPN (Chen et al., 2018) and
MSPN (Li et al., 2019)."""
from typing import Optional, Tuple

import numpy as np

from posekit.registry import KEYPOINT_CODECS
from .base import BaseKeypointCodec, check_single_instance, visibility_or_ones
from .utils import (gaussian_blur, generate_megvii_heatmaps,
                    get_heatmap_maximum, refine_keypoints_megvii)


@KEYPOINT_CODECS.register_module()
class MegviiHeatmap(BaseKeypointCodec):
    """Keypoints <-> blurred one-hot heatmaps with peak 255.

    Input pixel ``p`` maps to heatmap pixel ``int(p / stride)`` (truncated),
    ``stride = input_size / heatmap_size``. Decoding blurs with the same
    kernel, takes the argmax, adds half a pixel plus a quarter pixel toward
    the higher neighbour (interior pixels only), and maps the score to
    ``max / 255 + 0.5``.

    Args:
        input_size (tuple[int, int]): (w, h) of the network input.
        heatmap_size (tuple[int, int]): (W, H) of the heatmaps.
        kernel_size (int): Odd Gaussian kernel size, in heatmap pixels.

    Encoded:
        heatmaps (K, H, W) float32 and keypoint_weights (N, K).
    """

    label_mapping_table = {'keypoint_weights': 'keypoint_weights'}
    field_mapping_table = {'heatmaps': 'heatmaps'}

    def __init__(self, input_size: Tuple[int, int],
                 heatmap_size: Tuple[int, int], kernel_size: int) -> None:
        self.input_size = input_size
        self.heatmap_size = heatmap_size
        self.kernel_size = kernel_size
        self.scale_factor = (np.array(input_size) /
                             heatmap_size).astype(np.float32)

    def encode(self, keypoints: np.ndarray,
               keypoints_visible: Optional[np.ndarray] = None) -> dict:
        """Draw the heatmaps of one instance.

        Args:
            keypoints (np.ndarray): (1, K, 2) float, input pixels.
            keypoints_visible (np.ndarray, optional): (1, K) float; None
                means all visible (MMPose requires it).

        Returns:
            dict: ``heatmaps`` (K, H, W) float32 in [0, 255];
            ``keypoint_weights`` (1, K).
        """
        keypoints = np.asarray(keypoints)
        check_single_instance(self, keypoints)
        visible = visibility_or_ones(keypoints, keypoints_visible)
        heatmaps, weights = generate_megvii_heatmaps(
            self.heatmap_size, keypoints / self.scale_factor, visible,
            self.kernel_size)
        return dict(heatmaps=heatmaps, keypoint_weights=weights)

    def decode(self, encoded: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Heatmaps of one sample -> keypoints in input pixels.

        Args:
            encoded (np.ndarray): (K, H, W) float heatmaps (0..255 scale).

        Returns:
            tuple: keypoints (1, K, 2) float32 and scores (1, K).
        """
        heatmaps = gaussian_blur(np.asarray(encoded), self.kernel_size)
        locs, scores = get_heatmap_maximum(heatmaps)
        locs = refine_keypoints_megvii(locs, heatmaps)
        scores = scores / 255.0 + 0.5
        return locs[None] * self.scale_factor, scores[None]
