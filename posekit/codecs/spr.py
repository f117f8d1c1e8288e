"""SPR: the structured pose representation of DEKR (Geng et al., CVPR 2021;
Nie et al., "Single-stage multi-person pose machines", ICCV 2019)."""
from typing import Optional, Sequence, Tuple, Union

import numpy as np

from posekit.registry import KEYPOINT_CODECS
from posekit.structures import to_numpy
from .base import BaseKeypointCodec, visibility_or_ones
from .utils import generate_gaussian_heatmaps
from .utils.displacement import (decode_root_displacements,
                                 generate_displacement_heatmap,
                                 sample_heatmaps)
from .utils.instance_property import (check_root_type, get_diagonal_lengths,
                                      get_instance_root)


def heatmap_weights(heatmaps: np.ndarray, bg_weight: float) -> np.ndarray:
    """Loss weights: 1 where the target is > 0, ``bg_weight`` elsewhere
    (float32, same shape)."""
    weights = np.ones(heatmaps.shape, dtype=np.float32) * bg_weight
    weights[heatmaps > 0] = 1
    return weights


@KEYPOINT_CODECS.register_module()
class SPR(BaseKeypointCodec):
    """Keypoints <-> a root heatmap and dense displacement fields.

    Input pixel ``p`` maps to heatmap pixel ``p / s`` with ``s = input_size
    / heatmap_size`` (float32, per axis); decoding multiplies by ``s`` (no
    half-pixel shift). Each instance's root (its keypoints' mean, or the
    centre of their box) is drawn as an MSRA Gaussian of ``sigma[0]``; in a
    square of half-size ``sigma[0]`` around it every pixel stores the
    offsets to the instance's keypoints. Instances whose keypoint box has a
    diagonal < ``minimal_diagonal_length`` (heatmap pixels) are not drawn.

    Decoding: NMS on the root heatmap (the last channel), its
    ``decode_max_instances`` largest peaks above ``decode_thr`` are the
    instances, keypoints = peak pixel + displacement there. With keypoint
    heatmaps, keypoint scores are those maps read at the keypoints
    (:meth:`get_keypoint_scores`); the DEKR head rescores instances.

    Args:
        input_size (tuple[int, int]): (w, h) of the network input.
        heatmap_size (tuple[int, int]): (W, H) of the heatmaps.
        sigma (float | tuple, optional): Root sigma, or (root, keypoint)
            sigmas (required as a pair with keypoint heatmaps). None means
            ``sqrt(W * H) / 32`` (and half of it, floored, for keypoints).
        generate_keypoint_heatmaps (bool): Also draw K keypoint heatmaps
            (before the root one). Defaults to False.
        root_type (str): ``'kpt_center'`` or ``'bbox_center'``.
        minimal_diagonal_length (float): Smallest instance drawn.
            Defaults to 5.
        background_weight (float): Heatmap loss weight of pixels with a 0
            target. Defaults to 0.1.
        decode_nms_kernel (int): Odd NMS window. Defaults to 5.
        decode_max_instances (int): Most instances. Defaults to 30.
        decode_thr (float): Minimum root response. Defaults to 0.01.

    Encoded:
        heatmaps (1 or K + 1, H, W), heatmap_weights (same shape),
        displacements (2K, H, W) and displacement_weights (2K, H, W), all
        float32.
    """

    field_mapping_table = {
        'heatmaps': 'heatmaps',
        'heatmap_weights': 'heatmap_weights',
        'displacements': 'displacements',
        'displacement_weights': 'displacement_weights',
    }

    def __init__(self, input_size: Tuple[int, int],
                 heatmap_size: Tuple[int, int],
                 sigma: Optional[Union[float, Sequence[float]]] = None,
                 generate_keypoint_heatmaps: bool = False,
                 root_type: str = 'kpt_center',
                 minimal_diagonal_length: Union[int, float] = 5,
                 background_weight: float = 0.1,
                 decode_nms_kernel: int = 5,
                 decode_max_instances: int = 30,
                 decode_thr: float = 0.01) -> None:
        check_root_type(root_type)
        if not isinstance(decode_nms_kernel, int) or decode_nms_kernel % 2 != 1:
            raise ValueError('SPR: decode_nms_kernel must be an odd integer, '
                             f'got {decode_nms_kernel!r}')
        self.input_size = input_size
        self.heatmap_size = heatmap_size
        self.generate_keypoint_heatmaps = generate_keypoint_heatmaps
        self.root_type = root_type
        self.minimal_diagonal_length = minimal_diagonal_length
        self.background_weight = background_weight
        self.decode_nms_kernel = decode_nms_kernel
        self.decode_max_instances = decode_max_instances
        self.decode_thr = decode_thr
        self.scale_factor = (np.array(input_size) /
                             heatmap_size).astype(np.float32)
        self.sigma = self._sigmas(sigma, heatmap_size,
                                  generate_keypoint_heatmaps)

    @staticmethod
    def _sigmas(sigma, heatmap_size, with_keypoints: bool) -> tuple:
        if sigma is None:
            root = (heatmap_size[0] * heatmap_size[1])**0.5 / 32
            return (root, root // 2) if with_keypoints else (root, )
        sigma = tuple(sigma) if isinstance(sigma, (tuple, list)) else (
            sigma, )
        if with_keypoints and len(sigma) != 2:
            raise ValueError('SPR: with generate_keypoint_heatmaps=True, '
                             'sigma must be (root_sigma, keypoint_sigma), '
                             f'e.g. (4, 2); got {sigma}')
        return sigma

    def encode(self, keypoints: np.ndarray,
               keypoints_visible: Optional[np.ndarray] = None) -> dict:
        """Draw the root (and keypoint) heatmaps and displacement fields.

        Args:
            keypoints (np.ndarray): (N, K, 2) float, input pixels.
            keypoints_visible (np.ndarray, optional): (N, K); None means
                all visible.

        Returns:
            dict: ``heatmaps`` (1, H, W), or (K + 1, H, W) with keypoint
            heatmaps first; ``heatmap_weights`` alike; ``displacements``
            and ``displacement_weights`` (2K, H, W); all float32.
        """
        keypoints = np.asarray(keypoints)
        visible = visibility_or_ones(keypoints, keypoints_visible)
        scaled = keypoints / self.scale_factor
        roots, roots_visible = get_instance_root(scaled, visible,
                                                 self.root_type)
        diagonals = get_diagonal_lengths(scaled, visible)
        roots_visible[diagonals < self.minimal_diagonal_length] = 0
        heatmaps, _ = generate_gaussian_heatmaps(
            self.heatmap_size, roots[:, None], roots_visible[:, None],
            self.sigma[0])
        weights = heatmap_weights(heatmaps, self.background_weight)
        if self.generate_keypoint_heatmaps:
            kpt_maps, _ = generate_gaussian_heatmaps(
                self.heatmap_size, scaled, visible, self.sigma[1])
            heatmaps = np.concatenate((kpt_maps, heatmaps))
            weights = np.concatenate(
                (heatmap_weights(kpt_maps, self.background_weight), weights))
        displacements, displacement_weights = generate_displacement_heatmap(
            self.heatmap_size, scaled, visible, roots, roots_visible,
            diagonals, self.sigma[0])
        return dict(heatmaps=heatmaps, heatmap_weights=weights,
                    displacements=displacements,
                    displacement_weights=displacement_weights)

    def decode(self, heatmaps, displacements
               ) -> Tuple[np.ndarray, Tuple[np.ndarray, Optional[np.ndarray]]]:
        """Instances of one sample from its heatmaps and displacements.

        Args:
            heatmaps (np.ndarray | Tensor): (1, H, W) or (K + 1, H, W)
                float; the root heatmap is the last channel.
            displacements (np.ndarray | Tensor): (2K, H, W) float.

        Returns:
            tuple: keypoints (N, K, 2) float32 in input pixels, and
            ``(root_scores (N,), keypoint_scores (N, K) or None)``;
            keypoint scores need keypoint heatmaps (K + 1 channels).
        """
        heatmaps = np.asarray(to_numpy(heatmaps))
        displacements = np.asarray(to_numpy(displacements))
        if displacements.ndim != 3 or displacements.shape[0] % 2:
            raise ValueError('displacements must be (2K, H, W), got shape '
                             f'{displacements.shape}')
        K = displacements.shape[0] // 2
        if heatmaps.ndim != 3 or heatmaps.shape[1:] != displacements.shape[1:]:
            raise ValueError('heatmaps must be (1 or K + 1, H, W) with the '
                             f'H, W of displacements {displacements.shape}, '
                             f'got shape {heatmaps.shape}')
        keypoints, root_scores = decode_root_displacements(
            heatmaps[-1], displacements, self.decode_nms_kernel,
            self.decode_max_instances, self.decode_thr)
        keypoint_scores = None
        if self.generate_keypoint_heatmaps and len(heatmaps) == K + 1:
            keypoint_scores = self.get_keypoint_scores(heatmaps[:K],
                                                       keypoints)
        return keypoints * self.scale_factor, (root_scores, keypoint_scores)

    def get_keypoint_scores(self, heatmaps, keypoints) -> np.ndarray:
        """Keypoint heatmaps read (bilinearly) at keypoints in *heatmap*
        pixels, with MMPose's half-pixel sampling offset (see
        :func:`~posekit.codecs.utils.displacement.sample_heatmaps`).

        Args:
            heatmaps (np.ndarray | Tensor): (K, H, W) float.
            keypoints (np.ndarray | Tensor): (N, K, 2) float, heatmap pixels.

        Returns:
            np.ndarray: (N, K) float32.
        """
        return sample_heatmaps(np.asarray(to_numpy(heatmaps)),
                               np.asarray(to_numpy(keypoints)))
