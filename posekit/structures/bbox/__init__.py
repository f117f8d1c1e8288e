"""Bounding-box helpers; conventions are in :mod:`.transforms`."""
from .transforms import (bbox_clip_border, bbox_corner2xyxy, bbox_cs2xywh,
                         bbox_cs2xyxy, bbox_xywh2cs, bbox_xywh2xyxy,
                         bbox_xyxy2corner, bbox_xyxy2cs, bbox_xyxy2xywh,
                         fix_aspect_ratio, flip_bbox, get_pers_warp_matrix,
                         get_udp_warp_matrix, get_warp_matrix, whole_image_bbox)

__all__ = [
    'bbox_clip_border', 'bbox_corner2xyxy', 'bbox_cs2xywh', 'bbox_cs2xyxy',
    'bbox_xywh2cs', 'bbox_xywh2xyxy', 'bbox_xyxy2corner', 'bbox_xyxy2cs',
    'bbox_xyxy2xywh', 'fix_aspect_ratio', 'flip_bbox', 'get_pers_warp_matrix',
    'get_udp_warp_matrix', 'get_warp_matrix', 'whole_image_bbox'
]
