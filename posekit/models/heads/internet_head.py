"""InternetHead: InterNet (Moon et al., InterHand2.6M, ECCV 2020).

From the backbone's last feature map: 3D heatmaps of the right and of the
left hand (each a deconv head whose ``K * D`` channels are read as ``K``
volumes of ``D`` depth slices), the relative depth of the left root to the
right root (soft-argmax over 1D bins from the pooled features) and the
two hand-type logits [right, left]. Submodule names (``right_hand_head``,
``left_hand_head``, ``root_head.fc``, ``hand_type_head.fc``) are MMPose's,
so its checkpoints load.
"""
from types import MappingProxyType
from typing import Callable, List, Mapping, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from posekit.evaluation.functional import multilabel_classification_accuracy
from posekit.models.necks.gap_neck import GlobalAveragePooling
from posekit.models.utils import normal_init
from posekit.registry import MODELS
from posekit.structures import InstanceData, to_numpy
from .base_head import (BaseHead, ConfigOrObject, _gather, build_decoder,
                        build_loss, first_meta, last_feature,
                        split_flip_feats)
from .heatmap_head import FINAL_1X1, HeatmapHead

MSE_LOSS = MappingProxyType(dict(type='KeypointMSELoss',
                                 use_target_weight=True))
L1_LOSS = MappingProxyType(dict(type='L1Loss', use_target_weight=True))
BCE_LOSS = MappingProxyType(dict(type='BCELoss', use_target_weight=True))


def make_linear_layers(dims: Sequence[int]) -> nn.Sequential:
    """Linear layers through ``dims`` with a ReLU between them (none after
    the last)."""
    layers: List[nn.Module] = []
    for i, (d_in, d_out) in enumerate(zip(dims[:-1], dims[1:])):
        layers.append(nn.Linear(d_in, d_out))
        if i < len(dims) - 2:
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class Heatmap3DHead(HeatmapHead):
    """HeatmapHead whose output (B, K * D, H, W) is read as (B, K, D, H, W).

    Args:
        in_channels (int): Channels of the feature map.
        out_channels (int): K * depth_size.
        depth_size (int): D, the depth slices.
        deconv_out_channels, deconv_kernel_sizes, final_layer, init_cfg:
            as :class:`HeatmapHead`.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 depth_size: int = 64,
                 deconv_out_channels: Optional[Sequence[int]] = (256, 256,
                                                                 256),
                 deconv_kernel_sizes: Optional[Sequence[int]] = (4, 4, 4),
                 final_layer: Optional[Mapping] = FINAL_1X1,
                 init_cfg: Optional[dict] = None):
        if out_channels % depth_size:
            raise ValueError(f'keypoint_head_cfg: out_channels '
                             f'({out_channels}) must be a multiple of '
                             f'depth_size ({depth_size})')
        super().__init__(in_channels, out_channels, deconv_out_channels,
                         deconv_kernel_sizes, final_layer=final_layer,
                         init_cfg=init_cfg)
        self.depth_size = depth_size

    def forward(self, feats: Tensor) -> Tensor:
        """(B, C, h, w) -> (B, K, D, H, W)."""
        x = self.final_layer(self.deconv_layers(feats))
        B, C, H, W = x.shape
        return x.reshape(B, C // self.depth_size, self.depth_size, H, W)


class Heatmap1DHead(nn.Module):
    """MLP to ``heatmap_size`` bins, then the soft-argmax bin (B, 1)."""

    def __init__(self, in_channels: int = 2048, heatmap_size: int = 64,
                 hidden_dims: Sequence[int] = (512, )):
        super().__init__()
        self.in_channels = in_channels
        self.heatmap_size = heatmap_size
        self.fc = make_linear_layers([in_channels, *hidden_dims,
                                      heatmap_size])

    def init_weights(self) -> None:
        """N(0, 0.01) weights, zero biases."""
        for m in self.fc.modules():
            if isinstance(m, nn.Linear):
                normal_init(m, mean=0, std=0.01, bias=0)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C) pooled features -> (B, 1) expected bin."""
        prob = F.softmax(self.fc(x), dim=1)
        bins = torch.arange(self.heatmap_size, dtype=prob.dtype,
                            device=prob.device)
        return (prob * bins[None]).sum(dim=1).view(-1, 1)


