"""CIDHead: Contextual Instance Decoupling (Wang et al., CVPR 2022).

A bottom-up head: :class:`IIAModule` finds instance roots and their feature
vectors, :class:`GFDModule` turns each into that instance's K heatmaps (see
``cid_modules``); the codec (``DecoupledHeatmap``) decodes each instance's
heatmap maxima.

Coordinates: the codec decodes keypoints as ``heatmap pixel * stride``;
:meth:`CIDHead.predict` adds half a stride so they land on the pixel centre,
in input-image pixels (the estimator maps them to the original image).
"""
import math
from types import MappingProxyType
from typing import Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor, nn

from posekit.registry import MODELS
from posekit.structures import InstanceData, PixelData, to_numpy
from .base_head import (BaseHead, ConfigOrObject, _gather, build_decoder,
                        build_loss, check_one_feature_map, first_meta,
                        last_feature, split_flip_feats)
from .cid_modules import GFDModule, IIAModule, smooth_heatmaps

FOCAL_LOSS = MappingProxyType(dict(type='FocalHeatmapLoss'))
INFONCE_LOSS = MappingProxyType(dict(type='InfoNCELoss'))
CID_INIT = (dict(type='Normal', layer=['Conv2d', 'Linear'], std=0.001),
            dict(type='Constant', layer='BatchNorm2d', val=1))
TEST_KEYS = ('flip_test', 'blur_kernel_size', 'max_instances',
             'score_threshold', 'output_heatmaps')
# Keys the CID configs set for the estimator; CID supports them only off.
OFF_KEYS = ('multiscale_test', 'shift_heatmap', 'align_corners')


