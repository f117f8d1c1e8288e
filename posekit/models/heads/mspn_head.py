"""MSPNHead: one heatmap predictor per (stage, unit) of MSPN / RSN.

Submodule names are MMPose's (``predict_layers.<stage * num_units + unit>``
with ``conv_layers`` and, with ``use_prm``, the Pose Refine Machine ``prm``
of RSN, Cai et al. 2020), so its checkpoints load.
"""
from typing import Callable, Mapping, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor, nn

from posekit.models.utils import (ConvModule, DepthwiseSeparableConvModule,
                                  build_norm_layer)
from posekit.registry import MODELS
from .base_head import BaseHead, ConfigOrObject, build_decoder, build_loss
from .heatmap_head import (MSE_LOSS, flip_test_heatmaps, heatmap_accuracy,
                           heatmap_predictions)

# Conv Kaiming, Linear N(0, 0.01), BN2d scale 1: MMPose's default for this head.
MSPN_HEAD_INIT = (dict(type='Kaiming', layer='Conv2d'),
                  dict(type='Normal', layer='Linear', std=0.01),
                  dict(type='Constant', layer='BatchNorm2d', val=1))


class PRM(nn.Module):
    """Pose Refine Machine: ``x * (1 + channel_gate * spatial_gate)`` after a
    3x3 ConvModule; keeps the shape (N, K, H, W)."""

    def __init__(self, out_channels: int, norm_cfg: Mapping):
        super().__init__()
        k = out_channels
        self.global_pooling = nn.AdaptiveAvgPool2d((1, 1))
        self.middle_path = nn.Sequential(
            nn.Linear(k, k), build_norm_layer(dict(type='BN1d'), k)[1], nn.ReLU(),
            nn.Linear(k, k), build_norm_layer(dict(type='BN1d'), k)[1], nn.ReLU(),
            nn.Sigmoid())
        self.bottom_path = nn.Sequential(
            ConvModule(k, k, 1, norm_cfg=dict(norm_cfg), inplace=False),
            DepthwiseSeparableConvModule(k, 1, 9, padding=4, norm_cfg=dict(norm_cfg),
                                         inplace=False),
            nn.Sigmoid())
        self.conv_bn_relu_prm_1 = ConvModule(k, k, 3, padding=1,
                                             norm_cfg=dict(norm_cfg), inplace=False)

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv_bn_relu_prm_1(x)
        channel = self.middle_path(self.global_pooling(out).flatten(1))
        spatial = self.bottom_path(out)
        return out * (1 + channel[:, :, None, None] * spatial)


class PredictHeatmap(nn.Module):
    """1x1 ConvModule, 3x3 conv + norm to K channels, bilinear resize to
    ``out_shape`` (H, W) (align_corners=True, as MMPose), optional PRM."""

    def __init__(self, unit_channels: int, out_channels: int,
                 out_shape: Tuple[int, int], use_prm: bool, norm_cfg: Mapping):
        super().__init__()
        self.out_shape = tuple(out_shape)
        self.use_prm = use_prm
        if use_prm:
            self.prm = PRM(out_channels, norm_cfg)
        self.conv_layers = nn.Sequential(
            ConvModule(unit_channels, unit_channels, 1, norm_cfg=dict(norm_cfg),
                       inplace=False),
            ConvModule(unit_channels, out_channels, 3, padding=1,
                       norm_cfg=dict(norm_cfg), act_cfg=None, inplace=False))

    def forward(self, feature: Tensor) -> Tensor:
        out = nn.functional.interpolate(self.conv_layers(feature), size=self.out_shape,
                                         mode='bilinear', align_corners=True)
        return self.prm(out) if self.use_prm else out


