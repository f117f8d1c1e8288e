"""3D hand keypoint datasets."""
from .interhand_3d_dataset import InterHand3DDataset

__all__ = ['InterHand3DDataset']
