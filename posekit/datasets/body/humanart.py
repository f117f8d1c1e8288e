"""Human-Art: people in paintings, sculptures, cartoons... (CVPR 2023)."""
from __future__ import annotations

import numpy as np

from posekit.registry import DATASETS

from ..base_coco_style import BaseCocoStyleDataset
from ..coco_json import copy_json


@DATASETS.register_module()
class HumanArtDataset(BaseCocoStyleDataset):
    """Human-Art with COCO's 17 keypoints (the ``keypoints`` field)."""

    METAINFO: dict = dict(from_file='configs/_base_/datasets/humanart.py')


@DATASETS.register_module()
class HumanArt21Dataset(HumanArtDataset):
    """Human-Art with 21 keypoints (COCO's 17 + 4 foot points), the ``keypoints_21`` field.

    A data info is a COCO one without ``area``, and with ``category_id`` the
    plain json value (not an array), as in MMPose.
    """

    METAINFO: dict = dict(from_file='configs/_base_/datasets/humanart21.py')

    def parse_data_info(self, raw_data_info: dict) -> dict | None:
        ann, img = raw_data_info['raw_ann_info'], raw_data_info['raw_img_info']
        if 'bbox' not in ann or 'keypoints' not in ann:
            return None
        bbox = self.clipped_xyxy(ann, img)
        keypoints, visible = self.read_keypoints(ann, ann.get('keypoints_21'),
                                                 'keypoints_21')
        num_keypoints = ann['num_keypoints'] if 'num_keypoints' in ann else \
            np.count_nonzero(keypoints.max(axis=2))
        info = dict(
            img_id=ann['image_id'], img_path=img['img_path'], bbox=bbox,
            bbox_score=np.ones(1, dtype=np.float32), num_keypoints=num_keypoints,
            keypoints=keypoints, keypoints_visible=visible,
            iscrowd=ann.get('iscrowd', 0),
            segmentation=ann.get('segmentation', None), id=ann['id'],
            category_id=ann['category_id'], raw_ann_info=copy_json(ann))
        if 'crowdIndex' in img:
            info['crowd_index'] = img['crowdIndex']
        return info
