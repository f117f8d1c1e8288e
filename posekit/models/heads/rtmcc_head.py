"""RTMCCHead: RTMPose's SimCC head (Jiang et al., 2023).

Large-kernel conv to K maps, flattened, ScaleNorm + linear to tokens, a
gated attention unit across the K keypoint tokens, then linear layers to x
and y bins. Submodules ``final_layer``, ``mlp``, ``gau``, ``cls_x``,
``cls_y`` as in MMPose.
"""
from types import MappingProxyType
from typing import Callable, List, Mapping, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor, nn

from posekit.registry import MODELS
from posekit.structures import InstanceData
from .base_head import (BaseHead, ConfigOrObject, build_decoder, build_loss,
                        check_one_feature_map, last_feature)
from .rtmcc_block import RTMCCBlock, ScaleNorm
from .simcc_head import KL_LOSS, simcc_loss, simcc_predict, simcc_size

GAU_DEFAULTS = MappingProxyType(dict(
    hidden_dims=256, s=128, expansion_factor=2, dropout_rate=0.,
    drop_path=0., act_fn='ReLU', use_rel_bias=False, pos_enc=False))


def simcc_gau_init_cfg() -> list:
    """The default init of the GAU SimCC heads (RTMCCHead, RTMWHead):
    N(0, 0.001) Conv2d, BN scale 1, N(0, 0.01) Linear with zero bias."""
    return [dict(type='Normal', layer=['Conv2d'], std=0.001),
            dict(type='Constant', layer='BatchNorm2d', val=1),
            dict(type='Normal', layer=['Linear'], std=0.01, bias=0)]


def self_attention_gau(num_tokens: int, hidden: int, gau_cfg: Mapping) -> RTMCCBlock:
    """The heads' self-attention GAU over ``num_tokens`` keypoint tokens of
    width ``hidden``, from ``gau_cfg`` (all of GAU_DEFAULTS' keys)."""
    return RTMCCBlock(
        num_tokens, hidden, hidden, s=gau_cfg['s'],
        expansion_factor=gau_cfg['expansion_factor'],
        dropout_rate=gau_cfg['dropout_rate'],
        drop_path=gau_cfg['drop_path'], attn_type='self-attn',
        act_fn=gau_cfg['act_fn'], use_rel_bias=gau_cfg['use_rel_bias'],
        pos_enc=gau_cfg['pos_enc'])


@MODELS.register_module()
class RTMCCHead(BaseHead):
    """Conv, MLP, GAU, then x/y classifiers.

    Args:
        in_channels (int): Channels of the last feature map.
        out_channels (int): K, also the number of GAU tokens.
        input_size (tuple[int, int]): (w, h) of the network input.
        in_featuremap_size (tuple[int, int]): (w, h) of the last feature map.
        simcc_split_ratio (float): Bins per input pixel.
        final_layer_kernel_size (int): Kernel of the first conv ('same'
            padding).
        gau_cfg (dict): ``hidden_dims`` (token size), ``s``,
            ``expansion_factor``, ``dropout_rate``, ``drop_path``, ``act_fn``,
            ``use_rel_bias``, ``pos_enc`` of the RTMCCBlock; all required.
        loss (dict | nn.Module): Default KLDiscretLoss.
        decoder (dict | codec, optional): SimCCLabel codec.
        init_cfg (dict | list[dict], optional): Default N(0, 0.001) Conv2d,
            BN scale 1, N(0, 0.01) Linear with zero bias.
    """

    def __init__(self, in_channels: Union[int, Sequence[int]],
                 out_channels: int, input_size: Tuple[int, int],
                 in_featuremap_size: Tuple[int, int],
                 simcc_split_ratio: float = 2.0,
                 final_layer_kernel_size: int = 1,
                 gau_cfg: Mapping = GAU_DEFAULTS,
                 loss: ConfigOrObject = KL_LOSS,
                 decoder: Optional[ConfigOrObject] = None,
                 init_cfg: Optional[Union[dict, list]] = None):
        super().__init__(simcc_gau_init_cfg() if init_cfg is None else init_cfg)
        check_one_feature_map(self, in_channels)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.input_size = input_size
        self.in_featuremap_size = in_featuremap_size
        self.simcc_split_ratio = simcc_split_ratio
        self.loss_module = build_loss(loss)
        self.decoder = build_decoder(decoder)
        flat = in_featuremap_size[0] * in_featuremap_size[1]
        hidden = gau_cfg['hidden_dims']
        self.final_layer = nn.Conv2d(in_channels, out_channels,
                                     kernel_size=final_layer_kernel_size,
                                     stride=1,
                                     padding=final_layer_kernel_size // 2)
        self.mlp = nn.Sequential(ScaleNorm(flat),
                                 nn.Linear(flat, hidden, bias=False))
        self.gau = self_attention_gau(out_channels, hidden, gau_cfg)
        W, H = simcc_size(input_size, simcc_split_ratio)
        self.cls_x = nn.Linear(hidden, W, bias=False)
        self.cls_y = nn.Linear(hidden, H, bias=False)

    def forward(self, feats: Sequence[Tensor]) -> Tuple[Tensor, Tensor]:
        """Features -> x (B, K, Wx) and y (B, K, Wy) logits."""
        x = self.final_layer(last_feature(feats))  # (B, K, h, w)
        x = self.gau(self.mlp(torch.flatten(x, 2)))  # (B, K, hidden)
        return self.cls_x(x), self.cls_y(x)

    def predict_with(self, forward: Callable, feats,
                     batch_data_samples: Sequence,
                     test_cfg: Optional[Mapping] = None
                     ) -> Union[List[InstanceData], tuple]:
        """Decoded keypoints per sample; see
        :func:`posekit.models.heads.simcc_head.simcc_predict` (heatmaps are
        normalised without the codec's sigma, as MMPose does here)."""
        return simcc_predict(self, forward, feats, batch_data_samples,
                             test_cfg or {})

    def loss(self, feats: Sequence[Tensor], batch_data_samples: Sequence,
             train_cfg: Optional[Mapping] = None) -> dict:
        """See :func:`posekit.models.heads.simcc_head.simcc_loss`."""
        return simcc_loss(self, feats, batch_data_samples)
