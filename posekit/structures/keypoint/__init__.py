"""Keypoint helpers; conventions are in :mod:`.transforms`."""
from .transforms import (flip_keypoints, flip_keypoints_custom_center,
                         keypoint_clip_border)

__all__ = [
    'flip_keypoints', 'flip_keypoints_custom_center', 'keypoint_clip_border'
]
