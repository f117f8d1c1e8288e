"""AssociativeEmbedding: bottom-up heatmaps plus grouping tags (Newell et
al., "Associative Embedding", NeurIPS 2017), as in MMPose 1.x."""
from typing import List, Optional, Sequence, Tuple

import numpy as np

from posekit.registry import KEYPOINT_CODECS
from posekit.structures import to_numpy
from .base import BaseKeypointCodec, visibility_or_ones
from .utils import (gaussian_blur, generate_gaussian_heatmaps,
                    generate_udp_gaussian_heatmaps, refine_keypoints,
                    refine_keypoints_dark_udp)
from .utils.grouping import (fill_missing_keypoints, get_topk_candidates,
                             group_keypoints_by_tags, heatmap_nms)


def encode_keypoint_indices(heatmap_size: Tuple[int, int],
                            keypoints: np.ndarray,
                            keypoints_visible: np.ndarray) -> np.ndarray:
    """Flat heatmap index of each keypoint's rounded pixel, with a flag.

    Args:
        heatmap_size (tuple[int, int]): (W, H).
        keypoints (np.ndarray): (N, K, 2) float, heatmap pixels.
        keypoints_visible (np.ndarray): (N, K) float.

    Returns:
        np.ndarray: (N, K, 2) int64 ``[y * W + x, valid]`` with
        ``(x, y) = int(kp + 0.5)`` and ``valid`` = visibility > 0.5 and the
        pixel on the map.
    """
    W, H = heatmap_size
    xy = (np.asarray(keypoints)[..., :2] + 0.5).astype(np.int64)
    x, y = xy[..., 0], xy[..., 1]
    valid = ((np.asarray(keypoints_visible) > 0.5) & (x >= 0) & (x < W) &
             (y >= 0) & (y < H))
    return np.stack((y * W + x, valid.astype(np.int64)), axis=-1)


