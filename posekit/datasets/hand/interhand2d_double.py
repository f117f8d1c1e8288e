"""InterHand2.6M as a 2D dataset of both hands (42 keypoints), ECCV 2020."""
from __future__ import annotations

import os.path as osp

import numpy as np

from posekit.registry import DATASETS
from posekit.structures.bbox import bbox_xywh2xyxy
from posekit.structures.keypoint import camera_to_pixel

from ..base_coco_style import BaseCocoStyleDataset
from ..coco_json import copy_json
from ..base_dataset import check_file, is_abs_path, load_json

# Keypoint 20 is the right wrist, 41 the left wrist: the roots of the hands.
RIGHT_ROOT, LEFT_ROOT = 20, 41
HAND_TYPES = {'right': [[1, 0]], 'left': [[0, 1]], 'interacting': [[1, 1]]}


@DATASETS.register_module()
class InterHand2DDoubleDataset(BaseCocoStyleDataset):
    """InterHand2.6M: one sample per image, right hand keypoints 0-20, left 21-41.

    2D keypoints are the world joints (``joint_file``) moved into the camera
    (``camera_param_file``) and projected. A hand whose wrist is not valid
    has all its keypoints marked invisible. Each data info also has
    ``hand_type`` (1, 2) float32 (``[1, 0]`` right, ``[0, 1]`` left,
    ``[1, 1]`` both), ``hand_type_valid`` (1,) and the box from ``bbox``
    (or from the RootNet results when ``use_gt_root_depth`` is False).
    ``sample_interval`` keeps every n-th image by position (not by id).

    Args:
        ann_file (str): The ``InterHand2.6M_*_data.json``.
        camera_param_file (str): The ``*_camera.json``.
        joint_file (str): The ``*_joint_3d.json``.
        use_gt_root_depth (bool): Use the annotated boxes; False reads them
            from ``rootnet_result_file``.
        rootnet_result_file (str, optional): RootNet output (a json list of
            ``{annot_id, bbox, ...}``); needed when ``use_gt_root_depth`` is
            False.
        **kwargs: see :class:`BaseCocoStyleDataset`.

    All files are relative to ``data_root`` unless absolute.
    """

    METAINFO: dict = dict(from_file='configs/_base_/datasets/interhand3d.py')

    def __init__(self, ann_file: str = '', camera_param_file: str = '',
                 joint_file: str = '', use_gt_root_depth: bool = True,
                 rootnet_result_file: str | None = None, **kwargs):
        if kwargs.get('bbox_file'):
            raise ValueError('InterHand2DDoubleDataset does not support bbox_file')
        root = kwargs.get('data_root') or ''

        def join(path):
            return osp.join(root, path) if root and not is_abs_path(path) else path

        name = type(self).__name__
        self.camera_param_file = join(camera_param_file)
        self.joint_file = join(joint_file)
        check_file(join(ann_file), 'annotation file', name)
        check_file(self.camera_param_file, 'camera_param_file', name)
        check_file(self.joint_file, 'joint_file', name)
        self.use_gt_root_depth = use_gt_root_depth
        self.rootnet_result_file = None
        if not use_gt_root_depth:
            if not rootnet_result_file:
                raise ValueError(f'{name}: use_gt_root_depth=False needs '
                                 'rootnet_result_file')
            self.rootnet_result_file = join(rootnet_result_file)
            check_file(self.rootnet_result_file, 'rootnet_result_file', name)
        super().__init__(ann_file=ann_file, **kwargs)

    def _load_annotations(self) -> tuple[list[dict], list[dict]]:
        coco = self._load_coco()
        self.cameras = load_json(self.camera_param_file, type(self).__name__)
        self.joints = load_json(self.joint_file, type(self).__name__)
        self.rootnet_boxes = {}
        if self.rootnet_result_file:
            for entry in load_json(self.rootnet_result_file, type(self).__name__):
                self.rootnet_boxes[str(entry['annot_id'])] = entry['bbox']
        instances, images = [], []
        for idx, (img_id, img) in enumerate(coco.images.items()):
            if idx % self.sample_interval:
                continue
            img.update(img_id=img_id, img_path=osp.join(self.data_prefix['img'],
                                                        img['file_name']))
            images.append(img)
            anns = coco.anns_of(img_id)
            if not anns:
                raise ValueError(f'{type(self).__name__}: {self.ann_file}: image '
                                 f'{img_id} has no annotation')
            info = self._checks.parse(self.parse_data_info,
                                      dict(raw_ann_info=anns[0], raw_img_info=img))
            if info:
                instances.append(info)
        del self.cameras, self.joints, self.rootnet_boxes
        return instances, images

    def parse_data_info(self, raw_data_info: dict) -> dict:
        ann, img = raw_data_info['raw_ann_info'], raw_data_info['raw_img_info']
        capture, camera = str(img['capture']), img['camera']
        params = self.cameras[capture]
        position = np.array(params['campos'][camera], dtype=np.float32)
        rotation = np.array(params['camrot'][camera], dtype=np.float32)
        focal = np.array(params['focal'][camera], dtype=np.float32)
        principal = np.array(params['princpt'][camera], dtype=np.float32)
        world = np.array(self.joints[capture][str(img['frame_idx'])]['world_coord'],
                         dtype=np.float32)
        points_cam = np.dot(rotation, world.T - position.reshape(3, 1)).T

        valid = np.array(ann['joint_valid'], dtype=np.float32).flatten()
        valid[:RIGHT_ROOT] *= valid[RIGHT_ROOT]
        valid[RIGHT_ROOT + 1:] *= valid[LEFT_ROOT]
        if ann['hand_type'] not in HAND_TYPES:
            raise self._bad(ann, 'hand_type', f'{ann["hand_type"]!r} is not one '
                            f'of {sorted(HAND_TYPES)}')
        box = ann['bbox'] if self.use_gt_root_depth else \
            self.rootnet_boxes[str(ann['id'])]
        keypoints = np.zeros((1, points_cam.shape[0], 3), dtype=np.float32)
        keypoints[..., :2] = camera_to_pixel(points_cam, *focal, *principal, shift=True)
        return dict(
            img_id=ann['image_id'], img_path=img['img_path'],
            keypoints=keypoints[:, :, :2],
            keypoints_visible=np.minimum(1, valid.reshape(-1, 1)).reshape(1, -1),
            hand_type=np.array(HAND_TYPES[ann['hand_type']], dtype=np.float32),
            hand_type_valid=np.array([ann['hand_type_valid']]),
            dataset=self._metainfo['dataset_name'],
            bbox=bbox_xywh2xyxy(np.array(box, dtype=np.float32).reshape(1, 4)),
            bbox_score=np.ones(1, dtype=np.float32),
            num_keypoints=self._metainfo['num_keypoints'],
            iscrowd=ann.get('iscrowd', False), id=ann['id'],
            raw_ann_info=copy_json(ann))
