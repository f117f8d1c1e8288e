"""Annotation processors: codecs that only reshape annotations for one-stage
models (YOLOX-Pose, RTMO), whose heads match predictions to instances
themselves and decode their own outputs."""
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from posekit.registry import KEYPOINT_CODECS
from .base import BaseKeypointCodec


def expand_bboxes_to_keypoints(bboxes: np.ndarray, keypoints: np.ndarray,
                               keypoints_visible: np.ndarray) -> np.ndarray:
    """Grow each box until it contains its visible keypoints.

    Args:
        bboxes (np.ndarray): (N, 4) ``xyxy`` pixels.
        keypoints (np.ndarray): (N, K, 2) pixels, x first.
        keypoints_visible (np.ndarray): (N, K) (or (N, K, 2), whose first
            channel is used); 0 means not visible (ignored).

    Returns:
        np.ndarray: (N, 4) new array, same dtype as ``bboxes``; a box with no
        visible keypoint is unchanged.
    """
    if keypoints_visible.ndim == 3:
        keypoints_visible = keypoints_visible[..., 0]
    hidden = (keypoints_visible == 0)[..., None]
    out = np.array(bboxes, copy=True)
    # +-inf never wins the min/max against a real corner
    lowest = np.where(hidden, np.inf, keypoints).min(axis=1)
    highest = np.where(hidden, -np.inf, keypoints).max(axis=1)
    out[..., :2] = np.minimum(out[..., :2], lowest)
    out[..., 2:] = np.maximum(out[..., 2:], highest)
    return out


@KEYPOINT_CODECS.register_module()
class YOLOXPoseAnnotationProcessor(BaseKeypointCodec):
    """Annotations to the training labels of YOLOX-Pose and RTMO.

    ``encode`` optionally grows the boxes to contain the visible keypoints
    and turns COCO category ids (1-based) into labels (0-based, int8). The
    mapping tables route ``bbox``, ``bbox_labels``, ``keypoints``,
    ``keypoints_visible`` and ``area`` of the results into
    ``gt_instance_labels`` (as ``bboxes``, ``labels``, ``keypoints``,
    ``keypoints_visible``, ``areas``), where the head's assigner reads them;
    ``gt_instances`` keeps ``bboxes``, ``bbox_scores``, ``keypoints`` and
    ``keypoints_visible`` but not ``bbox_scales`` (whose length may differ
    when datasets are mixed).

    There is nothing to decode: the heads decode their outputs themselves,
    so :meth:`decode` raises.

    Args:
        expand_bbox (bool): Grow the boxes to the visible keypoints.
            Defaults to False.
        input_size (tuple[int, int], optional): Model input ``(w, h)``;
            unused in training, kept for deployment tools that read it.
    """

    auxiliary_encode_keys = frozenset({'category_id', 'bbox'})
    label_mapping_table = dict(
        bbox='bboxes',
        bbox_labels='labels',
        keypoints='keypoints',
        keypoints_visible='keypoints_visible',
        area='areas',
    )
    instance_mapping_table = dict(
        bbox='bboxes',
        bbox_score='bbox_scores',
        keypoints='keypoints',
        keypoints_visible='keypoints_visible',
    )

    def __init__(self, expand_bbox: bool = False,
                 input_size: Optional[Tuple[int, int]] = None):
        self.expand_bbox = expand_bbox
        self.input_size = input_size

    def encode(self,
               keypoints: Optional[np.ndarray] = None,
               keypoints_visible: Optional[np.ndarray] = None,
               bbox: Optional[np.ndarray] = None,
               category_id: Optional[Sequence[int]] = None
               ) -> Dict[str, np.ndarray]:
        """Boxes and labels of one image's instances.

        Args:
            keypoints (np.ndarray, optional): (N, K, 2) pixels.
            keypoints_visible (np.ndarray, optional): (N, K) or (N, K, 2).
            bbox (np.ndarray, optional): (N, 4) ``xyxy`` pixels.
            category_id (Sequence[int], optional): N ids, 1-based.

        Returns:
            dict: ``bbox`` ((N, 4), only with ``expand_bbox`` and a ``bbox``)
            and ``bbox_labels`` ((N,) int8, ``category_id - 1``, only with
            ``category_id``).
        """
        results = {}
        if self.expand_bbox and bbox is not None:
            if keypoints is None or keypoints_visible is None:
                raise ValueError('YOLOXPoseAnnotationProcessor(expand_bbox='
                                 'True) needs keypoints and their visibility')
            results['bbox'] = expand_bboxes_to_keypoints(
                bbox, keypoints, np.asarray(keypoints_visible))
        if category_id is not None:
            results['bbox_labels'] = (np.array(category_id).astype(np.int8)
                                      - 1)
        return results

    def decode(self, *args, **kwargs):
        """Not available: the one-stage heads decode their own outputs."""
        raise NotImplementedError(
            'YOLOXPoseAnnotationProcessor only encodes annotations; the '
            'YOLOX-Pose/RTMO heads decode their outputs themselves')
