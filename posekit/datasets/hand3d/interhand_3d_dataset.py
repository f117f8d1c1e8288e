"""InterHand2.6M for 3D hand pose (InterNet), ECCV 2020.

Keypoints 0-20 are the right hand (20 the wrist, its root), 21-41 the left
(41 the wrist). Each sample is one image with both hands' 42 keypoints:
``keypoints (1, 42, 3)`` hold the pixel projection (x, y) of the
camera-space joints and, as z, their depth (mm) relative to their own
hand's wrist; ``keypoints_cam (1, 42, 3)`` the camera-space joints (mm).
"""
from __future__ import annotations

import numpy as np

from posekit.registry import DATASETS
from posekit.structures.keypoint import camera_to_pixel

from ..base_dataset import load_json
from ..hand.interhand2d_double import LEFT_ROOT, RIGHT_ROOT, InterHand2DDoubleDataset


@DATASETS.register_module()
class InterHand3DDataset(InterHand2DDoubleDataset):
    """InterHand2.6M with 3D targets (MMPose's ``InterHand3DDataset``).

    Besides the fields of :class:`InterHand2DDoubleDataset` (``hand_type``
    (1, 2) [right, left], ``hand_type_valid`` (1,), ``bbox`` (1, 4) xyxy),
    each data info has ``keypoints (1, 42, 3)`` (see the module docstring),
    ``keypoints_cam``, ``rel_root_depth`` (left minus right wrist depth, mm),
    ``rel_root_valid`` (both wrists annotated), ``abs_depth`` [right, left]
    wrist depths (mm; from the RootNet file when ``use_gt_root_depth`` is
    False), ``focal`` (fx, fy), ``principal_pt`` (cx, cy) and
    ``rotation`` 0.

    Args:
        ann_file (str): The ``InterHand2.6M_*_data.json``.
        camera_param_file (str): The ``*_camera.json``.
        joint_file (str): The ``*_joint_3d.json``.
        use_gt_root_depth (bool): Annotated boxes and true wrist depths;
            False reads both from ``rootnet_result_file``.
        rootnet_result_file (str, optional): RootNet output, a json list of
            ``{annot_id, bbox, abs_depth}``.
        **kwargs: see :class:`BaseCocoStyleDataset`.
    """

    def _load_annotations(self) -> tuple[list[dict], list[dict]]:
        self.rootnet_depths = {}
        if self.rootnet_result_file:
            for entry in load_json(self.rootnet_result_file,
                                   type(self).__name__):
                self.rootnet_depths[str(entry['annot_id'])] = \
                    entry['abs_depth']
        try:
            return super()._load_annotations()
        finally:
            del self.rootnet_depths

    def _camera(self, img: dict) -> tuple[np.ndarray, ...]:
        """(camera-space joints (42, 3), focal (2,), principal point (2,))."""
        capture, camera = str(img['capture']), img['camera']
        params = self.cameras[capture]
        position = np.array(params['campos'][camera], dtype=np.float32)
        rotation = np.array(params['camrot'][camera], dtype=np.float32)
        world = np.array(
            self.joints[capture][str(img['frame_idx'])]['world_coord'],
            dtype=np.float32)
        points = np.dot(rotation, world.T - position.reshape(3, 1)).T
        return (points,
                np.array(params['focal'][camera], dtype=np.float32),
                np.array(params['princpt'][camera], dtype=np.float32))

    def parse_data_info(self, raw_data_info: dict) -> dict:
        info = super().parse_data_info(raw_data_info)
        ann, img = raw_data_info['raw_ann_info'], raw_data_info['raw_img_info']
        points, focal, principal = self._camera(img)
        valid = np.array(ann['joint_valid'], dtype=np.float32).flatten()
        keypoints = np.zeros((1, points.shape[0], 3), dtype=np.float32)
        keypoints[..., :2] = camera_to_pixel(points, *focal, *principal, shift=True)
        hand = RIGHT_ROOT + 1     # keypoints per hand
        keypoints[0, :hand, 2] = points[:hand, 2] - points[RIGHT_ROOT, 2]
        keypoints[0, hand:, 2] = points[hand:, 2] - points[LEFT_ROOT, 2]
        if self.use_gt_root_depth:
            abs_depth = [points[RIGHT_ROOT, 2], points[LEFT_ROOT, 2]]
        else:
            abs_depth = self.rootnet_depths[str(ann['id'])]
        info.update(
            rotation=0, keypoints=keypoints,
            keypoints_cam=points.reshape(1, -1, 3),
            rel_root_depth=points[LEFT_ROOT, 2] - points[RIGHT_ROOT, 2],
            rel_root_valid=valid[RIGHT_ROOT] * valid[LEFT_ROOT],
            abs_depth=abs_depth, focal=focal, principal_pt=principal)
        return info
