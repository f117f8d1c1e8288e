"""SimCC heads: keypoints as two 1-D classifications, over x bins and y
bins (Li et al., 2022; codec SimCCLabel, ``simcc_split_ratio`` bins per
input pixel)."""
import warnings
from types import MappingProxyType
from typing import Callable, List, Mapping, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor, nn

from posekit.evaluation.functional import simcc_pck_accuracy
from posekit.models.utils.tta import flip_vectors
from posekit.registry import MODELS
from posekit.structures import InstanceData, PixelData, to_numpy
from .base_head import (BaseHead, ConfigOrObject, build_decoder, build_loss,
                        cat_labels, first_meta, split_flip_feats)
from .heatmap_head import FINAL_1X1, deconv_trunk_forward, make_deconv_trunk

KL_LOSS = MappingProxyType(dict(type='KLDiscretLoss', use_target_weight=True))


def simcc_size(input_size: Tuple[int, int], ratio: float) -> Tuple[int, int]:
    """Number of (x, y) bins for an input (w, h)."""
    return int(input_size[0] * ratio), int(input_size[1] * ratio)


def normalize_simcc(pred: Tensor, sigma: Optional[float] = None) -> Tensor:
    """Vectors (B, K, W) made displayable: divided by the Gaussian peak
    ``sigma * sqrt(2 pi)`` if given, clamped at 0, and divided by their
    maximum where that exceeds 1."""
    if sigma is not None:
        pred = pred / (sigma * (2 * torch.pi)**0.5)
    pred = pred.clamp(min=0)
    peak = pred.amax(dim=-1, keepdim=True)
    return torch.where(peak > 1, pred / peak, pred)


def simcc_predict(head: BaseHead, forward: Callable, feats,
                  data_samples: Sequence, test_cfg: Mapping, sigma=None):
    """Shared predict of the SimCC heads, around ``forward`` (the head's or
    a stand-in, see BaseHead.predict_with): flip test (swap keypoints,
    reverse x), decode, and with ``output_heatmaps`` the outer product
    y x^T of the normalised vectors as (K, Wy, Wx) heatmaps, plus the
    vectors in ``keypoint_x_labels``/``keypoint_y_labels``."""
    if test_cfg.get('flip_test', False):
        feats, feats_flip = split_flip_feats(feats)
        pred_x, pred_y = forward(feats)
        flip_x, flip_y = flip_vectors(
            *forward(feats_flip),
            flip_indices=first_meta(data_samples, 'flip_indices'))
        pred_x, pred_y = (pred_x + flip_x) * 0.5, (pred_y + flip_y) * 0.5
    else:
        pred_x, pred_y = forward(feats)
    preds = head.decode((pred_x, pred_y))
    if not test_cfg.get('output_heatmaps', False):
        return preds
    warnings.warn('SimCC output_heatmaps: the vectors are normalised for '
                  'display, so heatmap values differ from keypoint scores')
    sigma = sigma if sigma is not None else (None, None)
    pred_x = normalize_simcc(pred_x, sigma[0])
    pred_y = normalize_simcc(pred_y, sigma[1])
    heatmaps = pred_y.unsqueeze(-1) * pred_x.unsqueeze(-2)  # (B, K, Wy, Wx)
    fields = [PixelData(heatmaps=hm) for hm in heatmaps.detach()]
    for inst, x, y in zip(preds, to_numpy(pred_x), to_numpy(pred_y)):
        inst.keypoint_x_labels = x[None]
        inst.keypoint_y_labels = y[None]
    return preds, fields


def simcc_loss(head: BaseHead, feats, data_samples: Sequence) -> dict:
    """Shared loss of the SimCC heads: ``loss_kpt`` against
    ``keypoint_x_labels``/``keypoint_y_labels`` weighted by
    ``keypoint_weights``; ``acc_pose`` PCK@0.05 of the argmaxes."""
    pred_x, pred_y = head.forward(feats)
    device = pred_x.device
    gt_x = cat_labels(data_samples, 'keypoint_x_labels', device)
    gt_y = cat_labels(data_samples, 'keypoint_y_labels', device)
    weights = cat_labels(data_samples, 'keypoint_weights', device)
    loss = head.loss_module((pred_x, pred_y), (gt_x, gt_y), weights)
    _, avg_acc, _ = simcc_pck_accuracy(
        output=to_numpy((pred_x, pred_y)), target=to_numpy((gt_x, gt_y)),
        simcc_split_ratio=head.simcc_split_ratio,
        mask=to_numpy(weights) > 0)
    return dict(loss_kpt=loss, acc_pose=torch.tensor(avg_acc, device=device))


