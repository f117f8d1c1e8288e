"""TemporalRegressionHead: VideoPose3D's last layer, a 1x1 temporal conv
from TCN features to root-relative 3D keypoints (Pavllo et al., CVPR 2019).

Coordinates: the head outputs what the lifting codec's ``lifting_target_label``
holds (3D keypoints relative to the root joint, in the dataset's units, for
H3.6M metres; ImagePoseLifting may also standardise them by
``target_mean``/``target_std``). Decoding with the codec adds back the
sample's ``target_root`` (metainfo) and undoes any standardisation.
"""
from types import MappingProxyType
from typing import Callable, List, Mapping, Optional, Sequence, Union

import torch
from torch import Tensor, nn

from posekit.evaluation.functional import keypoint_mpjpe
from posekit.registry import MODELS
from posekit.structures import InstanceData, to_numpy
from .base_head import (BaseHead, ConfigOrObject, build_decoder, build_loss,
                        cat_labels, check_one_feature_map, last_feature)

LINEAR_INIT = (dict(type='Normal', layer=['Linear'], std=0.01, bias=0), )


def batch_target_root(batch_data_samples: Sequence) -> Tensor:
    """``target_root`` of every sample's metainfo, stacked: (B, ...) float;
    (B, 0) when the samples have none (the codec then leaves the root-
    relative keypoints as they are)."""
    if batch_data_samples[0].metainfo.get('target_root', None) is None:
        return torch.empty((len(batch_data_samples), 0), dtype=torch.float32)
    return torch.stack([torch.as_tensor(d.metainfo['target_root'])
                        for d in batch_data_samples])


@MODELS.register_module()
class TemporalRegressionHead(BaseHead):
    """Conv1d(in_channels, K * 3, 1) on the last feature map.

    Args:
        in_channels (int): Channels of the last feature map.
        num_joints (int): K, the keypoints predicted.
        loss (dict | nn.Module): Called as ``loss(pred (N, K, 3), labels,
            weights (N, K, 1))``; default MSELoss with target weights.
        decoder (dict | codec, optional): ImagePoseLifting or
            VideoPoseLifting codec, for ``predict``.
        init_cfg (dict | list[dict], optional): Default N(0, 0.01) for
            Linear layers (MMPose's; the head has only a conv, which keeps
            PyTorch's default initialisation).
    """

    # the names of the labels and of the loss items (the trajectory head
    # reads other weights and names its items otherwise)
    _weight_label = 'lifting_target_weight'
    _loss_name, _error_name = 'loss_pose3d', 'mpjpe'

    def __init__(self, in_channels: Union[int, Sequence[int]],
                 num_joints: int,
                 loss: ConfigOrObject = MappingProxyType(
                     dict(type='MSELoss', use_target_weight=True)),
                 decoder: Optional[ConfigOrObject] = None,
                 init_cfg: Optional[Union[dict, list]] = None):
        super().__init__(list(LINEAR_INIT) if init_cfg is None else init_cfg)
        check_one_feature_map(self, in_channels)
        self.in_channels = in_channels
        self.num_joints = num_joints
        self.loss_module = build_loss(loss)
        self.decoder = build_decoder(decoder)
        self.conv = nn.Conv1d(in_channels, num_joints * 3, 1)

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        """Last feature (N, C, T) -> (N * T, K, 3); T is 1 for a clip of the
        TCN's receptive field."""
        x = self.conv(last_feature(feats))
        return x.reshape(-1, self.num_joints, 3)

    def predict_with(self, forward: Callable, feats,
                     batch_data_samples: Sequence,
                     test_cfg: Optional[Mapping] = None
                     ) -> List[InstanceData]:
        """Decoded keypoints per sample (codec decode with the sample's
        ``target_root``): ``keypoints`` (1, K', 3) and ``keypoint_scores``
        (1, K') as the codec decodes them (K' = K + 1 when it re-inserts the
        root)."""
        if (test_cfg or {}).get('flip_test', False):
            # MMPose 1.3.2 fails there too: it passes [feats, flipped] to
            # this head's forward, which reads the flipped pair as features
            raise ValueError(f'{type(self).__name__} does not support '
                             'test_cfg.flip_test; set it to False')
        coords = forward(feats)
        return self.decode((coords, batch_target_root(batch_data_samples)))

    def decode(self, batch_outputs) -> List[InstanceData]:
        """Decode ``(coords (B, K, 3), target_root (B, ...))`` sample by
        sample, each keeping a leading axis of 1 (``decoder.decode(coords[i:
        i + 1], root[i:i + 1])``, as MMPose unzips tuples), so keypoints come
        out (1, K', 3) and scores (1, K')."""
        if self.decoder is None:
            raise RuntimeError(
                f'{type(self).__name__} has no decoder: pass decoder=<codec '
                'config> to it to use predict() or decode()')
        coords, roots = (to_numpy(x) for x in batch_outputs)
        preds = []
        for i in range(len(coords)):
            kpts, scores = self.decoder.decode(coords[i:i + 1], roots[i:i + 1])
            preds.append(InstanceData(keypoints=kpts, keypoint_scores=scores))
        return preds

    def loss(self, inputs: Sequence[Tensor], batch_data_samples: Sequence,
             train_cfg: Optional[Mapping] = None) -> dict:
        """The loss against ``lifting_target_label`` (weighted by the
        head's weight label), and the batch MPJPE (not optimised: its
        name has no 'loss')."""
        pred = self.forward(inputs)
        labels = cat_labels(batch_data_samples, 'lifting_target_label',
                            pred.device)
        weights = cat_labels(batch_data_samples, self._weight_label,
                             pred.device)
        loss = self.loss_module(pred, labels, weights.unsqueeze(-1))
        error = keypoint_mpjpe(pred=to_numpy(pred), gt=to_numpy(labels),
                               mask=to_numpy(weights) > 0)
        return {self._loss_name: loss,
                self._error_name: torch.tensor(error, device=labels.device)}
