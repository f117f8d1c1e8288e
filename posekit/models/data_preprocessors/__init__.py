"""posekit.models.data_preprocessors: each module is imported here, which registers it."""
from .batch_augmentation import BatchSyncRandomResize
from .data_preprocessor import BaseDataPreprocessor, PoseDataPreprocessor

__all__ = ['BaseDataPreprocessor', 'BatchSyncRandomResize',
           'PoseDataPreprocessor']
