"""Keypoint helpers; conventions are in :mod:`.transforms`."""
from .camera import camera_to_pixel
from .transforms import (flip_keypoints, flip_keypoints_custom_center,
                         keypoint_clip_border)

__all__ = [
    'camera_to_pixel', 'flip_keypoints', 'flip_keypoints_custom_center',
    'keypoint_clip_border'
]
