"""Animal datasets read exactly like COCO; they differ only in their keypoint layout."""
from posekit.registry import DATASETS

from ..base_coco_style import BaseCocoStyleDataset


@DATASETS.register_module()
class AP10KDataset(BaseCocoStyleDataset):
    """AP-10K, 54 mammal species (17 keypoints), NeurIPS 2021."""

    METAINFO: dict = dict(from_file='configs/_base_/datasets/ap10k.py')


@DATASETS.register_module()
class AnimalPoseDataset(BaseCocoStyleDataset):
    """Animal-Pose, 5 species (20 keypoints), ICCV 2019."""

    METAINFO: dict = dict(from_file='configs/_base_/datasets/animalpose.py')


@DATASETS.register_module()
class Horse10Dataset(BaseCocoStyleDataset):
    """Horse-10 (22 keypoints), WACV 2021."""

    METAINFO: dict = dict(from_file='configs/_base_/datasets/horse10.py')


@DATASETS.register_module()
class MacaqueDataset(BaseCocoStyleDataset):
    """MacaquePose (COCO's 17 keypoints), 2020."""

    METAINFO: dict = dict(from_file='configs/_base_/datasets/macaque.py')


@DATASETS.register_module()
class FlyDataset(BaseCocoStyleDataset):
    """Vinegar fly from DeepPoseKit (32 keypoints), Nature Methods 2019."""

    METAINFO: dict = dict(from_file='configs/_base_/datasets/fly.py')


@DATASETS.register_module()
class ATRWDataset(BaseCocoStyleDataset):
    """ATRW, Amur tigers (15 keypoints), ACM MM 2020."""

    METAINFO: dict = dict(from_file='configs/_base_/datasets/atrw.py')


@DATASETS.register_module()
class AnimalKingdomDataset(BaseCocoStyleDataset):
    """Animal Kingdom (23 keypoints), CVPR 2022."""

    METAINFO: dict = dict(from_file='configs/_base_/datasets/ak.py')
