"""Heatmap heads: deconvolutions, convolutions, a final 1x1 conv.

HeatmapHead is SimpleBaseline's head (Xiao et al., 2018); ViPNASHead the
same with grouped deconvolutions. Submodule names (``deconv_layers``,
``conv_layers``, ``final_layer``) are MMPose's, so checkpoints load.
"""
from types import MappingProxyType
from typing import Callable, List, Mapping, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor, nn

from posekit.evaluation.functional import pose_pck_accuracy
from posekit.models.utils import build_conv_layer
from posekit.models.utils.tta import flip_heatmaps
from posekit.registry import MODELS
from posekit.structures import InstanceData, PixelData, to_numpy
from .base_head import (BaseHead, ConfigOrObject, build_decoder, build_loss,
                        cat_labels, first_meta, last_feature,
                        split_flip_feats, stack_fields)

# Immutable defaults (read-only views of dicts).
FINAL_1X1 = MappingProxyType(dict(kernel_size=1))
MSE_LOSS = MappingProxyType(
    dict(type='KeypointMSELoss', use_target_weight=True))
# Weights: N(0, 0.001) for (de)convs, BN scale 1 (biases 0).
HEATMAP_INIT = (dict(type='Normal', layer=['Conv2d', 'ConvTranspose2d'],
                     std=0.001),
                dict(type='Constant', layer='BatchNorm2d', val=1))

# Deconv kernel -> (padding, output_padding) that exactly doubles H and W.
_DECONV_PADDING = {4: (1, 0), 3: (1, 1), 2: (0, 0)}


def _check_pairs(channels: Sequence[int], other: Optional[Sequence],
                 names: str) -> None:
    if other is None or len(other) != len(channels):
        raise ValueError(f'{names} must be sequences of the same length, got '
                         f'{channels} and {other}')


def make_deconv_layers(in_channels: int, out_channels: Sequence[int],
                       kernel_sizes: Sequence[int],
                       groups: Optional[Sequence[int]] = None
                       ) -> nn.Sequential:
    """(ConvTranspose2d stride 2 without bias, BN, ReLU) per entry; each
    doubles the spatial size."""
    layers = []
    groups = groups or [1] * len(out_channels)
    for channels, kernel, group in zip(out_channels, kernel_sizes, groups):
        if kernel not in _DECONV_PADDING:
            raise ValueError(f'deconv kernel size must be one of '
                             f'{sorted(_DECONV_PADDING)}, got {kernel}')
        padding, output_padding = _DECONV_PADDING[kernel]
        layers += [
            nn.ConvTranspose2d(in_channels, channels, kernel, stride=2,
                               padding=padding, output_padding=output_padding,
                               groups=group, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True)
        ]
        in_channels = channels
    return nn.Sequential(*layers)