@MODELS.register_module()
class MSPNHead(BaseHead):
    """Heatmaps from every unit of every stage of MSPN / RSN.

    Args:
        num_stages (int), num_units (int): The backbone's.
        out_shape (tuple[int, int]): Heatmap (H, W). Default (64, 48).
        unit_channels (int): Channels of each backbone map. Default 256.
        out_channels (int): Keypoints K. Default 17.
        use_prm (bool): Refine each heatmap with a PRM (RSN).
        norm_cfg (dict): Norm of the ConvModules. Default BN.
        level_indices (Sequence[int]): For output i (stage-major), the level
            of the multilevel targets (``gt_fields[level]``) it is trained on;
            one per output.
        loss (dict | nn.Module | list): One loss for all outputs, or one per
            output; summed into ``loss_kpt``.
        decoder (dict | codec, optional): Decodes the last output.
        init_cfg (dict | list[dict], optional): Default :data:`MSPN_HEAD_INIT`.

    ``forward`` takes the backbone's list (stages) of lists (units) of
    (N, unit_channels, h, w) maps and returns num_stages * num_units
    heatmaps (N, K, H, W); the last one is decoded.
    """

    def __init__(self, num_stages: int = 4, num_units: int = 4,
                 out_shape: Tuple[int, int] = (64, 48), unit_channels: int = 256,
                 out_channels: int = 17, use_prm: bool = False,
                 norm_cfg: Optional[Mapping] = None,
                 level_indices: Sequence[int] = (),
                 loss: Union[ConfigOrObject, list] = MSE_LOSS,
                 decoder: Optional[ConfigOrObject] = None,
                 init_cfg: Optional[Union[dict, list]] = None):
        super().__init__(list(MSPN_HEAD_INIT) if init_cfg is None else init_cfg)
        n = num_stages * num_units
        if len(level_indices) != n:
            raise ValueError(f'MSPNHead: level_indices has {len(level_indices)} '
                             f'entries, needs num_stages * num_units = {n}')
        self.num_stages, self.num_units = num_stages, num_units
        self.out_shape, self.unit_channels = tuple(out_shape), unit_channels
        self.out_channels = out_channels
        self.level_indices = list(level_indices)
        if isinstance(loss, (list, tuple)):
            if len(loss) != n:
                raise ValueError(f'MSPNHead: {len(loss)} losses, needs '
                                 f'num_stages * num_units = {n}')
            self.loss_module = nn.ModuleList(build_loss(c) for c in loss)
        else:
            self.loss_module = build_loss(loss)
        self.decoder = build_decoder(decoder)
        norm_cfg = dict(norm_cfg or dict(type='BN'))
        self.predict_layers = nn.ModuleList(
            PredictHeatmap(unit_channels, out_channels, out_shape, use_prm, norm_cfg)
            for _ in range(n))

    def forward(self, feats: Sequence[Sequence[Tensor]]) -> list:
        """(stages x units) feature maps -> list of (N, K, H, W), stage-major."""
        if len(feats) != self.num_stages or any(
                len(f) != self.num_units for f in feats):
            raise ValueError(f'MSPNHead expects {self.num_stages} stages of '
                             f'{self.num_units} feature maps, got '
                             f'{[len(f) for f in feats]}')
        flat = [f for stage in feats for f in stage]
        if any(f.shape[1] != self.unit_channels for f in flat):
            raise ValueError(f'MSPNHead expects {self.unit_channels}-channel '
                             f'maps, got {[f.shape[1] for f in flat]}')
        return [layer(f) for layer, f in zip(self.predict_layers, flat)]

    def predict_with(self, forward: Callable[[object], list], feats,
                     batch_data_samples: Sequence,
                     test_cfg: Optional[Mapping] = None):
        """Decode the last output (flip test as HeatmapHead)."""
        test_cfg = test_cfg or {}
        heatmaps = flip_test_heatmaps(lambda f: forward(f)[-1], feats,
                                      batch_data_samples, test_cfg)
        return heatmap_predictions(self, heatmaps, test_cfg)

    def loss(self, feats: Sequence[Sequence[Tensor]], batch_data_samples: Sequence,
             train_cfg: Optional[Mapping] = None) -> dict:
        """Sum over outputs of loss_i(pred_i, targets at level_indices[i]).

        Each sample's ``gt_fields`` is a MultilevelPixelData of (K, H, W)
        heatmaps and its ``gt_instance_labels.keypoint_weights`` is
        (L, N, K) (one (N, K) per level); acc_pose uses the last output.
        """
        preds = self.forward(feats)
        device = preds[-1].device
        # (L, B*N, K) -> (B*N, L, K)
        weights = torch.cat([torch.as_tensor(d.gt_instance_labels.keypoint_weights)
                             for d in batch_data_samples], dim=1).to(device)
        weights = weights.transpose(0, 1)
        loss = 0
        for i, (pred, level) in enumerate(zip(preds, self.level_indices)):
            loss_fn = (self.loss_module[i] if isinstance(
                self.loss_module, nn.ModuleList) else self.loss_module)
            gt = torch.stack([torch.as_tensor(d.gt_fields[level].heatmaps)
                              for d in batch_data_samples]).to(device)
            loss = loss + loss_fn(pred, gt, weights[:, level])
        return dict(loss_kpt=loss,
                    # MMPose masks with the last level's weights, as here.
                    acc_pose=heatmap_accuracy(preds[-1], gt, weights[:, -1]))
