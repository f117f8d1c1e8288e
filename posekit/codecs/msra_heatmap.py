"""MSRAHeatmap: Gaussian heatmaps of "Simple Baselines" (Xiao et al., 2018),
optionally with DARK (Zhang et al., 2020) unbiased encoding and decoding."""
from typing import Optional, Tuple

import numpy as np

from posekit.registry import KEYPOINT_CODECS
from .base import BaseKeypointCodec, check_single_instance, visibility_or_ones
from .utils import (generate_gaussian_heatmaps,
                    generate_unbiased_gaussian_heatmaps, get_heatmap_maximum,
                    refine_keypoints, refine_keypoints_dark)


@KEYPOINT_CODECS.register_module()
class MSRAHeatmap(BaseKeypointCodec):
    """Keypoints <-> one Gaussian heatmap per keypoint.

    Input pixel ``p`` maps to heatmap pixel ``p / stride`` with
    ``stride = input_size / heatmap_size`` (float32, per axis). Plain
    encoding centres a peak-1 Gaussian at the rounded heatmap pixel and
    decoding returns the argmax moved 0.25 px toward the higher neighbour;
    with ``unbiased=True`` the Gaussian sits at the exact sub-pixel position
    and decoding is DARK (blur, log, one Newton step).

    Args:
        input_size (tuple[int, int]): (w, h) of the network input.
        heatmap_size (tuple[int, int]): (W, H) of the heatmaps.
        sigma (float): Gaussian sigma in heatmap pixels.
        unbiased (bool): DARK encoding/decoding. Defaults to False.
        blur_kernel_size (int): Odd kernel of DARK's blur; it should match
            sigma by ``sigma = 0.3 * ((ks - 1) * 0.5 - 1) + 0.8`` (11 for
            sigma 2, 17 for about 3). Defaults to 11.

    Encoded:
        heatmaps (K, H, W) float32 and keypoint_weights (N, K).
    """

    label_mapping_table = {'keypoint_weights': 'keypoint_weights'}
    field_mapping_table = {'heatmaps': 'heatmaps'}

    def __init__(self, input_size: Tuple[int, int],
                 heatmap_size: Tuple[int, int], sigma: float,
                 unbiased: bool = False, blur_kernel_size: int = 11) -> None:
        self.input_size = input_size
        self.heatmap_size = heatmap_size
        self.sigma = sigma
        self.unbiased = unbiased
        self.blur_kernel_size = blur_kernel_size
        self.scale_factor = (np.array(input_size) /
                             heatmap_size).astype(np.float32)

    def encode(self, keypoints: np.ndarray,
               keypoints_visible: Optional[np.ndarray] = None) -> dict:
        """Draw the heatmaps of one instance.

        Args:
            keypoints (np.ndarray): (1, K, 2) float, input pixels.
            keypoints_visible (np.ndarray, optional): (1, K) float; None
                means all visible.

        Returns:
            dict: ``heatmaps`` (K, H, W) float32; ``keypoint_weights``
            (1, K), 0 for invisible keypoints and Gaussians off the map.
        """
        keypoints = np.asarray(keypoints)
        check_single_instance(self, keypoints)
        visible = visibility_or_ones(keypoints, keypoints_visible)
        draw = (generate_unbiased_gaussian_heatmaps if self.unbiased
                else generate_gaussian_heatmaps)
        heatmaps, weights = draw(self.heatmap_size,
                                 keypoints / self.scale_factor, visible,
                                 self.sigma)
        return dict(heatmaps=heatmaps, keypoint_weights=weights)

    def decode(self, encoded: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Heatmaps of one sample -> keypoints in input pixels.

        Args:
            encoded (np.ndarray): (K, H, W) float heatmaps.

        Returns:
            tuple: keypoints (1, K, 2) float32 and scores (1, K) (the heatmap
            maxima).
        """
        heatmaps = np.asarray(encoded)
        locs, scores = get_heatmap_maximum(heatmaps)
        locs = locs[None]
        if self.unbiased:
            locs = refine_keypoints_dark(locs, heatmaps,
                                         self.blur_kernel_size)
        else:
            locs = refine_keypoints(locs, heatmaps)
        return locs * self.scale_factor, scores[None]
