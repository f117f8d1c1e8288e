"""``KeypointConverter``: re-index keypoints from one dataset's layout to another's.

Used to train on several datasets at once (``CombinedDataset``): each
sub-dataset's pipeline maps its keypoints onto the target layout, e.g. AIC's
14 body keypoints onto COCO's 17.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from posekit.registry import TRANSFORMS


@TRANSFORMS.register_module()
class KeypointConverter:
    """Map source keypoints onto a target keypoint layout.

    Each mapping entry is ``(src, dst)``: target keypoint ``dst`` is source
    keypoint ``src``; or ``((src_a, src_b), dst)``: target ``dst`` is the
    midpoint of ``src_a`` and ``src_b``, visible only if both are (the
    product of their visibilities). Target keypoints that nothing maps to are
    zero with visibility 0.

    The output visibility gains a second channel, a loss weight: 1 for every
    target keypoint the mapping covers (even when it is not visible in this
    sample), 0 for keypoints this source dataset does not annotate, so the
    model is not taught "invisible" where the truth is "unknown".

    Required Keys:
        - keypoints: (N, K_src, 2) pixels.
        - keypoints_visible (optional): (N, K_src) or (N, K_src, C); only
          channel 0 is read. Missing means all ones.
        - keypoints_3d (optional): (N, K_src, 3); converted instead of
          ``keypoints`` when present (pose lifting), with ``target_idx``.
        - flip_indices (optional): list of int, the source flip indices.

    Modified Keys:
        - keypoints: (N, K, 2) float64.
        - keypoints_visible: (N, K, 2) float64, ``[..., 0]`` the visibility
          and ``[..., 1]`` the weight described above.
        - flip_indices: see below; ``None`` when absent.
        - keypoints_3d, lifting_target, lifting_target_visible (only when
          ``keypoints_3d`` is present).

    ``flip_indices`` is passed through unchanged for one-to-one mappings (a
    ``CombinedDataset`` replaces it with the target's afterwards). With
    averaged pairs it is rewritten the way MMPose does, so that configs give
    the same results: for the i-th mapping entry, a single source ``a`` takes
    ``flip_indices[a]`` and a pair takes ``i``; values ``>= num_keypoints``
    become ``i``; the list is cut to the number of entries.

    Args:
        num_keypoints (int): K, the number of keypoints of the target layout.
        mapping (Sequence): ``(src, dst)`` or ``((src_a, src_b), dst)`` pairs.
    """

    def __init__(self, num_keypoints: int, mapping: Sequence):
        self.num_keypoints = num_keypoints
        self.mapping = mapping
        self.source_index: list[int] = []
        self.source_index2: list[int] = []
        self.target_index: list[int] = []
        self.interpolation = False
        for entry in mapping:
            if not isinstance(entry, (list, tuple)) or len(entry) != 2:
                raise ValueError('KeypointConverter: each mapping entry must '
                                 f'be (src, dst), got {entry!r}')
            src, dst = entry
            if isinstance(src, (list, tuple)):
                if len(src) != 2:
                    raise ValueError('KeypointConverter: an averaged source '
                                     f'must be a pair (a, b), got {src!r}')
                a, b = src
                self.interpolation = True
            else:
                a = b = src
            if not 0 <= dst < num_keypoints:
                raise ValueError(f'KeypointConverter: target index {dst} is '
                                 f'out of range for num_keypoints='
                                 f'{num_keypoints}')
            self.source_index.append(a)
            self.source_index2.append(b)
            self.target_index.append(dst)

    def __call__(self, results: dict) -> dict:
        return self.transform(results)

    def transform(self, results: dict) -> dict:
        """Convert ``results`` in place and return it."""
        num_instances, num_src = results['keypoints'].shape[:2]
        if 'keypoints_visible' not in results:
            results['keypoints_visible'] = np.ones((num_instances, num_src))
        if results['keypoints_visible'].ndim > 2:
            results['keypoints_visible'] = results['keypoints_visible'][:, :, 0]
        visible = results['keypoints_visible']

        key = 'keypoints_3d' if 'keypoints_3d' in results else 'keypoints'
        source = results[key]
        dims = source.shape[-1]
        keypoints = np.zeros((num_instances, self.num_keypoints, 3))
        keypoints_visible = np.zeros((num_instances, self.num_keypoints))
        weights = keypoints_visible.copy()
        weights[:, self.target_index] = 1.0

        src_a, src_b, dst = self.source_index, self.source_index2, self.target_index
        flip_indices = results.get('flip_indices', None)
        if self.interpolation:
            keypoints[:, dst, :dims] = 0.5 * (source[:, src_a] + source[:, src_b])
            keypoints_visible[:, dst] = visible[:, src_a] * visible[:, src_b]
            if flip_indices is not None:
                flip_indices = self._pair_flip_indices(list(flip_indices))
        else:
            keypoints[:, dst, :dims] = source[:, src_a]
            keypoints_visible[:, dst] = visible[:, src_a]

        results['keypoints'] = keypoints[..., :2]
        results['keypoints_visible'] = np.stack([keypoints_visible, weights],
                                                axis=2)
        if 'keypoints_3d' in results:
            results['keypoints_3d'] = keypoints
            results['lifting_target'] = keypoints[results['target_idx']]
            results['lifting_target_visible'] = keypoints_visible[
                results['target_idx']]
        results['flip_indices'] = flip_indices
        return results

    def _pair_flip_indices(self, flip_indices: list) -> list:
        # Updated in place on purpose: a later entry may read a value an
        # earlier one wrote, exactly as MMPose does.
        pairs = zip(self.source_index, self.source_index2)
        for i, (a, b) in enumerate(pairs):
            idx = flip_indices[a] if a == b else i
            flip_indices[i] = idx if idx < self.num_keypoints else i
        return flip_indices[:len(self.source_index)]

    def __repr__(self) -> str:
        return (f'KeypointConverter(num_keypoints={self.num_keypoints}, '
                f'mapping={self.mapping})')
