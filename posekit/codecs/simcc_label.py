"""SimCCLabel: coordinate classification (SimCC, Li et al., ECCV 2022)."""
from typing import Optional, Sequence, Tuple, Union

import numpy as np

from posekit.registry import KEYPOINT_CODECS
from .base import BaseKeypointCodec, visibility_or_ones
from .utils import (generate_simcc_gaussian_labels,
                    generate_simcc_standard_labels, get_simcc_maximum,
                    refine_simcc_dark)


def simcc_dark_kernel(sigma: float) -> int:
    """Odd blur kernel for SimCC DARK: ``(20 sigma - 7) // 3``, made odd by
    subtracting 1 (37 for sigma 6)."""
    size = int((sigma * 20 - 7) // 3)
    return size - int(size % 2 == 0)


@KEYPOINT_CODECS.register_module()
class SimCCLabel(BaseKeypointCodec):
    """Keypoints <-> one 1-D classification vector per axis.

    Bin ``i`` stands for input coordinate ``i / simcc_split_ratio``; the x
    vector has ``round(w * simcc_split_ratio)`` bins and y
    ``round(h * simcc_split_ratio)``.

    Args:
        input_size (tuple[int, int]): (w, h) of the network input.
        smoothing_type (str): ``'gaussian'`` (Gaussian labels) or
            ``'standard'`` (one-hot with optional label smoothing).
            Defaults to 'gaussian'.
        sigma (float | tuple[float, float]): Gaussian sigma in bins, one
            value or (x, y). Defaults to 6.0.
        simcc_split_ratio (float): Bins per input pixel. Defaults to 2.0.
        label_smooth_weight (float): Label smoothing, in [0, 1], 'standard'
            only. Defaults to 0.0.
        normalize (bool): Divide Gaussian labels by ``sigma sqrt(2 pi)``.
            Defaults to True.
        use_dark (bool): DARK refinement in decoding. Defaults to False.
        decode_visibility (bool): Also decode a visibility per keypoint
            (softmax of ``simcc * decode_beta * sigma``). Defaults to False.
        decode_beta (float): See decode_visibility. Defaults to 150.0.

    Encoded:
        keypoint_x_labels (N, K, Wx), keypoint_y_labels (N, K, Wy) float32
        and keypoint_weights (N, K).
    """

    label_mapping_table = {'keypoint_x_labels': 'keypoint_x_labels',
                           'keypoint_y_labels': 'keypoint_y_labels',
                           'keypoint_weights': 'keypoint_weights'}

    def __init__(self, input_size: Tuple[int, int],
                 smoothing_type: str = 'gaussian',
                 sigma: Union[float, Sequence[float]] = 6.0,
                 simcc_split_ratio: float = 2.0,
                 label_smooth_weight: float = 0.0, normalize: bool = True,
                 use_dark: bool = False, decode_visibility: bool = False,
                 decode_beta: float = 150.0) -> None:
        if smoothing_type not in ('gaussian', 'standard'):
            raise ValueError("SimCCLabel: smoothing_type must be 'gaussian' "
                             f"or 'standard', got {smoothing_type!r}")
        if smoothing_type == 'gaussian' and label_smooth_weight > 0:
            raise ValueError('SimCCLabel: label_smooth_weight applies to '
                             "smoothing_type='standard' only")
        if not 0.0 <= label_smooth_weight <= 1.0:
            raise ValueError('SimCCLabel: label_smooth_weight must be in '
                             f'[0, 1], got {label_smooth_weight}')
        self.input_size = input_size
        self.smoothing_type = smoothing_type
        self.simcc_split_ratio = simcc_split_ratio
        self.label_smooth_weight = label_smooth_weight
        self.normalize = normalize
        self.use_dark = use_dark
        self.decode_visibility = decode_visibility
        self.decode_beta = decode_beta
        # (2,) array (x, y): heads read it, e.g. to normalise outputs
        self.sigma = (np.array([sigma, sigma])
                      if isinstance(sigma, (int, float)) else np.array(sigma))

    def encode(self, keypoints: np.ndarray,
               keypoints_visible: Optional[np.ndarray] = None) -> dict:
        """Make the x and y labels.

        Args:
            keypoints (np.ndarray): (N, K, 2) float, input pixels.
            keypoints_visible (np.ndarray, optional): (N, K) float; None
                means all visible.

        Returns:
            dict: ``keypoint_x_labels`` (N, K, Wx) and ``keypoint_y_labels``
            (N, K, Wy) float32; ``keypoint_weights`` (N, K).
        """
        keypoints = np.asarray(keypoints)
        visible = visibility_or_ones(keypoints, keypoints_visible)
        if self.smoothing_type == 'gaussian':
            x, y, weights = generate_simcc_gaussian_labels(
                self.input_size, keypoints, visible, self.simcc_split_ratio,
                self.sigma, self.normalize)
        else:
            x, y, weights = generate_simcc_standard_labels(
                self.input_size, keypoints, visible, self.simcc_split_ratio,
                self.label_smooth_weight)
        return dict(keypoint_x_labels=x, keypoint_y_labels=y,
                    keypoint_weights=weights)

    def decode(self, simcc_x: np.ndarray, simcc_y: np.ndarray
               ) -> Tuple[np.ndarray, Union[np.ndarray, tuple]]:
        """Classification vectors of one sample -> keypoints in input pixels.

        Args:
            simcc_x (np.ndarray): (K, Wx) or (N, K, Wx) float.
            simcc_y (np.ndarray): (K, Wy) or (N, K, Wy) float.

        Returns:
            tuple: keypoints (N, K, 2) float32 and scores (N, K) (the smaller
            of the x and y maxima); with ``decode_visibility`` the second
            item is ``(scores, visibility)``, both (N, K).
        """
        simcc_x, simcc_y = np.asarray(simcc_x), np.asarray(simcc_y)
        if simcc_x.ndim == 2:  # one instance without its N axis
            simcc_x, simcc_y = simcc_x[None], simcc_y[None]
        keypoints, scores = get_simcc_maximum(simcc_x, simcc_y)
        if self.use_dark:
            keypoints = np.stack((
                refine_simcc_dark(keypoints[..., 0], simcc_x,
                                  simcc_dark_kernel(self.sigma[0])),
                refine_simcc_dark(keypoints[..., 1], simcc_y,
                                  simcc_dark_kernel(self.sigma[1]))), -1)
        keypoints = keypoints / np.float32(self.simcc_split_ratio)
        if not self.decode_visibility:
            return keypoints, scores
        _, visibility = get_simcc_maximum(
            simcc_x * self.decode_beta * self.sigma[0],
            simcc_y * self.decode_beta * self.sigma[1], apply_softmax=True)
        return keypoints, (scores, visibility)
