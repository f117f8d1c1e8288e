"""posekit.models.backbones: each module is imported here, which registers it."""
from .base_backbone import BaseBackbone
from .csp_darknet import CSPDarknet
from .cspnext import CSPNeXt
from .dstformer import DSTFormer
from .hrnet import HRNet
from .mobilenet_v2 import MobileNetV2
from .resnet import ResNet, ResNetV1d
from .tcn import TCN

__all__ = ['BaseBackbone', 'CSPDarknet', 'CSPNeXt', 'DSTFormer', 'HRNet', 'MobileNetV2', 'ResNet', 'ResNetV1d', 'TCN']
