"""BottomupPoseEstimator: a whole image in, every person's pose out.

Coordinates. ``BottomupResize`` (test) and ``BottomupRandomAffine`` (train)
warp the image so that a box of ``input_scale = (w, h)`` pixels centred at
``input_center`` fills the network input of ``input_size = (w, h)``. The head
decodes keypoints (and boxes) in input pixels; a point ``p`` maps back to the
original image as::

    p / input_size * input_scale + input_center - 0.5 * input_scale

(MMPose's formula, same operations in the same order.) With a multi-scale
test the main (first) scale's ``input_*`` apply: the head resizes the other
scales' outputs to the main one before decoding.
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from posekit.registry import MODELS

from .base import BasePoseEstimator, input_to_image

# test_cfg keys read by the bottom-up heads (AssociativeEmbeddingHead,
# DEKRHead, CIDHead) and by this class.
BOTTOMUP_TEST_CFG_KEYS = (
    'flip_test', 'multiscale_test', 'shift_heatmap', 'restore_heatmap_size',
    'align_corners', 'output_heatmaps', 'nms_dist_thr', 'nms_joints_thr',
    'max_num_people', 'blur_kernel_size', 'max_instances', 'score_threshold')


@MODELS.register_module()
class BottomupPoseEstimator(BasePoseEstimator):
    """Bottom-up estimator: backbone, optional neck, head; N people per image.

    Args:
        backbone (dict | nn.Module): Backbone config or module.
        neck (dict | nn.Module, optional): Neck config or module.
        head (dict | nn.Module, optional): Head config or module, e.g.
            ``AssociativeEmbeddingHead``, ``DEKRHead``, ``CIDHead``.
        train_cfg (dict, optional): Passed to ``head.loss`` (e.g. CID's
            ``max_train_instances``).
        test_cfg (dict, optional): Passed to ``head.predict``; keys
            :data:`BOTTOMUP_TEST_CFG_KEYS`. Read here: ``flip_test`` (also
            run the image flipped left-right; the head merges both) and
            ``multiscale_test`` (run every scale ``BottomupResize`` made
            with ``aug_scales``; the head merges them).
        use_syncbn (bool): Convert BatchNorm to SyncBatchNorm when running
            distributed.
        data_preprocessor (dict | nn.Module, optional): Usually
            ``PoseDataPreprocessor`` (with ``pad_size_divisor`` for images of
            different sizes in a batch).
        init_cfg (dict | list[dict], optional): Initialisation config.
        metainfo (dict, optional): Dataset meta information overriding the
            samples' metainfo in ``'predict'`` mode.
    """

    test_cfg_keys = BOTTOMUP_TEST_CFG_KEYS
    # inference_bottomup and the inferencer check this (no boxes needed)
    is_bottomup = True

    def __init__(self,
                 backbone: Mapping | nn.Module,
                 neck: Mapping | nn.Module | None = None,
                 head: Mapping | nn.Module | None = None,
                 train_cfg: Mapping | None = None,
                 test_cfg: Mapping | None = None,
                 use_syncbn: bool = False,
                 data_preprocessor: Mapping | nn.Module | None = None,
                 init_cfg: Mapping | list | None = None,
                 metainfo: Mapping | None = None) -> None:
        super().__init__(backbone=backbone, neck=neck, head=head,
                         train_cfg=train_cfg, test_cfg=test_cfg,
                         data_preprocessor=data_preprocessor,
                         use_syncbn=use_syncbn, init_cfg=init_cfg,
                         metainfo=metainfo)

    def loss(self, inputs: torch.Tensor, data_samples: list) -> dict:
        """Losses of a batch, from the head.

        Args:
            inputs (torch.Tensor): ``(B, C, H, W)`` preprocessed images.
            data_samples (list[PoseDataSample]): With the targets the head's
                codec made (``GenerateTarget``) and ``BottomupGetHeatmapMask``'s
                ``gt_fields.heatmap_mask``.

        Returns:
            dict[str, torch.Tensor]: The head's losses.
        """
        feats = self.extract_feat(inputs)
        if not self.with_head:
            return {}
        return dict(self.head.loss(feats, data_samples,
                                   train_cfg=self.train_cfg))

    def predict(self, inputs: torch.Tensor | Sequence[torch.Tensor],
                data_samples: list) -> list:
        """Predict every person of each image, in original image pixels.

        Args:
            inputs (Tensor | list[Tensor]): ``(B, C, H, W)`` preprocessed
                images, or with ``multiscale_test`` one such tensor per scale
                (the main scale first, then ``aug_scales``).
            data_samples (list[PoseDataSample]): One per image, with metainfo
                ``input_size``, ``input_center``, ``input_scale`` (and
                ``aug_scales``, ``flip_indices`` as the test needs).

        Returns:
            list[PoseDataSample]: ``data_samples``, each given
            ``pred_instances`` (``keypoints (N, K, 2)``, ``keypoint_scores
            (N, K)``, ``keypoints_visible``, and the head's ``bboxes`` /
            ``bbox_scores`` when it gives them), and with
            ``test_cfg.output_heatmaps`` ``pred_fields``.
        """
        if not self.with_head:
            raise RuntimeError('BottomupPoseEstimator.predict needs a head')
        feats = self._arrange(self.extract_feat, inputs, data_samples)
        preds = self.head.predict(feats, data_samples, test_cfg=self.test_cfg)
        return self._store_predictions(preds, data_samples)

    def predict_with(self, network: Callable[[torch.Tensor], object],
                     inputs: torch.Tensor | Sequence[torch.Tensor],
                     data_samples: list) -> list:
        """:meth:`predict` with ``network`` in place of the layers.

        ``network`` maps ``(B, C, H, W)`` images to the head's raw output
        (what ``mode='tensor'`` returns, e.g. an ONNX Runtime session); the
        flip and multi-scale tests, decoding and mapping to the image are
        this model's, so the results are :meth:`predict`'s for the same
        outputs.
        """
        if not self.with_head:
            raise RuntimeError('BottomupPoseEstimator.predict_with needs a '
                               'head (for the flip test and the decoder)')
        arranged = self._arrange(lambda x: x, inputs, data_samples)
        preds = self.head.predict_with(network, arranged, data_samples,
                                       test_cfg=self.test_cfg)
        return self._store_predictions(preds, data_samples)

    def _arrange(self, features: Callable, inputs, data_samples: list):
        """``features`` of each scale's input (and of its flip, with
        ``flip_test``), arranged as the heads take them: one scale's
        ``feats`` or ``[feats, flipped_feats]``; with ``multiscale_test``
        a list of those, one per scale."""
        flip = self.test_cfg.get('flip_test', False)
        feats = [[features(x), features(x.flip(-1))] if flip else features(x)
                 for x in self._scales(inputs, data_samples)]
        if self.test_cfg.get('multiscale_test', False):
            return feats
        return feats[0]

    def _scales(self, inputs, data_samples: list) -> list[torch.Tensor]:
        """The inputs as a list of ``(B, C, H, W)`` tensors, one per scale,
        checked against ``multiscale_test`` and the samples' ``aug_scales``."""
        if isinstance(inputs, torch.Tensor):
            inputs = [inputs]
        inputs = list(inputs)
        aug_scales = data_samples[0].metainfo.get('aug_scales') \
            if data_samples else None
        if self.test_cfg.get('multiscale_test', False):
            if not aug_scales:
                raise ValueError(
                    'test_cfg.multiscale_test=True needs the extra scales: '
                    'give BottomupResize(aug_scales=[...]) in the test '
                    'pipeline (the samples have no aug_scales)')
            if len(inputs) != len(aug_scales) + 1:
                raise ValueError(
                    f'test_cfg.multiscale_test: {len(inputs)} input scales '
                    f'for aug_scales={list(aug_scales)} (expected the main '
                    f'scale plus {len(aug_scales)})')
        elif len(inputs) != 1:
            raise ValueError(
                f'{len(inputs)} input scales (BottomupResize aug_scales='
                f'{aug_scales}) but test_cfg.multiscale_test is False: set '
                'it, or drop aug_scales from the test pipeline')
        return inputs

    def add_pred_to_datasample(self, batch_pred_instances: list,
                               batch_pred_fields: list | None,
                               batch_data_samples: list) -> list:
        """Store the predictions in the samples, in original image pixels.

        Args:
            batch_pred_instances (list[InstanceData]): The head's output per
                image; ``keypoints (N, K, 2)`` and ``bboxes (N, 4)`` (xyxy)
                in input pixels.
            batch_pred_fields (list[PixelData], optional): Heatmaps etc.
            batch_data_samples (list[PoseDataSample]): Modified in place.

        Returns:
            list[PoseDataSample]: ``batch_data_samples``.
        """
        for pred, fields, sample in self._per_sample(
                batch_pred_instances, batch_pred_fields, batch_data_samples):
            pred.keypoints = input_to_image(pred.keypoints, sample.metainfo)
            if 'keypoints_visible' not in pred:
                pred.keypoints_visible = pred.keypoint_scores
            if 'bboxes' in pred:
                corners = np.asarray(pred.bboxes).reshape(-1, 2, 2)
                pred.bboxes = input_to_image(corners, sample.metainfo
                                             ).reshape(-1, 4)
            sample.pred_instances = pred
            if fields is not None:
                sample.pred_fields = fields
        return batch_data_samples
