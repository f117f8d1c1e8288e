"""posekit.models.backbones: each module is imported here, which registers it."""
from .alexnet import AlexNet
from .base_backbone import BaseBackbone
from .cpm import CPM
from .csp_darknet import CSPDarknet
from .cspnext import CSPNeXt
from .dstformer import DSTFormer
from .hourglass import HourglassNet
from .hrformer import HRFormer
from .hrnet import HRNet
from .litehrnet import LiteHRNet
from .mobilenet_v2 import MobileNetV2
from .mspn import MSPN
from .rsn import RSN
from .pvt import PyramidVisionTransformer, PyramidVisionTransformerV2
from .resnet import ResNet, ResNetV1d
from .resnest import ResNeSt
from .resnext import ResNeXt
from .scnet import SCNet
from .seresnet import SEResNet
from .shufflenet_v1 import ShuffleNetV1
from .shufflenet_v2 import ShuffleNetV2
from .swin import SwinTransformer
from .tcn import TCN
from .vgg import VGG
from .vipnas_mbv3 import ViPNAS_MobileNetV3
from .vipnas_resnet import ViPNAS_ResNet
from .vit import VisionTransformer

__all__ = ['BaseBackbone', 'PyramidVisionTransformer', 'PyramidVisionTransformerV2', 'SwinTransformer', 'CPM', 'HourglassNet', 'CSPDarknet', 'CSPNeXt', 'DSTFormer', 'HRFormer', 'HRNet', 'LiteHRNet', 'MobileNetV2', 'MSPN', 'RSN', 'ResNet', 'ResNetV1d', 'ResNeSt', 'ResNeXt', 'SCNet', 'SEResNet', 'TCN', 'AlexNet', 'ShuffleNetV1', 'ShuffleNetV2', 'VGG', 'ViPNAS_MobileNetV3', 'ViPNAS_ResNet', 'VisionTransformer']
