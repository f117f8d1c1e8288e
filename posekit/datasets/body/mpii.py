"""MPII Human Pose (16 keypoints, CVPR 2014) and MPII-TRB (40 keypoints, ICCV 2019).

Both store a person box as ``center`` (x, y) and ``scale`` = box height /
200 pixels (the legacy "pixel_std"); the box is the square
``scale * 200`` pixels wide around the center, converted to ``xyxy``.
"""
from __future__ import annotations

import os.path as osp

import numpy as np

from posekit.registry import DATASETS
from posekit.structures.bbox import bbox_cs2xyxy

from ..base_coco_style import BaseCocoStyleDataset
from ..base_dataset import check_file, load_json

PIXEL_STD = 200.0
# PCKh normalises by 0.6 x the head box diagonal (MPII's evaluation code).
HEAD_SIZE_FACTOR = 0.6


def load_headboxes(path: str) -> np.ndarray:
    """Head boxes of MPII's ``gt_valid.mat``: (N, 2, 2) float, ``[[x1, y1], [x2, y2]]``."""
    try:
        from scipy.io import loadmat
    except ImportError as e:  # scipy is only needed for this evaluation file
        raise ImportError('MpiiDataset: reading headbox_file (a .mat file) '
                          'needs scipy: pip install scipy') from e
    return np.transpose(loadmat(path)['headboxes_src'], [2, 0, 1])


@DATASETS.register_module()
class MpiiDataset(BaseCocoStyleDataset):
    """MPII in MMPose's converted json: a list of ``{image, center, scale, joints, joints_vis}``.

    Coordinates are MATLAB 1-based: the center is moved down by
    ``15 / 200 * box size`` (to keep the feet in the crop) when it is valid,
    then everything is shifted by -1. Each data info has ``bbox_center`` (1, 2),
    ``bbox_scale`` (1, 2) float32 pixels, ``bbox`` (1, 4) xyxy, ``keypoints``
    (1, 16, 2) float32, ``keypoints_visible`` (1, 16) as stored (int),
    ``area`` (1,) float32, ``category_id`` ``[1]``; ``id`` counts entries and
    ``img_id`` is the number in the image name.

    Args:
        headbox_file (str, optional): MPII's ``gt_valid.mat`` (test mode,
            top-down only). Adds ``head_size`` (1, 1): 0.6 x the head box
            diagonal, the PCKh normaliser. Reading it needs scipy.
        **kwargs: see :class:`BaseCocoStyleDataset`.
    """

    METAINFO: dict = dict(from_file='configs/_base_/datasets/mpii.py')
    SUPPORTS_SAMPLE_INTERVAL = False

    def __init__(self, ann_file: str = '', bbox_file: str | None = None,
                 headbox_file: str | None = None, **kwargs):
        if headbox_file:
            if kwargs.get('data_mode', 'topdown') != 'topdown':
                raise ValueError('MpiiDataset: headbox_file is only supported '
                                 'in topdown mode')
            if not kwargs.get('test_mode', False):
                raise ValueError('MpiiDataset: headbox_file is only used for '
                                 'evaluation; set test_mode=True')
            if not headbox_file.endswith('mat'):
                raise ValueError('MpiiDataset: headbox_file must be a .mat '
                                 f'file, got {headbox_file!r}')
        self.headbox_file = headbox_file
        super().__init__(ann_file=ann_file, bbox_file=bbox_file, **kwargs)

    def _load_annotations(self) -> tuple[list[dict], list[dict]]:
        name = type(self).__name__
        check_file(self.ann_file, 'annotation file', name)
        anns = load_json(self.ann_file, name)
        if not isinstance(anns, list):
            raise ValueError(f'{name}: {self.ann_file} must hold a list of '
                             'MPII entries (MMPose\'s converted format)')
        headboxes = None
        if self.headbox_file:
            check_file(self.headbox_file, 'headbox_file', name)
            headboxes = load_headboxes(self.headbox_file)
        instances, images, seen = [], [], set()
        for idx, ann in enumerate(anns):
            info = self._checks.parse(self._parse_entry, idx, ann)
            if info is None:
                continue
            if headboxes is not None:
                box = headboxes[idx]
                head_size = np.linalg.norm(box[1] - box[0], axis=0) * HEAD_SIZE_FACTOR
                info['head_size'] = head_size.reshape(1, -1)
            if info['img_id'] not in seen:
                seen.add(info['img_id'])
                images.append(dict(img_id=info['img_id'], img_path=info['img_path']))
            instances.append(info)
        return instances, images

    def _parse_entry(self, idx: int, ann: dict) -> dict:
        missing = [k for k in ('image', 'center', 'scale', 'joints', 'joints_vis')
                   if k not in ann]
        if missing:
            raise ValueError(f'MpiiDataset: {self.ann_file}: entry {idx} lacks '
                             f'{missing}')
        center = np.array(ann['center'], dtype=np.float32)
        scale = np.array([ann['scale'], ann['scale']], dtype=np.float32) * PIXEL_STD
        if center[0] != -1:
            center[1] = center[1] + 15. / PIXEL_STD * scale[1]
        center = (center - 1).reshape(1, -1)
        scale = scale.reshape(1, -1)
        bbox = bbox_cs2xyxy(center, scale)
        keypoints = np.array(ann['joints'], dtype=np.float32)
        num_keypoints = self._metainfo['num_keypoints']
        if keypoints.size != 2 * num_keypoints:
            raise self._checks.error(f"entry {idx} field 'joints'",
                                     f'{keypoints.size} values, expected '
                                     f'{num_keypoints} x (x, y)')
        wh = bbox[:, 2:] - bbox[:, :2]
        return dict(
            id=idx,
            img_id=int(ann['image'].split('.')[0]),
            img_path=osp.join(self.data_prefix['img'], ann['image']),
            bbox_center=center, bbox_scale=scale, bbox=bbox,
            bbox_score=np.ones(1, dtype=np.float32),
            keypoints=keypoints.reshape(1, -1, 2),
            keypoints_visible=np.array(ann['joints_vis']).reshape(1, -1),
            area=np.maximum(wh[:, 0] * wh[:, 1] * 0.53, 1.0).astype(np.float32),
            category_id=ann.get('category_id', [1] * len(bbox)))


