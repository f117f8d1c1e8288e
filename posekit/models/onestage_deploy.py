"""One-stage models (RTMO, YOLOX-Pose) as their ONNX file holds them.

The file of a one-stage model holds the decoding up to, not including, the
selection of people (as MMDeploy's graphs of these models do, without their
NMS): for every prior point of every level (levels concatenated, each in
row-major order, the heads' order), with P priors and K keypoints:

- ``bboxes (N, P, 4)``: ``xyxy`` boxes, pixels of the network input, not
  clipped (NMS reads them unclipped, as the PyTorch heads do);
- ``scores (N, P, C)``: class probabilities (C = ``num_classes``, 1 for
  person); YOLOX-Pose's are ``sigmoid(cls) * sigmoid(obj)``;
- ``keypoints (N, P, K, 2)``: pixels of the network input (YOLOX-Pose: the
  regressed offsets; RTMO: the dynamic coordinate classifier, run on every
  prior's box);
- ``keypoint_scores (N, P, K)``: visibility probabilities.

The priors are computed in the graph from the feature-map sizes, so H and W
are dynamic (any multiples of the largest stride). What is left, the score
threshold, the ``nms_pre`` best and the NMS of ``test_cfg``, then clipping
the boxes to the input, is :func:`predict_decoded`, on the same values as
the heads' ``predict``: ONNX Runtime and PyTorch find the same people.

Importing this module needs neither onnx nor onnxruntime.
"""
from __future__ import annotations

import copy
from typing import Any, Mapping, Sequence

import torch
from torch import Tensor, nn

from .heads import RTMOHead, YOLOXPoseHead
from .heads.onestage_utils import (bbox_xyxy2cs, check_no_tta, decode_bbox,
                                   decode_kpt_reg, flatten_predictions)
from .necks import HybridEncoder

ONESTAGE_OUTPUTS = ('bboxes', 'scores', 'keypoints', 'keypoint_scores')


def is_onestage(head: Any) -> bool:
    """Whether ``head`` (a built head) is a one-stage head: YOLOXPoseHead
    or its subclass RTMOHead."""
    return isinstance(head, YOLOXPoseHead)


def onestage_problem(head: nn.Module) -> str | None:
    """Why the decoded graph of a one-stage head cannot be made; None when
    it can."""
    if isinstance(head, RTMOHead) and not hasattr(head, 'dcc'):
        return ('RTMOHead without dcc_cfg has no keypoint decoder (its '
                'keypoints come from the dynamic coordinate classifier)')
    if not hasattr(head, 'head_module'):
        return f'{type(head).__name__} without head_module_cfg has no layers'
    return None


def deploy_copy(model: nn.Module) -> nn.Module:
    """A copy of ``model`` in eval mode with its deploy forms switched on,
    ``model`` untouched.

    As MMPose's ``BasePoseEstimator.switch_to_deploy``, every submodule with
    a ``switch_to_deploy`` method gets ``model.test_cfg``: RTMO's DCC folds
    its BatchNorm into its Linear layer, RepVGG blocks fold their branches.
    Except HybridEncoder: its deploy form stores position encodings of the
    one ``test_cfg['input_size']``, which would fix the graph's H and W;
    without it they are computed from the map size (same values).
    """
    model = copy.deepcopy(model).eval()
    test_cfg = dict(getattr(model, 'test_cfg', None) or {})
    for module in model.modules():
        if module is model or isinstance(module, HybridEncoder):
            continue
        switch = getattr(module, 'switch_to_deploy', None)
        if callable(switch):
            switch(test_cfg)
    return model


