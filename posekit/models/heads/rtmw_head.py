"""RTMWHead: RTMW's whole-body SimCC head (Jiang et al., 2024).

RTMCCHead's design (conv to K maps, flatten, ScaleNorm + linear to tokens,
a gated attention unit across the K keypoint tokens, linear x/y
classifiers), fed by two feature levels instead of one: the stride-32 map
gives half of each token, and a stride-16 map, fused with the pixel-shuffled
stride-32 map, gives the other half. Submodules ``ps``, ``conv_dec``,
``final_layer``, ``final_layer2``, ``mlp``, ``mlp2``, ``gau``, ``cls_x``,
``cls_y`` as in MMPose.
"""
from typing import Callable, List, Mapping, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor, nn

from posekit.models.utils import ConvModule
from posekit.registry import MODELS
from posekit.structures import InstanceData
from .base_head import BaseHead, ConfigOrObject, build_decoder, build_loss
from .rtmcc_block import ScaleNorm
from .rtmcc_head import GAU_DEFAULTS, self_attention_gau, simcc_gau_init_cfg
from .simcc_head import KL_LOSS, simcc_loss, simcc_predict, simcc_size

# The stride-32 map is upsampled x2 by PixelShuffle (channels / 4).
SHUFFLE = 2
BN = dict(type='BN', requires_grad=True)


def _conv_bn_relu(in_channels: int, out_channels: int,
                  kernel_size: int) -> ConvModule:
    """'same'-padded conv, BN, ReLU (the three convs of the head)."""
    return ConvModule(in_channels, out_channels, kernel_size, stride=1,
                      padding=kernel_size // 2, norm_cfg=BN,
                      act_cfg=dict(type='ReLU'))


@MODELS.register_module()
class RTMWHead(BaseHead):
    """Two-level fusion, MLPs, GAU, then x/y classifiers.

    Args:
        in_channels (int): C, channels of the stride-32 map (the stride-16
            map has C / 2, as CSPNeXtPAFPN gives); divisible by 4.
        out_channels (int): K, also the number of GAU tokens.
        input_size (tuple[int, int]): (w, h) of the network input.
        in_featuremap_size (tuple[int, int]): (w, h) of the stride-32 map;
            the stride-16 map must be twice that.
        simcc_split_ratio (float): Bins per input pixel.
        final_layer_kernel_size (int): Kernel of the three convs ('same'
            padding).
        gau_cfg (dict): ``hidden_dims`` (token size, even: each level gives
            half), ``s``, ``expansion_factor``, ``dropout_rate``,
            ``drop_path``, ``act_fn``, ``use_rel_bias``, ``pos_enc`` of the
            RTMCCBlock; all required.
        loss (dict | nn.Module): Default KLDiscretLoss.
        decoder (dict | codec, optional): SimCCLabel codec.
        init_cfg (dict | list[dict], optional): Default N(0, 0.001) Conv2d,
            BN scale 1, N(0, 0.01) Linear with zero bias.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 input_size: Tuple[int, int],
                 in_featuremap_size: Tuple[int, int],
                 simcc_split_ratio: float = 2.0,
                 final_layer_kernel_size: int = 1,
                 gau_cfg: Mapping = GAU_DEFAULTS,
                 loss: ConfigOrObject = KL_LOSS,
                 decoder: Optional[ConfigOrObject] = None,
                 init_cfg: Optional[Union[dict, list]] = None):
        super().__init__(simcc_gau_init_cfg() if init_cfg is None else init_cfg)
        if isinstance(in_channels, (list, tuple)):
            raise ValueError('RTMWHead reads two maps (C / 2, C channels): '
                             f'in_channels must be an int, got {in_channels}')
        if in_channels % SHUFFLE**2:
            raise ValueError('RTMWHead: in_channels must be divisible by 4 '
                             f'(pixel shuffle), got {in_channels}')
        if gau_cfg['hidden_dims'] % 2:
            raise ValueError('RTMWHead: gau_cfg hidden_dims must be even, got '
                             f"{gau_cfg['hidden_dims']}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.input_size = input_size
        self.in_featuremap_size = in_featuremap_size
        self.simcc_split_ratio = simcc_split_ratio
        self.loss_module = build_loss(loss)
        self.decoder = build_decoder(decoder)
        k = final_layer_kernel_size
        hidden = gau_cfg['hidden_dims']
        flat = in_featuremap_size[0] * in_featuremap_size[1]
        self.ps = nn.PixelShuffle(SHUFFLE)
        self.conv_dec = _conv_bn_relu(in_channels // SHUFFLE**2,
                                      in_channels // 4, k)
        self.final_layer = _conv_bn_relu(in_channels, out_channels, k)
        # The stride-16 map concatenated with the decoded stride-32 one.
        self.final_layer2 = _conv_bn_relu(
            in_channels // SHUFFLE + in_channels // 4, out_channels, k)
        self.mlp = nn.Sequential(ScaleNorm(flat),
                                 nn.Linear(flat, hidden // 2, bias=False))
        flat2 = flat * SHUFFLE**2
        self.mlp2 = nn.Sequential(ScaleNorm(flat2),
                                  nn.Linear(flat2, hidden // 2, bias=False))
        self.gau = self_attention_gau(out_channels, hidden, gau_cfg)
        W, H = simcc_size(input_size, simcc_split_ratio)
        self.cls_x = nn.Linear(hidden, W, bias=False)
        self.cls_y = nn.Linear(hidden, H, bias=False)

    def forward(self, feats: Sequence[Tensor]) -> Tuple[Tensor, Tensor]:
        """(stride-16 (B, C/2, 2h, 2w), stride-32 (B, C, h, w)) -> x
        (B, K, Wx) and y (B, K, Wy) logits."""
        if isinstance(feats, Tensor) or len(feats) != 2:
            raise ValueError('RTMWHead takes exactly two feature maps '
                             '(stride 16, stride 32), e.g. CSPNeXtPAFPN '
                             'with out_indices=(1, 2)')
        low, top = feats
        tokens_top = self.mlp(torch.flatten(self.final_layer(top), 2))
        fused = torch.cat([self.conv_dec(self.ps(top)), low], dim=1)
        tokens_low = self.mlp2(torch.flatten(self.final_layer2(fused), 2))
        x = self.gau(torch.cat([tokens_top, tokens_low], dim=2))  # (B, K, D)
        return self.cls_x(x), self.cls_y(x)

    def predict_with(self, forward: Callable, feats,
                     batch_data_samples: Sequence,
                     test_cfg: Optional[Mapping] = None
                     ) -> Union[List[InstanceData], tuple]:
        """Decoded keypoints per sample; see
        :func:`posekit.models.heads.simcc_head.simcc_predict`."""
        return simcc_predict(self, forward, feats, batch_data_samples,
                             test_cfg or {})

    def loss(self, feats: Sequence[Tensor], batch_data_samples: Sequence,
             train_cfg: Optional[Mapping] = None) -> dict:
        """See :func:`posekit.models.heads.simcc_head.simcc_loss`."""
        return simcc_loss(self, feats, batch_data_samples)
