"""Animal keypoint datasets."""
from .coco_like import (AnimalKingdomDataset, AnimalPoseDataset, AP10KDataset,
                        ATRWDataset, FlyDataset, Horse10Dataset, MacaqueDataset)
from .whole_image import LocustDataset, ZebraDataset

__all__ = [
    'AnimalKingdomDataset', 'AnimalPoseDataset', 'AP10KDataset', 'ATRWDataset',
    'FlyDataset', 'Horse10Dataset', 'LocustDataset', 'MacaqueDataset',
    'ZebraDataset'
]