@MODELS.register_module()
class SimCCHead(BaseHead):
    """Optional deconv head to K maps, flattened, then two linear layers to
    x and y bins.

    Args:
        in_channels (int): Channels of the last feature map.
        out_channels (int): K.
        input_size (tuple[int, int]): (w, h) of the network input.
        in_featuremap_size (tuple[int, int]): (w, h) of the last feature map.
        simcc_split_ratio (float): Bins per input pixel.
        deconv_type (str): 'heatmap' (a HeatmapHead) or 'vipnas' (a
            ViPNASHead) under ``deconv_head``.
        deconv_out_channels, deconv_kernel_sizes, deconv_num_groups,
            conv_out_channels, conv_kernel_sizes, final_layer: Of that
            deconv head; without deconvs only ``final_layer`` is built.
        loss (dict | nn.Module): Called as ``loss((x, y), (gt_x, gt_y),
            weights)``; default KLDiscretLoss.
        decoder (dict | codec, optional): SimCCLabel codec.
        init_cfg (dict | list[dict], optional): Default N(0, 0.001) (de)convs,
            BN scale 1, N(0, 0.01) Linear with zero bias.
    """

    def __init__(self, in_channels: Union[int, Sequence[int]],
                 out_channels: int, input_size: Tuple[int, int],
                 in_featuremap_size: Tuple[int, int],
                 simcc_split_ratio: float = 2.0,
                 deconv_type: str = 'heatmap',
                 deconv_out_channels: Optional[Sequence[int]] = (256, 256,
                                                                 256),
                 deconv_kernel_sizes: Optional[Sequence[int]] = (4, 4, 4),
                 deconv_num_groups: Optional[Sequence[int]] = (16, 16, 16),
                 conv_out_channels: Optional[Sequence[int]] = None,
                 conv_kernel_sizes: Optional[Sequence[int]] = None,
                 final_layer: Optional[Mapping] = FINAL_1X1,
                 loss: ConfigOrObject = KL_LOSS,
                 decoder: Optional[ConfigOrObject] = None,
                 init_cfg: Optional[Union[dict, list]] = None):
        if init_cfg is None:
            init_cfg = [
                dict(type='Normal', layer=['Conv2d', 'ConvTranspose2d'],
                     std=0.001),
                dict(type='Constant', layer='BatchNorm2d', val=1),
                dict(type='Normal', layer=['Linear'], std=0.01, bias=0)]
        super().__init__(init_cfg)
        if deconv_type not in ('heatmap', 'vipnas'):
            raise ValueError("deconv_type must be 'heatmap' or 'vipnas', got "
                             f'{deconv_type!r}')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.input_size = input_size
        self.in_featuremap_size = in_featuremap_size
        self.simcc_split_ratio = simcc_split_ratio
        self.loss_module = build_loss(loss)
        self.decoder = build_decoder(decoder)
        self.deconv_head, self.final_layer, self.heatmap_size = make_deconv_trunk(
            in_channels, out_channels, in_featuremap_size, deconv_out_channels,
            deconv_kernel_sizes, conv_out_channels, conv_kernel_sizes, final_layer,
            deconv_num_groups if deconv_type == 'vipnas' else None)
        flat = self.heatmap_size[0] * self.heatmap_size[1]
        W, H = simcc_size(input_size, simcc_split_ratio)
        self.mlp_head_x = nn.Linear(flat, W)
        self.mlp_head_y = nn.Linear(flat, H)

    def forward(self, feats: Sequence[Tensor]) -> Tuple[Tensor, Tensor]:
        """Features -> x (B, K, Wx) and y (B, K, Wy) logits."""
        x = deconv_trunk_forward(self.deconv_head, self.final_layer, feats)
        x = torch.flatten(x, 2)
        return self.mlp_head_x(x), self.mlp_head_y(x)

    def predict_with(self, forward: Callable, feats,
                     batch_data_samples: Sequence,
                     test_cfg: Optional[Mapping] = None
                     ) -> Union[List[InstanceData], tuple]:
        """Decoded keypoints per sample; see :func:`simcc_predict`."""
        sigma = getattr(self.decoder, 'sigma', None)
        return simcc_predict(self, forward, feats, batch_data_samples,
                             test_cfg or {}, sigma)

    def loss(self, feats: Sequence[Tensor], batch_data_samples: Sequence,
             train_cfg: Optional[Mapping] = None) -> dict:
        """See :func:`simcc_loss`."""
        return simcc_loss(self, feats, batch_data_samples)
