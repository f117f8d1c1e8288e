"""Body datasets read exactly like COCO; they differ only in their keypoint layout."""
from posekit.registry import DATASETS

from ..base_coco_style import BaseCocoStyleDataset


@DATASETS.register_module()
class CocoDataset(BaseCocoStyleDataset):
    """COCO person keypoints (17 keypoints), "Microsoft COCO", ECCV 2014."""

    METAINFO: dict = dict(from_file='configs/_base_/datasets/coco.py')


@DATASETS.register_module()
class AicDataset(BaseCocoStyleDataset):
    """AI Challenger human keypoints (14 keypoints), converted to COCO json."""

    METAINFO: dict = dict(from_file='configs/_base_/datasets/aic.py')


@DATASETS.register_module()
class CrowdPoseDataset(BaseCocoStyleDataset):
    """CrowdPose (14 keypoints), CVPR 2019; images carry ``crowdIndex``."""

    METAINFO: dict = dict(from_file='configs/_base_/datasets/crowdpose.py')


@DATASETS.register_module()
class OCHumanDataset(BaseCocoStyleDataset):
    """OCHuman, heavily occluded people (COCO's 17 keypoints), CVPR 2019."""

    METAINFO: dict = dict(from_file='configs/_base_/datasets/ochuman.py')


@DATASETS.register_module()
class MhpDataset(BaseCocoStyleDataset):
    """Multi-Human Parsing v2 (MPII's 16 keypoints), ACM MM 2018."""

    METAINFO: dict = dict(from_file='configs/_base_/datasets/mhp.py')


@DATASETS.register_module()
class PoseTrack18Dataset(BaseCocoStyleDataset):
    """PoseTrack18 frames as single images (17 keypoints), CVPR 2018."""

    METAINFO: dict = dict(from_file='configs/_base_/datasets/posetrack18.py')


@DATASETS.register_module()
class ExlposeDataset(BaseCocoStyleDataset):
    """ExLPose, poses in extremely low light (14 keypoints), CVPR 2023."""

    METAINFO: dict = dict(from_file='configs/_base_/datasets/exlpose.py')

