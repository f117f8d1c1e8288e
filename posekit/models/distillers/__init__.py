"""posekit.models.distillers: each module is imported here, which registers it."""
from .dwpose_distiller import DWPoseDistiller

__all__ = ['DWPoseDistiller']
