"""Integral regression: heatmaps -> softmax -> expected (x, y).

IntegralRegressionHead is IPR (Sun et al., 2018); DSNTHead (Nibali et al.,
2018) also supervises the softmaxed heatmaps. Coordinates are normalised
to [0, 1) by the heatmap size (codec IntegralRegressionLabel).

Names are MMPose's: the deconvs and final conv are a HeatmapHead under
``simplebaseline_head`` (or a lone ``final_layer`` without deconvs), and the
bin positions are (non-trainable) parameters ``linspace_x``/``linspace_y``
in the state_dict.
"""
from types import MappingProxyType
from typing import Callable, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from posekit.models.utils.tta import flip_coordinates, flip_heatmaps
from posekit.registry import MODELS
from posekit.structures import PixelData
from .base_head import (BaseHead, ConfigOrObject, build_decoder, build_loss,
                        cat_labels, check_one_feature_map, coords_accuracy,
                        first_meta, split_flip_feats, stack_fields)
from .heatmap_head import FINAL_1X1, deconv_trunk_forward, make_deconv_trunk
from .regression_head import LINEAR_INIT

SMOOTH_L1 = MappingProxyType(dict(type='SmoothL1Loss', use_target_weight=True))


@MODELS.register_module()
class IntegralRegressionHead(BaseHead):
    """Deconvs + conv to K heatmaps, flat softmax, expectation of x and y.

    Args:
        in_channels (int): Channels of the last feature map.
        in_featuremap_size (tuple[int, int]): (w, h) of that feature map.
        num_joints (int): K.
        debias (bool): Remove the softmax's pull to the centre (Gu et al.,
            2021): ``C / (C - 1) * (p - 1 / (2 C))`` with ``C = sum(exp)``.
        beta (float): Factor on the heatmaps before the softmax.
        deconv_out_channels, deconv_kernel_sizes, conv_out_channels,
            conv_kernel_sizes, final_layer: As :class:`HeatmapHead`.
        loss (dict | nn.Module): Called as ``loss(coords, labels, weights)``;
            default SmoothL1Loss with target weights.
        decoder (dict | codec, optional): IntegralRegressionLabel codec.
        init_cfg (dict | list[dict], optional): Default N(0, 0.01) Linear
            (the HeatmapHead inside keeps its own default).
    """

    def __init__(self, in_channels: Union[int, Sequence[int]],
                 in_featuremap_size: Tuple[int, int], num_joints: int,
                 debias: bool = False, beta: float = 1.0,
                 deconv_out_channels: Optional[Sequence[int]] = (256, 256,
                                                                 256),
                 deconv_kernel_sizes: Optional[Sequence[int]] = (4, 4, 4),
                 conv_out_channels: Optional[Sequence[int]] = None,
                 conv_kernel_sizes: Optional[Sequence[int]] = None,
                 final_layer: Optional[Mapping] = FINAL_1X1,
                 loss: ConfigOrObject = SMOOTH_L1,
                 decoder: Optional[ConfigOrObject] = None,
                 init_cfg: Optional[Union[dict, list]] = None):
        super().__init__(list(LINEAR_INIT) if init_cfg is None else init_cfg)
        check_one_feature_map(self, in_channels)
        self.in_channels = in_channels
        self.num_joints = num_joints
        self.debias = debias
        self.beta = beta
        self.loss_module = build_loss(loss)
        self.decoder = build_decoder(decoder)
        self.simplebaseline_head, self.final_layer, self.heatmap_size = \
            make_deconv_trunk(in_channels, num_joints, in_featuremap_size,
                              deconv_out_channels, deconv_kernel_sizes,
                              conv_out_channels, conv_kernel_sizes, final_layer)
        W, H = self.heatmap_size
        # Bin i of a W-bin axis sits at i / W.
        self.linspace_x = nn.Parameter(
            torch.arange(0.0, W).reshape(1, 1, 1, W) / W, requires_grad=False)
        self.linspace_y = nn.Parameter(
            torch.arange(0.0, H).reshape(1, 1, H, 1) / H, requires_grad=False)

    def forward(self, feats: Sequence[Tensor]) -> Tuple[Tensor, Tensor]:
        """Features -> coordinates (B, K, 2) in [0, 1) and softmaxed
        heatmaps (B, K, H, W)."""
        x = deconv_trunk_forward(self.simplebaseline_head, self.final_layer, feats)
        B, K, H, W = x.shape
        heatmaps = F.softmax((x * self.beta).reshape(B, K, H * W), dim=2
                             ).reshape(B, K, H, W)
        pred_x = (heatmaps * self.linspace_x).reshape(B, K, -1).sum(
            dim=2, keepdim=True)
        pred_y = (heatmaps * self.linspace_y).reshape(B, K, -1).sum(
            dim=2, keepdim=True)
        if self.debias:
            C = x.reshape(B, K, H * W).exp().sum(dim=2).reshape(B, K, 1)
            pred_x = C / (C - 1) * (pred_x - 1 / (2 * C))
            pred_y = C / (C - 1) * (pred_y - 1 / (2 * C))
        return torch.cat([pred_x, pred_y], dim=-1), heatmaps

    def predict_with(self, forward: Callable, feats,
                     batch_data_samples: Sequence,
                     test_cfg: Optional[Mapping] = None):
        """Decoded keypoints per sample (and the softmaxed heatmaps with
        ``output_heatmaps``). Flip test averages both coordinates
        (``shift_coords`` default True) and heatmaps (``shift_heatmap``
        default False; flipped as ``flip_mode='heatmap'`` whatever
        ``test_cfg`` says, as MMPose does). ``forward`` as BaseHead.predict_with."""
        test_cfg = test_cfg or {}
        if test_cfg.get('flip_test', False):
            feats, feats_flip = split_flip_feats(feats)
            flip_indices = first_meta(batch_data_samples, 'flip_indices')
            coords, heatmaps = forward(feats)
            coords_flip, heatmaps_flip = forward(feats_flip)
            coords_flip = flip_coordinates(
                coords_flip, flip_indices=flip_indices,
                shift_coords=test_cfg.get('shift_coords', True),
                input_size=first_meta(batch_data_samples, 'input_size'))
            heatmaps_flip = flip_heatmaps(
                heatmaps_flip, flip_indices=flip_indices, flip_mode='heatmap',
                shift_heatmap=test_cfg.get('shift_heatmap', False))
            coords = (coords + coords_flip) * 0.5
            heatmaps = (heatmaps + heatmaps_flip) * 0.5
        else:
            coords, heatmaps = forward(feats)
        preds = self.decode(coords.unsqueeze(1))  # (B, N=1, K, 2)
        if test_cfg.get('output_heatmaps', False):
            return preds, [PixelData(heatmaps=hm) for hm in heatmaps.detach()]
        return preds

    def _targets(self, data_samples: Sequence, device) -> Tuple[Tensor, ...]:
        return (cat_labels(data_samples, 'keypoint_labels', device),
                cat_labels(data_samples, 'keypoint_weights', device))

    def loss(self, inputs: Sequence[Tensor], batch_data_samples: Sequence,
             train_cfg: Optional[Mapping] = None) -> dict:
        """``loss_kpt`` on the coordinates; ``acc_pose``."""
        coords, _ = self.forward(inputs)
        labels, weights = self._targets(batch_data_samples, coords.device)
        return dict(loss_kpt=self.loss_module(coords, labels, weights),
                    acc_pose=coords_accuracy(coords, labels, weights))


