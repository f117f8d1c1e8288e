"""Sub-JHMDB (15 keypoints), ICCV 2013."""
from __future__ import annotations

import os.path as osp

import numpy as np

from posekit.registry import DATASETS

from ..base_coco_style import BaseCocoStyleDataset


@DATASETS.register_module()
class JhmdbDataset(BaseCocoStyleDataset):
    """JHMDB converted to COCO json, with MATLAB's 1-based coordinates.

    Boxes and keypoints are shifted by -1 pixel to 0-based before the box is
    clipped. ``num_keypoints`` counts keypoints whose larger coordinate is
    non-zero after the shift; ``area`` is always 0.53 x the box area;
    ``category_id`` is the json value (default ``[1]``); there is no
    ``raw_ann_info`` (as in MMPose).
    """

    METAINFO: dict = dict(from_file='configs/_base_/datasets/jhmdb.py')

    def parse_data_info(self, raw_data_info: dict) -> dict:
        ann, img = raw_data_info['raw_ann_info'], raw_data_info['raw_img_info']
        box = self.clip_box(ann, img, offset=-1)
        raw = self.read_keypoint_array(ann, ann.get('keypoints'))
        keypoints = raw[..., :2] - 1
        return dict(
            img_id=ann['image_id'],
            img_path=osp.join(self.data_prefix['img'], img['file_name']),
            bbox=np.array(box, dtype=np.float32).reshape(1, 4),
            bbox_score=np.ones(1, dtype=np.float32),
            num_keypoints=np.count_nonzero(keypoints.max(axis=2)),
            keypoints=keypoints,
            keypoints_visible=np.minimum(1, raw[..., 2]),
            area=self.box_area(box),
            iscrowd=ann.get('iscrowd', 0),
            segmentation=ann.get('segmentation', None),
            id=ann['id'],
            category_id=ann.get('category_id', [1] * len(keypoints)))
