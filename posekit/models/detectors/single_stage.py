"""Single-stage detectors RTMDet and YOLOX (inference only), with
MMDetection 3.x's type names, arguments and ``state_dict`` keys
(``backbone.*``, ``neck.*``, ``bbox_head.*``), so its checkpoints load
strictly. ``test_cfg`` is handed to the head, as MMDetection does.

``forward(inputs, data_samples, mode)``: ``'tensor'`` returns the head's raw
outputs (MMDetection's ``_forward``); ``'predict'`` puts ``pred_instances``
(``bboxes`` (K, 4) xyxy in original image pixels, ``scores`` (K,),
``labels`` (K,)) into each data sample; ``'loss'`` raises
NotImplementedError (training detectors is not part of posekit).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import torch
from torch import nn

from posekit.registry import MODELS
from posekit.structures import InstanceData
from ..utils import BaseModule


class SingleStageDetector(BaseModule):
    """Data preprocessor, backbone, optional neck, and a dense ``bbox_head``.

    Args:
        backbone, neck, bbox_head (dict | nn.Module): Configs or modules.
        train_cfg (dict, optional): Training only; accepted and unused.
        test_cfg (dict, optional): Given to the head (see its docstring).
        data_preprocessor (dict | nn.Module, optional): Defaults to a
            ``DetDataPreprocessor`` without normalisation.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self, backbone: Mapping | nn.Module, neck: Mapping | nn.Module | None = None,
                 bbox_head: Mapping | nn.Module | None = None,
                 train_cfg: Mapping | None = None, test_cfg: Mapping | None = None,
                 data_preprocessor: Mapping | nn.Module | None = None,
                 init_cfg: Mapping | None = None) -> None:
        super().__init__(init_cfg)
        if bbox_head is None:
            raise ValueError(f'{type(self).__name__}: bbox_head is required')
        self.data_preprocessor = MODELS.build(
            data_preprocessor if data_preprocessor is not None
            else dict(type='DetDataPreprocessor'))
        self.backbone = MODELS.build(backbone)
        if neck is not None:
            self.neck = MODELS.build(neck)
        if isinstance(bbox_head, Mapping):
            bbox_head = dict(bbox_head, train_cfg=train_cfg, test_cfg=test_cfg)
        self.bbox_head = MODELS.build(bbox_head)
        self.train_cfg, self.test_cfg = train_cfg, test_cfg

    def extract_feat(self, inputs: torch.Tensor) -> tuple:
        """Backbone then neck: feature maps, finest first."""
        feats = self.backbone(inputs)
        return self.neck(feats) if hasattr(self, 'neck') else feats

    def forward(self, inputs: torch.Tensor, data_samples: Sequence | None = None,
                mode: str = 'tensor'):
        """Run in ``'tensor'``, ``'predict'`` or ``'loss'`` mode (see the
        module docstring).

        Args:
            inputs (Tensor): (B, 3, H, W) preprocessed images.
            data_samples (Sequence, optional): One per image, each with
                metainfo ``img_shape`` (h, w) of the padded input and
                ``scale_factor`` (w_scale, h_scale); needed by ``'predict'``.
            mode (str): The mode.
        """
        if mode == 'tensor':
            return self.bbox_head(self.extract_feat(inputs))
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'loss':
            raise NotImplementedError(
                f'{type(self).__name__}: training detectors is not supported in '
                "posekit (inference only); mode='loss' has no implementation")
        raise ValueError(f'Invalid mode {mode!r}: use "tensor", "predict" or "loss"')

    def predict(self, inputs: torch.Tensor, data_samples: Sequence,
                rescale: bool = True) -> list:
        """Detections per image, stored as ``pred_instances`` in the samples.

        Returns:
            list: The data samples, each with ``pred_instances``
            (InstanceData: ``bboxes`` (K, 4) float32 xyxy, in original image
            pixels with ``rescale``, ``scores`` (K,), ``labels`` (K,) int64).
        """
        if data_samples is None:
            raise ValueError(f"{type(self).__name__}: mode='predict' needs data "
                             'samples with img_shape and scale_factor')
        metas = [getattr(s, 'metainfo', s) for s in data_samples]
        outs = self.bbox_head(self.extract_feat(inputs))
        results = self.bbox_head.predict_by_feat(*outs, metas=metas, rescale=rescale)
        for sample, result in zip(data_samples, results):
            sample.pred_instances = InstanceData(**result)
        return list(data_samples)

    def test_step(self, data: dict) -> list:
        """Preprocess a batch ``dict(inputs=[...], data_samples=[...])`` and
        predict."""
        data = self.data_preprocessor(data, False)
        return self.predict(data['inputs'], data['data_samples'])

    val_step = test_step


@MODELS.register_module()
class RTMDet(SingleStageDetector):
    """RTMDet (Lyu et al., 2022): CSPNeXt + CSPNeXtPAFPN + RTMDetSepBNHead.

    Args:
        use_syncbn (bool): Training only (SyncBatchNorm); accepted, unused:
            at inference posekit uses plain batch norm.
        Others: see :class:`SingleStageDetector`.
    """

    def __init__(self, backbone: Mapping | nn.Module, neck: Mapping | nn.Module | None = None,
                 bbox_head: Mapping | nn.Module | None = None,
                 train_cfg: Mapping | None = None, test_cfg: Mapping | None = None,
                 data_preprocessor: Mapping | nn.Module | None = None,
                 init_cfg: Mapping | None = None, use_syncbn: bool = True) -> None:
        super().__init__(backbone, neck, bbox_head, train_cfg, test_cfg,
                         data_preprocessor, init_cfg)


@MODELS.register_module()
class YOLOX(SingleStageDetector):
    """YOLOX (Ge et al., 2021): CSPDarknet + YOLOXPAFPN + YOLOXHead; see
    :class:`SingleStageDetector`."""
