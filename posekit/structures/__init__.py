"""Data containers passed between posekit modules, and box/keypoint math.

Containers follow MMEngine/MMPose 1.x semantics: :class:`InstanceData`
(per-instance arrays), :class:`PixelData` (dense maps),
:class:`MultilevelPixelData` and :class:`PoseDataSample` (one sample).
"""
from .bbox import (bbox_clip_border, bbox_corner2xyxy, bbox_cs2xywh,
                   bbox_cs2xyxy, bbox_xywh2cs, bbox_xywh2xyxy,
                   bbox_xyxy2corner, bbox_xyxy2cs, bbox_xyxy2xywh,
                   fix_aspect_ratio, flip_bbox, get_pers_warp_matrix,
                   get_udp_warp_matrix, get_warp_matrix)
from .conversion import to_plain
from .data_element import BaseDataElement, to_numpy
from .instance_data import InstanceData
from .keypoint import (flip_keypoints, flip_keypoints_custom_center,
                       keypoint_clip_border)
from .merge import heatmap_to_image, merge_data_samples
from .multilevel_pixel_data import MultilevelPixelData
from .pixel_data import PixelData
from .pose_data_sample import PoseDataSample

__all__ = [
    'BaseDataElement', 'InstanceData', 'PixelData', 'MultilevelPixelData',
    'PoseDataSample', 'bbox_clip_border', 'bbox_corner2xyxy', 'bbox_cs2xywh',
    'bbox_cs2xyxy', 'bbox_xywh2cs', 'bbox_xywh2xyxy', 'bbox_xyxy2corner',
    'bbox_xyxy2cs', 'bbox_xyxy2xywh', 'fix_aspect_ratio', 'flip_bbox',
    'get_pers_warp_matrix', 'get_udp_warp_matrix', 'get_warp_matrix',
    'flip_keypoints', 'flip_keypoints_custom_center', 'keypoint_clip_border',
    'to_numpy', 'to_plain', 'merge_data_samples', 'heatmap_to_image'
]
