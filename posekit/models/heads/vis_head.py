"""VisPredictHead: another head plus a keypoint-visibility classifier.

Parameter names (so MMPose checkpoints load): the wrapped head's under
``pose_head.``, the classifier's Linear as ``vis_head.2`` (after the pooling
and flatten layers, which have none).
"""
from typing import Any, Callable, Mapping, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from posekit.models.utils import flip_visibility
from posekit.registry import MODELS

from .base_head import (BaseHead, ConfigOrObject, build_loss, cat_labels,
                        first_meta, last_feature, split_flip_feats)

BCE_LOSS = dict(type='BCELoss', use_target_weight=False, use_sigmoid=True)


def _pose_head_channels(pose_cfg: ConfigOrObject) -> Tuple[int, int]:
    """(in_channels, K) of the wrapped head, from its config or module."""
    get = (pose_cfg.get if isinstance(pose_cfg, Mapping)
           else lambda name: getattr(pose_cfg, name, None))
    out_channels = get('num_joints')
    if out_channels is None:
        out_channels = get('out_channels')
    if out_channels is None or get('in_channels') is None:
        raise ValueError('VisPredictHead needs in_channels and num_joints or '
                         'out_channels in pose_cfg')
    return get('in_channels'), out_channels


def _visible_weights(data_sample) -> Tensor:
    """(N, K) ``keypoints_visible_weights`` of a sample, ones if it has none."""
    labels = data_sample.gt_instance_labels
    weights = labels.get('keypoints_visible_weights')
    if weights is None:
        return torch.ones(torch.as_tensor(labels.keypoint_weights).shape)
    return torch.as_tensor(weights)


@MODELS.register_module()
class VisPredictHead(BaseHead):
    """Wraps a top-down head and adds one visibility logit per keypoint.

    The classifier is global average pooling of the last feature map, then
    a Linear to K outputs (then a sigmoid when the loss says
    ``use_sigmoid=True``, meaning it expects probabilities).

    Args:
        pose_cfg (dict | nn.Module): The keypoint head (e.g. HeatmapHead); it
            must give ``in_channels`` and ``num_joints`` or ``out_channels``.
        loss (dict | nn.Module): Visibility loss. Default BCELoss on
            probabilities, unweighted.
        init_cfg (dict | list[dict], optional): Default Normal(std=0.01,
            bias=0) for Linear layers.

    ``forward(feats)`` returns (the pose head's output, visibility (B, K)).
    Training targets: ``gt_instance_labels.keypoint_weights`` (N, K) are the
    visibility labels, weighted (with ``loss.use_target_weight``) by
    ``gt_instance_labels.keypoints_visible_weights`` (N, K) when present.
    """

    def __init__(self, pose_cfg: ConfigOrObject,
                 loss: ConfigOrObject = BCE_LOSS,
                 init_cfg: Optional[Any] = None):
        if init_cfg is None:
            init_cfg = [dict(type='Normal', layer=['Linear'], std=0.01, bias=0)]
        super().__init__(init_cfg)
        self.in_channels, self.out_channels = _pose_head_channels(pose_cfg)
        self.loss_module = build_loss(loss)
        self.pose_head = MODELS.build(pose_cfg)
        self.pose_cfg = pose_cfg
        # MMPose reads use_sigmoid from the loss config; a built loss says it
        self.use_sigmoid = bool(loss.get('use_sigmoid', False)
                                if isinstance(loss, Mapping)
                                else getattr(self.loss_module, 'use_sigmoid', False))
        layers = [nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                  nn.Linear(self.in_channels, self.out_channels)]
        if self.use_sigmoid:
            layers.append(nn.Sigmoid())
        self.vis_head = nn.Sequential(*layers)

    @property
    def decoder(self):
        return self.pose_head.decoder

    def vis_forward(self, feats: Sequence[Tensor]) -> Tensor:
        """Visibility (B, K) (probabilities if ``use_sigmoid``, else logits)
        from the last map (B, C, H, W); (B, C) or (B, C, L) maps get trailing
        unit dimensions."""
        x = last_feature(feats)
        x = x.reshape(x.shape + (1, ) * max(0, 4 - x.dim()))
        return self.vis_head(x).reshape(-1, self.out_channels)

    def forward(self, feats: Sequence[Tensor]) -> Tuple[Any, Tensor]:
        return self.pose_head.forward(feats), self.vis_forward(feats)

    def predict_with(self, forward: Callable[[Any], Tuple[Any, Tensor]], feats,
                     batch_data_samples: Sequence,
                     test_cfg: Optional[Mapping] = None):
        """The pose head's predictions, each with ``keypoints_visible``
        (1, K) float32: the visibility probability (averaged with the flipped
        input's under ``test_cfg['flip_test']``), replacing any the codec gave.
        Returns what the pose head's predict returns."""
        test_cfg = test_cfg or {}
        if test_cfg.get('flip_test', False):
            feats_orig, feats_flip = split_flip_feats(feats)
            flip_indices = first_meta(batch_data_samples, 'flip_indices')
            vis = (forward(feats_orig)[1] + flip_visibility(
                forward(feats_flip)[1], flip_indices)) * 0.5
        else:
            vis = forward(feats)[1]
        if not self.use_sigmoid:
            vis = torch.sigmoid(vis)
        # the pose head runs ``forward`` again (it owns its flip merge); the
        # extra visibility branch is one pooled Linear, so this costs little
        preds = self.pose_head.predict_with(lambda f: forward(f)[0], feats,
                                            batch_data_samples, test_cfg)
        instances = preds[0] if isinstance(preds, tuple) else preds
        if len(instances) != len(vis):
            raise ValueError(f'{len(instances)} predictions for a batch of '
                             f'{len(vis)} visibility rows')
        vis = vis.detach().float().cpu().numpy()[:, None]  # (B, 1, K)
        for instance, v in zip(instances, vis):
            instance.keypoints_visible = v
        return preds

    @torch.no_grad()
    def vis_accuracy(self, vis_pred: Tensor, vis_labels: Tensor,
                     vis_weights: Optional[Tensor] = None) -> Tensor:
        """Mean over samples of the (weighted) share of keypoints whose
        visibility, thresholded at probability 0.5, equals the (B, K) label."""
        if not self.use_sigmoid:
            vis_pred = torch.sigmoid(vis_pred)
        correct = ((vis_pred >= 0.5).float() == vis_labels).float()
        if vis_weights is None:
            return correct.mean(dim=1).mean()
        return ((correct * vis_weights).sum(dim=1)
                / (vis_weights.sum(dim=1) + 1e-6)).mean()

    def loss(self, feats: Sequence[Tensor], batch_data_samples: Sequence,
             train_cfg: Optional[Mapping] = None) -> dict:
        """``loss_vis`` and ``acc_vis``, plus the pose head's losses.

        As in MMPose, the pose head's loss runs with its default train_cfg
        (``train_cfg`` is not passed on), so its outputs match MMPose's."""
        vis_pred = self.vis_forward(feats)
        labels = cat_labels(batch_data_samples, 'keypoint_weights',
                            vis_pred.device).float()
        weights = None
        if getattr(self.loss_module, 'use_target_weight', False):
            weights = torch.cat([_visible_weights(d) for d in batch_data_samples]
                                ).to(vis_pred)
        losses = dict(loss_vis=self.loss_module(vis_pred, labels, weights),
                      acc_vis=self.vis_accuracy(vis_pred, labels, weights))
        losses.update(self.pose_head.loss(feats, batch_data_samples))
        return losses
