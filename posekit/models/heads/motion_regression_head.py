"""MotionBERT's regression head (Zhu et al., 2023): per token, a tanh
embedding then a linear map to 3D coordinates, decoded by the
MotionBERTLabel codec.

Coordinates: the network predicts each frame's keypoints in the codec's
screen-normalised units (x in [-1, 1] across the image width, y and depth
on the same scale, see codecs/motionbert_label.normalize_screen); the codec
maps them back to root-relative metres. Flip test mirrors that space about
x = 0.
"""
from collections import OrderedDict
from types import MappingProxyType
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
import torch
from torch import Tensor, nn

from posekit.evaluation.functional import keypoint_mpjpe
from posekit.models.utils.tta import flip_coordinates
from posekit.registry import MODELS
from posekit.structures import InstanceData, to_numpy
from .base_head import (BaseHead, ConfigOrObject, build_decoder, build_loss,
                        first_meta, split_flip_feats)

TRUNC_NORMAL_INIT = (dict(type='TruncNormal', layer=['Linear'], std=0.02), )


def _features(feats: Union[Tensor, Sequence[Tensor]]) -> Tensor:
    """The backbone's (B, T, K, C) tensor; a tuple of them gives its last."""
    return feats if isinstance(feats, Tensor) else feats[-1]


def _stack_meta(data_samples: Sequence, key: str, read: Callable) -> Tensor:
    """``read(metainfo[key])`` of every sample stacked, or (B, 0) when the
    first sample has no ``key`` (the codec then skips that step)."""
    if data_samples[0].metainfo.get(key) is None:
        return torch.empty((len(data_samples), 0), dtype=torch.float32)
    return torch.stack([torch.from_numpy(np.asarray(read(d.metainfo[key])))
                        for d in data_samples])


