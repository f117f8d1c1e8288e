"""RegressionLabel: keypoints as coordinates normalised by the input size."""
from typing import Optional, Tuple

import numpy as np

from posekit.registry import KEYPOINT_CODECS
from .base import BaseKeypointCodec, visibility_or_ones


def encode_regression_labels(input_size: Tuple[int, int],
                             keypoints: np.ndarray,
                             keypoints_visible: np.ndarray
                             ) -> Tuple[np.ndarray, np.ndarray]:
    """Normalise input-pixel keypoints to ``(x / w, y / h)``.

    A keypoint gets weight 1 when it lies in ``[0, w - 1] x [0, h - 1]`` and
    its visibility is > 0.5 (strictly), else 0.

    Args:
        input_size (tuple[int, int]): (w, h).
        keypoints (np.ndarray): (N, K, 2) float, input pixels.
        keypoints_visible (np.ndarray): (N, K) float.

    Returns:
        tuple: labels (N, K, 2) float32 and weights (N, K) float32.
    """
    w, h = input_size
    inside = ((keypoints >= 0) & (keypoints <= [w - 1, h - 1])).all(axis=-1)
    valid = inside & (keypoints_visible > 0.5)
    labels = (keypoints / np.array([w, h])).astype(np.float32)
    return labels, valid.astype(np.float32)


def decode_regression_labels(input_size: Tuple[int, int],
                             encoded: np.ndarray
                             ) -> Tuple[np.ndarray, np.ndarray]:
    """Normalised coordinates (optionally with sigmas) -> input pixels.

    Args:
        input_size (tuple[int, int]): (w, h).
        encoded (np.ndarray): (N, K, 2) ``(x, y)``, or (N, K, 4)
            ``(x, y, sigma_x, sigma_y)`` from RLE-style heads.

    Returns:
        tuple: keypoints (N, K, 2) float64 and scores (N, K): 1.0 (float32)
        for plain coordinates, ``mean(1 - sigma)`` with sigmas.
    """
    dim = encoded.shape[-1]
    if dim == 2:
        scores = np.ones(encoded.shape[:-1], dtype=np.float32)
    elif dim == 4:
        scores = (1 - encoded[..., 2:4]).mean(axis=-1)
    else:
        raise ValueError('regression outputs must have 2 (x, y) or 4 '
                         f'(x, y, sigma_x, sigma_y) values, got {dim}')
    w, h = input_size
    return encoded[..., :2] * np.array([w, h]), scores


@KEYPOINT_CODECS.register_module()
class RegressionLabel(BaseKeypointCodec):
    """Keypoints <-> coordinates normalised by the input size (w, h).

    Args:
        input_size (tuple[int, int]): (w, h) of the network input.

    Encoded:
        keypoint_labels (N, K, 2) float32 and keypoint_weights (N, K) float32.
    """

    label_mapping_table = {'keypoint_labels': 'keypoint_labels',
                           'keypoint_weights': 'keypoint_weights'}

    def __init__(self, input_size: Tuple[int, int]) -> None:
        self.input_size = input_size

    def encode(self, keypoints: np.ndarray,
               keypoints_visible: Optional[np.ndarray] = None) -> dict:
        """Normalise keypoints (N, K, 2) in input pixels; see
        :func:`encode_regression_labels`."""
        keypoints = np.asarray(keypoints)
        visible = visibility_or_ones(keypoints, keypoints_visible)
        labels, weights = encode_regression_labels(self.input_size,
                                                   keypoints, visible)
        return dict(keypoint_labels=labels, keypoint_weights=weights)

    def decode(self, encoded: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """(N, K, 2 or 4) normalised outputs -> keypoints (N, K, 2) float64
        in input pixels and scores (N, K); see
        :func:`decode_regression_labels`."""
        return decode_regression_labels(self.input_size, np.asarray(encoded))