@MODELS.register_module()
class CIDHead(BaseHead):
    """Contextual Instance Decoupling head: :class:`IIAModule` (attribute
    ``iia_module``) and :class:`GFDModule` (``gfd_module``).

    Args:
        in_channels (int): C of the last feature map.
        gfd_channels (int): Channels inside the GFD module.
        num_keypoints (int): K.
        prior_prob (float): Initial heatmap value: the bias of the two
            heatmap convs is -log((1 - p) / p).
        coupled_heatmap_loss (dict | nn.Module): On the (B, K + 1, H, W)
            coupled heatmaps, called ``(pred, gt, None, heatmap_mask)``.
        decoupled_heatmap_loss (dict | nn.Module): On the (M, K, H, W)
            instance heatmaps, called ``(pred, gt, keypoint_weights)``.
        contrastive_loss (dict | nn.Module): On each image's (M_i, C) root
            features; summed over images, divided by the instance count.
        decoder (dict | codec, optional): ``DecoupledHeatmap``:
            ``decode(heatmaps (N, K, H, W), root_scores (N, 1))``.
        init_cfg (dict | list[dict], optional): Default N(0, 0.001) conv and
            linear weights (BN scale 1).
    """

    def __init__(self, in_channels: int, gfd_channels: int,
                 num_keypoints: int, prior_prob: float = 0.01,
                 coupled_heatmap_loss: ConfigOrObject = FOCAL_LOSS,
                 decoupled_heatmap_loss: ConfigOrObject = FOCAL_LOSS,
                 contrastive_loss: ConfigOrObject = INFONCE_LOSS,
                 decoder: Optional[ConfigOrObject] = None,
                 init_cfg=None):
        _check_args(self, in_channels, gfd_channels, num_keypoints,
                    prior_prob)
        init_cfg = list(CID_INIT) if init_cfg is None else init_cfg
        init_cfg = [init_cfg] if isinstance(init_cfg, Mapping) else list(
            init_cfg)
        super().__init__(init_cfg)
        self.in_channels = in_channels
        self.num_keypoints = num_keypoints
        self.decoder = build_decoder(decoder)
        _check_decoder(self.decoder, num_keypoints)
        bias = -math.log((1 - prior_prob) / prior_prob)

        def sub_init(last_conv):  # last conv starts at p = prior_prob
            return init_cfg + [dict(
                type='Normal', layer=['Conv2d', 'Linear'], std=0.001,
                override=dict(name=last_conv, type='Normal', std=0.001,
                              bias=bias))]

        self.iia_module = IIAModule(in_channels, num_keypoints + 1,
                                    init_cfg=sub_init('keypoint_root_conv'))
        self.gfd_module = GFDModule(in_channels, num_keypoints, gfd_channels,
                                    init_cfg=sub_init('heatmap_conv'))
        self.loss_module = nn.ModuleDict(dict(
            heatmap_coupled=build_loss(coupled_heatmap_loss),
            heatmap_decoupled=build_loss(decoupled_heatmap_loss),
            contrastive=build_loss(contrastive_loss)))

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        """Instance heatmaps (N, K, H, W) of ONE image (B = 1), with the
        default test settings (for export; ``predict`` decodes)."""
        x = last_feature(feats)
        if x.shape[0] != 1:
            raise ValueError('CIDHead.forward takes one image (its instances '
                             f'are stacked on dim 0), got a batch of '
                             f'{x.shape[0]}')
        inst_feats, coords, _ = self.iia_module.forward_test(x, {})
        imgids = coords.new_zeros(len(coords))
        return self.gfd_module(x, inst_feats, coords, imgids)

    def predict(self, feats, batch_data_samples: Sequence,
                test_cfg: Optional[Mapping] = None):
        """Keypoints per image, in input-image pixels.

        Args:
            feats: Tuple of (B, C, H, W) maps; with ``flip_test``
                ``[feats, feats_of_the_flipped_input]``.
            batch_data_samples (list[PoseDataSample]): Metainfo
                ``input_size`` (w, h) and, for flip test, ``flip_indices``.
            test_cfg (dict, optional): ``flip_test`` (False),
                ``blur_kernel_size`` (3), ``max_instances`` (30),
                ``score_threshold`` (0.01), ``output_heatmaps`` (False);
                ``multiscale_test``, ``shift_heatmap`` and ``align_corners``
                may be given but only False. Unlike MMPose, a batch of B
                images gives B results (MMPose handles B = 1 only).

        Returns:
            list[InstanceData]: per image ``keypoints (N, K, 2)`` float32 and
            ``keypoint_scores (N, K)`` (keypoint peak x root score); with
            ``output_heatmaps`` also a list of PixelData ``heatmaps
            (N * K, H, W)``.
        """
        test_cfg = _check_test_cfg(test_cfg or {})
        if self.decoder is None:
            raise RuntimeError('CIDHead has no decoder: pass decoder=<codec '
                               'config> to it to use predict()')
        flip = test_cfg.get('flip_test', False)
        if flip:
            feats, feats_flip = split_flip_feats(feats)
            flipped_back = last_feature(feats_flip).flip(-1)
        x = last_feature(feats)
        if len(batch_data_samples) != x.shape[0]:
            raise ValueError(f'{len(batch_data_samples)} data samples for a '
                             f'batch of {x.shape[0]} feature maps')
        preds, fields = [], []
        for i, sample in enumerate(batch_data_samples):
            maps = torch.cat((x[i:i + 1], flipped_back[i:i + 1])) if flip \
                else x[i:i + 1]
            pred, heatmaps = self._predict_one(maps, sample, test_cfg)
            preds.append(pred)
            fields.append(PixelData(heatmaps=heatmaps.reshape(
                -1, *heatmaps.shape[-2:]).detach()))
        return (preds, fields) if test_cfg.get('output_heatmaps') else preds

    def _predict_one(self, maps: Tensor, sample, test_cfg: Mapping
                     ) -> Tuple[InstanceData, Tensor]:
        """InstanceData and (N, K, H, W) heatmaps of one image's maps."""
        K, (H, W) = self.num_keypoints, maps.shape[-2:]
        inst_feats, coords, scores = self.iia_module.forward_test(
            maps, test_cfg)
        if len(coords) == 0:
            return InstanceData(
                keypoints=np.zeros((0, K, 2), np.float32),
                keypoint_scores=np.zeros((0, K), np.float32)), maps.new_zeros(
                    0, K, H, W)
        imgids = coords.new_zeros(len(coords))
        if len(maps) == 2:  # flip test: also decouple from the mirror
            coords, imgids = coords.repeat(2, 1), torch.cat(
                (imgids, imgids + 1))
        heatmaps = self.gfd_module(maps, inst_feats, coords, imgids)
        if len(maps) == 2:
            flip_indices = list(first_meta([sample], 'flip_indices'))
            if len(flip_indices) != K:
                raise ValueError(f'flip_indices has {len(flip_indices)} '
                                 f'entries for num_keypoints={K}')
            direct, mirror = heatmaps.chunk(2)
            heatmaps = (direct + mirror[:, flip_indices]) / 2.0
        heatmaps = smooth_heatmaps(heatmaps,
                                   test_cfg.get('blur_kernel_size', 3))
        keypoints, kpt_scores = self.decoder.decode(
            to_numpy(heatmaps), to_numpy(scores[:, None]))
        # decoded = heatmap pixel * stride; + stride / 2 = pixel centre
        input_w, input_h = first_meta([sample], 'input_size')
        keypoints = np.array(keypoints, dtype=np.float32)
        keypoints[..., 0] += input_w / W / 2.0
        keypoints[..., 1] += input_h / H / 2.0
        return InstanceData(keypoints=keypoints,
                            keypoint_scores=kpt_scores), heatmaps

    def loss(self, feats: Sequence[Tensor], batch_data_samples: Sequence,
             train_cfg: Optional[Mapping] = None) -> dict:
        """``loss/heatmap_coupled``, and when the batch has instances
        ``loss/heatmap_decoupled`` and ``loss/contrastive``.

        Reads per sample ``gt_fields.heatmaps`` (K + 1, H, W),
        ``gt_fields.instance_heatmaps`` (M * K, H, W), optionally
        ``gt_fields.heatmap_mask`` (1, H, W), and ``gt_instance_labels.
        instance_coords`` (M, 2) ``(x, y)`` heatmap pixels and
        ``keypoint_weights`` (M, K). With ``train_cfg['max_train_instances']
        = n > 0`` only n random instances (``torch.randperm``) of the batch
        are decoupled; the contrastive loss uses all of them.
        """
        cfg = dict(train_cfg or {})
        max_instances = cfg.pop('max_train_instances', -1)
        if cfg:
            raise ValueError(f'CIDHead: unknown train_cfg keys {sorted(cfg)}'
                             '; it takes max_train_instances only')
        x = last_feature(feats)
        gt = self._targets(batch_data_samples, x.device)
        imgids = gt['imgids']
        inst_feats, heatmaps = self.iia_module.forward_train(
            x, gt['coords'], imgids)
        contrastive = sum(
            self.loss_module['contrastive'](inst_feats[imgids == i])
            for i in range(len(batch_data_samples))) / max(1, len(imgids))
        picked = (gt['coords'], gt['weights'], gt['instance_heatmaps'],
                  imgids, inst_feats)
        if 0 < max_instances < len(imgids):
            keep = torch.randperm(len(imgids), device=x.device)[:max_instances]
            picked = tuple(t[keep] for t in picked)
        coords, weights, inst_gt, imgids, inst_feats = picked
        losses = {'loss/heatmap_coupled': self.loss_module['heatmap_coupled'](
            heatmaps, gt['heatmaps'], None, gt['mask'])}
        if len(imgids):
            inst_pred = self.gfd_module(x, inst_feats, coords, imgids)
            losses['loss/heatmap_decoupled'] = self.loss_module[
                'heatmap_decoupled'](inst_pred, inst_gt, weights)
            losses['loss/contrastive'] = contrastive
        return losses

    def _targets(self, samples: Sequence, device) -> dict:
        """The batch's targets, instances concatenated over the samples."""
        K = self.num_keypoints
        heatmaps = torch.stack(_gather(samples, 'gt_fields', 'heatmaps'))
        if heatmaps.ndim != 4 or heatmaps.shape[1] != K + 1:
            raise ValueError(f'gt_fields.heatmaps {tuple(heatmaps.shape[1:])}'
                             f' should be (num_keypoints + 1 = {K + 1}, H, W)')
        coords = _gather(samples, 'gt_instance_labels', 'instance_coords')
        inst = [h.reshape(-1, *h.shape[-2:]) for h in
                _gather(samples, 'gt_fields', 'instance_heatmaps')]
        for c, h in zip(coords, inst):
            if len(h) != len(c) * K:
                raise ValueError(
                    f'{len(h)} instance heatmaps for {len(c)} instances of '
                    f'num_keypoints={K} keypoints')
        masks = [d.gt_fields.get('heatmap_mask') for d in samples]
        if any(m is None for m in masks) and any(m is not None for m in masks):
            raise ValueError('gt_fields.heatmap_mask is in some samples of '
                             'the batch only')
        weights = _gather(samples, 'gt_instance_labels', 'keypoint_weights')
        return dict(
            heatmaps=heatmaps.to(device),
            mask=None if masks[0] is None else torch.stack(
                [torch.as_tensor(m) for m in masks]).to(device),
            coords=torch.cat(coords).long().reshape(-1, 2).to(device),
            weights=torch.cat(weights).reshape(-1, K).to(device),
            instance_heatmaps=torch.cat(inst).reshape(
                -1, K, *heatmaps.shape[-2:]).to(device),
            imgids=torch.cat([torch.full((len(c), ), i, dtype=torch.long)
                              for i, c in enumerate(coords)]).to(device))


