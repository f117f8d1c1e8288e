"""TopdownPoseEstimator: one person crop in, one pose out.

Coordinates. The head decodes keypoints in pixels of the network input (the
crop of ``input_size = (w, h)`` made by ``TopdownAffine``). The crop covers a
box of size ``input_scale = (w, h)`` pixels centred at ``input_center`` in
the original image, so a point ``p`` of the input maps back to::

    p / input_size * input_scale + input_center - 0.5 * input_scale

which is MMPose's formula, written with the same operations in the same
order so that the results are equal to the last bit. (The mapping ignores the
rotation of ``TopdownAffine``; at test time there is none.)
"""
from __future__ import annotations

from typing import Callable, Mapping

import torch
from torch import nn

from posekit.registry import MODELS

from .base import BasePoseEstimator, input_to_image


@MODELS.register_module()
class TopdownPoseEstimator(BasePoseEstimator):
    """Top-down estimator: backbone, optional neck, head.

    Args:
        backbone (dict | nn.Module): Backbone config or module.
        neck (dict | nn.Module, optional): Neck config or module.
        head (dict | nn.Module, optional): Head config or module.
        train_cfg (dict, optional): Passed to ``head.loss``.
        test_cfg (dict, optional): Passed to ``head.predict``. Keys read
            here: ``flip_test`` (bool: also run the horizontally flipped
            input; the head averages both), ``output_keypoint_indices``
            (list[int]: keep only these keypoints in the output).
        data_preprocessor (dict | nn.Module, optional): Usually
            ``PoseDataPreprocessor``.
        init_cfg (dict | list[dict], optional): Initialisation config.
        metainfo (dict, optional): Dataset meta information overriding the
            samples' metainfo in ``'predict'`` mode.

    Examples:
        >>> model = MODELS.build(cfg.model)   # cfg from an MMPose config
        >>> data = model.data_preprocessor(batch, False)
        >>> samples = model(**data, mode='predict')
        >>> samples[0].pred_instances.keypoints.shape   # (1, K, 2)
    """

    def __init__(self,
                 backbone: Mapping | nn.Module,
                 neck: Mapping | nn.Module | None = None,
                 head: Mapping | nn.Module | None = None,
                 train_cfg: Mapping | None = None,
                 test_cfg: Mapping | None = None,
                 data_preprocessor: Mapping | nn.Module | None = None,
                 init_cfg: Mapping | list | None = None,
                 metainfo: Mapping | None = None) -> None:
        super().__init__(backbone=backbone, neck=neck, head=head,
                         train_cfg=train_cfg, test_cfg=test_cfg,
                         data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg, metainfo=metainfo)

    def loss(self, inputs: torch.Tensor, data_samples: list) -> dict:
        """Losses of a batch, from the head.

        Args:
            inputs (torch.Tensor): ``(N, C, H, W)`` preprocessed crops.
            data_samples (list[PoseDataSample]): With ``gt_instance_labels``
                and/or ``gt_fields`` made by ``GenerateTarget``.

        Returns:
            dict[str, torch.Tensor]: E.g. ``loss_kpt`` and ``acc_pose``.
        """
        feats = self.extract_feat(inputs)
        if not self.with_head:
            return {}
        return dict(self.head.loss(feats, data_samples,
                                   train_cfg=self.train_cfg))

    def predict(self, inputs: torch.Tensor, data_samples: list) -> list:
        """Predict keypoints and map them to the original images.

        With ``test_cfg.flip_test`` the head gets ``[feats, flipped_feats]``,
        the features of the input and of the input flipped left-right.

        Args:
            inputs (torch.Tensor): ``(N, C, H, W)`` preprocessed crops.
            data_samples (list[PoseDataSample]): One per crop, with metainfo
                ``input_center``, ``input_scale``, ``input_size``,
                ``flip_indices`` and ``gt_instances.bboxes`` /
                ``bbox_scores``.

        Returns:
            list[PoseDataSample]: ``data_samples``, each given
            ``pred_instances`` (``keypoints (n, K, 2)`` and
            ``keypoint_scores (n, K)`` in original image pixels,
            ``keypoints_visible``, ``bboxes``, ``bbox_scores``) and, with
            ``test_cfg.output_heatmaps``, ``pred_fields``.
        """
        if not self.with_head:
            raise RuntimeError('TopdownPoseEstimator.predict needs a head')
        if self.test_cfg.get('flip_test', False):
            feats = [self.extract_feat(inputs),
                     self.extract_feat(inputs.flip(-1))]
        else:
            feats = self.extract_feat(inputs)
        preds = self.head.predict(feats, data_samples, test_cfg=self.test_cfg)
        return self._store_predictions(preds, data_samples)

    def predict_with(self, network: Callable[[torch.Tensor], object],
                     inputs: torch.Tensor, data_samples: list) -> list:
        """:meth:`predict` with ``network`` in place of the layers.

        ``network`` maps ``(N, C, H, W)`` preprocessed crops to what
        ``mode='tensor'`` returns (the head's raw output), e.g. an ONNX
        Runtime session of the exported model. The flip test (``network``
        is then also run on the flipped crops), decoding and mapping to
        the original image are this model's, so the results are those of
        :meth:`predict` for the same outputs.

        Args:
            network (Callable): ``inputs -> head outputs``.
            inputs (torch.Tensor): ``(N, C, H, W)`` preprocessed crops.
            data_samples (list[PoseDataSample]): As :meth:`predict`.

        Returns:
            list[PoseDataSample]: As :meth:`predict`.
        """
        if not self.with_head:
            raise RuntimeError('TopdownPoseEstimator.predict_with needs a '
                               'head (for the flip test and the decoder)')
        if self.test_cfg.get('flip_test', False):
            inputs = [inputs, inputs.flip(-1)]
        preds = self.head.predict_with(network, inputs, data_samples,
                                       test_cfg=self.test_cfg)
        return self._store_predictions(preds, data_samples)

    def add_pred_to_datasample(self, batch_pred_instances: list,
                               batch_pred_fields: list | None,
                               batch_data_samples: list) -> list:
        """Store the predictions in the data samples, in image pixels.

        Args:
            batch_pred_instances (list[InstanceData]): Head output per
                sample, keypoints in input-crop pixels.
            batch_pred_fields (list[PixelData], optional): Heatmaps etc.
            batch_data_samples (list[PoseDataSample]): Modified in place.

        Returns:
            list[PoseDataSample]: ``batch_data_samples``.
        """
        keep = self.test_cfg.get('output_keypoint_indices', None)
        for pred, fields, sample in self._per_sample(
                batch_pred_instances, batch_pred_fields, batch_data_samples):
            pred.keypoints[..., :2] = input_to_image(pred.keypoints[..., :2],
                                                     sample.metainfo)
            if 'keypoints_visible' not in pred:
                pred.keypoints_visible = pred.keypoint_scores
            num_keypoints = pred.keypoints.shape[1]
            if keep is not None:
                for name, value in list(pred.items()):
                    if name.startswith('keypoint'):
                        pred.set_field(value[:, keep], name)
            pred.bboxes = sample.gt_instances.bboxes
            pred.bbox_scores = sample.gt_instances.bbox_scores
            sample.pred_instances = pred
            if fields is not None:
                if keep is not None:
                    # only maps with one channel per keypoint are selected
                    for name, value in list(fields.items()):
                        if value.shape[0] == num_keypoints:
                            fields.set_field(value[keep], name)
                sample.pred_fields = fields
        return batch_data_samples