@KEYPOINT_CODECS.register_module()
class AssociativeEmbedding(BaseKeypointCodec):
    """Keypoints <-> heatmaps and tag-grouping indices (bottom-up).

    Input pixel ``p`` maps to heatmap pixel ``p / s`` with ``s = input_size
    / heatmap_size`` (float32, per axis), or with UDP ``s = (input_size -
    1) / (heatmap_size - 1)`` so that first and last pixel centres
    coincide; decoding multiplies by the same ``s``.

    Decoding (:meth:`batch_decode`): 5x5 (``decode_nms_kernel``) max NMS,
    the ``decode_topk`` strongest peaks per keypoint, greedy grouping by
    tags in ``decode_keypoint_order`` (Hungarian matching, see
    :func:`~posekit.codecs.utils.grouping.group_keypoints_by_tags`), then
    a sub-pixel step (0.25 px toward the higher neighbour, or UDP's DARK
    step on a ``decode_gaussian_kernel`` blur), ``+ decode_center_shift``
    on found keypoints, and missing keypoints filled at the strongest
    response of closest rounded tag distance to the instance's mean tag.

    Args:
        input_size (tuple[int, int]): (w, h) of the network input.
        heatmap_size (tuple[int, int]): (W, H) of the heatmaps.
        sigma (float, optional): Gaussian sigma (heatmap pixels); None
            means ``sqrt(W * H) / 64``.
        use_udp (bool): UDP scaling, Gaussians and refinement.
        decode_keypoint_order (Sequence[int]): Order in which keypoints
            are grouped (head and torso first); must be a permutation of
            range(K) when decoding.
        decode_nms_kernel (int): Odd NMS window. Defaults to 5.
        decode_gaussian_kernel (int): Odd blur kernel of the UDP step.
            Defaults to 3.
        decode_keypoint_thr (float): Minimum peak response. Defaults 0.1.
        decode_tag_thr (float): Maximum tag distance to join a group.
            Defaults to 1.0.
        decode_topk (int): Candidates per keypoint. Defaults to 30.
        decode_center_shift (float): Added (in heatmap pixels) to found
            keypoints. Defaults to 0.
        decode_max_instances (int, optional): Most instances returned.

    Encoded:
        heatmaps (K, H, W) float32, keypoint_indices (N, K, 2) int64 and
        keypoint_weights (N, K).
    """

    field_mapping_table = {
        'heatmaps': 'heatmaps',
        # written by BottomupGetHeatmapMask; MMPose packs it through
        # PackPoseInputs' defaults, which a codec table replaces here
        'heatmap_mask': 'heatmap_mask',
    }
    label_mapping_table = {
        'keypoint_indices': 'keypoint_indices',
        'keypoint_weights': 'keypoint_weights',
    }

    def __init__(self, input_size: Tuple[int, int],
                 heatmap_size: Tuple[int, int],
                 sigma: Optional[float] = None, use_udp: bool = False,
                 decode_keypoint_order: Sequence[int] = (),
                 decode_nms_kernel: int = 5, decode_gaussian_kernel: int = 3,
                 decode_keypoint_thr: float = 0.1,
                 decode_tag_thr: float = 1.0, decode_topk: int = 30,
                 decode_center_shift: float = 0.0,
                 decode_max_instances: Optional[int] = None) -> None:
        for name, value in (('decode_nms_kernel', decode_nms_kernel),
                            ('decode_gaussian_kernel',
                             decode_gaussian_kernel)):
            if not isinstance(value, int) or value % 2 != 1:
                raise ValueError(f'AssociativeEmbedding: {name} must be an '
                                 f'odd integer, got {value!r}')
        self.input_size = input_size
        self.heatmap_size = heatmap_size
        self.use_udp = use_udp
        self.decode_keypoint_order = list(decode_keypoint_order)
        self.decode_nms_kernel = decode_nms_kernel
        self.decode_gaussian_kernel = decode_gaussian_kernel
        self.decode_keypoint_thr = decode_keypoint_thr
        self.decode_tag_thr = decode_tag_thr
        self.decode_topk = decode_topk
        self.decode_center_shift = decode_center_shift
        self.decode_max_instances = decode_max_instances
        if use_udp:
            scale = (np.array(input_size) - 1) / (np.array(heatmap_size) - 1)
        else:
            scale = np.array(input_size) / heatmap_size
        self.scale_factor = scale.astype(np.float32)
        if sigma is None:
            sigma = (heatmap_size[0] * heatmap_size[1])**0.5 / 64
        self.sigma = sigma

    def encode(self, keypoints: np.ndarray,
               keypoints_visible: Optional[np.ndarray] = None) -> dict:
        """Draw the heatmaps of all instances and their index labels.

        Args:
            keypoints (np.ndarray): (N, K, 2) float, input pixels.
            keypoints_visible (np.ndarray, optional): (N, K); None means
                all visible.

        Returns:
            dict: ``heatmaps`` (K, H, W) float32 (instances combined by
            maximum), ``keypoint_indices`` (N, K, 2) int64 (see
            :func:`encode_keypoint_indices`), ``keypoint_weights`` (N, K).
        """
        keypoints = np.asarray(keypoints)
        visible = visibility_or_ones(keypoints, keypoints_visible)
        scaled = keypoints / self.scale_factor
        draw = (generate_udp_gaussian_heatmaps if self.use_udp
                else generate_gaussian_heatmaps)
        heatmaps, weights = draw(self.heatmap_size, scaled, visible,
                                 self.sigma)
        indices = encode_keypoint_indices(self.heatmap_size, scaled, visible)
        return dict(heatmaps=heatmaps, keypoint_indices=indices,
                    keypoint_weights=weights)

    def decode(self, encoded):
        """Not available: AE groups a whole batch, use :meth:`batch_decode`.
        """
        raise NotImplementedError('AssociativeEmbedding decodes with '
                                  'batch_decode(batch_heatmaps, batch_tags)')

    def batch_decode(self, batch_heatmaps, batch_tags
                     ) -> Tuple[List[np.ndarray], List[np.ndarray],
                                List[np.ndarray]]:
        """Group a batch of heatmaps into instances.

        Args:
            batch_heatmaps (np.ndarray | Tensor): (B, K, H, W) float.
            batch_tags (np.ndarray | Tensor): (B, K * L, H, W) float, tag
                dim ``l`` of keypoint ``k`` in channel ``l * K + k``.

        Returns:
            tuple: per sample, keypoints (N, K, 2) float32 in input pixels,
            keypoint scores (N, K) float32 and instance scores (N,) (mean
            keypoint score before missing keypoints are filled).
        """
        heatmaps, tags = self._check_inputs(batch_heatmaps, batch_tags)
        vals, cand_tags, locs = get_topk_candidates(
            heatmap_nms(heatmaps, self.decode_nms_kernel), tags,
            self.decode_topk)
        all_kpts, all_scores, all_inst = [], [], []
        for b in range(len(heatmaps)):
            groups = group_keypoints_by_tags(
                vals[b], cand_tags[b], locs[b], self.decode_keypoint_order,
                self.decode_keypoint_thr, self.decode_tag_thr,
                self.decode_max_instances)
            kpts, scores = self._refine(groups, heatmaps[b], tags[b])
            all_kpts.append(kpts * self.scale_factor)
            all_scores.append(scores)
            all_inst.append(groups[..., 2].mean(axis=-1))
        return all_kpts, all_scores, all_inst

    def _refine(self, groups: np.ndarray, heatmaps: np.ndarray,
                tags: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Sub-pixel step, centre shift and missing keypoints of one sample
        (heatmap pixels)."""
        keypoints, scores = groups[..., :2], groups[..., 2]
        if keypoints.size == 0:
            return keypoints, scores
        if self.use_udp:
            keypoints = refine_keypoints_dark_udp(
                keypoints, heatmaps, self.decode_gaussian_kernel)
            # MMPose's UDP step blurs, clips and logs the heatmaps in place,
            # so its missing keypoints are filled (and scored) on that map;
            # kept for equal results, without touching the caller's array
            heatmaps = np.log(np.clip(
                gaussian_blur(heatmaps, self.decode_gaussian_kernel), 1e-3,
                50.))
        else:
            keypoints = refine_keypoints(keypoints, heatmaps)
        keypoints = keypoints + self.decode_center_shift * (
            scores > 0).astype(keypoints.dtype)[..., None]
        return fill_missing_keypoints(keypoints, scores, heatmaps, tags)

    def _check_inputs(self, batch_heatmaps, batch_tags):
        heatmaps = np.asarray(to_numpy(batch_heatmaps))
        tags = np.asarray(to_numpy(batch_tags))
        if heatmaps.ndim != 4:
            raise ValueError('batch_heatmaps must be (B, K, H, W), got '
                             f'shape {heatmaps.shape}')
        B, K, H, W = heatmaps.shape
        if (tags.ndim != 4 or tags.shape[0] != B or tags.shape[2:] != (H, W)
                or tags.shape[1] == 0 or tags.shape[1] % K):
            raise ValueError(f'batch_tags must be (B, K * L, H, W) = ({B}, '
                             f'{K} * L, {H}, {W}) to match batch_heatmaps, '
                             f'got shape {tags.shape}')
        if sorted(self.decode_keypoint_order) != list(range(K)):
            raise ValueError('decode_keypoint_order must be a permutation of '
                             f'range({K}) (K of batch_heatmaps), got '
                             f'{self.decode_keypoint_order}')
        return heatmaps, tags
