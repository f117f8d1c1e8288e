"""Face landmark datasets."""
from .center_scale import (AFLWDataset, Face300VWDataset, Face300WDataset,
                           WFLWDataset)
from .coco_like import (COFWDataset, CocoWholeBodyFaceDataset,
                        Face300WLPDataset, LapaDataset)

__all__ = [
    'AFLWDataset', 'COFWDataset', 'CocoWholeBodyFaceDataset',
    'Face300VWDataset', 'Face300WDataset', 'Face300WLPDataset', 'LapaDataset',
    'WFLWDataset'
]
