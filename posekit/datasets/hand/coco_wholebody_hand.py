"""The hands of COCO-WholeBody (21 keypoints each), ECCV 2020."""
from __future__ import annotations

import os.path as osp

import numpy as np

from posekit.registry import DATASETS
from posekit.structures.bbox import bbox_xywh2xyxy

from ..base_coco_style import BaseCocoStyleDataset


@DATASETS.register_module()
class CocoWholeBodyHandDataset(BaseCocoStyleDataset):
    """One sample per valid hand (left, then right) of each non-crowd person.

    A hand is used when ``{left,right}hand_valid`` is true and some value of
    its ``{left,right}hand_kpts`` is positive. ``bbox`` is the hand box
    converted to xyxy (not clipped); ``id`` numbers the hands 0, 1, 2...;
    ``num_keypoints`` counts keypoints whose larger coordinate is non-zero.
    """

    METAINFO: dict = dict(from_file='configs/_base_/datasets/coco_wholebody_hand.py')
    SUPPORTS_SAMPLE_INTERVAL = False

    def _load_annotations(self) -> tuple[list[dict], list[dict]]:
        coco = self._load_coco(set_classes=False)  # as MMPose: no CLASSES
        instances, images = [], []
        for img_id, img in coco.images.items():
            img.update(img_id=img_id, img_path=osp.join(self.data_prefix['img'],
                                                        img['file_name']))
            images.append(img)
            for ann in coco.anns_of(img_id):
                if ann['iscrowd'] != False:  # noqa: E712 (0 and False both pass)
                    continue
                for side in ('left', 'right'):
                    info = self._checks.parse(self._parse_hand, ann, img, side,
                                              len(instances))
                    if info is not None:
                        instances.append(info)
        return instances, images

    def _parse_hand(self, ann: dict, img: dict, side: str, hand_id: int) -> dict | None:
        kpts = ann.get(f'{side}hand_kpts')
        if not ann.get(f'{side}hand_valid') or not kpts or max(kpts) <= 0:
            return None
        box = self.read_xywh(ann, f'{side}hand_box')
        keypoints, visible = self.read_keypoints(ann, kpts, f'{side}hand_kpts')
        return dict(
            img_id=ann['image_id'], img_path=img['img_path'],
            bbox=bbox_xywh2xyxy(np.array(box, dtype=np.float32).reshape(1, 4)),
            bbox_score=np.ones(1, dtype=np.float32),
            num_keypoints=np.count_nonzero(keypoints.max(axis=2)),
            keypoints=keypoints, keypoints_visible=visible,
            iscrowd=ann['iscrowd'], segmentation=ann['segmentation'], id=hand_id)
