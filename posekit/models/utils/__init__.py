"""posekit.models.utils: layer builders, init_cfg handling, checkpoint loading."""
from .batchnorm import BatchNormAnyRank, has_sync_batchnorm, revert_sync_batchnorm
from .checkpoint import (CheckpointError, check_local_path, load_checkpoint_file,
                         load_state_dict, read_checkpoint, state_dict_of)
from .deform_conv import DeformConv2d, deform_conv2d
from .init import (BaseModule, bias_init_with_prob, caffe2_xavier_init,
                   constant_init, initialize, kaiming_init, normal_init,
                   trunc_normal_, trunc_normal_init, uniform_init, xavier_init)
from .layers import (ConvModule, DepthwiseSeparableConvModule, DropPath,
                     build_activation_layer, build_conv_layer,
                     build_norm_layer, build_upsample_layer)
from .se_layer import SELayer
from .tta import flip_coordinates, flip_heatmaps, flip_vectors, flip_visibility

__all__ = [
    'BaseModule', 'BatchNormAnyRank', 'DeformConv2d', 'deform_conv2d', 'CheckpointError', 'ConvModule', 'DepthwiseSeparableConvModule', 'DropPath',
    'build_activation_layer', 'build_conv_layer', 'build_norm_layer',
    'build_upsample_layer', 'check_local_path', 'initialize',
    'load_checkpoint_file', 'load_state_dict', 'read_checkpoint', 'state_dict_of',
    'bias_init_with_prob', 'caffe2_xavier_init', 'constant_init',
    'kaiming_init', 'normal_init', 'trunc_normal_', 'trunc_normal_init',
    'uniform_init', 'xavier_init',
    'flip_coordinates', 'flip_heatmaps', 'flip_vectors', 'flip_visibility',
    'has_sync_batchnorm', 'revert_sync_batchnorm', 'SELayer',
]