class MultilabelClassificationHead(nn.Module):
    """MLP to ``num_labels`` logits."""

    def __init__(self, in_channels: int = 2048, num_labels: int = 2,
                 hidden_dims: Sequence[int] = (512, )):
        super().__init__()
        self.in_channels = in_channels
        self.fc = make_linear_layers([in_channels, *hidden_dims, num_labels])

    init_weights = Heatmap1DHead.init_weights

    def forward(self, x: Tensor) -> Tensor:
        """(B, C) -> (B, num_labels) logits."""
        return self.fc(x)


def flip_heatmaps_3d(heatmaps: Tensor, flip_indices: Sequence[int],
                     shift_heatmap: bool = False) -> Tensor:
    """Un-flip (B, K, D, H, W) volumes predicted for a mirrored input:
    reverse W, swap keypoints; ``shift_heatmap`` moves them one voxel
    right (column 0 kept)."""
    out = heatmaps.flip(-1)[:, list(flip_indices)]
    if shift_heatmap:
        out = torch.cat([out[..., :1], out[..., :-1]], dim=-1)
    return out


def stack_labels(data_samples: Sequence, name: str,
                 device: torch.device) -> Tensor:
    """``gt_instance_labels.<name>`` of all samples, stacked (B, ...)."""
    return torch.stack(_gather(data_samples, 'gt_instance_labels',
                               name)).to(device)


