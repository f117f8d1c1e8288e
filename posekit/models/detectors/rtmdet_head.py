"""RTMDetSepBNHead: RTMDet's detection head (inference only).

Per level (stride s), a class branch and a box branch of ``stacked_convs``
3x3 ConvModules each, then 1-conv predictors ``rtm_cls`` (C class logits),
``rtm_reg`` (4 distances) and, with ``with_objectness``, ``rtm_obj`` (1
logit). With ``share_conv`` the levels share the conv weights of their
stacked convs but keep their own batch norms ("SepBN").

Raw outputs (``forward``): class logits, and the distances
``(left, top, right, bottom)`` in input pixels: ``s * exp(reg)`` with
``exp_on_reg``, else ``s * reg``. With objectness, the class logit becomes
``logit(sqrt(sigmoid(cls) * sigmoid(obj)))``. Decoding (:meth:`predict`): the
prior point of cell (i, j) is ``(j * s, i * s)`` and the box is the point
minus/plus the distances, clamped to the padded input ``img_shape``.
Submodule and argument names are MMDetection 3.x's, so its checkpoints load.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import torch
from torch import Tensor, nn

from posekit.registry import MODELS
from ..task_modules import MlvlPointGenerator
from ..utils import (BaseModule, ConvModule, DepthwiseSeparableConvModule,
                     bias_init_with_prob, constant_init, normal_init)
from .postprocess import check_test_cfg, distance2bbox, finish, topk_above

BN_CFG = dict(type='BN', momentum=0.03, eps=0.001)


def inverse_sigmoid(x: Tensor, eps: float = 1e-5) -> Tensor:
    """``log(x / (1 - x))`` with both terms clamped to >= eps."""
    x = x.clamp(min=0, max=1)
    return torch.log(x.clamp(min=eps) / (1 - x).clamp(min=eps))


def check_sigmoid_loss(loss_cls: Mapping | None, owner: str) -> None:
    """Only sigmoid classifiers (C logits, no background logit) are built."""
    if loss_cls is not None and not loss_cls.get('use_sigmoid', False):
        raise ValueError(f'{owner}: loss_cls must have use_sigmoid=True (a '
                         f'softmax classifier is not supported), got {loss_cls!r}')


def check_prior_generator(cfg: Mapping, owner: str) -> list:
    """Strides of ``anchor_generator=dict(type='MlvlPointGenerator',
    offset=0, strides=[...])``, the only prior layout RTMDet uses."""
    cfg = dict(cfg)
    kind = str(cfg.pop('type', '')).rsplit('.', 1)[-1]
    if kind != 'MlvlPointGenerator' or cfg.get('offset', 0.5) != 0 or \
            set(cfg) - {'offset', 'strides'}:
        raise ValueError(f"{owner}: anchor_generator must be dict(type="
                         f"'MlvlPointGenerator', offset=0, strides=[...]), got {cfg!r}")
    return list(cfg['strides'])


@MODELS.register_module()
class RTMDetSepBNHead(BaseModule):
    """RTMDet's head with per-level batch norms (see the module docstring).

    Args:
        num_classes (int): C, classes without background.
        in_channels (int): Channels of each neck level.
        share_conv (bool): Levels share their stacked convs' weights.
        use_depthwise (bool): Depthwise-separable stacked convs.
        norm_cfg, act_cfg, conv_cfg (dict): ConvModule's.
        pred_kernel_size (int): Kernel of the predictor convs (odd).
        exp_on_reg (bool): Distances are ``exp(reg) * s`` (else ``reg * s``).
        with_objectness (bool): Add the ``rtm_obj`` branch.
        feat_channels (int): Channels of the stacked convs.
        stacked_convs (int): Convs per branch.
        anchor_generator (dict): ``MlvlPointGenerator`` with ``offset=0``.
        bbox_coder (dict): ``DistancePointBBoxCoder`` (the only one).
        loss_cls (dict): Read for ``use_sigmoid`` only (must be True);
            ``loss_bbox``, ``train_cfg`` and ``reg_decoded_bbox``: training
            only, accepted and unused.
        test_cfg (dict): See :func:`~.postprocess.check_test_cfg`.
    """

    def __init__(self, num_classes: int, in_channels: int, share_conv: bool = True,
                 use_depthwise: bool = False, norm_cfg: dict | None = BN_CFG,
                 act_cfg: dict | None = dict(type='SiLU'),  # noqa: B006 (never mutated)
                 pred_kernel_size: int = 1, exp_on_reg: bool = False,
                 with_objectness: bool = True, feat_channels: int = 256,
                 stacked_convs: int = 4, conv_cfg: dict | None = None,
                 anchor_generator: dict | None = None,
                 bbox_coder: dict | None = None, loss_cls: dict | None = None,
                 loss_bbox: dict | None = None, reg_decoded_bbox: bool = True,
                 train_cfg: dict | None = None, test_cfg: dict | None = None,
                 init_cfg: dict | None = None) -> None:
        super().__init__(init_cfg)
        owner = type(self).__name__
        check_sigmoid_loss(loss_cls, owner)
        if bbox_coder is not None and str(bbox_coder.get('type')).rsplit(
                '.', 1)[-1] != 'DistancePointBBoxCoder':
            raise ValueError(f"{owner}: bbox_coder must be dict(type="
                             f"'DistancePointBBoxCoder'), got {bbox_coder!r}")
        if share_conv and use_depthwise:
            raise ValueError(f'{owner}: share_conv=True needs use_depthwise=False '
                             '(depthwise-separable convs have no single conv to share)')
        strides = check_prior_generator(anchor_generator or dict(
            type='MlvlPointGenerator', offset=0, strides=[8, 16, 32]), owner)
        self.prior_generator = MlvlPointGenerator(strides, offset=0)
        self.num_classes, self.cls_out_channels = num_classes, num_classes
        self.exp_on_reg, self.with_objectness = exp_on_reg, with_objectness
        self.test_cfg = check_test_cfg(test_cfg, owner)
        conv = DepthwiseSeparableConvModule if use_depthwise else ConvModule
        kw = dict(stride=1, padding=1, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                  act_cfg=act_cfg)

        def branch() -> nn.ModuleList:
            return nn.ModuleList(conv(in_channels if i == 0 else feat_channels,
                                      feat_channels, 3, **kw)
                                 for i in range(stacked_convs))

        def predictor(out: int) -> nn.Conv2d:
            return nn.Conv2d(feat_channels, out, pred_kernel_size,
                             padding=pred_kernel_size // 2)

        levels = range(len(strides))
        self.cls_convs = nn.ModuleList(branch() for _ in levels)
        self.reg_convs = nn.ModuleList(branch() for _ in levels)
        self.rtm_cls = nn.ModuleList(predictor(num_classes) for _ in levels)
        self.rtm_reg = nn.ModuleList(predictor(4) for _ in levels)
        if with_objectness:
            self.rtm_obj = nn.ModuleList(predictor(1) for _ in levels)
        if share_conv:  # the same Conv2d object in every level
            for convs in (self.cls_convs, self.reg_convs):
                for level in convs[1:]:
                    for i, module in enumerate(level):
                        module.conv = convs[0][i].conv

    def init_weights(self) -> None:
        """Normal(0, 0.01) convs, unit norms; class and objectness biases at
        prior probability 0.01."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                normal_init(m, mean=0, std=0.01)
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                constant_init(m, 1)
        for convs in (self.rtm_cls, getattr(self, 'rtm_obj', ())):
            for m in convs:
                normal_init(m, std=0.01, bias=bias_init_with_prob(0.01))

    def forward(self, feats: Sequence[Tensor]) -> tuple[tuple, tuple]:
        """Raw outputs per level.

        Args:
            feats (Sequence[Tensor]): (B, in_channels, H_l, W_l), finest first.

        Returns:
            tuple: ``cls_scores`` (B, C, H_l, W_l) logits and ``bbox_preds``
            (B, 4, H_l, W_l) distances in input pixels, one per level.
        """
        cls_scores, bbox_preds = [], []
        for idx, (x, stride) in enumerate(zip(feats, self.prior_generator.strides)):
            cls_feat, reg_feat = x, x
            for layer in self.cls_convs[idx]:
                cls_feat = layer(cls_feat)
            for layer in self.reg_convs[idx]:
                reg_feat = layer(reg_feat)
            cls_score = self.rtm_cls[idx](cls_feat)
            if self.with_objectness:
                obj = self.rtm_obj[idx](reg_feat)
                cls_score = inverse_sigmoid((cls_score.sigmoid() * obj.sigmoid()).sqrt())
            reg = self.rtm_reg[idx](reg_feat)
            bbox_preds.append((reg.exp() if self.exp_on_reg else reg) * stride[0])
            cls_scores.append(cls_score)
        return tuple(cls_scores), tuple(bbox_preds)

    def predict_by_feat(self, cls_scores: Sequence[Tensor], bbox_preds: Sequence[Tensor],
                        metas: Sequence[Mapping], rescale: bool = True,
                        with_nms: bool = True) -> list[dict]:
        """Boxes per image from the raw outputs.

        Per level: ``sigmoid`` class probabilities, pairs (cell, class) with
        probability > ``score_thr``, the best ``nms_pre`` of them; then
        :func:`~.postprocess.distance2bbox` clamped to ``img_shape``, and
        :func:`~.postprocess.finish` (rescale, ``min_bbox_size``, NMS,
        ``max_per_img``).

        Args:
            cls_scores, bbox_preds: As :meth:`forward` returns them.
            metas (Sequence[Mapping]): Per image ``img_shape`` (h, w) of the
                padded input and ``scale_factor`` (w_scale, h_scale).
            rescale (bool): Return boxes in original image pixels.
            with_nms (bool): Run NMS (False: every candidate, for checks).

        Returns:
            list[dict]: Per image ``bboxes`` (K, 4) xyxy, ``scores`` (K,),
            ``labels`` (K,) int64 tensors, best score first after NMS.
        """
        cfg = self.test_cfg
        sizes = [tuple(c.shape[-2:]) for c in cls_scores]
        priors = self.prior_generator.grid_priors(
            sizes, dtype=cls_scores[0].dtype, device=cls_scores[0].device)
        results = []
        for b, meta in enumerate(metas):
            boxes, scores, labels = [], [], []
            for cls, reg, points in zip(cls_scores, bbox_preds, priors):
                probs = cls[b].permute(1, 2, 0).reshape(-1, self.cls_out_channels).sigmoid()
                s, lab, idx = topk_above(probs, cfg.get('score_thr', 0),
                                         cfg.get('nms_pre', -1))
                dist = reg[b].permute(1, 2, 0).reshape(-1, 4)[idx]
                boxes.append(torch.cat([points[idx], dist], dim=1))
                scores.append(s)
                labels.append(lab)
            flat = torch.cat(boxes)
            decoded = distance2bbox(flat[:, :2], flat[:, 2:], meta['img_shape'])
            results.append(finish(decoded, torch.cat(scores), torch.cat(labels), cfg,
                                  meta['scale_factor'] if rescale else None, with_nms))
        return results