@MODELS.register_module()
class DSNTHead(IntegralRegressionHead):
    """IntegralRegressionHead supervising coordinates and heatmaps.

    The loss is a MultipleLossWrapper of two losses, on (coords, labels)
    and on (softmaxed heatmaps, ``gt_fields.heatmaps``); ``loss_kpt`` is
    their sum, or only the coordinate loss once ``current_epoch >=
    lambda_t`` (when ``lambda_t > 0``). The training loop must then keep
    ``current_epoch`` up to date with :meth:`set_epoch`.

    Args:
        lambda_t (int): Epoch from which the heatmap loss is dropped; -1
            never.
        Others as :class:`IntegralRegressionHead`.
    """

    def __init__(self, in_channels: Union[int, Sequence[int]],
                 in_featuremap_size: Tuple[int, int], num_joints: int,
                 lambda_t: int = -1, debias: bool = False, beta: float = 1.0,
                 deconv_out_channels: Optional[Sequence[int]] = (256, 256,
                                                                 256),
                 deconv_kernel_sizes: Optional[Sequence[int]] = (4, 4, 4),
                 conv_out_channels: Optional[Sequence[int]] = None,
                 conv_kernel_sizes: Optional[Sequence[int]] = None,
                 final_layer: Optional[Mapping] = FINAL_1X1,
                 loss: ConfigOrObject = MappingProxyType(dict(
                     type='MultipleLossWrapper',
                     losses=[dict(type='SmoothL1Loss', use_target_weight=True),
                             dict(type='JSDiscretLoss',
                                  use_target_weight=True)])),
                 decoder: Optional[ConfigOrObject] = None,
                 init_cfg: Optional[Union[dict, list]] = None):
        super().__init__(in_channels, in_featuremap_size, num_joints, debias,
                         beta, deconv_out_channels, deconv_kernel_sizes,
                         conv_out_channels, conv_kernel_sizes, final_layer,
                         loss, decoder, init_cfg)
        self.lambda_t = lambda_t
        self.current_epoch = 0

    def set_epoch(self, epoch: int, max_epochs: int | None = None) -> None:
        """Tell the head the current (0-based) training epoch (the number of
        epochs, which the training loop passes too, is not needed)."""
        self.current_epoch = epoch

    def loss(self, inputs: Sequence[Tensor], batch_data_samples: Sequence,
             train_cfg: Optional[Mapping] = None) -> dict:
        coords, heatmaps = self.forward(inputs)
        labels, weights = self._targets(batch_data_samples, coords.device)
        gt_heatmaps = stack_fields(batch_data_samples, 'heatmaps',
                                   coords.device)
        coord_loss, heatmap_loss = self.loss_module(
            [coords, heatmaps], [labels, gt_heatmaps], weights)
        loss = coord_loss + heatmap_loss
        if self.lambda_t > 0 and self.current_epoch >= self.lambda_t:
            loss = coord_loss
        return dict(loss_kpt=loss,
                    acc_pose=coords_accuracy(coords, labels, weights))