def make_conv_layers(in_channels: int, out_channels: Sequence[int],
                     kernel_sizes: Sequence[int]) -> nn.Sequential:
    """(Conv2d 'same' padding with bias, BN, ReLU) per entry."""
    layers = []
    for channels, kernel in zip(out_channels, kernel_sizes):
        layers += [
            nn.Conv2d(in_channels, channels, kernel, stride=1,
                      padding=(kernel - 1) // 2),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True)
        ]
        in_channels = channels
    return nn.Sequential(*layers)


def make_final_layer(in_channels: int, out_channels: int,
                     final_layer: Optional[Mapping]) -> nn.Module:
    """A conv (1x1 Conv2d unless ``final_layer`` overrides its arguments or
    type); ``final_layer=None`` gives an Identity."""
    if final_layer is None:
        return nn.Identity()
    cfg = dict(type='Conv2d', in_channels=in_channels,
               out_channels=out_channels, kernel_size=1)
    cfg.update(final_layer)
    return build_conv_layer(cfg)


def flip_test_heatmaps(forward: Callable[[object], Tensor], feats,
                       data_samples: Sequence, test_cfg: Mapping) -> Tensor:
    """The heatmaps to decode: ``forward(feats)``, or with ``flip_test`` the
    mean of it and the un-flipped output of the mirrored input
    (``flip_mode`` default 'heatmap', ``shift_heatmap`` default False)."""
    if not test_cfg.get('flip_test', False):
        return forward(feats)
    feats, feats_flip = split_flip_feats(feats)
    flipped = flip_heatmaps(
        forward(feats_flip),
        flip_indices=first_meta(data_samples, 'flip_indices'),
        flip_mode=test_cfg.get('flip_mode', 'heatmap'),
        shift_heatmap=test_cfg.get('shift_heatmap', False))
    return (forward(feats) + flipped) * 0.5


def heatmap_predictions(head: BaseHead, heatmaps: Tensor, test_cfg: Mapping
                        ) -> Union[List[InstanceData],
                                   Tuple[List[InstanceData], List[PixelData]]]:
    """Decode; with ``output_heatmaps`` also return the heatmaps (K, H, W)
    of each sample as PixelData."""
    preds = head.decode(heatmaps)
    if test_cfg.get('output_heatmaps', False):
        return preds, [PixelData(heatmaps=hm) for hm in heatmaps.detach()]
    return preds


def heatmap_accuracy(pred: Tensor, gt: Tensor, weights: Tensor) -> Tensor:
    """acc_pose: PCK@0.05 between heatmap argmaxes."""
    _, avg_acc, _ = pose_pck_accuracy(output=to_numpy(pred),
                                      target=to_numpy(gt),
                                      mask=to_numpy(weights) > 0)
    return torch.tensor(avg_acc, device=gt.device)


@MODELS.register_module()
class HeatmapHead(BaseHead):
    """Deconvs, then convs, then a final conv, on the last feature map.

    Args:
        in_channels (int): Channels of the last input feature map.
        out_channels (int): Heatmap channels (keypoints).
        deconv_out_channels (tuple[int], optional): Channels of each deconv
            (each doubles H and W); None or () for none.
        deconv_kernel_sizes (tuple[int], optional): 4, 3 or 2 each.
        conv_out_channels (tuple[int], optional): Channels of each conv
            after the deconvs; None for none.
        conv_kernel_sizes (tuple[int], optional): Kernel of each conv.
        final_layer (dict, optional): Arguments overriding the 1x1 Conv2d
            that outputs the heatmaps; None for no final layer.
        loss (dict | nn.Module): Loss config or module; called as
            ``loss(pred, gt_heatmaps, keypoint_weights)``.
        decoder (dict | codec, optional): Codec decoding heatmaps.
        init_cfg (dict | list[dict], optional): Default N(0, 0.001) (de)conv
            weights, BN scale 1.
    """

    def __init__(self, in_channels: Union[int, Sequence[int]],
                 out_channels: int,
                 deconv_out_channels: Optional[Sequence[int]] = (256, 256,
                                                                 256),
                 deconv_kernel_sizes: Optional[Sequence[int]] = (4, 4, 4),
                 conv_out_channels: Optional[Sequence[int]] = None,
                 conv_kernel_sizes: Optional[Sequence[int]] = None,
                 final_layer: Optional[Mapping] = FINAL_1X1,
                 loss: ConfigOrObject = MSE_LOSS,
                 decoder: Optional[ConfigOrObject] = None,
                 init_cfg: Optional[Union[dict, list]] = None):
        super().__init__(list(HEATMAP_INIT) if init_cfg is None else init_cfg)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.loss_module = build_loss(loss)
        self.decoder = build_decoder(decoder)
        self.deconv_layers = self._make_deconvs(
            in_channels, deconv_out_channels, deconv_kernel_sizes)
        if deconv_out_channels:
            in_channels = deconv_out_channels[-1]
        if conv_out_channels:
            _check_pairs(conv_out_channels, conv_kernel_sizes,
                         'conv_out_channels and conv_kernel_sizes')
            self.conv_layers = make_conv_layers(
                in_channels, conv_out_channels, conv_kernel_sizes)
            in_channels = conv_out_channels[-1]
        else:
            self.conv_layers = nn.Identity()
        self.final_layer = make_final_layer(in_channels, out_channels,
                                            final_layer)

    def _make_deconvs(self, in_channels, out_channels, kernel_sizes):
        if not out_channels:
            return nn.Identity()
        _check_pairs(out_channels, kernel_sizes,
                     'deconv_out_channels and deconv_kernel_sizes')
        return make_deconv_layers(in_channels, out_channels, kernel_sizes)

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        """(B, C, h, w) last feature map -> (B, K, H, W) heatmaps."""
        x = self.deconv_layers(last_feature(feats))
        return self.final_layer(self.conv_layers(x))

    def predict_with(self, forward: Callable[[object], Tensor], feats,
                     batch_data_samples: Sequence,
                     test_cfg: Optional[Mapping] = None):
        """Decoded keypoints per sample (and heatmaps with
        ``test_cfg['output_heatmaps']``); see BaseHead.predict_with."""
        test_cfg = test_cfg or {}
        heatmaps = flip_test_heatmaps(forward, feats, batch_data_samples,
                                      test_cfg)
        return heatmap_predictions(self, heatmaps, test_cfg)

    def loss(self, feats: Sequence[Tensor], batch_data_samples: Sequence,
             train_cfg: Optional[Mapping] = None) -> dict:
        """``loss_kpt`` against ``gt_fields.heatmaps`` weighted by
        ``gt_instance_labels.keypoint_weights``; ``acc_pose`` unless
        ``train_cfg['compute_acc']`` is False."""
        train_cfg = train_cfg or {}
        pred = self.forward(feats)
        gt = stack_fields(batch_data_samples, 'heatmaps', pred.device)
        weights = cat_labels(batch_data_samples, 'keypoint_weights',
                             pred.device)
        losses = dict(loss_kpt=self.loss_module(pred, gt, weights))
        if train_cfg.get('compute_acc', True):
            losses['acc_pose'] = heatmap_accuracy(pred, gt, weights)
        return losses


@MODELS.register_module()
class ViPNASHead(HeatmapHead):
    """HeatmapHead with grouped deconvolutions (ViPNAS, Xu et al., 2021).

    Args:
        deconv_num_groups (tuple[int], optional): Groups of each deconv.
        Others as :class:`HeatmapHead`, with deconv channels
        (144, 144, 144) by default.
    """

    def __init__(self, in_channels: Union[int, Sequence[int]],
                 out_channels: int,
                 deconv_out_channels: Optional[Sequence[int]] = (144, 144,
                                                                 144),
                 deconv_kernel_sizes: Optional[Sequence[int]] = (4, 4, 4),
                 deconv_num_groups: Optional[Sequence[int]] = (16, 16, 16),
                 conv_out_channels: Optional[Sequence[int]] = None,
                 conv_kernel_sizes: Optional[Sequence[int]] = None,
                 final_layer: Optional[Mapping] = FINAL_1X1,
                 loss: ConfigOrObject = MSE_LOSS,
                 decoder: Optional[ConfigOrObject] = None,
                 init_cfg: Optional[Union[dict, list]] = None):
        # Read by _make_deconvs during HeatmapHead.__init__; a plain tuple
        # may be set before nn.Module.__init__.
        self._deconv_num_groups = deconv_num_groups
        super().__init__(in_channels, out_channels, deconv_out_channels,
                         deconv_kernel_sizes, conv_out_channels,
                         conv_kernel_sizes, final_layer, loss, decoder,
                         init_cfg)

    def _make_deconvs(self, in_channels, out_channels, kernel_sizes):
        if not out_channels:
            return nn.Identity()
        _check_pairs(out_channels, kernel_sizes,
                     'deconv_out_channels and deconv_kernel_sizes')
        _check_pairs(out_channels, self._deconv_num_groups,
                     'deconv_out_channels and deconv_num_groups')
        return make_deconv_layers(in_channels, out_channels, kernel_sizes,
                                  self._deconv_num_groups)


def make_deconv_trunk(in_channels: int, out_channels: int,
                      in_featuremap_size: Tuple[int, int],
                      deconv_out_channels: Optional[Sequence[int]],
                      deconv_kernel_sizes: Optional[Sequence[int]],
                      conv_out_channels: Optional[Sequence[int]],
                      conv_kernel_sizes: Optional[Sequence[int]],
                      final_layer: Optional[Mapping],
                      deconv_num_groups: Optional[Sequence[int]] = None
                      ) -> Tuple[Optional[HeatmapHead], Optional[nn.Module],
                                 Tuple[int, int]]:
    """The layers from the last feature map to the ``(B, K, H, W)`` maps of
    SimCCHead and the integral regression heads.

    With deconvolutions: a :class:`HeatmapHead` (a :class:`ViPNASHead`
    given ``deconv_num_groups``; MMPose builds its deconvs with their
    default kernels) whose final layer outputs the maps. Without: only
    ``final_layer`` (None: the feature map itself).

    Returns:
        tuple: ``(deconv head or None, final layer or None, (w, h))``, the
        size of the maps: ``in_featuremap_size`` doubled per deconv.
    """
    num_deconv = len(deconv_out_channels) if deconv_out_channels else 0
    if not num_deconv:
        final = (None if final_layer is None else
                 make_final_layer(in_channels, out_channels, final_layer))
        return None, final, tuple(in_featuremap_size)
    size = tuple(s * 2**num_deconv for s in in_featuremap_size)
    common = dict(in_channels=in_channels, out_channels=out_channels,
                  deconv_out_channels=deconv_out_channels,
                  conv_out_channels=conv_out_channels,
                  conv_kernel_sizes=conv_kernel_sizes, final_layer=final_layer)
    if deconv_num_groups is None:
        head = HeatmapHead(deconv_kernel_sizes=deconv_kernel_sizes, **common)
    else:
        head = ViPNASHead(deconv_num_groups=deconv_num_groups, **common)
    return head, None, size


def deconv_trunk_forward(deconv_head: Optional[HeatmapHead],
                         final_layer: Optional[nn.Module],
                         feats: Sequence[Tensor]) -> Tensor:
    """Run the layers of :func:`make_deconv_trunk` on a tuple of features."""
    if deconv_head is not None:
        return deconv_head(feats)
    x = last_feature(feats)
    return x if final_layer is None else final_layer(x)
