"""COCO-WholeBody (133 keypoints, ECCV 2020) and UBody-2D (CVPR 2023)."""
from __future__ import annotations

import os.path as osp

import numpy as np

from posekit.registry import DATASETS

from ..base_coco_style import BaseCocoStyleDataset
from ..coco_json import copy_json

# Whole-body keypoints are these fields concatenated, in this order:
# 17 body + 6 foot + 68 face + 21 left hand + 21 right hand = 133.
PART_FIELDS = ('keypoints', 'foot_kpts', 'face_kpts', 'lefthand_kpts',
               'righthand_kpts')


@DATASETS.register_module()
class CocoWholeBodyDataset(BaseCocoStyleDataset):
    """COCO-WholeBody: body, feet, face and hands of each COCO person.

    Differences from a plain COCO data info, kept from MMPose: ``keypoints``
    keeps the json's number type (float64, or int64 if all values are
    integers) instead of float32; ``keypoints_visible`` is ``v > 0`` as int64;
    ``keypoints_3d`` is None; ``category_id`` is the plain json value.
    """

    METAINFO: dict = dict(from_file='configs/_base_/datasets/coco_wholebody.py')

    def parse_data_info(self, raw_data_info: dict) -> dict:
        ann, img = raw_data_info['raw_ann_info'], raw_data_info['raw_img_info']
        box = self.clip_box(ann, img)
        for field in PART_FIELDS:
            if not isinstance(ann.get(field), list):
                raise self._bad(ann, field, 'missing or not a list')
        values = [v for field in PART_FIELDS for v in ann[field]]
        raw = self.read_keypoint_array(ann, values, '+'.join(PART_FIELDS), dtype=None)
        return dict(
            img_id=ann['image_id'],
            img_path=osp.join(self.data_prefix['img'], img['file_name']),
            bbox=np.array(box, dtype=np.float32).reshape(1, 4),
            bbox_score=np.ones(1, dtype=np.float32),
            num_keypoints=ann['num_keypoints'],
            keypoints=raw[..., :2],
            keypoints_3d=None,
            keypoints_visible=np.minimum(1, raw[..., 2] > 0),
            iscrowd=ann['iscrowd'],
            segmentation=ann['segmentation'],
            area=self.area_of(ann, box),
            id=ann['id'],
            category_id=ann['category_id'],
            raw_ann_info=copy_json(ann))


@DATASETS.register_module()
class UBody2dDataset(CocoWholeBodyDataset):
    """UBody 2D: upper-body whole-body poses from 15 video scenes, COCO-WholeBody json."""

    METAINFO: dict = dict(from_file='configs/_base_/datasets/ubody2d.py')
