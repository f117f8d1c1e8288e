"""posekit.models.pose_estimators: each module is imported here, which registers it."""
from .base import BasePoseEstimator
from .topdown import TopdownPoseEstimator

__all__ = ['BasePoseEstimator', 'TopdownPoseEstimator']
