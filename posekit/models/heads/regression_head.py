"""Regression heads: a linear layer from a pooled feature vector to
coordinates normalised by the input size (codec RegressionLabel).

RegressionHead is DeepPose's (Toshev & Szegedy, 2014); RLEHead adds a
sigma per coordinate, trained with the RLE likelihood (Li et al., 2021).
Both expect a (B, C) vector, i.e. a GlobalAveragePooling neck (a feature
map is flattened).
"""
from types import MappingProxyType
from typing import Callable, List, Mapping, Optional, Sequence, Union

import torch
from torch import Tensor, nn

from posekit.models.utils.tta import flip_coordinates
from posekit.registry import MODELS
from posekit.structures import InstanceData
from .base_head import (BaseHead, ConfigOrObject, build_decoder, build_loss,
                        cat_labels, coords_accuracy, first_meta,
                        last_feature, split_flip_feats)

LINEAR_INIT = (dict(type='Normal', layer=['Linear'], std=0.01, bias=0), )


def flip_test_coords(forward, feats, data_samples: Sequence,
                     test_cfg: Mapping, post=None) -> Tensor:
    """``forward(feats)`` (B, K, D), or with ``flip_test`` its mean with the
    un-flipped coordinates of the mirrored input (``shift_coords`` default
    True). ``post`` (e.g. a sigmoid on the sigmas) is applied to each
    output after un-flipping, before averaging."""
    post = post or (lambda x: x)
    if not test_cfg.get('flip_test', False):
        return post(forward(feats))
    feats, feats_flip = split_flip_feats(feats)
    flipped = flip_coordinates(
        forward(feats_flip),
        flip_indices=first_meta(data_samples, 'flip_indices'),
        shift_coords=test_cfg.get('shift_coords', True),
        input_size=first_meta(data_samples, 'input_size'))
    return (post(forward(feats)) + post(flipped)) * 0.5


@MODELS.register_module()
class RegressionHead(BaseHead):
    """Linear layer: (B, C) -> (B, K, 2) normalised coordinates.

    Args:
        in_channels (int): C, the input vector size (after flattening).
        num_joints (int): K.
        loss (dict | nn.Module): Called as ``loss(pred, labels, weights
            (B, K, 1))``; default SmoothL1Loss with target weights.
        decoder (dict | codec, optional): RegressionLabel codec.
        init_cfg (dict | list[dict], optional): Default N(0, 0.01) weights,
            zero bias.
    """

    _values_per_joint = 2  # (x, y)

    def __init__(self, in_channels: Union[int, Sequence[int]],
                 num_joints: int,
                 loss: ConfigOrObject = MappingProxyType(
                     dict(type='SmoothL1Loss', use_target_weight=True)),
                 decoder: Optional[ConfigOrObject] = None,
                 init_cfg: Optional[Union[dict, list]] = None):
        super().__init__(list(LINEAR_INIT) if init_cfg is None else init_cfg)
        self.in_channels = in_channels
        self.num_joints = num_joints
        self.loss_module = build_loss(loss)
        self.decoder = build_decoder(decoder)
        self.fc = nn.Linear(in_channels, num_joints * self._values_per_joint)

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        """Last feature (B, C) -> (B, K, D)."""
        x = torch.flatten(last_feature(feats), 1)
        return self.fc(x).reshape(-1, self.num_joints, self._values_per_joint)

    def predict_with(self, forward: Callable, feats,
                     batch_data_samples: Sequence,
                     test_cfg: Optional[Mapping] = None
                     ) -> List[InstanceData]:
        """Decoded keypoints per sample, in input pixels."""
        coords = flip_test_coords(forward, feats, batch_data_samples,
                                  test_cfg or {})
        return self.decode(coords.unsqueeze(1))  # (B, N=1, K, D)

    def loss(self, inputs: Sequence[Tensor], batch_data_samples: Sequence,
             train_cfg: Optional[Mapping] = None) -> dict:
        """``loss_kpt`` against ``keypoint_labels``; ``acc_pose``."""
        pred = self.forward(inputs)
        labels = cat_labels(batch_data_samples, 'keypoint_labels', pred.device)
        weights = cat_labels(batch_data_samples, 'keypoint_weights',
                             pred.device)
        loss = self.loss_module(pred, labels, weights.unsqueeze(-1))
        losses = dict(loss) if isinstance(loss, dict) else dict(loss_kpt=loss)
        losses['acc_pose'] = coords_accuracy(pred, labels, weights)
        return losses


@MODELS.register_module()
class RLEHead(RegressionHead):
    """Linear layer: (B, C) -> (B, K, 4) = (x, y, sigma_x, sigma_y).

    Sigmas are raw in ``forward`` and the loss; ``predict`` applies a
    sigmoid, so the codec scores keypoints by ``mean(1 - sigma)``.

    Args:
        loss (dict | nn.Module): Called as ``loss(coords, sigmas, labels,
            weights (B, K, 1))``; default RLELoss with target weights (its
            flow's weights are part of this head's state_dict).
        Others as :class:`RegressionHead`.
    """

    _values_per_joint = 4  # (x, y, sigma_x, sigma_y)

    def __init__(self, in_channels: Union[int, Sequence[int]],
                 num_joints: int,
                 loss: ConfigOrObject = MappingProxyType(
                     dict(type='RLELoss', use_target_weight=True)),
                 decoder: Optional[ConfigOrObject] = None,
                 init_cfg: Optional[Union[dict, list]] = None):
        super().__init__(in_channels, num_joints, loss, decoder, init_cfg)

    def predict_with(self, forward: Callable, feats,
                     batch_data_samples: Sequence,
                     test_cfg: Optional[Mapping] = None
                     ) -> List[InstanceData]:
        coords = flip_test_coords(forward, feats, batch_data_samples,
                                  test_cfg or {}, post=_sigmoid_sigmas)
        return self.decode(coords.unsqueeze(1))

    def loss(self, inputs: Sequence[Tensor], batch_data_samples: Sequence,
             train_cfg: Optional[Mapping] = None) -> dict:
        pred = self.forward(inputs)
        coords, sigmas = pred[..., :2], pred[..., 2:4]
        labels = cat_labels(batch_data_samples, 'keypoint_labels', pred.device)
        weights = cat_labels(batch_data_samples, 'keypoint_weights',
                             pred.device)
        loss = self.loss_module(coords, sigmas, labels, weights.unsqueeze(-1))
        return dict(loss_kpt=loss,
                    acc_pose=coords_accuracy(coords, labels, weights))


def _sigmoid_sigmas(x: Tensor) -> Tensor:
    """(B, K, 4): sigmoid on the sigma channels 2:4."""
    return torch.cat([x[..., :2], x[..., 2:].sigmoid()], dim=-1)
