"""posekit.models.heads: each module is imported here, which registers it."""
from .ae_head import AssociativeEmbeddingHead
from .base_head import BaseHead
from .cid_head import CIDHead
from .cpm_head import CPMHead
from .dekr_head import DEKRHead
from .heatmap_head import HeatmapHead, ViPNASHead
from .integral_regression_head import DSNTHead, IntegralRegressionHead
from .internet_head import InternetHead
from .mspn_head import MSPNHead
from .motion_regression_head import MotionRegressionHead
from .legacy import upgrade_legacy_head_keys, upgrade_legacy_keys
from .regression_head import RegressionHead, RLEHead
from .rtmcc_block import RTMCCBlock, Scale, ScaleNorm, rope
from .rtmcc_head import RTMCCHead
from .rtmo_head import RTMOHead
from .rtmw_head import RTMWHead
from .simcc_head import SimCCHead
from .temporal_regression_head import TemporalRegressionHead
from .trajectory_regression_head import TrajectoryRegressionHead
from .vis_head import VisPredictHead
from .yoloxpose_head import YOLOXPoseHead

__all__ = [
    'AssociativeEmbeddingHead', 'BaseHead', 'CIDHead', 'CPMHead',
    'DEKRHead', 'DSNTHead', 'HeatmapHead',
    'IntegralRegressionHead', 'MotionRegressionHead', 'RegressionHead', 'RLEHead', 'RTMCCBlock',
    'RTMCCHead', 'RTMOHead', 'Scale', 'ScaleNorm', 'SimCCHead', 'TemporalRegressionHead', 'TrajectoryRegressionHead', 'ViPNASHead', 'VisPredictHead', 'YOLOXPoseHead', 'rope',
    'upgrade_legacy_head_keys', 'upgrade_legacy_keys', 'InternetHead', 'MSPNHead', 'RTMWHead'
]
