"""Face datasets whose boxes are stored as ``center`` + ``scale`` (box size / 200 px)."""
from __future__ import annotations

import os.path as osp

import numpy as np

from posekit.registry import DATASETS
from posekit.structures.bbox import bbox_cs2xyxy

from ..base_coco_style import BaseCocoStyleDataset

PIXEL_STD = 200.0


class CenterScaleFaceDataset(BaseCocoStyleDataset):
    """Base of face datasets with a square ``scale * 200`` px box around ``center``.

    A data info has ``bbox`` (1, 4) xyxy (not clipped), ``bbox_center``
    (1, 2) and ``bbox_scale`` (1, 2) float32 pixels, ``num_keypoints`` from
    the json, and no ``area``/``segmentation``/``category_id``.
    """

    def parse_data_info(self, raw_data_info: dict) -> dict:
        ann, img = raw_data_info['raw_ann_info'], raw_data_info['raw_img_info']
        for field in ('center', 'scale', 'num_keypoints'):
            if field not in ann:
                raise self._bad(ann, field, 'missing')
        center = np.array([ann['center']], dtype=np.float32)
        scale = np.array([[ann['scale'], ann['scale']]], dtype=np.float32) * PIXEL_STD
        keypoints, visible = self.read_keypoints(ann, ann.get('keypoints'))
        return dict(
            img_id=ann['image_id'],
            img_path=osp.join(self.data_prefix['img'], img['file_name']),
            bbox=bbox_cs2xyxy(center, scale), bbox_center=center,
            bbox_scale=scale, bbox_score=np.ones(1, dtype=np.float32),
            num_keypoints=ann['num_keypoints'], keypoints=keypoints,
            keypoints_visible=visible, iscrowd=ann['iscrowd'], id=ann['id'])


@DATASETS.register_module()
class WFLWDataset(CenterScaleFaceDataset):
    """WFLW (98 face landmarks), CVPR 2018."""

    METAINFO: dict = dict(from_file='configs/_base_/datasets/wflw.py')


@DATASETS.register_module()
class Face300WDataset(CenterScaleFaceDataset):
    """300W (68 face landmarks), ICCV-W 2013."""

    METAINFO: dict = dict(from_file='configs/_base_/datasets/300w.py')


@DATASETS.register_module()
class Face300VWDataset(CenterScaleFaceDataset):
    """300VW video frames (68 face landmarks), ICCV-W 2015."""

    METAINFO: dict = dict(from_file='configs/_base_/datasets/300vw.py')


@DATASETS.register_module()
class AFLWDataset(CenterScaleFaceDataset):
    """AFLW (19 face landmarks), ICCV-W 2011.

    In test mode each data info also has ``box_size`` (the json's), the
    normaliser of the NME metric; annotations without it raise.
    """

    METAINFO: dict = dict(from_file='configs/_base_/datasets/aflw.py')

    def parse_data_info(self, raw_data_info: dict) -> dict:
        info = super().parse_data_info(raw_data_info)
        if self.test_mode:
            ann = raw_data_info['raw_ann_info']
            if 'box_size' not in ann:
                raise self._bad(ann, 'box_size', 'missing; the NME metric '
                                'needs it in test mode')
            info['box_size'] = ann['box_size']
        return info
