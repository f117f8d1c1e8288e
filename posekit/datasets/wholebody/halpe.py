"""Halpe full body (136 keypoints: body, head/neck/hip extras, feet, face, hands)."""
from posekit.registry import DATASETS

from ..base_coco_style import BaseCocoStyleDataset


@DATASETS.register_module()
class HalpeDataset(BaseCocoStyleDataset):
    """Halpe in COCO json; read like COCO."""

    METAINFO: dict = dict(from_file='configs/_base_/datasets/halpe.py')
