"""Keypoint codecs: encode keypoints into training targets, decode network
outputs into keypoints. Importing this package registers every codec in
``posekit.registry.KEYPOINT_CODECS`` under MMPose's names."""
from . import utils
from .base import BaseKeypointCodec
from .integral_regression_label import IntegralRegressionLabel
from .megvii_heatmap import MegviiHeatmap
from .msra_heatmap import MSRAHeatmap
from .regression_label import RegressionLabel
from .simcc_label import SimCCLabel
from .udp_heatmap import UDPHeatmap

__all__ = [
    'BaseKeypointCodec', 'IntegralRegressionLabel', 'MegviiHeatmap',
    'MSRAHeatmap', 'RegressionLabel', 'SimCCLabel', 'UDPHeatmap', 'utils'
]