def _check_args(head, in_channels, gfd_channels, num_keypoints,
                prior_prob) -> None:
    check_one_feature_map(head, in_channels)
    for name, value in (('in_channels', in_channels),
                        ('gfd_channels', gfd_channels),
                        ('num_keypoints', num_keypoints)):
        if not (isinstance(value, int) and value > 0):
            raise ValueError(f'CIDHead: {name} must be a positive int, got '
                             f'{value!r}')
    if not 0 < prior_prob < 1:
        raise ValueError(f'CIDHead: prior_prob must be in (0, 1), got '
                         f'{prior_prob}')


def _check_decoder(decoder, num_keypoints: int) -> None:
    """The codec must decode per-instance heatmaps, of the head's K."""
    if decoder is None:
        return
    fields = getattr(decoder, 'field_mapping_table', {})
    if 'instance_heatmaps' not in fields:
        raise ValueError(
            'CIDHead needs a codec that decodes per-instance heatmaps '
            f'(DecoupledHeatmap), got decoder {type(decoder).__name__}')
    codec_k = getattr(decoder, 'num_keypoints', None)
    if codec_k is not None and codec_k != num_keypoints:
        raise ValueError(f'CIDHead: num_keypoints={num_keypoints} but its '
                         f'decoder {type(decoder).__name__} has '
                         f'num_keypoints={codec_k}')


def _check_test_cfg(test_cfg: Mapping) -> Mapping:
    unknown = set(test_cfg) - set(TEST_KEYS) - set(OFF_KEYS)
    if unknown:
        raise ValueError(f'CIDHead: unknown test_cfg keys {sorted(unknown)};'
                         f' it takes {TEST_KEYS + OFF_KEYS}')
    for key in OFF_KEYS:
        if test_cfg.get(key, False):
            raise ValueError(f'CIDHead does not support test_cfg {key}=True')
    kernel = test_cfg.get('blur_kernel_size', 3)
    if not (isinstance(kernel, int) and kernel > 0 and kernel % 2):
        # an even box blur would shift the maps by half a pixel
        raise ValueError('CIDHead: test_cfg blur_kernel_size must be an odd '
                         f'positive int, got {kernel!r}')
    return test_cfg
