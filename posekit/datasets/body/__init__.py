"""Human body keypoint datasets."""
from .coco_like import (AicDataset, CocoDataset, CrowdPoseDataset,
                        ExlposeDataset, MhpDataset, OCHumanDataset,
                        PoseTrack18Dataset)
from .humanart import HumanArt21Dataset, HumanArtDataset
from .jhmdb import JhmdbDataset
from .mpii import MpiiDataset, MpiiTrbDataset
from .posetrack18_video import PoseTrack18VideoDataset

__all__ = [
    'AicDataset', 'CocoDataset', 'CrowdPoseDataset', 'ExlposeDataset',
    'HumanArt21Dataset', 'HumanArtDataset', 'JhmdbDataset', 'MhpDataset',
    'MpiiDataset', 'MpiiTrbDataset', 'OCHumanDataset', 'PoseTrack18Dataset',
    'PoseTrack18VideoDataset'
]