@MODELS.register_module()
class InternetHead(BaseHead):
    """InterNet's head: 3D hand heatmaps, relative root depth, hand type.

    Args:
        keypoint_head_cfg (dict): Arguments of each hand's
            :class:`Heatmap3DHead` (``in_channels``, ``out_channels = K *
            depth_size``, ``depth_size``, deconvs).
        root_head_cfg (dict): Arguments of :class:`Heatmap1DHead`
            (``in_channels``, ``heatmap_size``, ``hidden_dims``).
        hand_type_head_cfg (dict): Arguments of
            :class:`MultilabelClassificationHead` (``in_channels``,
            ``num_labels``, ``hidden_dims``).
        loss (dict | nn.Module): Heatmap loss, ``loss_kpt``.
        loss_root_depth (dict | nn.Module): Root depth loss, ``loss_rel_root``.
        loss_hand_type (dict | nn.Module): Hand type loss, ``loss_hand_type``.
        decoder (dict | codec, optional): A ``Hand3DHeatmap`` codec.
        init_cfg (dict, optional): Extra init; the sub-heads init
            themselves.
    """

    def __init__(self, keypoint_head_cfg: Mapping, root_head_cfg: Mapping,
                 hand_type_head_cfg: Mapping,
                 loss: ConfigOrObject = MSE_LOSS,
                 loss_root_depth: ConfigOrObject = L1_LOSS,
                 loss_hand_type: ConfigOrObject = BCE_LOSS,
                 decoder: Optional[ConfigOrObject] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        self.right_hand_head = Heatmap3DHead(**keypoint_head_cfg)
        self.left_hand_head = Heatmap3DHead(**keypoint_head_cfg)
        self.root_head = Heatmap1DHead(**root_head_cfg)
        self.hand_type_head = MultilabelClassificationHead(
            **hand_type_head_cfg)
        self.neck = GlobalAveragePooling()
        self.loss_module = build_loss(loss)
        self.root_loss_module = build_loss(loss_root_depth)
        self.hand_loss_module = build_loss(loss_hand_type)
        self.decoder = build_decoder(decoder)

    def forward(self, feats: Sequence[Tensor]) -> List[Tensor]:
        """Feature maps -> [heatmaps (B, 2K, D, H, W) right hand then left,
        root bin (B, 1), hand type logits (B, 2)]."""
        x = last_feature(feats)
        heatmaps = torch.cat([self.right_hand_head(x),
                              self.left_hand_head(x)], dim=1)
        pooled = self.neck(x)
        return [heatmaps, self.root_head(pooled), self.hand_type_head(pooled)]

    def predict_with(self, forward: Callable, feats,
                     batch_data_samples: Sequence,
                     test_cfg: Optional[Mapping] = None) -> List[InstanceData]:
        """Decoded predictions; with ``flip_test`` merged as MMPose 1.3.2
        does (see :meth:`_merge_flip`)."""
        test_cfg = test_cfg or {}
        if not test_cfg.get('flip_test', False):
            return self.decode(tuple(forward(feats)))
        feats, feats_flip = split_flip_feats(feats)
        outputs = self._merge_flip(
            forward(feats), forward(feats_flip),
            first_meta(batch_data_samples, 'flip_indices'), test_cfg)
        return self.decode(tuple(outputs))

    @staticmethod
    def _merge_flip(outputs, outputs_flip, flip_indices, test_cfg):
        """Average each output with its un-flipped mirror-input version.

        The root depth of the mirror changes sign. For the hand type MMPose
        1.3.2 averages the original logits with themselves swapped (not the
        mirror's), so both logits come out equal; kept for identical
        results.
        """
        if test_cfg.get('flip_mode', 'heatmap') != 'heatmap':
            raise ValueError("InternetHead supports test_cfg.flip_mode="
                             f"'heatmap' only, got {test_cfg['flip_mode']!r}")
        heatmaps = (outputs[0] + flip_heatmaps_3d(
            outputs_flip[0], flip_indices,
            test_cfg.get('shift_heatmap', False))) * 0.5
        root = (outputs[1] - outputs_flip[1]) * 0.5
        hand_type = (outputs[2] + outputs[2][:, [1, 0]]) * 0.5
        return [heatmaps, root, hand_type]

    def decode(self, batch_outputs) -> List[InstanceData]:
        """Per sample: ``keypoints (1, 2K, 3)`` (x, y input pixels, z root-
        relative depth in mm), ``keypoint_scores (1, 2K)``,
        ``rel_root_depth (1,)`` mm and ``hand_type (1, 2)`` int."""
        if self.decoder is None:
            raise RuntimeError('InternetHead has no decoder: pass decoder='
                               '<Hand3DHeatmap config> to use predict()')
        heatmaps, roots, types = (to_numpy(t) for t in batch_outputs)
        preds = []
        for heatmap, root, hand_type in zip(heatmaps, roots, types):
            kpts, scores, rel_root, hand = self.decoder.decode(
                heatmap, root, hand_type)
            preds.append(InstanceData(keypoints=kpts, keypoint_scores=scores,
                                      rel_root_depth=rel_root,
                                      hand_type=hand))
        return preds

    def loss(self, feats: Sequence[Tensor], batch_data_samples: Sequence,
             train_cfg: Optional[Mapping] = None) -> dict:
        """``loss_kpt`` (heatmaps, keypoint weights), ``loss_rel_root``
        (root bin, root_depth_weight), ``loss_hand_type`` (type,
        type_weight) and ``acc_pose``, the hand-type accuracy (MMPose
        thresholds the raw logits at 0.5)."""
        train_cfg = train_cfg or {}
        heatmaps, root, hand_type = self.forward(feats)
        device = heatmaps.device
        gt = torch.stack([t.reshape(heatmaps.shape[1:]) for t in _gather(
            batch_data_samples, 'gt_fields', 'heatmaps')]).to(device)
        weights = torch.cat(_gather(batch_data_samples, 'gt_instance_labels',
                                    'keypoint_weights')).to(device)
        gt_root = stack_labels(batch_data_samples, 'root_depth', device)
        root_w = stack_labels(batch_data_samples, 'root_depth_weight', device)
        gt_type = torch.stack([t.reshape(-1) for t in _gather(
            batch_data_samples, 'gt_instance_labels', 'type')]).to(device)
        type_w = stack_labels(batch_data_samples, 'type_weight', device)
        losses = dict(
            loss_kpt=self.loss_module(heatmaps, gt, weights),
            loss_rel_root=self.root_loss_module(root, gt_root, root_w),
            loss_hand_type=self.hand_loss_module(hand_type, gt_type, type_w))
        if train_cfg.get('compute_acc', True):
            acc = multilabel_classification_accuracy(
                to_numpy(hand_type), to_numpy(gt_type), to_numpy(type_w))
            losses['acc_pose'] = torch.tensor(np.float32(acc), device=device)
        return losses
