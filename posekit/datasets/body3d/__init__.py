"""3D human body datasets (pose lifting)."""
from .h36m_dataset import Human36mDataset

__all__ = ['Human36mDataset']