@MODELS.register_module()
class MotionRegressionHead(BaseHead):
    """(B, T, K, in_channels) -> (B, T, K, out_channels).

    Args:
        in_channels (int): Feature width of the backbone. Default 256.
        out_channels (int): Values per keypoint. Default 3.
        embedding_size (int): Width of the tanh embedding
            (``pre_logits.fc``). Default 512; must be > 0.
        loss (dict | nn.Module): Called as ``loss(pred, target, weight
            (B, T, K, 1))``. Default MSELoss with target weights.
        decoder (dict | codec, optional): MotionBERTLabel codec.
        init_cfg (dict | list[dict], optional): Default: Linear weights from
            N(0, 0.02) truncated to [-2, 2], zero bias.
    """

    def __init__(self, in_channels: int = 256, out_channels: int = 3,
                 embedding_size: int = 512,
                 loss: ConfigOrObject = MappingProxyType(
                     dict(type='MSELoss', use_target_weight=True)),
                 decoder: Optional[ConfigOrObject] = None,
                 init_cfg: Optional[Union[dict, list]] = None):
        super().__init__(list(TRUNC_NORMAL_INIT) if init_cfg is None else init_cfg)
        if embedding_size <= 0:
            raise ValueError('MotionRegressionHead: embedding_size must be > 0, '
                             f'got {embedding_size}')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.loss_module = build_loss(loss)
        self.decoder = build_decoder(decoder)
        self.pre_logits = nn.Sequential(OrderedDict([
            ('fc', nn.Linear(in_channels, embedding_size)), ('act', nn.Tanh())]))
        self.fc = nn.Linear(embedding_size, out_channels)

    def forward(self, feats: Union[Tensor, Sequence[Tensor]]) -> Tensor:
        """(B, T, K, in_channels) (or a tuple ending with it) ->
        (B, T, K, out_channels)."""
        return self.fc(self.pre_logits(_features(feats)))

    def predict_with(self, forward: Callable, feats: Any,
                     batch_data_samples: Sequence,
                     test_cfg: Optional[Mapping] = None) -> List[InstanceData]:
        """Decoded 3D keypoints per sample: ``keypoints (1, T, K, 3)``
        and ``keypoint_scores (1, T, K)`` (see :meth:`decode_clips`).

        With ``flip_test`` ``feats`` is ``[feats, feats_of_mirrored_input]``
        (input mirrored about x = 0); the second output is mirrored back
        (x -> -x, left/right joints swapped by metainfo ``flip_indices``) and
        averaged with the first. Metainfo ``camera_param`` (``w``, ``h``)
        and ``factor`` are passed to the codec when the first sample has
        them.
        """
        test_cfg = test_cfg or {}
        if test_cfg.get('flip_test', False):
            feats, feats_flip = split_flip_feats(feats)
            coords = forward(feats)
            flipped = forward(feats_flip)
            # MMPose un-flips normalised coordinates with input size (1, 1):
            # x -> 1 - x - 1 = -x with the default shift_coords
            flipped = flip_coordinates(
                flipped.flatten(0, 1), first_meta(batch_data_samples, 'flip_indices'),
                shift_coords=test_cfg.get('shift_coords', True),
                input_size=(1, 1)).reshape(flipped.shape)
            coords = (coords + flipped) * 0.5
        else:
            coords = forward(feats)
        w = _stack_meta(batch_data_samples, 'camera_param', lambda c: [c['w']])
        h = _stack_meta(batch_data_samples, 'camera_param', lambda c: [c['h']])
        factor = _stack_meta(batch_data_samples, 'factor', lambda f: f)
        return self.decode_clips(coords, w, h, factor)

    def decode_clips(self, coords: Tensor, w: Tensor, h: Tensor,
                     factor: Tensor) -> List[InstanceData]:
        """Decode each sample as a batch of one, as MMPose does.

        Args:
            coords (Tensor): (B, T, K, 3) head outputs.
            w, h (Tensor): (B, 1) image sizes in pixels, or (B, 0).
            factor (Tensor): (B, T, 1) factors, or (B, 0).

        Returns:
            list[InstanceData]: per sample ``keypoints (1, T, K, 3)`` and
            ``keypoint_scores (1, T, K)``.
        """
        if self.decoder is None:
            raise RuntimeError('MotionRegressionHead has no decoder: pass '
                               'decoder=<MotionBERTLabel config> to use predict()')
        preds = []
        for i in range(coords.shape[0]):
            args = (to_numpy(t[i:i + 1]) for t in (coords, w, h, factor))
            keypoints, scores = self.decoder.decode(*args)
            preds.append(InstanceData(keypoints=keypoints, keypoint_scores=scores))
        return preds

    def loss(self, feats: Union[Tensor, Sequence[Tensor]], batch_data_samples: Sequence,
             train_cfg: Optional[Mapping] = None) -> Dict[str, Tensor]:
        """``loss_pose3d`` against ``gt_instance_labels.lifting_target_label``
        (T, K, 3) per sample, weighted by ``lifting_target_weight`` (T, K),
        and ``mpjpe``: the mean error of the weighted-in keypoints, in the
        label's units."""
        pred = self.forward(feats)
        target = self._stack_labels(batch_data_samples, 'lifting_target_label', pred)
        weight = self._stack_labels(batch_data_samples, 'lifting_target_weight', pred)
        loss = self.loss_module(pred, target, weight.unsqueeze(-1))
        mpjpe = keypoint_mpjpe(pred=to_numpy(pred), gt=to_numpy(target),
                               mask=to_numpy(weight) > 0)
        return dict(loss_pose3d=loss, mpjpe=torch.tensor(mpjpe, device=target.device))

    @staticmethod
    def _stack_labels(data_samples: Sequence, name: str, like: Tensor) -> Tensor:
        values = []
        for d in data_samples:
            labels = d.get('gt_instance_labels')
            value = None if labels is None else labels.get(name)
            if value is None:
                raise KeyError(f'a data sample has no gt_instance_labels.{name}; the '
                               'codec given to GenerateTarget (MotionBERTLabel) must '
                               'produce it for MotionRegressionHead')
            values.append(torch.as_tensor(value))
        return torch.stack(values).to(device=like.device, dtype=like.dtype)
