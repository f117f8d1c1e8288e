"""Transforms for two-hand samples (InterHand2.6M)."""
from __future__ import annotations

import numpy as np

from posekit.registry import TRANSFORMS
from .common_transforms import RandomFlip


@TRANSFORMS.register_module()
class HandRandomFlip(RandomFlip):
    """Horizontal :class:`RandomFlip` that also mirrors the hand labels.

    A mirror image shows a right hand as a left one: the hand type
    [right, left] swaps its two entries, and the left-minus-right root depth
    changes sign (the hands swap roles, their depths do not change). Keypoint
    depths (``keypoints[..., 2]``, relative to each hand's own root) are
    kept; ``flip_indices`` swaps the hands' keypoints.

    Required Keys:
        - as :class:`RandomFlip`, and
        - hand_type (np.ndarray): (1, 2) [right, left].
        - rel_root_depth (float): left root depth minus right root depth.

    Modified Keys:
        - as :class:`RandomFlip`, and hand_type, rel_root_depth (new values
          when flipped).

    Added Keys:
        - flip, flip_direction.

    Args:
        prob (float): Flip probability. Defaults to 0.5.
    """

    def __init__(self, prob: float = 0.5) -> None:
        super().__init__(prob=prob, direction='horizontal')

    @staticmethod
    def flip(results: dict, direction: str | None) -> dict:
        """Flip ``results`` (``None``: record no flip), hand labels too."""
        results = RandomFlip.flip(results, direction)
        if results['flip']:
            results['hand_type'] = np.asarray(results['hand_type'])[..., ::-1
                                                                   ].copy()
            results['rel_root_depth'] = -results['rel_root_depth']
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(prob={self.prob})'
