"""DEKR head (Geng et al., CVPR 2021, "Bottom-up human pose estimation via
disentangled keypoint regression").

Two branches on the last feature map: heatmaps (K keypoint maps, then the
root (centre) map as channel K) and displacements (2K channels, (dx, dy) per
keypoint, from each pixel to the keypoint, in heatmap pixels), the latter
through adaptive-activation blocks whose deformable convolutions sample
along a per-pixel affine transform of the 3x3 grid. Decoding (the SPR codec)
reads instances at root peaks; an optional RescoreNet re-ranks them.
Submodule names are MMPose's, so its checkpoints load.
"""
from types import MappingProxyType
from typing import Any, Callable, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor, nn

from posekit.models.backbones.resnet import BasicBlock
from posekit.models.utils import (BaseModule, ConvModule,
                                  build_activation_layer, build_norm_layer)
from posekit.models.utils.deform_conv import DeformConv2d
from posekit.models.utils.tta import flip_heatmaps
from posekit.registry import MODELS
from posekit.structures import InstanceData, PixelData, to_numpy
from .base_head import (BaseHead, ConfigOrObject, build_decoder, build_loss,
                        check_one_feature_map, first_meta, last_feature,
                        split_flip_feats, stack_fields)

BN = MappingProxyType(dict(type='BN'))
RELU = MappingProxyType(dict(type='ReLU'))
HEATMAP_MSE = MappingProxyType(dict(type='KeypointMSELoss',
                                    use_target_weight=True))
DISPLACEMENT_L1 = MappingProxyType(dict(
    type='SoftWeightSmoothL1Loss', use_target_weight=True,
    supervise_empty=False))
DEKR_INIT = (dict(type='Normal', layer=['Conv2d', 'ConvTranspose2d'],
                  std=0.001),
             dict(type='Constant', layer='BatchNorm2d', val=1))


