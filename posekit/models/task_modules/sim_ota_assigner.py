"""SimOTAAssigner: which prior predicts which ground-truth instance.

SimOTA (YOLOX, Ge et al. 2021) with YOLOX-Pose's keypoint terms. For each
image:

1. candidates: priors whose point lies inside some gt box or within
   ``center_radius`` strides of some gt centre (box centre, or the mean of
   its visible keypoints with ``use_keypoints_for_center``);
2. cost of (candidate, gt): ``iou_weight * -log(IoU) + oks_weight *
   -log(OKS) + cls_weight * BCE(score, one-hot label) + vis_weight *
   BCE(visibility, gt visibility)``, plus 1e5 unless the prior is both in
   the box and near the centre of that gt;
3. each gt takes its ``k`` cheapest candidates, ``k = max(1, int(sum of its
   candidate_topk best IoUs (or OKS)))``; a prior taken by several gts
   keeps the cheapest one.
"""
from typing import Any, Mapping, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from posekit.registry import TASK_UTILS

INF = 100000.0
EPS = 1.0e-7

ConfigOrObject = Union[Mapping, Any]


@TASK_UTILS.register_module()
class SimOTAAssigner:
    """Dynamic-k matching of priors to ground-truth instances.

    Args:
        center_radius (float): Radius (in strides) of the centre region.
        candidate_topk (int): Best candidates whose IoU (OKS) sum gives k.
        iou_weight (float): Weight of the box IoU cost.
        cls_weight (float): Weight of the classification cost.
        oks_weight (float): Weight of the keypoint OKS cost.
        vis_weight (float): Weight of the keypoint visibility cost.
        dynamic_k_indicator (str): 'iou' or 'oks': what sums to k.
        use_keypoints_for_center (bool): Gt centre = mean of its visible
            keypoints (the box centre when none is visible).
        iou_calculator (dict | object): TASK_UTILS config of the IoU
            calculator.
        oks_calculator (dict | object): TASK_UTILS config of the OKS
            calculator (its ``metainfo`` gives the sigmas).
    """

    def __init__(self,
                 center_radius: float = 2.5,
                 candidate_topk: int = 10,
                 iou_weight: float = 3.0,
                 cls_weight: float = 1.0,
                 oks_weight: float = 3.0,
                 vis_weight: float = 0.0,
                 dynamic_k_indicator: str = 'iou',
                 use_keypoints_for_center: bool = False,
                 iou_calculator: ConfigOrObject = None,
                 oks_calculator: ConfigOrObject = None):
        if dynamic_k_indicator not in ('iou', 'oks'):
            raise ValueError("SimOTAAssigner: dynamic_k_indicator must be "
                             f"'iou' or 'oks', got {dynamic_k_indicator!r}")
        self.center_radius = center_radius
        self.candidate_topk = candidate_topk
        self.iou_weight = iou_weight
        self.cls_weight = cls_weight
        self.oks_weight = oks_weight
        self.vis_weight = vis_weight
        self.dynamic_k_indicator = dynamic_k_indicator
        self.use_keypoints_for_center = use_keypoints_for_center
        self.iou_calculator = TASK_UTILS.build(
            iou_calculator or dict(type='BBoxOverlaps2D'))
        self.oks_calculator = TASK_UTILS.build(
            oks_calculator or dict(type='PoseOKS'))

    def assign(self, pred_instances: Any, gt_instances: Any,
               **kwargs) -> dict:
        """Assign the priors of one image.

        Args:
            pred_instances (InstanceData): N priors: ``priors`` (N, 4)
                ``(x, y, stride_w, stride_h)``, ``bboxes`` (N, 4) decoded
                ``xyxy``, ``scores`` (N, C) class probabilities,
                ``keypoints`` (N, K, 2), ``keypoints_visible`` (N, K)
                visibility probabilities; all in input pixels.
            gt_instances (InstanceData): G instances: ``bboxes`` (G, 4),
                ``labels`` (G, ), ``keypoints`` (G, K, 2),
                ``keypoints_visible`` (G, K), ``areas`` (G, ).

        Returns:
            dict: ``num_gts`` (int); ``gt_inds`` (N, ) int64, 0 for
            background, else 1 + the index of the assigned gt;
            ``max_overlaps`` (N, ) float32, the IoU (OKS) with the assigned
            gt, -1e5 for the other priors (all 0 when there is no gt or no
            candidate); ``labels`` (N, ) int64, -1 for background.
        """
        gt_bboxes, gt_labels = gt_instances.bboxes, gt_instances.labels
        gt_kpts = gt_instances.keypoints
        gt_kpts_vis = gt_instances.keypoints_visible
        num_gt = gt_bboxes.size(0)
        bboxes = pred_instances.bboxes
        num_bboxes = bboxes.size(0)
        gt_inds = bboxes.new_full((num_bboxes, ), 0, dtype=torch.long)
        empty = dict(num_gts=num_gt, gt_inds=gt_inds,
                     max_overlaps=bboxes.new_zeros((num_bboxes, )),
                     labels=bboxes.new_full((num_bboxes, ), -1,
                                            dtype=torch.long))
        if num_gt == 0 or num_bboxes == 0:
            return empty
        valid_mask, in_box_and_center = self.get_in_gt_and_in_center_info(
            pred_instances.priors, gt_bboxes, gt_kpts, gt_kpts_vis)
        if not valid_mask.any():
            return empty
        cost, ious, oks = self._cost_matrix(pred_instances, gt_instances,
                                            valid_mask, in_box_and_center)
        indicator = ious if self.dynamic_k_indicator == 'iou' else oks
        matched_overlaps, matched_gt = self.dynamic_k_matching(
            cost, indicator, num_gt, valid_mask)
        # dynamic_k_matching narrowed valid_mask to the matched priors
        gt_inds[valid_mask] = matched_gt + 1
        labels = gt_inds.new_full((num_bboxes, ), -1)
        labels[valid_mask] = gt_labels[matched_gt].long()
        max_overlaps = gt_inds.new_full((num_bboxes, ), -INF,
                                        dtype=torch.float32)
        max_overlaps[valid_mask] = matched_overlaps.to(max_overlaps)
        return dict(num_gts=num_gt, gt_inds=gt_inds,
                    max_overlaps=max_overlaps, labels=labels)

    def _cost_matrix(self, pred: Any, gt: Any, valid_mask: Tensor,
                     in_box_and_center: Tensor
                     ) -> Tuple[Tensor, Tensor, Optional[Tensor]]:
        """(V, G) cost of the V candidates, their IoUs and (if computed)
        OKS with the G gts."""
        bboxes = pred.bboxes[valid_mask]
        num_valid, num_gt = bboxes.size(0), gt.bboxes.size(0)
        cost = (~in_box_and_center) * INF
        ious = self.iou_calculator(bboxes, gt.bboxes)
        if self.iou_weight > 0:
            cost = cost + -torch.log(ious + EPS) * self.iou_weight
        oks = None
        if self.oks_weight > 0 or self.dynamic_k_indicator == 'oks':
            oks = self.oks_calculator(
                pred.keypoints[valid_mask].unsqueeze(1),
                target=gt.keypoints.unsqueeze(0),
                target_weights=gt.keypoints_visible.unsqueeze(0),
                areas=gt.areas.unsqueeze(0))
            cost = cost + -torch.log(oks + EPS) * self.oks_weight
        if self.cls_weight > 0:
            scores = pred.scores[valid_mask]
            onehot = F.one_hot(gt.labels.to(torch.int64), scores.shape[-1])
            cost = cost + _pairwise_bce(scores, onehot.float(), num_valid,
                                        num_gt) * self.cls_weight
        if self.vis_weight > 0:
            vis = pred.keypoints_visible[valid_mask]
            cost = cost + _pairwise_bce(
                vis, gt.keypoints_visible.float(), num_valid,
                num_gt) * self.vis_weight
        return cost, ious, oks

    def get_in_gt_and_in_center_info(
            self, priors: Tensor, gt_bboxes: Tensor,
            gt_keypoints: Optional[Tensor] = None,
            gt_keypoints_visible: Optional[Tensor] = None
    ) -> Tuple[Tensor, Tensor]:
        """Candidate priors and, for them, which gts they are near.

        Args:
            priors (Tensor): (N, 4) ``(x, y, stride_w, stride_h)``.
            gt_bboxes (Tensor): (G, 4) ``xyxy``.
            gt_keypoints (Tensor, optional): (G, K, 2).
            gt_keypoints_visible (Tensor, optional): (G, K).

        Returns:
            tuple: ``valid`` (N, ) bool, the prior is strictly inside some gt
            box or centre square; ``in_both`` (V, G) bool for the V valid
            priors, inside both the box and the centre square of that gt.
        """
        x, y = priors[:, 0:1], priors[:, 1:2]
        stride_x, stride_y = priors[:, 2:3], priors[:, 3:4]
        in_gts = torch.stack([x - gt_bboxes[:, 0], y - gt_bboxes[:, 1],
                              gt_bboxes[:, 2] - x, gt_bboxes[:, 3] - y],
                             dim=1).min(dim=1).values > 0
        cx = (gt_bboxes[:, 0] + gt_bboxes[:, 2]) / 2.0
        cy = (gt_bboxes[:, 1] + gt_bboxes[:, 3]) / 2.0
        if self.use_keypoints_for_center and gt_keypoints_visible is not None:
            vis = gt_keypoints_visible
            centers = ((gt_keypoints * vis.unsqueeze(-1)).sum(dim=-2) /
                       vis.sum(dim=-1, keepdim=True).clip(min=0)
                       ).to(gt_bboxes)
            has_vis = vis.sum(-1) > 0
            cx[has_vis] = centers[has_vis][..., 0]
            cy[has_vis] = centers[has_vis][..., 1]
        r_x, r_y = self.center_radius * stride_x, self.center_radius * stride_y
        in_cts = torch.stack([x - (cx - r_x), y - (cy - r_y),
                              (cx + r_x) - x, (cy + r_y) - y],
                             dim=1).min(dim=1).values > 0
        valid = in_gts.any(dim=1) | in_cts.any(dim=1)
        return valid, in_gts[valid, :] & in_cts[valid, :]

    def dynamic_k_matching(self, cost: Tensor, pairwise_ious: Tensor,
                           num_gt: int, valid_mask: Tensor
                           ) -> Tuple[Tensor, Tensor]:
        """Match the V candidates to the G gts by dynamic k.

        Args:
            cost (Tensor): (V, G) matching cost.
            pairwise_ious (Tensor): (V, G) IoU or OKS (gives each k).
            num_gt (int): G.
            valid_mask (Tensor): (N, ) bool candidates; set in place to the
                matched priors only.

        Returns:
            tuple: ``matched_overlaps`` (M, ), the IoU (OKS) of each matched
            prior with its gt, and ``matched_gt_inds`` (M, ) int64.
        """
        matching = torch.zeros_like(cost, dtype=torch.uint8)
        topk = min(self.candidate_topk, pairwise_ious.size(0))
        topk_ious, _ = torch.topk(pairwise_ious, topk, dim=0)
        dynamic_ks = torch.clamp(topk_ious.sum(0).int(), min=1)
        for g in range(num_gt):
            _, pos = torch.topk(cost[:, g], k=int(dynamic_ks[g]),
                                largest=False)
            matching[:, g][pos] = 1
        multiple = matching.sum(1) > 1
        if multiple.sum() > 0:
            cheapest = torch.min(cost[multiple, :], dim=1)[1]
            matching[multiple, :] *= 0
            matching[multiple, cheapest] = 1
        matched = matching.sum(1) > 0
        valid_mask[valid_mask.clone()] = matched
        matched_gt_inds = matching[matched, :].argmax(1)
        matched_overlaps = (matching * pairwise_ious).sum(1)[matched]
        return matched_overlaps, matched_gt_inds


def _pairwise_bce(pred: Tensor, target: Tensor, num_valid: int,
                  num_gt: int) -> Tensor:
    """(V, G) sum over the last axis of BCE(pred (V, C), target (G, C)),
    in float32 even under autocast (fp16 logs overflow)."""
    pred = pred.unsqueeze(1).repeat(1, num_gt, 1)
    target = target.unsqueeze(0).repeat(num_valid, 1, 1)
    with torch.autocast(device_type=pred.device.type, enabled=False):
        bce = F.binary_cross_entropy(pred.to(torch.float32),
                                     target.to(torch.float32),
                                     reduction='none').sum(-1)
    return bce.to(pred.dtype)
