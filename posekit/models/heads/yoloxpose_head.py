"""YOLOX-Pose head (Maji et al., 2022): one-stage boxes and keypoints.

Per feature level (stride s) and per cell, three conv branches predict a
class score, an objectness, a box ``(dx, dy, log w, log h)`` and K keypoint
offsets with K visibilities. Decoding, relative to the cell's prior point
``p`` (see :class:`~posekit.models.task_modules.MlvlPointGenerator`)::

    box centre = p + s * (dx, dy)      box size = s * exp(log w, log h)
    keypoint k = p + s * offset_k

all in pixels of the network input. Training assigns priors to people with
SimOTA (``assigner``); :meth:`YOLOXPoseHead.predict` keeps the cells of
score ``sigmoid(cls) * sigmoid(obj) > score_thr`` and runs box NMS.
Submodule and argument names are MMPose's, so its configs and checkpoints
load unchanged.
"""
from typing import Any, Callable, List, Mapping, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from posekit.models.task_modules import nms
from posekit.models.utils import BaseModule, ConvModule, bias_init_with_prob
from posekit.registry import MODELS, TASK_UTILS
from posekit.structures import InstanceData
from .base_head import BaseHead, ConfigOrObject, build_loss
from .onestage_targets import get_targets
from .onestage_utils import (check_no_tta, decode_bbox, decode_kpt_reg,
                             filter_scores_and_topk, flatten_predictions,
                             grid_strides, reduce_mean)

BN_CFG = dict(type='BN', momentum=0.03, eps=0.001)
SILU_CFG = dict(type='SiLU', inplace=True)


def conv_stack(num_convs: int, in_channels: int, channels: int,
               groups: int = 1, **conv_kwargs) -> nn.Sequential:
    """``num_convs`` 3x3 ConvModules, in_channels -> channels -> ...; all
    but the first use ``groups``."""
    return nn.Sequential(*[
        ConvModule(in_channels if i == 0 else channels, channels, 3,
                   stride=1, padding=1, groups=1 if i == 0 else groups,
                   **conv_kwargs) for i in range(num_convs)])


def check_conv_bias(conv_bias: Any) -> None:
    if not (conv_bias == 'auto' or isinstance(conv_bias, bool)):
        raise ValueError(f"conv_bias must be 'auto' or a bool, got "
                         f'{conv_bias!r}')


class YOLOXPoseHeadModule(BaseModule):
    """The conv branches of YOLOX-Pose, one set per level.

    Args:
        num_keypoints (int): K.
        in_channels (int): Channels of each input level, before
            ``widen_factor``.
        num_classes (int): Classes (1: person).
        widen_factor (float): Multiplies ``in_channels`` and
            ``feat_channels``.
        feat_channels (int): Channels of the branches, before
            ``widen_factor``.
        stacked_convs (int): 3x3 convs of the cls and box branches (the
            keypoint branch has twice as many).
        featmap_strides (Sequence[int]): One per level (the head sets it).
        conv_bias (bool | str): Conv bias; 'auto': only without a norm.
        conv_cfg, norm_cfg, act_cfg (dict): ConvModule's.
        init_cfg (dict, optional): Initialisation; the cls and obj output
            biases are then set to ``-log(99)`` (prior probability 0.01).
    """

    def __init__(self, num_keypoints: int, in_channels: int,
                 num_classes: int = 1, widen_factor: float = 1.0,
                 feat_channels: int = 256, stacked_convs: int = 2,
                 featmap_strides: Sequence[int] = (8, 16, 32),
                 conv_bias: Any = 'auto', conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = BN_CFG,
                 act_cfg: Optional[dict] = SILU_CFG,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        check_conv_bias(conv_bias)
        if not isinstance(in_channels, int):
            raise ValueError('YOLOXPoseHeadModule: in_channels must be an int '
                             f'(the same for every level), got {in_channels}')
        self.num_classes = num_classes
        self.num_keypoints = num_keypoints
        self.feat_channels = int(feat_channels * widen_factor)
        self.in_channels = int(in_channels * widen_factor)
        self.stacked_convs = stacked_convs
        self.featmap_strides = featmap_strides
        conv = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg,
                    bias=conv_bias)
        levels = range(len(featmap_strides))
        C, F = self.in_channels, self.feat_channels

        def out_convs(channels):
            return nn.ModuleList(nn.Conv2d(F, channels, 1) for _ in levels)

        # registration order = MMPose's state_dict order
        self.conv_cls = nn.ModuleList(
            conv_stack(stacked_convs, C, F, **conv) for _ in levels)
        self.out_cls = out_convs(num_classes)
        self.out_obj = out_convs(1)
        self.conv_reg = nn.ModuleList(
            conv_stack(stacked_convs, C, F, **conv) for _ in levels)
        self.out_bbox = out_convs(4)
        self.conv_pose = nn.ModuleList(
            conv_stack(stacked_convs * 2, C, F, **conv) for _ in levels)
        self.out_kpt = out_convs(num_keypoints * 2)
        self.out_kpt_vis = out_convs(num_keypoints)

    def init_weights(self) -> None:
        super().init_weights()
        bias = bias_init_with_prob(0.01)
        for conv_cls, conv_obj in zip(self.out_cls, self.out_obj):
            conv_cls.bias.data.fill_(bias)
            conv_obj.bias.data.fill_(bias)

    def forward(self, x: Sequence[Tensor]) -> Tuple[List[Tensor], ...]:
        """Per level i, (B, C, H_i, W_i) -> cls (B, num_classes, H_i, W_i),
        objectness (B, 1, ...), box (B, 4, ...), keypoint offsets
        (B, 2K, ...) ordered (x_1, y_1, x_2, ...), visibility logits
        (B, K, ...); returned as five lists over the levels."""
        outs = ([], [], [], [], [])
        for i, feat in enumerate(x):
            cls_feat = self.conv_cls[i](feat)
            reg_feat = self.conv_reg[i](feat)
            pose_feat = self.conv_pose[i](feat)
            for out, value in zip(outs, (
                    self.out_cls[i](cls_feat), self.out_obj[i](reg_feat),
                    self.out_bbox[i](reg_feat), self.out_kpt[i](pose_feat),
                    self.out_kpt_vis[i](pose_feat))):
                out.append(value)
        return outs


