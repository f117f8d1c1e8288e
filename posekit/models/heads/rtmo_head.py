"""RTMOHead (Lu et al., "RTMO: Towards High-Performance One-Stage Real-Time
Multi-Person Pose Estimation", CVPR 2024).

YOLOX-Pose's one-stage scheme (SimOTA assignment, box and visibility
branches) with keypoints from the dynamic coordinate classifier (DCC, see
:mod:`.rtmo_modules`) instead of regressed offsets; the offsets remain, in
training only, as proxy poses for the assigner and the OKS loss. Scores are
the class probability alone (no objectness). Coordinates are pixels of the
network input. Names are MMPose's, so its configs and checkpoints load.
"""
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import torch
from torch import Tensor

from posekit.registry import MODELS
from posekit.structures import InstanceData
from .base_head import ConfigOrObject, build_loss
from .onestage_targets import get_targets
from .onestage_utils import (bbox_xyxy2cs, check_no_tta, decode_bbox,
                             decode_kpt_reg, flatten_predictions, reduce_mean)
from .rtmo_modules import DCC, RTMOHeadModule
from .yoloxpose_head import YOLOXPoseHead


@MODELS.register_module()
class RTMOHead(YOLOXPoseHead):
    """RTMO's head.

    Args:
        num_keypoints (int): K.
        head_module_cfg (dict): :class:`RTMOHeadModule` arguments.
        featmap_strides (Sequence[int]): Stride of each input level.
        num_classes (int): Classes (1: person).
        use_aux_loss (bool): Add ``loss_bbox_aux`` (L1 on raw box outputs).
        proxy_target_cc (bool): Train the offset branch towards DCC's
            keypoints (where they are closer to the gt) and use their OKS
            as classification target; the RTMOModeSwitchHook turns it on.
        assigner, prior_generator (dict): TASK_UTILS configs.
        bbox_padding (float): DCC's bins span the predicted box times this.
        overlaps_power (float): Power of the classification target.
        dcc_cfg (dict, optional): :class:`DCC` arguments; needed to
            predict keypoints and by ``loss_mle``.
        loss_cls, loss_bbox, loss_oks, loss_vis, loss_mle, loss_bbox_aux
            (dict, optional): MODELS configs of the losses. ``loss_mle``
            (DCC's) only runs while its ``loss_weight`` > 0.

    ``test_cfg`` keys (:attr:`test_cfg_keys`): ``score_thr`` (0.01),
    ``nms_pre`` (100000), ``nms_thr`` (1.0: no NMS), and ``input_size``
    ((w, h), read by :meth:`switch_to_deploy`).
    """

    test_cfg_keys = ('score_thr', 'nms_pre', 'nms_thr', 'input_size')

    def __init__(self, num_keypoints: int, head_module_cfg: Mapping,
                 featmap_strides: Sequence[int] = (16, 32),
                 num_classes: int = 1, use_aux_loss: bool = False,
                 proxy_target_cc: bool = False,
                 assigner: ConfigOrObject = None,
                 prior_generator: ConfigOrObject = None,
                 bbox_padding: float = 1.25, overlaps_power: float = 1.0,
                 dcc_cfg: Optional[Mapping] = None,
                 loss_cls: ConfigOrObject = None,
                 loss_bbox: ConfigOrObject = None,
                 loss_oks: ConfigOrObject = None,
                 loss_vis: ConfigOrObject = None,
                 loss_mle: ConfigOrObject = None,
                 loss_bbox_aux: ConfigOrObject = None):
        super().__init__(
            num_keypoints=num_keypoints, head_module_cfg=None,
            featmap_strides=featmap_strides, num_classes=num_classes,
            use_aux_loss=use_aux_loss, assigner=assigner,
            prior_generator=prior_generator, loss_cls=loss_cls,
            loss_bbox=loss_bbox, loss_oks=loss_oks, loss_vis=loss_vis,
            loss_bbox_aux=loss_bbox_aux, overlaps_power=overlaps_power)
        self.bbox_padding = bbox_padding
        self.head_module = RTMOHeadModule(**dict(
            head_module_cfg, featmap_strides=featmap_strides,
            num_keypoints=num_keypoints))
        self.proxy_target_cc = proxy_target_cc
        if dcc_cfg is not None:
            self.dcc = DCC(**dict(dcc_cfg, num_keypoints=num_keypoints))
        if loss_mle is not None:
            self.loss_mle = build_loss(loss_mle)

    def loss(self, feats: Sequence[Tensor], batch_data_samples: Sequence,
             train_cfg: Optional[Mapping] = None) -> dict:
        """Losses of a batch (samples as :meth:`YOLOXPoseHead.loss`).

        Returns:
            dict: ``loss_cls`` and, when some prior is positive,
            ``loss_bbox``, ``loss_vis``, ``loss_oks``, ``loss_mle`` (while
            its weight > 0), ``loss_bbox_aux`` (with ``use_aux_loss``);
            logged: ``num_samples`` and ``overlaps``.
        """
        self.require('assigner', 'loss_cls', 'loss_bbox', 'loss_oks',
                     'loss_vis')
        cls_scores, bbox_preds, kpt_offsets, kpt_vis, pose_vecs = \
            self.forward(feats)
        priors = self.priors(cls_scores, with_stride=True)
        flat_cls = flatten_predictions(cls_scores)
        flat_bbox = flatten_predictions(bbox_preds)
        # no objectness branch: a logit of 1e4 makes its probability 1
        flat_obj = torch.ones_like(flat_cls).detach().narrow(-1, 0, 1) * 1e4
        flat_vis = flatten_predictions(kpt_vis)
        flat_pose = flatten_predictions(pose_vecs)
        bbox_decoded = decode_bbox(flat_bbox, priors[..., :2], priors[..., -1])
        kpt_decoded = decode_kpt_reg(flatten_predictions(kpt_offsets),
                                     priors[..., :2], priors[..., -1],
                                     self.num_keypoints)
        t = get_targets(self, priors, flat_cls.detach(), flat_obj,
                        bbox_decoded.detach(), kpt_decoded.detach(),
                        flat_vis.detach(), batch_data_samples)
        num_pos = torch.tensor(sum(t.num_pos_per_img), dtype=torch.float,
                               device=flat_cls.device)
        num_total = reduce_mean(num_pos).clamp(min=1.0)
        losses, extra = {}, dict(num_samples=num_total)
        obj_targets = t.obj_targets
        if num_pos > 0:
            pos = t.pos_masks
            bbox_pos = bbox_decoded.view(-1, 4)[pos]
            losses['loss_bbox'] = self.loss_bbox(bbox_pos,
                                                 t.bbox_targets) / num_total
            if self.use_aux_loss and hasattr(self, 'loss_bbox_aux'):
                losses['loss_bbox_aux'] = self.loss_bbox_aux(
                    flat_bbox.view(-1, 4)[pos], t.bbox_aux_targets) / num_total
            losses['loss_vis'] = self.loss_vis(
                flat_vis.view(-1, self.num_keypoints)[pos], t.vis_targets,
                t.vis_weights)
            kpt_reg = kpt_decoded.view(-1, self.num_keypoints, 2)[pos]
            kpt_cc = self._loss_dcc(losses, flat_pose, pos, bbox_pos, t)
            cls_targets = self._loss_oks(losses, kpt_reg, kpt_cc, t)
            extra['overlaps'] = cls_targets
            cls_targets = cls_targets.pow(self.overlaps_power).detach()
            obj_targets[pos] = cls_targets.to(obj_targets)
        losses['loss_cls'] = self.loss_cls(
            flat_cls.view(-1, self.num_classes), obj_targets,
            t.obj_weights) / num_total
        losses.update(extra)
        return losses

    def _loss_dcc(self, losses: dict, flat_pose: Tensor, pos: Tensor,
                  bbox_pos: Tensor, t: Any) -> Optional[Tensor]:
        """DCC's MLE loss into ``losses``; DCC's keypoints (P, K, 2) of the
        positives, or None when ``loss_mle`` is absent or weighs 0, or when
        the batch has a single positive."""
        if not (hasattr(self, 'loss_mle') and self.loss_mle.loss_weight > 0):
            return None
        if not hasattr(self, 'dcc'):
            raise ValueError('RTMOHead: loss_mle needs dcc_cfg')
        pose_vecs = flat_pose.view(-1, flat_pose.size(-1))[pos]
        if len(pose_vecs) < 2 and self.dcc.training:
            # DCC's BatchNorm cannot normalise a single positive (MMPose
            # stops with BatchNorm's error): no DCC loss for this batch; a
            # zero that reaches DCC's parameters (DDP wants every gradient)
            losses['loss_mle'] = sum(p.sum() for p in self.dcc.parameters()) * 0
            return None
        bbox_cs = torch.cat(bbox_xyxy2cs(bbox_pos, self.bbox_padding), dim=1)
        kpt_cc, pred_hms, sigmas = self.dcc.forward_train(
            pose_vecs, bbox_cs, t.pos_priors[..., :2])
        target_hms = self.dcc.generate_target_heatmap(
            t.kpt_targets, bbox_cs, sigmas, t.pos_areas)
        losses['loss_mle'] = self.loss_mle(pred_hms, target_hms,
                                           t.vis_targets)
        return kpt_cc

    def _loss_oks(self, losses: dict, kpt_reg: Tensor,
                  kpt_cc: Optional[Tensor], t: Any) -> Tensor:
        """The offset branch's OKS loss into ``losses``; returns the
        classification targets (P, 1) of the positives."""
        if self.proxy_target_cc and kpt_cc is None and 'loss_mle' not in losses:
            raise ValueError('RTMOHead: proxy_target_cc needs DCC keypoints, '
                             'i.e. loss_mle with loss_weight > 0')
        # without DCC keypoints (proxy_target_cc off, or a batch with one
        # positive: see _loss_dcc) the plain OKS loss of the offsets
        if kpt_cc is None or not self.proxy_target_cc:
            losses['loss_oks'] = self.loss_oks(kpt_reg, t.kpt_targets,
                                               t.vis_targets, t.pos_areas)
            return t.cls_targets
        with torch.no_grad():
            # regress towards DCC where DCC is closer to the gt
            diff_cc = torch.norm(kpt_cc - t.kpt_targets, dim=-1)
            diff_reg = torch.norm(kpt_reg - t.kpt_targets, dim=-1)
            weights = t.vis_targets * (diff_reg > diff_cc).float()
            oks = self.assigner.oks_calculator(kpt_cc, t.kpt_targets,
                                               t.vis_targets, t.pos_areas)
        losses['loss_oks'] = self.loss_oks(kpt_reg, kpt_cc.detach(), weights,
                                           t.pos_areas)
        return oks.unsqueeze(1)

    def predict_with(self, forward: Callable[[Any], Any], feats: Any,
                     batch_data_samples: Sequence,
                     test_cfg: Optional[Mapping] = None
                     ) -> List[InstanceData]:
        """Instances of each sample, in input pixels (fields as
        :meth:`YOLOXPoseHead.predict_with`; ``scores`` are the class
        probabilities, keypoints come from DCC)."""
        cfg = dict(test_cfg or {})
        check_no_tta(self, cfg)
        if not hasattr(self, 'dcc'):
            raise ValueError('RTMOHead needs dcc_cfg to predict keypoints')
        cls_scores, bbox_preds, _, kpt_vis, pose_vecs = forward(feats)
        priors, strides = self.cached_priors(cls_scores)
        scores = flatten_predictions(cls_scores).sigmoid()
        bboxes = decode_bbox(flatten_predictions(bbox_preds), priors, strides)
        vis = flatten_predictions(kpt_vis).sigmoid()
        flat_pose = flatten_predictions(pose_vecs)
        results = []
        for i, sample in enumerate(batch_data_samples):
            keep, best, labels = self.select(scores[i], bboxes[i], cfg)
            boxes = bboxes[i][keep]
            if keep.numel() > 0:
                bbox_cs = torch.cat(bbox_xyxy2cs(boxes, self.bbox_padding),
                                    dim=1)
                keypoints = self.dcc.forward_test(flat_pose[i][keep], bbox_cs,
                                                  priors[keep])
            else:
                keypoints = boxes.new_zeros((0, self.num_keypoints, 2))
            results.append(self.pack(sample, best, labels, boxes, keypoints,
                                     vis[i][keep]))
        return results

    def switch_to_deploy(self, test_cfg: Optional[Dict] = None) -> None:
        """Precompute the prior points and strides of ``test_cfg
        ['input_size']`` (default (640, 640)) into ``flatten_priors`` and
        ``flatten_stride`` (MMPose's attributes, read by exporters). As in
        MMPose, a level's map is taken as (input_size[0] // s,
        input_size[1] // s) rows x columns, which is right for square
        inputs (all RTMO configs)."""
        if getattr(self, 'deploy', False):
            return
        self.deploy = True
        input_size = (test_cfg or {}).get('input_size', (640, 640))
        sizes = [torch.Size((input_size[0] // s, input_size[1] // s))
                 for s in self.featmap_strides]
        self.mlvl_priors = self.prior_generator.grid_priors(
            sizes, dtype=torch.float32, device='cpu')
        # keep predict()'s cache consistent (MMPose leaves it stale here)
        self.featmap_sizes = sizes
        self.flatten_priors = torch.cat(self.mlvl_priors)
        self.flatten_stride = torch.cat([
            self.flatten_priors.new_full((s[0] * s[1], ), stride)
            for s, stride in zip(sizes, self.featmap_strides)])