@DATASETS.register_module()
class MpiiTrbDataset(BaseCocoStyleDataset):
    """MPII-TRB (40 keypoints: 14 joints + 26 contour points), COCO-like json.

    Boxes come from ``center``/``scale`` (no 1-based shift, no clipping);
    ``num_keypoints`` is the json's ``num_joints``; validation entries carry
    ``headbox`` (4,) float32, the PCKh normaliser. Instances are ordered by id.
    """

    METAINFO: dict = dict(from_file='configs/_base_/datasets/mpii_trb.py')
    SUPPORTS_SAMPLE_INTERVAL = False

    def _load_annotations(self) -> tuple[list[dict], list[dict]]:
        name = type(self).__name__
        check_file(self.ann_file, 'annotation file', name)
        data = load_json(self.ann_file, name)
        images_by_id = {img['id']: img for img in data['images']}
        instances, images, seen = [], [], set()
        for ann in data['annotations']:
            info = self._checks.parse(self._parse_ann, ann, images_by_id)
            if info is None:
                continue
            instances.append(info)
            if info['img_id'] not in seen:
                seen.add(info['img_id'])
                images.append(dict(img_id=info['img_id'], img_path=info['img_path']))
        instances.sort(key=lambda x: x['id'])
        return instances, images

    def _parse_ann(self, ann: dict, images_by_id: dict) -> dict:
        img_id = ann['image_id']
        if img_id not in images_by_id:
            raise self._bad(ann, 'image_id', 'no image with this id')
        center = np.array([ann['center']], dtype=np.float32)
        scale = np.array([[ann['scale'], ann['scale']]], dtype=np.float32) * PIXEL_STD
        keypoints, visible = self.read_keypoints(ann, ann.get('keypoints'))
        info = dict(
            id=ann['id'], img_id=img_id,
            img_path=osp.join(self.data_prefix['img'], images_by_id[img_id]['file_name']),
            bbox_center=center, bbox_scale=scale,
            bbox=bbox_cs2xyxy(center, scale),
            bbox_score=np.ones(1, dtype=np.float32),
            num_keypoints=ann['num_joints'], keypoints=keypoints,
            keypoints_visible=visible, iscrowd=ann['iscrowd'])
        if 'headbox' in ann:
            info['headbox'] = np.array(ann['headbox'], dtype=np.float32)
        return info
