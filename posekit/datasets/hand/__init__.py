"""Hand keypoint datasets."""
from .coco_like import (FreiHandDataset, OneHand10KDataset,
                        PanopticHand2DDataset, Rhd2DDataset)
from .coco_wholebody_hand import CocoWholeBodyHandDataset
from .halpe_hand import HalpeHandDataset
from .interhand2d_double import InterHand2DDoubleDataset

__all__ = [
    'CocoWholeBodyHandDataset', 'FreiHandDataset', 'HalpeHandDataset', 'InterHand2DDoubleDataset',
    'OneHand10KDataset', 'PanopticHand2DDataset', 'Rhd2DDataset'
]
