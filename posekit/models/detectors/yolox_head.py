"""YOLOXHead: YOLOX's decoupled detection head (inference only).

Per level (stride s): a class branch and a box branch of ``stacked_convs``
3x3 ConvModules, then 1x1 convs ``multi_level_conv_cls`` (C logits),
``multi_level_conv_reg`` (``dx, dy, log w, log h``) and
``multi_level_conv_obj`` (1 objectness logit, from the box branch).

Decoding (:meth:`predict_by_feat`), with the prior point ``p = (j * s, i * s)``
of cell (i, j): centre ``p + s * (dx, dy)``, size ``s * exp(log w, log h)``;
score ``max_c sigmoid(cls_c) * sigmoid(obj)`` (label: the argmax class),
kept when >= ``score_thr``. Boxes are not clamped to the image (as in
MMDetection's YOLOX). Submodule and argument names are MMDetection 3.x's.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import torch
from torch import Tensor, nn

from posekit.registry import MODELS
from ..task_modules import MlvlPointGenerator
from ..utils import BaseModule, ConvModule, DepthwiseSeparableConvModule, bias_init_with_prob
from .postprocess import check_test_cfg, finish, flatten_levels, yolox_decode
from .rtmdet_head import check_sigmoid_loss

BN_CFG = dict(type='BN', momentum=0.03, eps=0.001)
# PyTorch's own default conv init, written as an init_cfg (MMDetection's default)
_INIT = dict(type='Kaiming', layer='Conv2d', a=math.sqrt(5), distribution='uniform',
             mode='fan_in', nonlinearity='leaky_relu')


@MODELS.register_module()
class YOLOXHead(BaseModule):
    """YOLOX's head (see the module docstring).

    Args:
        num_classes (int): C, classes without background.
        in_channels (int): Channels of each neck level.
        feat_channels (int): Channels of the stacked convs.
        stacked_convs (int): Convs per branch.
        strides (Sequence[int]): One per level, finest first.
        use_depthwise (bool): Depthwise-separable stacked convs.
        dcn_on_last_conv (bool): Must be False (deformable convs are not built).
        conv_bias (bool | str): Stacked convs' bias; 'auto': only without norm.
        conv_cfg, norm_cfg, act_cfg (dict): ConvModule's.
        loss_cls (dict): Read for ``use_sigmoid`` only (must be True);
            ``loss_bbox``, ``loss_obj``, ``loss_l1``, ``train_cfg``: training
            only, accepted and unused.
        test_cfg (dict): ``score_thr``, ``nms``, and optionally
            ``min_bbox_size`` and ``max_per_img`` (MMDetection's YOLOX ignores
            these two; posekit applies them). ``nms_pre`` is refused.
        init_cfg (dict): Defaults to PyTorch's conv init.
    """

    def __init__(self, num_classes: int, in_channels: int, feat_channels: int = 256,
                 stacked_convs: int = 2, strides: Sequence[int] = (8, 16, 32),
                 use_depthwise: bool = False, dcn_on_last_conv: bool = False,
                 conv_bias: bool | str = 'auto', conv_cfg: dict | None = None,
                 norm_cfg: dict | None = BN_CFG,
                 act_cfg: dict | None = dict(type='Swish'),  # noqa: B006 (never mutated)
                 loss_cls: dict | None = None, loss_bbox: dict | None = None,
                 loss_obj: dict | None = None, loss_l1: dict | None = None,
                 train_cfg: dict | None = None, test_cfg: dict | None = None,
                 init_cfg: dict | None = _INIT) -> None:
        super().__init__(init_cfg)
        owner = type(self).__name__
        check_sigmoid_loss(loss_cls, owner)
        if dcn_on_last_conv:
            raise ValueError(f'{owner}: dcn_on_last_conv=True is not supported '
                             '(posekit builds no modulated deformable conv here)')
        if not (conv_bias == 'auto' or isinstance(conv_bias, bool)):
            raise ValueError(f"{owner}: conv_bias must be 'auto' or a bool, got {conv_bias!r}")
        self.test_cfg = check_test_cfg(test_cfg, owner)
        if 'nms_pre' in self.test_cfg:
            raise ValueError(f'{owner}: test_cfg.nms_pre is not read by YOLOX; remove it')
        self.num_classes, self.cls_out_channels = num_classes, num_classes
        self.strides = tuple(strides)
        self.prior_generator = MlvlPointGenerator(self.strides, offset=0)
        conv = DepthwiseSeparableConvModule if use_depthwise else ConvModule

        def branch() -> nn.Sequential:
            return nn.Sequential(*[
                conv(in_channels if i == 0 else feat_channels, feat_channels, 3,
                     stride=1, padding=1, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                     act_cfg=act_cfg, bias=conv_bias) for i in range(stacked_convs)])

        levels = range(len(self.strides))
        self.multi_level_cls_convs = nn.ModuleList(branch() for _ in levels)
        self.multi_level_reg_convs = nn.ModuleList(branch() for _ in levels)
        self.multi_level_conv_cls = nn.ModuleList(
            nn.Conv2d(feat_channels, num_classes, 1) for _ in levels)
        self.multi_level_conv_reg = nn.ModuleList(nn.Conv2d(feat_channels, 4, 1)
                                                  for _ in levels)
        self.multi_level_conv_obj = nn.ModuleList(nn.Conv2d(feat_channels, 1, 1)
                                                  for _ in levels)

    def init_weights(self) -> None:
        """``init_cfg``, then class and objectness biases at prior 0.01."""
        super().init_weights()
        for conv in (*self.multi_level_conv_cls, *self.multi_level_conv_obj):
            conv.bias.data.fill_(bias_init_with_prob(0.01))

    def forward(self, feats: Sequence[Tensor]) -> tuple[list, list, list]:
        """Raw outputs per level.

        Args:
            feats (Sequence[Tensor]): (B, in_channels, H_l, W_l), finest first.

        Returns:
            tuple: ``cls_scores`` (B, C, H_l, W_l), ``bbox_preds``
            (B, 4, H_l, W_l), ``objectnesses`` (B, 1, H_l, W_l), all logits /
            raw regressions, one per level.
        """
        outs = ([], [], [])
        for i, x in enumerate(feats):
            cls_feat = self.multi_level_cls_convs[i](x)
            reg_feat = self.multi_level_reg_convs[i](x)
            outs[0].append(self.multi_level_conv_cls[i](cls_feat))
            outs[1].append(self.multi_level_conv_reg[i](reg_feat))
            outs[2].append(self.multi_level_conv_obj[i](reg_feat))
        return outs

    def predict_by_feat(self, cls_scores: Sequence[Tensor], bbox_preds: Sequence[Tensor],
                        objectnesses: Sequence[Tensor], metas: Sequence[Mapping],
                        rescale: bool = True, with_nms: bool = True) -> list[dict]:
        """Boxes per image from the raw outputs (see the module docstring),
        then :func:`~.postprocess.finish`.

        Args:
            cls_scores, bbox_preds, objectnesses: As :meth:`forward` returns.
            metas (Sequence[Mapping]): Per image ``scale_factor``
                (w_scale, h_scale) of the resize.
            rescale (bool): Return boxes in original image pixels.
            with_nms (bool): Run NMS.

        Returns:
            list[dict]: Per image ``bboxes`` (K, 4) xyxy, ``scores`` (K,),
            ``labels`` (K,) int64 tensors.
        """
        sizes = [tuple(c.shape[-2:]) for c in cls_scores]
        priors = torch.cat(self.prior_generator.grid_priors(
            sizes, dtype=cls_scores[0].dtype, device=cls_scores[0].device,
            with_stride=True))
        probs = flatten_levels(cls_scores).sigmoid()
        obj = flatten_levels(objectnesses)[..., 0].sigmoid()
        boxes = yolox_decode(priors, flatten_levels(bbox_preds))
        results = []
        for b, meta in enumerate(metas):
            best, labels = probs[b].max(dim=1)
            keep = obj[b] * best >= self.test_cfg.get('score_thr', 0)
            results.append(finish(boxes[b][keep], best[keep] * obj[b][keep], labels[keep],
                                  self.test_cfg, meta['scale_factor'] if rescale else None,
                                  with_nms))
        return results