@MODELS.register_module()
class YOLOXPoseHead(BaseHead):
    """YOLOX-Pose's head: branches, SimOTA targets, losses and decoding.

    Args:
        num_keypoints (int): K.
        head_module_cfg (dict): :class:`YOLOXPoseHeadModule` arguments
            (``featmap_strides`` and ``num_keypoints`` are set here).
        featmap_strides (Sequence[int]): Stride of each input level.
        num_classes (int): Classes (1: person).
        use_aux_loss (bool): Add the L1 losses on raw box and keypoint
            offsets (``loss_bbox_aux``, ``loss_kpt_aux``); the
            YOLOXPoseModeSwitchHook turns it on for the last epochs.
        assigner (dict): TASK_UTILS config, e.g. SimOTAAssigner.
        prior_generator (dict): TASK_UTILS config, e.g. MlvlPointGenerator.
        loss_cls, loss_obj, loss_bbox, loss_oks, loss_vis, loss_bbox_aux,
            loss_kpt_aux (dict, optional): MODELS configs of the losses
            (a loss left out raises when :meth:`loss` needs it).
        overlaps_power (float): Classification target = IoU (or OKS) of
            the prior with its gt to this power.

    ``test_cfg`` keys (:attr:`test_cfg_keys`): ``score_thr`` (0.01),
    ``nms_pre`` (100000: best cells kept before NMS), ``nms_thr`` (1.0:
    no NMS). Predictions are in input pixels; boxes are clipped to the
    sample's ``metainfo['input_size']`` (w, h).
    """

    test_cfg_keys = ('score_thr', 'nms_pre', 'nms_thr')

    def __init__(self, num_keypoints: int,
                 head_module_cfg: Optional[Mapping] = None,
                 featmap_strides: Sequence[int] = (8, 16, 32),
                 num_classes: int = 1, use_aux_loss: bool = False,
                 assigner: ConfigOrObject = None,
                 prior_generator: ConfigOrObject = None,
                 loss_cls: ConfigOrObject = None,
                 loss_obj: ConfigOrObject = None,
                 loss_bbox: ConfigOrObject = None,
                 loss_oks: ConfigOrObject = None,
                 loss_vis: ConfigOrObject = None,
                 loss_bbox_aux: ConfigOrObject = None,
                 loss_kpt_aux: ConfigOrObject = None,
                 overlaps_power: float = 1.0):
        super().__init__()
        self.featmap_sizes = None
        self.num_classes = num_classes
        self.featmap_strides = featmap_strides
        self.use_aux_loss = use_aux_loss
        self.num_keypoints = num_keypoints
        self.overlaps_power = overlaps_power
        if prior_generator is None:
            raise ValueError(f'{type(self).__name__} needs a prior_generator '
                             "(e.g. dict(type='MlvlPointGenerator', ...))")
        self.prior_generator = TASK_UTILS.build(prior_generator)
        if head_module_cfg is not None:
            self.head_module = YOLOXPoseHeadModule(**dict(
                head_module_cfg, featmap_strides=featmap_strides,
                num_keypoints=num_keypoints))
        self.assigner = None if assigner is None else TASK_UTILS.build(
            assigner)
        for name, cfg in (('loss_cls', loss_cls), ('loss_obj', loss_obj),
                          ('loss_bbox', loss_bbox), ('loss_oks', loss_oks),
                          ('loss_vis', loss_vis),
                          ('loss_bbox_aux', loss_bbox_aux),
                          ('loss_kpt_aux', loss_kpt_aux)):
            if cfg is not None:
                setattr(self, name, build_loss(cfg))

    def forward(self, feats: Sequence[Tensor]) -> Tuple[List[Tensor], ...]:
        """The head module's outputs (see :meth:`YOLOXPoseHeadModule.forward`)."""
        if not isinstance(feats, (tuple, list)):
            raise TypeError(f'{type(self).__name__} takes a tuple of feature '
                            f'maps, got {type(feats).__name__}')
        return self.head_module(feats)

    def decode_bbox(self, pred_bboxes: Tensor, priors: Tensor,
                    stride: Tensor) -> Tensor:
        """See :func:`.onestage_utils.decode_bbox`."""
        return decode_bbox(pred_bboxes, priors, stride)

    def decode_kpt_reg(self, pred_kpt_offsets: Tensor, priors: Tensor,
                       stride: Tensor) -> Tensor:
        """See :func:`.onestage_utils.decode_kpt_reg`."""
        return decode_kpt_reg(pred_kpt_offsets, priors, stride,
                              self.num_keypoints)

    def require(self, *names: str) -> None:
        """Raise naming the config entries :meth:`loss` needs but lacks."""
        missing = [n for n in names if not hasattr(self, n) or
                   getattr(self, n) is None]
        if missing:
            raise ValueError(f'{type(self).__name__}.loss needs '
                             f'{", ".join(missing)} in its config')

    def priors(self, outputs: List[Tensor], with_stride: bool) -> Tensor:
        """(N, 2 or 4) prior points of all levels of ``outputs``."""
        sizes = [o.shape[2:] for o in outputs]
        return torch.cat(self.prior_generator.grid_priors(
            sizes, dtype=outputs[0].dtype, device=outputs[0].device,
            with_stride=with_stride))

    def loss(self, feats: Sequence[Tensor], batch_data_samples: Sequence,
             train_cfg: Optional[Mapping] = None) -> dict:
        """Losses of a batch; samples carry ``gt_instance_labels`` with
        ``bboxes``, ``labels``, ``keypoints``, ``keypoints_visible``,
        ``areas`` (input pixels) as YOLOXPoseAnnotationProcessor packs
        them.

        Returns:
            dict: ``loss_obj`` and, when some prior is positive,
            ``loss_bbox``, ``loss_kpt``, ``loss_vis``, ``loss_cls``,
            ``overlaps`` (the classification targets, logged), and with
            ``use_aux_loss`` ``loss_bbox_aux`` / ``loss_kpt_aux``.
        """
        self.require('assigner', 'loss_cls', 'loss_obj', 'loss_bbox',
                     'loss_oks', 'loss_vis')
        cls_scores, objectnesses, bbox_preds, kpt_offsets, kpt_vis = \
            self.forward(feats)
        priors = self.priors(cls_scores, with_stride=True)
        flat_cls = flatten_predictions(cls_scores)
        flat_bbox = flatten_predictions(bbox_preds)
        flat_obj = flatten_predictions(objectnesses)
        flat_kpt = flatten_predictions(kpt_offsets)
        flat_vis = flatten_predictions(kpt_vis)
        bbox_decoded = decode_bbox(flat_bbox, priors[..., :2], priors[..., -1])
        kpt_decoded = decode_kpt_reg(flat_kpt, priors[..., :2],
                                     priors[..., -1], self.num_keypoints)
        t = get_targets(self, priors, flat_cls.detach(), flat_obj.detach(),
                        bbox_decoded.detach(), kpt_decoded.detach(),
                        flat_vis.detach(), batch_data_samples)
        num_pos = torch.tensor(sum(t.num_pos_per_img), dtype=torch.float,
                               device=flat_cls.device)
        num_total = reduce_mean(num_pos).clamp(min=1.0)
        losses = dict(loss_obj=self.loss_obj(
            flat_obj.view(-1, 1), t.obj_targets, t.obj_weights) / num_total)
        if num_pos == 0:
            return losses
        pos = t.pos_masks
        K = self.num_keypoints
        losses['loss_bbox'] = self.loss_bbox(
            bbox_decoded.view(-1, 4)[pos], t.bbox_targets) / num_total
        losses['loss_kpt'] = self.loss_oks(
            kpt_decoded.view(-1, K, 2)[pos], t.kpt_targets, t.vis_targets,
            t.pos_areas)
        losses['loss_vis'] = self.loss_vis(
            flat_vis.view(-1, K)[pos], t.vis_targets, t.vis_weights)
        losses['overlaps'] = t.cls_targets
        cls_targets = t.cls_targets.pow(self.overlaps_power).detach()
        losses['loss_cls'] = self.loss_cls(
            flat_cls.view(-1, self.num_classes)[pos], cls_targets) / num_total
        if self.use_aux_loss and hasattr(self, 'loss_bbox_aux'):
            losses['loss_bbox_aux'] = self.loss_bbox_aux(
                flat_bbox.view(-1, 4)[pos], t.bbox_aux_targets) / num_total
        if self.use_aux_loss and hasattr(self, 'loss_kpt_aux'):
            losses['loss_kpt_aux'] = self.loss_kpt_aux(
                flat_kpt.view(-1, K, 2)[pos], t.kpt_aux_targets,
                t.vis_targets / t.vis_targets.size(-1))
        return losses

    def predict_with(self, forward: Callable[[Any], Any], feats: Any,
                     batch_data_samples: Sequence,
                     test_cfg: Optional[Mapping] = None
                     ) -> List[InstanceData]:
        """Instances of each sample, in input pixels.

        Returns:
            list[InstanceData]: per sample, N kept cells, best first:
            ``bboxes`` (N, 4) xyxy clipped to the input, ``scores`` and
            ``bbox_scores`` (N, ) cls * obj probability, ``labels`` (N, ),
            ``keypoints`` (N, K, 2), ``keypoint_scores`` and
            ``keypoints_visible`` (N, K) visibility probabilities; numpy.
        """
        cfg = dict(test_cfg or {})
        check_no_tta(self, cfg)
        cls_scores, objectnesses, bbox_preds, kpt_offsets, kpt_vis = \
            forward(feats)
        priors, strides = self.cached_priors(cls_scores)
        scores = flatten_predictions(cls_scores).sigmoid()
        scores = scores * flatten_predictions(objectnesses).sigmoid()
        bboxes = decode_bbox(flatten_predictions(bbox_preds), priors, strides)
        kpts = decode_kpt_reg(flatten_predictions(kpt_offsets), priors,
                              strides, self.num_keypoints)
        vis = flatten_predictions(kpt_vis).sigmoid()
        results = []
        for i, sample in enumerate(batch_data_samples):
            keep, best, labels = self.select(scores[i], bboxes[i], cfg)
            results.append(self.pack(
                sample, best, labels, bboxes[i][keep], kpts[i][keep],
                vis[i][keep]))
        return results

    def cached_priors(self, outputs: List[Tensor]) -> Tuple[Tensor, Tensor]:
        """(N, 2) prior points and (N, ) strides of the levels of
        ``outputs``, recomputed only when the map sizes change."""
        sizes = [o.shape[2:] for o in outputs]
        if sizes != self.featmap_sizes:
            self.mlvl_priors = self.prior_generator.grid_priors(
                sizes, dtype=outputs[0].dtype, device=outputs[0].device)
            self.featmap_sizes = sizes
        priors = torch.cat(self.mlvl_priors)
        return priors, grid_strides(priors, sizes, self.featmap_strides)

    @staticmethod
    def select(scores: Tensor, bboxes: Tensor, cfg: Mapping
               ) -> Tuple[Tensor, Tensor, Tensor]:
        """Cells kept for one sample: score > ``score_thr``, the
        ``nms_pre`` best, then NMS at ``nms_thr`` (if < 1).

        Args:
            scores (Tensor): (N, C) probabilities; the best class counts.
            bboxes (Tensor): (N, 4) xyxy.

        Returns:
            tuple: indices into the N cells (M, ), their scores (M, ) and
            labels (M, ), best score first.
        """
        scores, labels = scores.max(1, keepdim=True)
        scores, _, keep, found = filter_scores_and_topk(
            scores, cfg.get('score_thr', 0.01), cfg.get('nms_pre', 100000),
            results=dict(labels=labels[:, 0]))
        labels = found['labels']
        nms_thr = cfg.get('nms_thr', 1.0)
        if keep.numel() > 0 and nms_thr < 1.0:
            kept = nms(bboxes[keep], scores, nms_thr)
            keep, scores, labels = keep[kept], scores[kept], labels[kept]
        return keep, scores, labels

    @staticmethod
    def pack(sample: Any, scores: Tensor, labels: Tensor, bboxes: Tensor,
             keypoints: Tensor, visibility: Tensor) -> InstanceData:
        """One sample's InstanceData (numpy), boxes clipped to the input."""
        w, h = sample.metainfo['input_size']
        bboxes = torch.stack([bboxes[:, 0].clamp(0, w), bboxes[:, 1].clamp(0, h),
                              bboxes[:, 2].clamp(0, w), bboxes[:, 3].clamp(0, h)],
                             dim=1)
        return InstanceData(
            scores=scores, labels=labels, bboxes=bboxes, bbox_scores=scores,
            keypoints=keypoints, keypoint_scores=visibility,
            keypoints_visible=visibility).numpy()
