"""Metrics; importing this package registers them in ``METRICS``."""
from .base_metric import BaseMetric
from .coco_metric import CocoMetric
from .coco_wholebody_metric import CocoWholeBodyMetric
from .interhand_metric import InterHandMetric
from .keypoint_3d_metrics import MPJPE
from .keypoint_error_metrics import AUC, EPE, NME
from .keypoint_partition_metric import KeypointPartitionMetric
from .pck_metrics import JhmdbPCKAccuracy, MpiiPCKAccuracy, PCKAccuracy
from .posetrack18_metric import PoseTrack18Metric

__all__ = [
    'BaseMetric', 'CocoMetric', 'CocoWholeBodyMetric', 'KeypointPartitionMetric',
    'PCKAccuracy', 'MpiiPCKAccuracy', 'JhmdbPCKAccuracy', 'AUC', 'EPE', 'NME',
    'MPJPE', 'InterHandMetric', 'PoseTrack18Metric'
]
