"""PoseLifter: 2D keypoint sequences in, 3D keypoints out (VideoPose3D,
SimpleBaseline3D, MotionBERT).

Inputs are what the lifting codecs pack as ``keypoint_labels``: 2D keypoints
normalised by the codec (e.g. to [-1, 1] of the camera image width),
arranged as the backbone reads them, e.g. ``(N, K * 2, T)`` for a TCN. A
pose model (backbone, neck, head) predicts root-relative 3D keypoints; an
optional trajectory model (``traj_backbone`` or the shared backbone,
``traj_neck``, ``traj_head``) predicts the root's position in the camera.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

import torch
from torch import Tensor, nn

from posekit.models.utils.tta import flip_coordinates
from posekit.registry import MODELS

from .base import BasePoseEstimator


@MODELS.register_module()
class PoseLifter(BasePoseEstimator):
    """Pose lifter with an optional trajectory model.

    Args:
        backbone (dict | nn.Module): Backbone, e.g. TCN.
        neck (dict | nn.Module, optional): Neck.
        head (dict | nn.Module, optional): Pose head, e.g.
            TemporalRegressionHead.
        traj_backbone (dict | nn.Module, optional): Backbone of the
            trajectory model; without it (and with ``traj_head``) the
            trajectory head shares the pose model's features.
        traj_neck (dict | nn.Module, optional): Neck of the trajectory model.
        traj_head (dict | nn.Module, optional): E.g. TrajectoryRegressionHead.
        semi_loss (dict | nn.Module, optional): SemiSupervisionLoss. Built
            (its config is checked) but training with it raises
            NotImplementedError: MMPose 1.3.2 does not implement it either
            (its ``loss`` passes the inputs where the loss wants predictions).
        train_cfg (dict, optional): Passed to the heads' ``loss``.
        test_cfg (dict, optional): ``flip_test`` (flip the input 2D
            keypoints about x = 0 and swap ``flip_indices``; the heads
            receive ``[feats, flipped_feats]``), ``shift_coords``,
            ``output_keypoint_indices``.
        data_preprocessor (dict | nn.Module, optional): Data preprocessor.
        init_cfg (dict | list[dict], optional): Initialisation config.
        metainfo (dict, optional): Overrides the samples' metainfo in
            ``'predict'`` mode.
    """

    def __init__(self,
                 backbone: Mapping | nn.Module,
                 neck: Mapping | nn.Module | None = None,
                 head: Mapping | nn.Module | None = None,
                 traj_backbone: Mapping | nn.Module | None = None,
                 traj_neck: Mapping | nn.Module | None = None,
                 traj_head: Mapping | nn.Module | None = None,
                 semi_loss: Mapping | nn.Module | None = None,
                 train_cfg: Mapping | None = None,
                 test_cfg: Mapping | None = None,
                 data_preprocessor: Mapping | nn.Module | None = None,
                 init_cfg: Mapping | list | None = None,
                 metainfo: Mapping | None = None) -> None:
        super().__init__(backbone=backbone, neck=neck, head=head,
                         train_cfg=train_cfg, test_cfg=test_cfg,
                         data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg, metainfo=metainfo)
        # built in MMPose's order, so the state_dict keys come in its order
        self.share_backbone = False
        if traj_head is not None:
            if traj_backbone is not None:
                self.traj_backbone = MODELS.build(traj_backbone)
            else:
                self.share_backbone = True
            if traj_neck is not None:
                self.traj_neck = MODELS.build(traj_neck)
            self.traj_head = MODELS.build(traj_head)
        elif traj_backbone is not None or traj_neck is not None:
            raise ValueError('PoseLifter: traj_backbone and traj_neck need a '
                             'traj_head')
        self.semi_supervised = semi_loss is not None
        if self.semi_supervised:
            if head is None and traj_head is None:
                raise ValueError('PoseLifter: semi_loss needs a head or a '
                                 'traj_head')
            self.semi_loss = MODELS.build(semi_loss)

    @property
    def with_traj_backbone(self) -> bool:
        """bool: Whether the trajectory model has its own backbone."""
        return getattr(self, 'traj_backbone', None) is not None

    @property
    def with_traj_neck(self) -> bool:
        """bool: Whether the trajectory model has a neck."""
        return getattr(self, 'traj_neck', None) is not None

    @property
    def with_traj(self) -> bool:
        """bool: Whether there is a trajectory head."""
        return hasattr(self, 'traj_head')

    @property
    def causal(self) -> bool:
        """bool: Whether the backbone only looks at past frames."""
        if not hasattr(self.backbone, 'causal'):
            raise AttributeError('the backbone of a PoseLifter needs a bool '
                                 'attribute "causal"')
        return self.backbone.causal

    def forward(self, inputs: Tensor | list, data_samples: list | None = None,
                mode: str = 'tensor'):
        """:meth:`BasePoseEstimator.forward`; a list of per-sample inputs
        (what the data loader gives: ``(K * 2, T)`` or ``(T, K, C)`` each,
        not images) is stacked into a batch first, as MMPose does."""
        if isinstance(inputs, (list, tuple)):
            inputs = torch.stack(list(inputs))
        return super().forward(inputs, data_samples, mode)

    def extract_feat(self, inputs: Tensor):
        """Pose features, or ``(pose_feats, traj_feats)`` with a trajectory
        model.

        Args:
            inputs (Tensor): Packed 2D keypoints, e.g. (N, K * 2, T).
        """
        feats = super().extract_feat(inputs)
        if not self.with_traj:
            return feats
        traj = feats if self.share_backbone else self.traj_backbone(inputs)
        if self.with_traj_neck:
            traj = self.traj_neck(traj)
        return feats, traj

    def _forward(self, inputs: Tensor):
        """Raw head outputs: the pose (features without a head), and the
        trajectory as a second item with a trajectory model."""
        feats = self.extract_feat(inputs)
        pose_feats = feats[0] if self.with_traj else feats
        pose = self.head.forward(pose_feats) if self.with_head else pose_feats
        if self.with_traj:
            return pose, self.traj_head.forward(feats[1])
        return pose

    def loss(self, inputs: Tensor, data_samples: list) -> dict:
        """Losses of the trajectory head (``loss_traj``, ``mpjpe_traj``)
        and of the pose head (``loss_pose3d``, ``mpjpe``)."""
        if self.semi_supervised:
            raise NotImplementedError(
                'PoseLifter: training with semi_loss is not implemented (nor '
                'in MMPose 1.3.2); remove semi_loss from the model config')
        feats = self.extract_feat(inputs)
        losses = {}
        if self.with_traj:
            feats, traj = feats
            losses.update(self.traj_head.loss(traj, data_samples,
                                              train_cfg=self.train_cfg))
        if self.with_head:
            losses.update(self.head.loss(feats, data_samples,
                                         train_cfg=self.train_cfg))
        return losses

    def _flipped_inputs(self, inputs: Tensor, data_samples: list) -> Tensor:
        """Each sample (T, K, C) mirrored about x = 0 (normalised inputs;
        ``shift_coords`` moves by one unit more, as MMPose's input_size of
        (1, 1)) with left and right keypoints swapped."""
        if inputs.ndim != 4:
            raise ValueError('test_cfg.flip_test needs inputs of (N, T, K, C) '
                             f'keypoints, got shape {tuple(inputs.shape)} (a '
                             'TCN reads (N, K * C, T): set flip_test=False)')
        flip_indices = data_samples[0].metainfo['flip_indices']
        shift = self.test_cfg.get('shift_coords', True)
        return torch.stack([
            flip_coordinates(x, flip_indices=flip_indices, shift_coords=shift,
                             input_size=(1, 1)) for x in inputs])

    def predict(self, inputs: Tensor, data_samples: list) -> list:
        """3D keypoints of each sample, decoded by the heads' codecs.

        Returns:
            list[PoseDataSample]: ``data_samples`` with ``pred_instances``
            (``keypoints`` and ``keypoint_scores`` as the codec decodes them,
            in the dataset's 3D units, with the root added back when the
            samples have ``target_root``).
        """
        if not self.with_head:
            raise RuntimeError('PoseLifter.predict needs a head')
        return self.predict_with(self._forward, inputs, data_samples)

    def predict_with(self, network: Callable[[Tensor], Any], inputs: Tensor | list,
                     data_samples: list) -> list:
        """:meth:`predict` with ``network`` in place of the layers.

        ``network`` maps packed 2D keypoints to what ``mode='tensor'``
        returns (the pose head's output, and the trajectory head's second
        with a trajectory model), e.g. an ONNX Runtime session of the
        exported model; the flip test (``network`` also run on the mirrored
        input) and decoding are this model's.
        """
        if not self.with_head:
            raise RuntimeError('PoseLifter.predict_with needs a head (for the '
                               'flip test and the decoder)')
        if isinstance(inputs, (list, tuple)):   # per-sample inputs, as forward takes
            inputs = torch.stack(list(inputs))
        outputs = network(inputs)
        if self.test_cfg.get('flip_test', False):
            outputs = [outputs, network(self._flipped_inputs(inputs, data_samples))]
        traj_preds = None
        if self.with_traj:
            flip = self.test_cfg.get('flip_test', False)
            pose, traj = ([o[0] for o in outputs], [o[1] for o in outputs]) if flip \
                else outputs
            traj_preds = self.traj_head.predict_with(_identity, traj, data_samples,
                                                     test_cfg=self.test_cfg)
            outputs = pose
        preds = self.head.predict_with(_identity, outputs, data_samples,
                                       test_cfg=self.test_cfg)
        return self.add_pred_to_datasample(preds, traj_preds, data_samples)

    def add_pred_to_datasample(self, preds, traj_preds,
                               batch_data_samples: list) -> list:
        """Store the pose predictions (and fields) in the samples, keeping
        ``test_cfg.output_keypoint_indices`` only. As MMPose, the trajectory
        predictions are computed but not stored."""
        pred_fields = None
        if isinstance(preds, tuple):
            preds, pred_fields = preds
        del traj_preds
        keep = self.test_cfg.get('output_keypoint_indices', None)
        for pred, fields, sample in self._per_sample(preds, pred_fields,
                                                     batch_data_samples):
            num_keypoints = pred.keypoints.shape[1]
            if keep is not None:
                for name, value in list(pred.items()):
                    if name.startswith('keypoint'):
                        pred.set_field(value[:, keep], name)
            sample.pred_instances = pred
            if fields is not None:
                if keep is not None:
                    for name, value in list(fields.items()):
                        if value.shape[0] == num_keypoints:
                            fields.set_field(value[keep], name)
                sample.pred_fields = fields
        return batch_data_samples


def _identity(outputs: Any) -> Any:
    """The heads' ``forward`` when their outputs are given."""
    return outputs