class OneStageDecoded(nn.Module):
    """``(N, C, H, W)`` preprocessed images -> the four tensors of the
    module docstring, from a model whose head is a one-stage head (use
    :func:`deploy_copy` first for RTMO: its deploy DCC is the exported
    one).

    Args:
        model (nn.Module): A BottomupPoseEstimator with a YOLOXPoseHead or
            RTMOHead.

    Raises:
        ValueError: The head is not one-stage, or see
            :func:`onestage_problem`.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        head = getattr(model, 'head', None)
        if not is_onestage(head):
            raise ValueError('OneStageDecoded needs a YOLOXPoseHead or '
                             f'RTMOHead, got {type(head).__name__}')
        problem = onestage_problem(head)
        if problem is not None:
            raise ValueError(problem)
        self.model = model

    def forward(self, inputs: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        head = self.model.head
        outputs = head.forward(self.model.extract_feat(inputs))
        if isinstance(head, RTMOHead):
            cls_scores, bbox_preds, _, kpt_vis, pose_vecs = outputs
        else:
            cls_scores, objectness, bbox_preds, kpt_offsets, kpt_vis = outputs
        priors, strides = self._priors(cls_scores)
        scores = flatten_predictions(cls_scores).sigmoid()
        bboxes = decode_bbox(flatten_predictions(bbox_preds), priors, strides)
        if isinstance(head, RTMOHead):
            keypoints = self._dcc(flatten_predictions(pose_vecs), bboxes,
                                  priors)
        else:
            scores = scores * flatten_predictions(objectness).sigmoid()
            keypoints = decode_kpt_reg(flatten_predictions(kpt_offsets),
                                       priors, strides, head.num_keypoints)
        return bboxes, scores, keypoints, flatten_predictions(kpt_vis).sigmoid()

    def _priors(self, cls_scores: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
        """(P, 2) prior points and (P, ) strides from the maps' sizes,
        which are symbols of the graph (no int() of a size here: that
        would fix it)."""
        first = cls_scores[0]
        priors = torch.cat(self.model.head.prior_generator.grid_priors(
            [c.shape[2:] for c in cls_scores], dtype=first.dtype,
            device=first.device, with_stride=True))
        return priors[:, :2], priors[:, 2]

    def _dcc(self, pose_vecs: Tensor, bboxes: Tensor, priors: Tensor
             ) -> Tensor:
        """DCC keypoints (N, P, K, 2) of every prior: pose vectors
        (N, P, D), boxes (N, P, 4) xyxy, priors (P, 2)."""
        head = self.model.head
        n, p = bboxes.shape[:2]
        bbox_cs = torch.cat(bbox_xyxy2cs(bboxes, head.bbox_padding), dim=-1)
        grids = priors.unsqueeze(0).expand(n, -1, -1)
        keypoints = head.dcc.forward_test(pose_vecs.flatten(0, 1),
                                          bbox_cs.flatten(0, 1),
                                          grids.flatten(0, 1))
        return keypoints.reshape(n, p, head.num_keypoints, 2)


def predict_decoded(head: nn.Module, outputs: Sequence[Tensor],
                    batch_data_samples: Sequence,
                    test_cfg: Mapping | None = None) -> list:
    """People of each sample from the decoded outputs: what the head's
    ``predict`` does after its decoding (``score_thr``, ``nms_pre``, NMS at
    ``nms_thr``, boxes clipped to the sample's ``input_size``).

    Args:
        head (nn.Module): The config's YOLOXPoseHead or RTMOHead (its
            layers are not run).
        outputs (Sequence[Tensor]): The four tensors of the module
            docstring, batch first.
        batch_data_samples (Sequence[PoseDataSample]): With metainfo
            ``input_size``.
        test_cfg (dict, optional): The estimator's.

    Returns:
        list[InstanceData]: Per sample, as the head's ``predict`` (input
        pixels, numpy).

    Raises:
        ValueError: ``flip_test`` or ``multiscale_test`` is set (neither
            exists for one-stage heads), or the outputs do not fit.
    """
    cfg = dict(test_cfg or {})
    check_no_tta(head, cfg)
    if len(outputs) != len(ONESTAGE_OUTPUTS):
        raise ValueError(f'expected the {len(ONESTAGE_OUTPUTS)} outputs '
                         f'{", ".join(ONESTAGE_OUTPUTS)}, got {len(outputs)}')
    bboxes, scores, keypoints, visibility = outputs
    if len(bboxes) != len(batch_data_samples):
        raise ValueError(f'{len(bboxes)} outputs for '
                         f'{len(batch_data_samples)} samples')
    results = []
    for i, sample in enumerate(batch_data_samples):
        keep, best, labels = head.select(scores[i], bboxes[i], cfg)
        results.append(head.pack(sample, best, labels, bboxes[i][keep],
                                 keypoints[i][keep], visibility[i][keep]))
    return results
