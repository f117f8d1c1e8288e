"""posekit.models.detectors: the people/hand/face detectors of MMPose's demos
(RTMDet, YOLOX) with MMDetection 3.x's type names and ``state_dict`` keys,
for inference only. Each module is imported here, which registers it."""
from .det_preprocessor import DetDataPreprocessor
from .rtmdet_head import RTMDetSepBNHead
from .single_stage import RTMDet, SingleStageDetector, YOLOX
from .yolox_head import YOLOXHead

__all__ = ['DetDataPreprocessor', 'RTMDet', 'RTMDetSepBNHead', 'SingleStageDetector',
           'YOLOX', 'YOLOXHead']
