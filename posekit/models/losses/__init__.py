"""posekit.models.losses: each module is imported here, which registers it."""
from .ae_loss import AssociativeEmbeddingLoss
from .bbox_loss import IoULoss
from .classification_loss import (BCELoss, JSDiscretLoss, KLDiscretLoss,
                                  MLECCLoss, VariFocalLoss)
from .contrastive_loss import InfoNCELoss
from .distill_loss import FeaLoss, KDLoss
from .heatmap_loss import (AdaptiveWingLoss, CombinedTargetMSELoss,
                           FocalHeatmapLoss, KeypointMSELoss,
                           KeypointOHKMMSELoss)
from .loss_wrappers import CombinedLoss, MultipleLossWrapper
from .pose3d_loss import (BoneLoss, MPJPELoss, MPJPEVelocityJointLoss,
                          SemiSupervisionLoss)
from .realnvp import RealNVP
from .regression_loss import (L1Loss, MSELoss, OKSLoss, RLELoss,
                              SmoothL1Loss, SoftWeightSmoothL1Loss,
                              SoftWingLoss, WingLoss)

__all__ = [
    'AdaptiveWingLoss', 'AssociativeEmbeddingLoss', 'BCELoss', 'BoneLoss', 'CombinedLoss', 'CombinedTargetMSELoss',
    'FeaLoss', 'FocalHeatmapLoss', 'InfoNCELoss', 'IoULoss', 'JSDiscretLoss', 'KDLoss', 'KLDiscretLoss', 'KeypointMSELoss', 'KeypointOHKMMSELoss',
    'L1Loss', 'MLECCLoss', 'MPJPELoss', 'MPJPEVelocityJointLoss', 'MSELoss', 'MultipleLossWrapper', 'OKSLoss',
    'RealNVP', 'RLELoss', 'SemiSupervisionLoss',
    'SmoothL1Loss', 'SoftWeightSmoothL1Loss', 'SoftWingLoss', 'VariFocalLoss', 'WingLoss'
]
