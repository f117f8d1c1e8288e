"""posekit.models.pose_estimators: each module is imported here, which registers it."""
from .base import BasePoseEstimator
from .bottomup import BottomupPoseEstimator
from .pose_lifter import PoseLifter
from .topdown import TopdownPoseEstimator

__all__ = ['BasePoseEstimator', 'BottomupPoseEstimator', 'PoseLifter', 'TopdownPoseEstimator']
