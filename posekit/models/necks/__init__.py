"""posekit.models.necks: each module is imported here, which registers it."""
from .fmap_proc_neck import FeatureMapProcessor
from .fpn import FPN
from .gap_neck import GlobalAveragePooling

__all__ = ['FeatureMapProcessor', 'FPN', 'GlobalAveragePooling']
