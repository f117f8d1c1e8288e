"""UDPHeatmap: Unbiased Data Processing (Huang et al., CVPR 2020)."""
from typing import Optional, Tuple

import numpy as np

from posekit.registry import KEYPOINT_CODECS
from .base import BaseKeypointCodec, check_single_instance, visibility_or_ones
from .utils import (decode_offset_heatmap, generate_offset_heatmap,
                    generate_udp_gaussian_heatmaps, get_heatmap_maximum,
                    refine_keypoints_dark_udp)


@KEYPOINT_CODECS.register_module()
class UDPHeatmap(BaseKeypointCodec):
    """Keypoints <-> UDP heatmaps.

    UDP measures sizes in pixel *intervals*: input pixel ``p`` maps to
    heatmap pixel ``p * (W - 1) / (w - 1)`` (so the first and last pixel
    centres of the input and the heatmap coincide), per axis. Decoding maps
    heatmap pixel ``q`` to ``q / (W - 1) * w``, i.e. to the UDP input
    coordinate times ``w / (w - 1)``, as MMPose does: the top-down
    estimator's later ``kp / input_size * bbox_scale`` step then lands on
    exactly the image point that the UDP affine warp sent to ``q``.

    ``heatmap_type='gaussian'``: a Gaussian at the exact sub-pixel position,
    decoded with UDP's DARK step. ``'combined'``: per keypoint a disc map and
    x/y offset maps (3K channels); decoding blurs the discs with a
    ``2 * blur_kernel_size + 1`` kernel, takes the argmax and adds the
    offsets read there.

    Args:
        input_size (tuple[int, int]): (w, h) of the network input.
        heatmap_size (tuple[int, int]): (W, H) of the heatmaps.
        heatmap_type (str): ``'gaussian'`` or ``'combined'``.
        sigma (float): Gaussian sigma in heatmap pixels. Defaults to 2.
        radius_factor (float): Disc radius over ``max(W, H)``
            (``'combined'``). Defaults to 0.0546875.
        blur_kernel_size (int): Odd blur kernel size used in decoding.
            Defaults to 11.

    Encoded:
        heatmaps (K or 3K, H, W) float32 and keypoint_weights (N, K).
    """

    label_mapping_table = {'keypoint_weights': 'keypoint_weights'}
    field_mapping_table = {'heatmaps': 'heatmaps'}

    def __init__(self, input_size: Tuple[int, int],
                 heatmap_size: Tuple[int, int],
                 heatmap_type: str = 'gaussian', sigma: float = 2.,
                 radius_factor: float = 0.0546875,
                 blur_kernel_size: int = 11) -> None:
        if heatmap_type not in ('gaussian', 'combined'):
            raise ValueError(f"UDPHeatmap: heatmap_type must be 'gaussian' "
                             f"or 'combined', got {heatmap_type!r}")
        self.input_size = input_size
        self.heatmap_size = heatmap_size
        self.heatmap_type = heatmap_type
        self.sigma = sigma
        self.radius_factor = radius_factor
        self.blur_kernel_size = blur_kernel_size
        self.scale_factor = ((np.array(input_size) - 1) /
                             (np.array(heatmap_size) - 1)).astype(np.float32)

    def encode(self, keypoints: np.ndarray,
               keypoints_visible: Optional[np.ndarray] = None) -> dict:
        """Draw the targets of one instance.

        Args:
            keypoints (np.ndarray): (1, K, 2) float, input pixels.
            keypoints_visible (np.ndarray, optional): (1, K) float; None
                means all visible.

        Returns:
            dict: ``heatmaps`` (K, H, W) for 'gaussian' or (3K, H, W) for
            'combined', float32; ``keypoint_weights`` (1, K).
        """
        keypoints = np.asarray(keypoints)
        check_single_instance(self, keypoints)
        visible = visibility_or_ones(keypoints, keypoints_visible)
        scaled = keypoints / self.scale_factor
        if self.heatmap_type == 'gaussian':
            heatmaps, weights = generate_udp_gaussian_heatmaps(
                self.heatmap_size, scaled, visible, self.sigma)
        else:
            heatmaps, weights = generate_offset_heatmap(
                self.heatmap_size, scaled, visible, self.radius_factor)
        return dict(heatmaps=heatmaps, keypoint_weights=weights)

    def decode(self, encoded: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Heatmaps of one sample -> keypoints in input pixels.

        Args:
            encoded (np.ndarray): (K, H, W) ('gaussian') or (3K, H, W)
                ('combined') float.

        Returns:
            tuple: keypoints (1, K, 2) float64 (see the class note on the
            ``w / (w - 1)`` factor) and scores (1, K) (heatmap maxima; for
            'combined', of the blurred discs).
        """
        heatmaps = np.asarray(encoded)
        if self.heatmap_type == 'gaussian':
            locs, scores = get_heatmap_maximum(heatmaps)
            locs = refine_keypoints_dark_udp(locs[None], heatmaps,
                                             self.blur_kernel_size)
        else:
            locs, scores = decode_offset_heatmap(
                heatmaps, self.radius_factor, 2 * self.blur_kernel_size + 1)
            locs = locs[None]
        W, H = self.heatmap_size
        # float64, like MMPose: pixel p -> p * (w - 1) / (W - 1)
        keypoints = locs / np.array([W - 1, H - 1]) * np.array(
            self.input_size)
        return keypoints, scores[None]
