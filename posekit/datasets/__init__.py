"""posekit.datasets: its modules are imported here, which registers them."""
from .animal import (AnimalKingdomDataset, AnimalPoseDataset, AP10KDataset,
                     ATRWDataset, FlyDataset, Horse10Dataset, LocustDataset,
                     MacaqueDataset, ZebraDataset)
from .annotation_checks import InvalidAnnotation, InvalidAnnotationWarning
from .base_coco_style import BaseCocoStyleDataset
from .base_dataset import BaseDataset
from .base_mocap_dataset import BaseMocapDataset
from .body import (AicDataset, CocoDataset, CrowdPoseDataset, ExlposeDataset,
                   HumanArt21Dataset, HumanArtDataset, JhmdbDataset,
                   MhpDataset, MpiiDataset, MpiiTrbDataset, OCHumanDataset,
                   PoseTrack18Dataset, PoseTrack18VideoDataset)
from .body3d import Human36mDataset
from .class_balanced import ClassBalancedDataset
from .dataset_wrappers import CombinedDataset, ConcatDataset, RepeatDataset
from .face import (AFLWDataset, COFWDataset, CocoWholeBodyFaceDataset,
                   Face300VWDataset, Face300WDataset, Face300WLPDataset,
                   LapaDataset, WFLWDataset)
from .fashion import DeepFashion2Dataset, DeepFashionDataset
from .hand3d import InterHand3DDataset
from .hand import (CocoWholeBodyHandDataset, FreiHandDataset, HalpeHandDataset,
                   InterHand2DDoubleDataset, OneHand10KDataset,
                   PanopticHand2DDataset, Rhd2DDataset)
from .metainfo import parse_pose_metainfo
from .samplers import DefaultSampler, InfiniteSampler, MultiSourceSampler
from .wholebody import CocoWholeBodyDataset, HalpeDataset, UBody2dDataset

__all__ = [
    'DefaultSampler', 'InfiniteSampler', 'MultiSourceSampler', 'ClassBalancedDataset',
    'AFLWDataset', 'AP10KDataset', 'ATRWDataset', 'AicDataset',
    'AnimalKingdomDataset', 'AnimalPoseDataset', 'BaseCocoStyleDataset',
    'BaseDataset', 'BaseMocapDataset', 'COFWDataset', 'CocoDataset', 'CocoWholeBodyDataset',
    'CocoWholeBodyFaceDataset', 'CocoWholeBodyHandDataset', 'CombinedDataset',
    'ConcatDataset', 'CrowdPoseDataset', 'DeepFashion2Dataset',
    'DeepFashionDataset', 'ExlposeDataset', 'Face300VWDataset',
    'Face300WDataset', 'Face300WLPDataset', 'FlyDataset', 'FreiHandDataset',
    'HalpeDataset', 'HalpeHandDataset', 'Horse10Dataset', 'Human36mDataset', 'HumanArt21Dataset', 'HumanArtDataset',
    'InvalidAnnotation', 'InvalidAnnotationWarning',
    'InterHand2DDoubleDataset', 'InterHand3DDataset', 'JhmdbDataset', 'LapaDataset', 'LocustDataset',
    'MacaqueDataset', 'MhpDataset', 'MpiiDataset', 'MpiiTrbDataset',
    'OCHumanDataset', 'OneHand10KDataset', 'PanopticHand2DDataset',
    'PoseTrack18Dataset', 'PoseTrack18VideoDataset', 'RepeatDataset', 'Rhd2DDataset', 'UBody2dDataset',
    'WFLWDataset', 'ZebraDataset', 'parse_pose_metainfo'
]
