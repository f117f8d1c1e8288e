"""The hands of Halpe Full-Body (136 keypoints per person), as 21-keypoint
hand samples (MMPose's ``HalpeHandDataset``, used by the RTMPose hand5
configs)."""
from __future__ import annotations


import numpy as np

from posekit.registry import DATASETS

from .coco_wholebody_hand import CocoWholeBodyHandDataset

# Halpe's 136 keypoints: 26 body, 68 face, then 21 per hand. Each hand is
# ordered wrist, thumb 1-4, forefinger 1-4, ..., pinky 1-4, as COCO-WholeBody
# hands, so both share one metainfo layout.
HALPE_NUM_KEYPOINTS = 136
HAND_SLICES = {'left': slice(94, 115), 'right': slice(115, 136)}


@DATASETS.register_module()
class HalpeHandDataset(CocoWholeBodyHandDataset):
    """One sample per annotated hand (left, then right) of each non-crowd person
    (the loop of :class:`CocoWholeBodyHandDataset`, Halpe's keypoint layout).

    A hand is used when some value of its 21 ``(x, y, v)`` triplets is
    positive (MMPose's rule). Halpe gives no hand boxes: ``bbox`` (xyxy,
    pixels, not clipped) spans the hand's *labelled* keypoints, those with
    ``v > 0`` or a non-zero coordinate. MMPose's ``get_bbox`` takes the
    min/max over all 21 rows, so an unlabelled keypoint stored as
    ``(0, 0, 0)`` (every hand of the Halpe fixture has some) would stretch
    the box to the image origin; posekit leaves those out. ``id`` numbers the
    hands 0, 1, 2...; ``num_keypoints`` counts keypoints whose larger
    coordinate is non-zero; ``keypoints_visible`` is ``min(1, v)``.
    """

    METAINFO: dict = dict(from_file='configs/_base_/datasets/halpehand.py')
    SUPPORTS_SAMPLE_INTERVAL = False

    def _parse_hand(self, ann: dict, img: dict, side: str, hand_id: int) -> dict | None:
        values = ann.get('keypoints')
        if not isinstance(values, (list, tuple)) or len(values) != 3 * HALPE_NUM_KEYPOINTS:
            count = len(values) if isinstance(values, (list, tuple)) else values
            raise self._bad(ann, 'keypoints', f'expected {HALPE_NUM_KEYPOINTS} Halpe '
                            f'keypoints x (x, y, v) = {3 * HALPE_NUM_KEYPOINTS} '
                            f'values, got {count!r}')
        part = HAND_SLICES[side]
        hand = values[3 * part.start:3 * part.stop]
        if max(hand) <= 0:
            return None
        keypoints, visible = self.read_keypoints(ann, hand, f'keypoints ({side} hand)')
        return dict(
            img_id=ann['image_id'], img_path=img['img_path'],
            bbox=hand_box(keypoints[0], np.array(hand, np.float32)[2::3]),
            bbox_score=np.ones(1, dtype=np.float32),
            num_keypoints=np.count_nonzero(keypoints.max(axis=2)),
            keypoints=keypoints, keypoints_visible=visible,
            iscrowd=ann['iscrowd'], segmentation=ann.get('segmentation'), id=hand_id)


def hand_box(keypoints: np.ndarray, flags: np.ndarray) -> np.ndarray:
    """The box spanning the labelled keypoints of one hand.

    Args:
        keypoints (np.ndarray): (K, 2) float32, pixels.
        flags (np.ndarray): (K,) the annotation's ``v`` values.

    Returns:
        np.ndarray: (1, 4) float32 ``x1, y1, x2, y2``; a keypoint counts when
        ``v > 0`` or it is not at ``(0, 0)``; the caller's rule (some value
        positive) guarantees one does.
    """
    labelled = (flags > 0) | (keypoints != 0).any(axis=1)
    points = keypoints[labelled]
    return np.concatenate([points.min(0), points.max(0)])[None].astype(np.float32)