class AdaptiveActivationBlock(BaseModule):
    """relu(BN(deform_conv(x, offsets)) + x), offsets from a per-pixel affine
    map of the 3x3 grid.

    A grouped 3x3 conv predicts, per pixel and group, a 2x3 matrix A; the
    tap offsets are ``A @ [u, v, 1]`` over the grid ``u, v in {-1, 0, 1}``
    (``regular_matrix``, a buffer in the state_dict as in MMPose), laid out
    as the deformable conv expects.

    Args:
        in_channels, out_channels (int): Equal (the block is residual) and
            divisible by ``groups``.
        groups (int): Conv groups and offset groups (one per keypoint).
        norm_cfg, act_cfg (dict): Norm and activation after the conv.
        init_cfg (dict, optional): Initialisation.
    """

    def __init__(self, in_channels: int, out_channels: int, groups: int = 1,
                 norm_cfg: Mapping = BN, act_cfg: Mapping = RELU,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        if in_channels % groups or out_channels % groups:
            raise ValueError(f'AdaptiveActivationBlock: channels {in_channels}'
                             f', {out_channels} not divisible by groups '
                             f'{groups}')
        self.groups = groups
        grid = torch.tensor([[-1, -1, -1, 0, 0, 0, 1, 1, 1],
                             [-1, 0, 1, -1, 0, 1, -1, 0, 1],
                             [1, 1, 1, 1, 1, 1, 1, 1, 1]])
        self.register_buffer('regular_matrix', grid.float())
        self.transform_matrix_conv = nn.Conv2d(
            in_channels, 6 * groups, 3, padding=1, groups=groups, bias=True)
        self.adapt_conv = DeformConv2d(in_channels, out_channels, 3,
                                       padding=1, bias=False, groups=groups,
                                       deform_groups=groups)
        self.norm = build_norm_layer(dict(norm_cfg), out_channels)[1]
        self.act = build_activation_layer(dict(act_cfg))

    def forward(self, x: Tensor) -> Tensor:
        B, _, H, W = x.shape
        affine = self.transform_matrix_conv(x).permute(0, 2, 3, 1)
        affine = affine.reshape(B, H, W, self.groups, 2, 3)
        offset = torch.matmul(affine, self.regular_matrix)     # (.., 2, 9)
        offset = offset.transpose(4, 5).reshape(B, H, W, self.groups * 18)
        out = self.norm(self.adapt_conv(x, offset.permute(0, 3, 1, 2)))
        return self.act(out + x)


class RescoreNet(BaseModule):
    """MLP predicting an instance's OKS from its pose (DEKR's rescoring).

    Features per instance: the (dx, dy) of each skeleton link and its
    length, both divided by the mean length of the two torso links
    ``norm_indexes`` (at least 1), then the K keypoint scores:
    ``in_channels = 3 * num_links + K``.

    Args:
        in_channels (int): Feature size.
        norm_indexes (tuple[int, int]): Links whose mean length normalises.
        init_cfg (dict, optional): E.g. Pretrained with the authors' weights.
    """

    def __init__(self, in_channels: int, norm_indexes: Sequence[int],
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        self.in_channels = in_channels
        self.norm_indexes = tuple(norm_indexes)
        self.l1 = nn.Linear(in_channels, 256)
        self.l2 = nn.Linear(256, 256)
        self.l3 = nn.Linear(256, 1)
        self.relu = nn.ReLU()

    def make_feature(self, keypoints: Tensor, keypoint_scores: Tensor,
                     skeleton: Sequence[Sequence[int]]) -> Tensor:
        """keypoints (N, K, D), scores (N, K) -> features (N, 3 L + K)."""
        a, b = (list(j) for j in zip(*skeleton))
        links = (keypoints[:, a] - keypoints[:, b])[..., :2]     # (N, L, 2)
        lengths = links.norm(dim=2)                              # (N, L)
        i, j = self.norm_indexes
        scale = ((lengths[:, i] + lengths[:, j]) / 2).clamp(min=1)[:, None]
        return torch.cat([(links / scale[..., None]).flatten(1),
                          lengths / scale, keypoint_scores], dim=1).float()

    def forward(self, keypoints: Tensor, keypoint_scores: Tensor,
                skeleton: Sequence[Sequence[int]]) -> Tensor:
        """Predicted OKS (N,) of each instance."""
        expected = 3 * len(skeleton) + keypoints.shape[1]
        if expected != self.in_channels:
            raise ValueError(
                f'RescoreNet(in_channels={self.in_channels}) does not fit '
                f'{len(skeleton)} skeleton links and {keypoints.shape[1]} '
                f'keypoints (3 * links + K = {expected}); remove rescore_cfg '
                'for a dataset other than the one it was trained on')
        x = self.relu(self.l1(self.make_feature(keypoints, keypoint_scores,
                                                skeleton)))
        return self.l3(self.relu(self.l2(x))).squeeze(1)


@MODELS.register_module()
class DEKRHead(BaseHead):
    """Heatmap and displacement branches of DEKR.

    Args:
        in_channels (int): Channels of the last feature map.
        num_keypoints (int): K.
        num_heatmap_filters (int): Width of the heatmap branch.
        num_displacement_filters_per_keypoint (int): Width per keypoint of
            the displacement branch (grouped by keypoint).
        heatmap_loss (dict | nn.Module): Called as ``(pred (B, K+1, H, W),
            gt, heatmap_weights (B, K+1, H, W), heatmap_mask or None)``.
        displacement_loss (dict | nn.Module): Called as ``(pred (B, 2K, H,
            W), gt, displacement_weights)``.
        decoder (dict | codec, optional): An SPR codec with
            ``generate_keypoint_heatmaps=True``.
        rescore_cfg (dict, optional): RescoreNet arguments.
        init_cfg (dict | list[dict], optional): Default N(0, 0.001) convs
            (not the deformable ones), BN scale 1.

    Losses live in ``loss_module['heatmap']`` / ``['displacement']``.
    """

    def __init__(self, in_channels: int, num_keypoints: int,
                 num_heatmap_filters: int = 32,
                 num_displacement_filters_per_keypoint: int = 15,
                 heatmap_loss: ConfigOrObject = HEATMAP_MSE,
                 displacement_loss: ConfigOrObject = DISPLACEMENT_L1,
                 decoder: Optional[ConfigOrObject] = None,
                 rescore_cfg: Optional[Mapping] = None,
                 init_cfg: Optional[Any] = None):
        super().__init__(list(DEKR_INIT) if init_cfg is None else init_cfg)
        check_one_feature_map(self, in_channels)
        self.in_channels, self.num_keypoints = in_channels, num_keypoints
        self.heatmap_conv_layers = nn.Sequential(
            ConvModule(in_channels, num_heatmap_filters, 1,
                       norm_cfg=dict(type='BN')),
            BasicBlock(num_heatmap_filters, num_heatmap_filters),
            nn.Conv2d(num_heatmap_filters, 1 + num_keypoints, 1))
        width = num_keypoints * num_displacement_filters_per_keypoint
        self.displacement_conv_layers = nn.Sequential(
            ConvModule(in_channels, width, 1, norm_cfg=dict(type='BN')),
            AdaptiveActivationBlock(width, width, groups=num_keypoints),
            AdaptiveActivationBlock(width, width, groups=num_keypoints),
            nn.Conv2d(width, 2 * num_keypoints, 1, groups=num_keypoints))
        self.loss_module = nn.ModuleDict(dict(
            heatmap=build_loss(heatmap_loss),
            displacement=build_loss(displacement_loss)))
        self.decoder = build_decoder(decoder)
        self.rescore_net = None
        if rescore_cfg is not None:
            self.rescore_net = RescoreNet(**rescore_cfg)
        self._check_parts()

    def _check_parts(self) -> None:
        """Build-time agreement of the decoder and rescorer with the head."""
        if self.decoder is not None and not getattr(
                self.decoder, 'generate_keypoint_heatmaps', True):
            raise ValueError(
                'DEKRHead predicts K keypoint heatmaps plus the root map; its '
                'decoder must have generate_keypoint_heatmaps=True')
        if self.rescore_net is not None:
            links = self.rescore_net.in_channels - self.num_keypoints
            if links <= 0 or links % 3:
                raise ValueError(
                    f'DEKRHead: rescore_cfg in_channels='
                    f'{self.rescore_net.in_channels} is not 3 * skeleton '
                    f'links + num_keypoints ({self.num_keypoints})')

    def forward(self, feats: Sequence[Tensor]) -> Tuple[Tensor, Tensor]:
        """Last feature map (B, C, H, W) -> heatmaps (B, K+1, H, W), root
        last, and displacements (B, 2K, H, W)."""
        x = last_feature(feats)
        return self.heatmap_conv_layers(x), self.displacement_conv_layers(x)

    def loss(self, feats: Sequence[Tensor], batch_data_samples: Sequence,
             train_cfg: Optional[Mapping] = None) -> dict:
        """``loss/heatmap`` and ``loss/displacement`` against the SPR
        codec's ``gt_fields`` (``heatmaps``, ``heatmap_weights``,
        ``displacements``, ``displacement_weights``, optional
        ``heatmap_mask``)."""
        heatmaps, displacements = self.forward(feats)
        dev = heatmaps.device

        def field(name):
            return stack_fields(batch_data_samples, name, dev)
        mask = None
        first = batch_data_samples[0].get('gt_fields')
        if first is not None and 'heatmap_mask' in first:
            mask = field('heatmap_mask')
        return {
            'loss/heatmap': self.loss_module['heatmap'](
                heatmaps, field('heatmaps'), field('heatmap_weights'), mask),
            'loss/displacement': self.loss_module['displacement'](
                displacements, field('displacements'),
                field('displacement_weights')),
        }

    def predict_with(self, forward: Callable[[Any], Tuple[Tensor, Tensor]],
                     feats: Any, batch_data_samples: Sequence,
                     test_cfg: Optional[Mapping] = None):
        """Decoded instances of the one sample of the batch.

        Args:
            forward (Callable): Returns (heatmaps, displacements).
            feats: A tuple of feature maps; with ``flip_test``
                ``[feats, feats_of_flipped_input]``.
            batch_data_samples (list[PoseDataSample]): One sample; metainfo
                ``flip_indices`` and ``input_size`` (flip test),
                ``skeleton_links`` (rescoring).
            test_cfg (dict): ``flip_test``, ``shift_heatmap``,
                ``nms_dist_thr``, ``nms_joints_thr``, ``max_num_people``
                (30), ``output_heatmaps``. ``multiscale_test`` is not
                supported (MMPose's DEKR decoding does not have it either).

        Returns:
            list[InstanceData]: ``keypoints (N, K, 2)`` in input-image
            pixels, ``keypoint_scores (N, K)`` (root score x rescore x
            keypoint score); with ``output_heatmaps`` also PixelData
            (``heatmaps``, ``displacements``).
        """
        cfg = test_cfg or {}
        if len(batch_data_samples) != 1:
            raise ValueError('DEKRHead predicts one image at a time, got a '
                             f'batch of {len(batch_data_samples)}')
        if cfg.get('multiscale_test', False):
            raise NotImplementedError('DEKRHead: multiscale_test is not '
                                      'supported')
        if cfg.get('flip_test', False):
            heatmaps, displacements = self._flip_merged(
                forward, feats, batch_data_samples, cfg)
        else:
            heatmaps, displacements = forward(feats)
        preds = self.decode(heatmaps, displacements, cfg,
                            batch_data_samples[0].metainfo)
        if cfg.get('output_heatmaps', False):
            return preds, [PixelData(heatmaps=h, displacements=d) for h, d in
                           zip(heatmaps.detach(), displacements.detach())]
        return preds

    def _flip_merged(self, forward, feats, data_samples, cfg):
        """Mean of the outputs for the image and (un-flipped) its mirror."""
        feats, feats_flip = split_flip_feats(feats)
        flip_indices = list(first_meta(data_samples, 'flip_indices'))
        heatmaps, displacements = forward(feats)
        hm_flip, disp_flip = forward(feats_flip)
        # the root map (last channel) is its own mirror
        hm_flip = flip_heatmaps(hm_flip, flip_indices + [len(flip_indices)],
                                'heatmap', cfg.get('shift_heatmap', False))
        disp_flip = flip_heatmaps(disp_flip, flip_indices, 'offset', False)
        # The mirror of pixel x is w - 1 - x in the image but W - 1 - x' in
        # the heatmap (stride s = w / W); MMPose's correction of the x
        # displacements for that, kept as is: + (s - 1) / s.
        s = first_meta(data_samples, 'input_size')[0] / heatmaps.shape[-1]
        disp_flip[:, ::2] += (s - 1) / s
        return ((heatmaps + hm_flip) / 2.0,
                (displacements + disp_flip) / 2.0)

    def decode(self, heatmaps: Tensor, displacements: Tensor,
               test_cfg: Optional[Mapping] = None,
               metainfo: Optional[Mapping] = None) -> List[InstanceData]:
        """SPR decoding per sample, rescoring, then nearby-joints NMS.

        Args:
            heatmaps (Tensor): (B, K+1, H, W).
            displacements (Tensor): (B, 2K, H, W).
            test_cfg (dict, optional): NMS settings (see predict_with).
            metainfo (dict, optional): ``skeleton_links`` for rescoring.
        """
        if self.decoder is None:
            raise RuntimeError(
                f'{type(self).__name__} has no decoder: pass decoder=<codec '
                'config> to it to use predict() or decode()')
        cfg, metainfo = test_cfg or {}, metainfo or {}
        skeleton = metainfo.get('skeleton_links')
        preds = []
        for hm, disp in zip(heatmaps, displacements):
            keypoints, (root_scores, kpt_scores) = self.decoder.decode(hm, disp)
            keypoints = torch.as_tensor(keypoints)
            root_scores = torch.as_tensor(root_scores)
            kpt_scores = torch.as_tensor(kpt_scores)
            if self.rescore_net is not None and skeleton and len(keypoints):
                oks = self.rescore_net(keypoints, kpt_scores, skeleton)
                oks = torch.where(torch.isnan(oks), torch.zeros_like(oks), oks)
                root_scores = root_scores * oks
            keypoints, kpt_scores = to_numpy((keypoints, kpt_scores))
            scores = to_numpy(root_scores)[..., None] * kpt_scores
            if len(keypoints) and cfg.get('nms_dist_thr', 0) > 0:
                keep = nearby_joints_nms(
                    keypoints, kpt_scores, cfg['nms_dist_thr'],
                    cfg.get('nms_joints_thr'),
                    max_dets=cfg.get('max_num_people', 30))
                keypoints, scores = keypoints[keep], scores[keep]
            preds.append(InstanceData(keypoints=keypoints,
                                      keypoint_scores=scores))
        return preds


def nearby_joints_nms(keypoints: np.ndarray, keypoint_scores: np.ndarray,
                      dist_thr: float, num_nearby_joints_thr: Optional[int],
                      max_dets: int = 30) -> List[int]:
    """DEKR's pose NMS: drop an instance that has more than
    ``num_nearby_joints_thr`` (default K // 2) joints within ``dist_thr`` x
    the diagonal of the other's keypoint box from a better-scored one.

    Args:
        keypoints (np.ndarray): (N, K, 2).
        keypoint_scores (np.ndarray): (N, K); an instance scores their mean.
        dist_thr (float): > 0, relative to each instance's box diagonal.
        num_nearby_joints_thr (int, optional): Must be < K.
        max_dets (int): Keep at most this many, best first (<= 0: all).

    Returns:
        list[int]: indices kept (MMPose's order).
    """
    if dist_thr <= 0:
        raise ValueError(f'nms_dist_thr must be > 0, got {dist_thr}')
    scores = keypoint_scores.mean(axis=1)
    num, k = keypoints.shape[:2]
    thr_joints = k // 2 if num_nearby_joints_thr is None else \
        num_nearby_joints_thr
    if thr_joints >= k:
        raise ValueError(f'nms_joints_thr ({thr_joints}) must be less than '
                         f'the number of keypoints ({k})')
    # sqrt of sums of squares, as MMPose computes them (same rounding)
    diagonal = np.sqrt(((keypoints.max(1) - keypoints.min(1))**2).sum(1))
    dist = np.sqrt(((keypoints[:, None] - keypoints[None])**2).sum(3))
    # row i compares the others with instance i's own box size
    close = (dist < diagonal[:, None, None] * dist_thr).sum(2) > thr_joints
    ignored, keep = set(), []
    for i in np.argsort(scores)[::-1]:
        if i in ignored:
            continue
        group = close[i].nonzero()[0]
        group = group if len(group) else np.array([i])  # zero-size pose
        best = group[np.argmax(scores[group])]
        if best not in ignored:
            keep.append(best)
            ignored |= set(group.tolist())
    if 0 < max_dets < len(keep):
        order = np.argsort(scores[keep])[-1:-max_dets - 1:-1]
        keep = [keep[i] for i in order]
    return [int(i) for i in keep]
