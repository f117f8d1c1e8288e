"""Associative Embedding head (Newell et al., NeurIPS 2017): bottom-up
heatmaps plus tag maps that group keypoints into people.

The layers are :class:`HeatmapHead`'s with ``num_keypoints * (1 + tag_dim)``
output channels (``num_keypoints + tag_dim`` without ``tag_per_keypoint``):
the first K are heatmaps, the rest tags, tag channel ``l * K + k`` for tag
dimension l of keypoint k. State_dict keys are MMPose's (``deconv_layers``,
``conv_layers``, ``final_layer``; the losses have no parameters).
"""
from typing import (Any, Callable, List, Mapping, Optional, Sequence, Tuple,
                    Union)

import torch
import torch.nn.functional as F
from torch import Tensor

from posekit.models.utils.tta import flip_heatmaps
from posekit.registry import MODELS
from posekit.structures import InstanceData, PixelData, to_numpy
from .base_head import ConfigOrObject, cat_labels, first_meta, stack_fields
from .heatmap_head import FINAL_1X1, HeatmapHead

OptIntSeq = Optional[Sequence[int]]
MSE = dict(type='KeypointMSELoss')
AE_LOSS = dict(type='AssociativeEmbeddingLoss')


def resize_and_merge(maps: List[Tensor], size: Optional[Tuple[int, int]],
                     align_corners: bool, mode: str) -> Tensor:
    """Bilinearly resize (B, C, H, W) maps to ``size`` (w, h) (default: the
    first map's), then average them ('average') or stack their channels
    ('concat')."""
    h, w = maps[0].shape[-2:] if size is None else (size[1], size[0])
    maps = [m if tuple(m.shape[-2:]) == (h, w) else F.interpolate(
        m, size=(h, w), mode='bilinear', align_corners=align_corners)
        for m in maps]
    if mode == 'average':
        return sum(maps) / len(maps)
    return torch.cat(maps, dim=1)


def _is_seq(x: Any) -> bool:
    return isinstance(x, (list, tuple))


