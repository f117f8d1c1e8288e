"""posekit.models.pose_estimators: each module is imported here, which registers it."""
from .base import BasePoseEstimator
from .bottomup import BottomupPoseEstimator
from .topdown import TopdownPoseEstimator

__all__ = ['BasePoseEstimator', 'BottomupPoseEstimator', 'TopdownPoseEstimator']
