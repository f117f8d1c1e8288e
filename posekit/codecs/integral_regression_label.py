"""IntegralRegressionLabel: normalised coordinates plus normalised heatmaps
(DSNT, Nibali et al., 2018), for integral-regression heads."""
from typing import Optional, Tuple

import numpy as np

from posekit.registry import KEYPOINT_CODECS
from .base import BaseKeypointCodec
from .msra_heatmap import MSRAHeatmap
from .regression_label import RegressionLabel


@KEYPOINT_CODECS.register_module()
class IntegralRegressionLabel(BaseKeypointCodec):
    """Keypoints -> RegressionLabel labels + MSRA heatmaps that sum to 1.

    The weights are RegressionLabel's (in-image and visible > 0.5), not the
    heatmap's. Decoding reads the regressed coordinates only.

    Args:
        input_size (tuple[int, int]): (w, h) of the network input.
        heatmap_size (tuple[int, int]): (W, H) of the heatmaps.
        sigma (float): Gaussian sigma in heatmap pixels.
        unbiased (bool): DARK heatmap encoding. Defaults to False.
        blur_kernel_size (int): DARK blur kernel size. Defaults to 11.
        normalize (bool): Divide each heatmap by its sum (+1e-24).
            Defaults to True.

    Encoded:
        keypoint_labels (N, K, 2) float32, heatmaps (K, H, W) float32 and
        keypoint_weights (N, K) float32.
    """

    label_mapping_table = {'keypoint_labels': 'keypoint_labels',
                           'keypoint_weights': 'keypoint_weights'}
    field_mapping_table = {'heatmaps': 'heatmaps'}

    def __init__(self, input_size: Tuple[int, int],
                 heatmap_size: Tuple[int, int], sigma: float,
                 unbiased: bool = False, blur_kernel_size: int = 11,
                 normalize: bool = True) -> None:
        self.heatmap_codec = MSRAHeatmap(input_size, heatmap_size, sigma,
                                         unbiased, blur_kernel_size)
        self.keypoint_codec = RegressionLabel(input_size)
        self.normalize = normalize

    def encode(self, keypoints: np.ndarray,
               keypoints_visible: Optional[np.ndarray] = None) -> dict:
        """Encode one instance, keypoints (1, K, 2) in input pixels.

        Returns:
            dict: ``keypoint_labels`` (1, K, 2), ``heatmaps`` (K, H, W),
            ``keypoint_weights`` (1, K), all float32.
        """
        heatmaps = self.heatmap_codec.encode(
            keypoints, keypoints_visible)['heatmaps']
        labels = self.keypoint_codec.encode(keypoints, keypoints_visible)
        if self.normalize:
            total = heatmaps.sum(axis=(-1, -2)).reshape(-1, 1, 1) + 1e-24
            heatmaps = heatmaps / total
        return dict(keypoint_labels=labels['keypoint_labels'],
                    heatmaps=heatmaps,
                    keypoint_weights=labels['keypoint_weights'])

    def decode(self, encoded: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """(N, K, 2 or 4) normalised coordinates -> keypoints (N, K, 2)
        float64 in input pixels and scores (N, K)."""
        return self.keypoint_codec.decode(encoded)
