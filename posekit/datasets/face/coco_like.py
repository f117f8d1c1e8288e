"""Face datasets read exactly like COCO, plus COCO-WholeBody's faces."""
from __future__ import annotations

import os.path as osp

import numpy as np

from posekit.registry import DATASETS

from ..base_coco_style import BaseCocoStyleDataset


@DATASETS.register_module()
class COFWDataset(BaseCocoStyleDataset):
    """COFW, occluded faces (29 landmarks), ICCV 2013."""

    METAINFO: dict = dict(from_file='configs/_base_/datasets/cofw.py')


@DATASETS.register_module()
class Face300WLPDataset(BaseCocoStyleDataset):
    """300W-LP, large-pose synthesised faces (68 landmarks), CVPR 2016."""

    METAINFO: dict = dict(from_file='configs/_base_/datasets/300wlp.py')


@DATASETS.register_module()
class LapaDataset(BaseCocoStyleDataset):
    """LaPa (106 face landmarks), AAAI 2020."""

    METAINFO: dict = dict(from_file='configs/_base_/datasets/lapa.py')


@DATASETS.register_module()
class CocoWholeBodyFaceDataset(BaseCocoStyleDataset):
    """The 68 face landmarks of COCO-WholeBody, one sample per valid face.

    Uses ``face_box`` and ``face_kpts``; annotations with ``face_valid``
    false or no positive face keypoint value are skipped.
    ``num_keypoints`` counts landmarks whose larger coordinate is non-zero.
    """

    METAINFO: dict = dict(from_file='configs/_base_/datasets/coco_wholebody_face.py')

    def parse_data_info(self, raw_data_info: dict) -> dict | None:
        ann, img = raw_data_info['raw_ann_info'], raw_data_info['raw_img_info']
        if not ann.get('face_valid') or max(ann['face_kpts']) <= 0:
            return None
        keypoints, visible = self.read_keypoints(ann, ann['face_kpts'], 'face_kpts')
        return dict(
            img_id=ann['image_id'],
            img_path=osp.join(self.data_prefix['img'], img['file_name']),
            bbox=self.clipped_xyxy(ann, img, 'face_box'),
            bbox_score=np.ones(1, dtype=np.float32),
            num_keypoints=np.count_nonzero(keypoints.max(axis=2)),
            keypoints=keypoints, keypoints_visible=visible,
            iscrowd=ann['iscrowd'], id=ann['id'])