@MODELS.register_module()
class AssociativeEmbeddingHead(HeatmapHead):
    """Heatmaps and associative-embedding tags (HeatmapHead layers).

    Args:
        in_channels (int): Channels of the last input feature map.
        num_keypoints (int): K.
        tag_dim (int): L, tag values per keypoint.
        tag_per_keypoint (bool): One tag map per keypoint (K*L channels);
            else L maps shared by all keypoints.
        deconv_out_channels, deconv_kernel_sizes, conv_out_channels,
        conv_kernel_sizes, final_layer: As :class:`HeatmapHead`.
        keypoint_loss (dict | nn.Module): Heatmap loss, called as
            ``(pred, gt, keypoint_weights (B, K), heatmap_mask)``.
        tag_loss (dict | nn.Module): Called as ``(tags, keypoint_indices)``,
            returns (pull, push).
        decoder (dict | codec, optional): An AssociativeEmbedding codec.
        init_cfg (dict | list[dict], optional): Default as HeatmapHead.

    Both losses are held as ``loss_module.keypoint_loss`` and
    ``loss_module.tag_loss`` (a CombinedLoss, as in MMPose).
    """

    def __init__(self, in_channels: int, num_keypoints: int, tag_dim: int = 1,
                 tag_per_keypoint: bool = True,
                 deconv_out_channels: OptIntSeq = (256, 256, 256),
                 deconv_kernel_sizes: OptIntSeq = (4, 4, 4),
                 conv_out_channels: OptIntSeq = None,
                 conv_kernel_sizes: OptIntSeq = None,
                 final_layer: Optional[Mapping] = FINAL_1X1,
                 keypoint_loss: ConfigOrObject = MSE,
                 tag_loss: ConfigOrObject = AE_LOSS,
                 decoder: Optional[ConfigOrObject] = None,
                 init_cfg: Optional[Union[dict, list]] = None):
        if num_keypoints < 1 or tag_dim < 1:
            raise ValueError('AssociativeEmbeddingHead: num_keypoints and '
                             f'tag_dim must be >= 1, got {num_keypoints} and '
                             f'{tag_dim}')
        out_channels = (num_keypoints * (1 + tag_dim) if tag_per_keypoint
                        else num_keypoints + tag_dim)
        if final_layer is None:
            last = (conv_out_channels or deconv_out_channels or [in_channels]
                    )[-1]
            if last != out_channels:
                raise ValueError(
                    f'AssociativeEmbeddingHead: with final_layer=None the '
                    f'last layer gives {last} channels, but {num_keypoints} '
                    f'keypoints with tag_dim={tag_dim} need {out_channels}')
        loss = dict(type='CombinedLoss', losses=dict(
            keypoint_loss=keypoint_loss, tag_loss=tag_loss))
        super().__init__(in_channels, out_channels, deconv_out_channels,
                         deconv_kernel_sizes, conv_out_channels,
                         conv_kernel_sizes, final_layer, loss, decoder,
                         init_cfg)
        self.num_keypoints = num_keypoints
        self.tag_dim = tag_dim
        self.tag_per_keypoint = tag_per_keypoint
        _check_decoder(self.decoder, num_keypoints)

    def forward(self, feats: Sequence[Tensor]) -> Tuple[Tensor, Tensor]:
        """Last feature map (B, C, h, w) -> heatmaps (B, K, H, W) and tags
        (B, K*L or L, H, W)."""
        out = super().forward(feats)
        return out[:, :self.num_keypoints], out[:, self.num_keypoints:]

    def loss(self, feats: Sequence[Tensor], batch_data_samples: Sequence,
             train_cfg: Optional[Mapping] = None) -> dict:
        """``loss_kpt`` (heatmaps against ``gt_fields.heatmaps``, masked by
        ``gt_fields.heatmap_mask``), ``loss_pull`` and ``loss_push`` (tags
        at ``gt_instance_labels.keypoint_indices``).

        Keypoint weights: MMPose concatenates every sample's (N_i, K)
        ``keypoint_weights``, which only lines up with the batch when each
        image has one instance; here each sample gives its max over
        instances (a keypoint type is supervised if any person shows it),
        which is the same for one instance per image.
        """
        heatmaps, tags = self.forward(feats)
        if not self.tag_per_keypoint:
            tags = tags.repeat(1, self.num_keypoints, 1, 1)
        device = heatmaps.device
        gt = stack_fields(batch_data_samples, 'heatmaps', device)
        mask = stack_fields(batch_data_samples, 'heatmap_mask', device)
        weights = torch.stack([
            _per_image_weights(cat_labels([d], 'keypoint_weights', device),
                               self.num_keypoints)
            for d in batch_data_samples])
        indices = [cat_labels([d], 'keypoint_indices', device)
                   for d in batch_data_samples]
        loss_kpt = self.loss_module.keypoint_loss(heatmaps, gt, weights, mask)
        pull, push = self.loss_module.tag_loss(tags, indices)
        return dict(loss_kpt=loss_kpt, loss_pull=pull, loss_push=push)

    def predict_with(self, forward: Callable[[Any], Tuple[Tensor, Tensor]],
                     feats: Any, batch_data_samples: Sequence,
                     test_cfg: Optional[Mapping] = None):
        """Decoded instances per sample, in input-image pixels.

        Args:
            forward (Callable): Returns (heatmaps, tags) as :meth:`forward`.
            feats: A tuple of feature maps; with ``flip_test``
                ``[feats, feats_of_flipped_input]``; with
                ``multiscale_test`` a list of those, one per scale (the
                first is the original scale).
            batch_data_samples (list[PoseDataSample]): Metainfo
                ``flip_indices`` (flip test) and ``img_shape`` (h, w)
                (``restore_heatmap_size``).
            test_cfg (dict): ``flip_test``, ``multiscale_test``,
                ``shift_heatmap``, ``align_corners``,
                ``restore_heatmap_size`` (resize maps to the input image
                before decoding; the codec's heatmap_size must then be the
                input size), ``output_heatmaps``.

        Returns:
            list[InstanceData]: ``keypoints (N, K, 2)``, ``keypoint_scores
            (N, K)``, ``bbox_scores (N,)``; with ``output_heatmaps`` also a
            list of PixelData (``heatmaps``, ``tags``). With flip test the
            tags of both passes are concatenated (2x channels), heatmaps
            averaged; tags only come from the first scale.

        MMPose resizes to the image only where it merges maps (flip or
        multi-scale test); here a single pass is resized too, else its
        keypoints would come out in heatmap pixels.
        """
        cfg = test_cfg or {}
        flip, multi = cfg.get('flip_test', False), cfg.get('multiscale_test',
                                                            False)
        scales = self._scale_feats(feats, flip, multi)
        size = self._restored_size(batch_data_samples) if cfg.get(
            'restore_heatmap_size', False) else None
        corners = cfg.get('align_corners', False)
        heatmaps, tags = [], None
        for i, scale_feats in enumerate(scales):
            hm, tg = self._one_scale(forward, scale_feats, batch_data_samples,
                                     cfg, size)
            heatmaps.append(hm)
            tags = tg if i == 0 else tags
        heatmaps = resize_and_merge(heatmaps, None, corners, 'average')
        preds = self.decode((heatmaps, tags))
        if cfg.get('output_heatmaps', False):
            return preds, [PixelData(heatmaps=h, tags=t) for h, t in zip(
                heatmaps.detach(), tags.detach())]
        return preds

    @staticmethod
    def _scale_feats(feats: Any, flip: bool, multi: bool) -> list:
        """feats as a list with one entry per scale, checked. (An entry is
        whatever ``forward`` takes: feature maps, or the input images of an
        exported network.)"""
        scales = list(feats) if multi else [feats]
        if flip and not all(_is_seq(f) and len(f) == 2 for f in scales):
            raise ValueError(
                'AssociativeEmbeddingHead.predict: with flip_test each scale '
                'must be [feats, feats_of_flipped_input] (multiscale_test='
                f'{multi})')
        return scales

    @staticmethod
    def _restored_size(data_samples: Sequence) -> Tuple[int, int]:
        """(w, h) the maps are resized to: the batch's padded input size
        (``batch_input_shape``, set by the data preprocessor), else the
        input images' ``img_shape``, which must then all be the same. The
        two agree for one image (MMPose reads ``img_shape``); for a batch of
        different sizes, padded at the bottom and right, the padded size
        keeps every image's pixels where they are."""
        for key in ('batch_input_shape', 'img_shape'):
            shapes = {tuple(d.metainfo[key][:2]) for d in data_samples
                      if key in d.metainfo}
            if len(shapes) == 1 and all(key in d.metainfo
                                        for d in data_samples):
                (h, w), = shapes
                return w, h
        raise ValueError('restore_heatmap_size needs metainfo '
                         'batch_input_shape, or the same img_shape, in every '
                         f'sample, got img_shape {shapes}')

    def _one_scale(self, forward, feats, data_samples, cfg, size):
        """(heatmaps, tags) of one scale, flip-merged and resized."""
        corners = cfg.get('align_corners', False)
        if not cfg.get('flip_test', False):
            hm, tags = forward(feats)
            return (resize_and_merge([hm], size, corners, 'average'),
                    resize_and_merge([tags], size, corners, 'concat'))
        flip_indices = first_meta(data_samples, 'flip_indices')
        shift = cfg.get('shift_heatmap', False)
        hm, tags = forward(feats[0])
        hm_flip, tags_flip = forward(feats[1])
        hm_flip = flip_heatmaps(hm_flip, flip_indices, 'heatmap', shift)
        tags_flip = self.flip_tags(tags_flip, flip_indices, shift)
        return (resize_and_merge([hm, hm_flip], size, corners, 'average'),
                resize_and_merge([tags, tags_flip], size, corners, 'concat'))

    def flip_tags(self, tags: Tensor, flip_indices: Sequence[int],
                  shift_heatmap: bool = True) -> Tensor:
        """Un-flip tag maps (B, C, H, W) of a mirrored input: reverse W and,
        per keypoint, swap left and right (C = L*K) or keep the order
        (shared tags); ``shift_heatmap`` as :func:`flip_heatmaps`."""
        B, C, H, W = tags.shape
        if not self.tag_per_keypoint:
            return flip_heatmaps(tags, None, 'heatmap', shift_heatmap)
        K = self.num_keypoints
        if C != K * self.tag_dim:
            raise ValueError(f'tags have {C} channels, expected '
                             f'{K} keypoints x tag_dim {self.tag_dim}')
        out = flip_heatmaps(tags.reshape(B * self.tag_dim, K, H, W),
                            flip_indices, 'heatmap', shift_heatmap)
        return out.reshape(B, C, H, W)

    def decode(self, batch_outputs: Tuple[Tensor, Tensor]
               ) -> List[InstanceData]:
        """Group and decode (heatmaps, tags) with the codec.

        The codec returns per sample ``keypoints (N, K, 2)`` in input-image
        pixels, ``keypoint_scores (N, K)`` and, as MMPose's does,
        ``instance scores (N,)`` (stored as ``bbox_scores``); a codec that
        returns only the first two gets the mean keypoint score.
        """
        if self.decoder is None:
            raise RuntimeError(
                f'{type(self).__name__} has no decoder: pass decoder=<codec '
                'config> to it to use predict() or decode()')
        heatmaps, tags = batch_outputs
        if self.decoder.support_batch_decoding:
            results = list(zip(*self.decoder.batch_decode(heatmaps, tags)))
        else:
            results = [self.decoder.decode(h, t) for h, t in
                       zip(to_numpy(heatmaps), to_numpy(tags))]
        preds = []
        for result in results:
            keypoints, scores = result[0], result[1]
            instance = result[2] if len(result) > 2 else scores.mean(-1)
            preds.append(InstanceData(bbox_scores=instance,
                                      keypoints=keypoints,
                                      keypoint_scores=scores))
        return preds


def _per_image_weights(weights: Tensor, num_keypoints: int) -> Tensor:
    """(N, K) instance weights of one image -> (K,): the max over instances
    (0 where there is none)."""
    if weights.ndim == 1:
        weights = weights[None]
    if weights.shape[-1] != num_keypoints:
        raise ValueError(f'keypoint_weights {tuple(weights.shape)} do not '
                         f'have {num_keypoints} keypoints')
    if weights.shape[0] == 0:
        return weights.new_zeros(num_keypoints)
    return weights.amax(dim=0)


def _check_decoder(decoder: Any, num_keypoints: int) -> None:
    """The codec's grouping order must name each of the K keypoints."""
    order = getattr(decoder, 'decode_keypoint_order', None)
    if order and sorted(order) != list(range(num_keypoints)):
        raise ValueError(
            f'AssociativeEmbeddingHead: the decoder\'s decode_keypoint_order '
            f'{list(order)} is not an order of the head\'s num_keypoints='
            f'{num_keypoints} keypoints')
