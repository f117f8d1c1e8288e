"""posekit.models.losses: each module is imported here, which registers it."""
from .classification_loss import BCELoss, JSDiscretLoss, KLDiscretLoss
from .distill_loss import FeaLoss, KDLoss
from .heatmap_loss import (AdaptiveWingLoss, CombinedTargetMSELoss,
                           KeypointMSELoss, KeypointOHKMMSELoss)
from .loss_wrappers import CombinedLoss, MultipleLossWrapper
from .realnvp import RealNVP
from .regression_loss import (L1Loss, MSELoss, RLELoss, SmoothL1Loss,
                              SoftWeightSmoothL1Loss, SoftWingLoss, WingLoss)

__all__ = [
    'AdaptiveWingLoss', 'BCELoss', 'CombinedLoss', 'CombinedTargetMSELoss',
    'FeaLoss', 'JSDiscretLoss', 'KDLoss', 'KLDiscretLoss', 'KeypointMSELoss', 'KeypointOHKMMSELoss',
    'L1Loss', 'MSELoss', 'MultipleLossWrapper', 'RealNVP', 'RLELoss',
    'SmoothL1Loss', 'SoftWeightSmoothL1Loss', 'SoftWingLoss', 'WingLoss'
]
