"""posekit.models.necks: each module is imported here, which registers it."""
from .channel_mapper import ChannelMapper
from .cspnext_pafpn import CSPNeXtPAFPN
from .fmap_proc_neck import FeatureMapProcessor
from .fpn import FPN
from .gap_neck import GlobalAveragePooling
from .hybrid_encoder import HybridEncoder
from .yolox_pafpn import YOLOXPAFPN

__all__ = ['ChannelMapper', 'CSPNeXtPAFPN', 'FeatureMapProcessor', 'FPN',
           'GlobalAveragePooling', 'HybridEncoder', 'YOLOXPAFPN']
