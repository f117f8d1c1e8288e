"""Keypoint codecs: encode keypoints into training targets, decode network
outputs into keypoints. Importing this package registers every codec in
``posekit.registry.KEYPOINT_CODECS`` under MMPose's names."""
from . import utils
from .annotation_processors import YOLOXPoseAnnotationProcessor
from .associative_embedding import AssociativeEmbedding
from .base import BaseKeypointCodec
from .decoupled_heatmap import DecoupledHeatmap
from .hand_3d_heatmap import Hand3DHeatmap
from .image_pose_lifting import ImagePoseLifting
from .integral_regression_label import IntegralRegressionLabel
from .megvii_heatmap import MegviiHeatmap
from .motionbert_label import MotionBERTLabel
from .msra_heatmap import MSRAHeatmap
from .regression_label import RegressionLabel
from .simcc_label import SimCCLabel
from .spr import SPR
from .udp_heatmap import UDPHeatmap
from .video_pose_lifting import VideoPoseLifting

__all__ = [
    'AssociativeEmbedding', 'BaseKeypointCodec', 'DecoupledHeatmap', 'SPR',
    'IntegralRegressionLabel', 'MegviiHeatmap',
    'MSRAHeatmap', 'RegressionLabel', 'SimCCLabel', 'UDPHeatmap',
    'YOLOXPoseAnnotationProcessor', 'utils', 'ImagePoseLifting',
    'MotionBERTLabel', 'VideoPoseLifting', 'Hand3DHeatmap'
]
