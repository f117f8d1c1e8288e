"""posekit.evaluation: metrics, the evaluator and metric maths.

Importing it registers every metric (``METRICS``) and the evaluator
(``EVALUATORS``).
"""
from . import functional
from .evaluator import Evaluator, build_evaluator
from .metrics import (AUC, EPE, MPJPE, NME, BaseMetric, CocoMetric,
                      CocoWholeBodyMetric, JhmdbPCKAccuracy,
                      KeypointPartitionMetric, MpiiPCKAccuracy, PCKAccuracy)

__all__ = [
    'functional', 'Evaluator', 'build_evaluator', 'BaseMetric', 'CocoMetric',
    'CocoWholeBodyMetric', 'KeypointPartitionMetric', 'PCKAccuracy',
    'MpiiPCKAccuracy', 'JhmdbPCKAccuracy', 'AUC', 'EPE', 'NME', 'MPJPE'
]
