"""DeepPoseKit datasets whose images are 160x160 crops: the box is the whole image."""
from __future__ import annotations

import os.path as osp

import numpy as np

from posekit.registry import DATASETS

from ..base_coco_style import BaseCocoStyleDataset


class WholeImageDataset(BaseCocoStyleDataset):
    """Box ``[0, 0, 160, 160]`` xyxy for every sample (as MMPose, whatever the json says).

    A data info has ``num_keypoints`` from the json and no ``area``,
    ``segmentation`` or ``category_id``.
    """

    def parse_data_info(self, raw_data_info: dict) -> dict:
        ann, img = raw_data_info['raw_ann_info'], raw_data_info['raw_img_info']
        keypoints, visible = self.read_keypoints(ann, ann.get('keypoints'))
        return dict(
            img_id=ann['image_id'],
            img_path=osp.join(self.data_prefix['img'], img['file_name']),
            bbox=np.array([0, 0, 160, 160], dtype=np.float32).reshape(1, 4),
            bbox_score=np.ones(1, dtype=np.float32),
            num_keypoints=ann['num_keypoints'], keypoints=keypoints,
            keypoints_visible=visible, iscrowd=ann['iscrowd'], id=ann['id'])


@DATASETS.register_module()
class LocustDataset(WholeImageDataset):
    """Desert locust (35 keypoints), eLife 2019."""

    METAINFO: dict = dict(from_file='configs/_base_/datasets/locust.py')


@DATASETS.register_module()
class ZebraDataset(WholeImageDataset):
    """Grévy's zebra (9 keypoints), eLife 2019."""

    METAINFO: dict = dict(from_file='configs/_base_/datasets/zebra.py')
