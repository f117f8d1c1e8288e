"""posekit.models.task_modules: prior generators, assigners and the metrics
they use (registered in ``posekit.registry.TASK_UTILS``)."""
from .bbox_ops import bbox_overlaps, nms
from .metric_calculators import BBoxOverlaps2D, PoseOKS
from .point_generator import MlvlPointGenerator
from .sim_ota_assigner import SimOTAAssigner

__all__ = ['BBoxOverlaps2D', 'MlvlPointGenerator', 'PoseOKS',
           'SimOTAAssigner', 'bbox_overlaps', 'nms']
