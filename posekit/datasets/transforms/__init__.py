"""posekit.datasets.transforms: its modules are imported here, which registers them."""
from .compose import Compose
from .converting import KeypointConverter
from .loading import LoadImage
from .common_transforms import GetBBoxCenterScale, RandomFlip, RandomHalfBody
from .bbox_transforms import RandomBBoxTransform
from .color_transforms import PhotometricDistortion, YOLOXHSVRandomAug
from .albumentation import Albumentation
from .filtering import FilterAnnotations
from .topdown_transforms import TopdownAffine
from .bottomup_transforms import BottomupRandomAffine, BottomupResize
from .bottomup_mask import BottomupGetHeatmapMask
from .mix_img_transforms import Mosaic, YOLOXMixUp
from .pose3d_transforms import RandomFlipAroundRoot
from .hand_transforms import HandRandomFlip
from .generate_target import GenerateTarget
from .formatting import PackPoseInputs

__all__ = ['Compose', 'KeypointConverter', 'LoadImage', 'GetBBoxCenterScale',
           'RandomBBoxTransform', 'RandomFlip', 'RandomHalfBody',
           'Albumentation', 'PhotometricDistortion', 'YOLOXHSVRandomAug',
           'FilterAnnotations', 'TopdownAffine', 'GenerateTarget',
           'PackPoseInputs', 'BottomupRandomAffine', 'BottomupResize',
           'BottomupGetHeatmapMask', 'Mosaic', 'YOLOXMixUp',
           'RandomFlipAroundRoot', 'HandRandomFlip']
