"""Hand datasets in COCO json: OneHand10K, RHD, FreiHAND, CMU Panoptic hands."""
from __future__ import annotations

import os.path as osp

import numpy as np

from posekit.registry import DATASETS

from ..base_coco_style import BaseCocoStyleDataset


@DATASETS.register_module()
class OneHand10KDataset(BaseCocoStyleDataset):
    """OneHand10K (21 hand keypoints), TCSVT 2019."""

    METAINFO: dict = dict(from_file='configs/_base_/datasets/onehand10k.py')


@DATASETS.register_module()
class Rhd2DDataset(BaseCocoStyleDataset):
    """Rendered Hand Pose (21 hand keypoints), ICCV 2017."""

    METAINFO: dict = dict(from_file='configs/_base_/datasets/rhd2d.py')


@DATASETS.register_module()
class FreiHandDataset(BaseCocoStyleDataset):
    """FreiHAND (21 hand keypoints), ICCV 2019.

    Images are 224x224 crops around the hand, so the box is the whole image,
    ``[0, 0, 224, 224]`` (as in MMPose, whatever the json's ``bbox``).
    ``num_keypoints`` counts keypoints whose larger coordinate is non-zero.
    """

    METAINFO: dict = dict(from_file='configs/_base_/datasets/freihand2d.py')

    def parse_data_info(self, raw_data_info: dict) -> dict:
        ann, img = raw_data_info['raw_ann_info'], raw_data_info['raw_img_info']
        keypoints, visible = self.read_keypoints(ann, ann.get('keypoints'))
        return dict(
            img_id=ann['image_id'],
            img_path=osp.join(self.data_prefix['img'], img['file_name']),
            bbox=np.array([0, 0, 224, 224], dtype=np.float32).reshape(1, 4),
            bbox_score=np.ones(1, dtype=np.float32),
            num_keypoints=np.count_nonzero(keypoints.max(axis=2)),
            keypoints=keypoints, keypoints_visible=visible,
            iscrowd=ann['iscrowd'], segmentation=ann['segmentation'],
            id=ann['id'])


@DATASETS.register_module()
class PanopticHand2DDataset(BaseCocoStyleDataset):
    """CMU Panoptic hands (21 keypoints), CVPR 2017.

    Each data info has ``head_size`` (the json's), the normaliser of the
    PCKh-style ``tPCK`` metric. ``num_keypoints`` counts keypoints whose
    larger coordinate is non-zero.
    """

    METAINFO: dict = dict(from_file='configs/_base_/datasets/panoptic_hand2d.py')

    def parse_data_info(self, raw_data_info: dict) -> dict:
        ann, img = raw_data_info['raw_ann_info'], raw_data_info['raw_img_info']
        keypoints, visible = self.read_keypoints(ann, ann.get('keypoints'))
        return dict(
            img_id=ann['image_id'],
            img_path=osp.join(self.data_prefix['img'], img['file_name']),
            bbox=self.clipped_xyxy(ann, img),
            bbox_score=np.ones(1, dtype=np.float32),
            num_keypoints=np.count_nonzero(keypoints.max(axis=2)),
            keypoints=keypoints, keypoints_visible=visible,
            iscrowd=ann['iscrowd'], segmentation=ann['segmentation'],
            head_size=ann['head_size'], id=ann['id'])
