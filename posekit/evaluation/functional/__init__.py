"""posekit.evaluation.functional: metric maths as pure numpy functions."""
from .keypoint_eval import (_calc_distances, _distance_acc,
                            keypoint_pck_accuracy, pose_pck_accuracy,
                            simcc_pck_accuracy)
from .keypoint_eval import (keypoint_auc, keypoint_epe, keypoint_nme,
                            multilabel_classification_accuracy)
from .mesh_eval import compute_similarity_transform, keypoint_mpjpe
from .nms import nms, oks_iou, oks_nms, soft_oks_nms

__all__ = [
    '_calc_distances', '_distance_acc', 'keypoint_pck_accuracy',
    'pose_pck_accuracy', 'simcc_pck_accuracy'
]
__all__ += [
    'keypoint_auc', 'keypoint_epe', 'keypoint_nme',
    'multilabel_classification_accuracy', 'keypoint_mpjpe',
    'compute_similarity_transform', 'nms', 'oks_iou', 'oks_nms',
    'soft_oks_nms'
]
