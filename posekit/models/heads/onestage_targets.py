"""Training targets of the one-stage heads (YOLOX-Pose, RTMO) from SimOTA.

Each image's priors are assigned to its ground-truth people by
``head.assigner``; the positives get their person's box, keypoints,
visibility and area as targets, and an IoU (or OKS) as classification
target. All coordinates are pixels of the network input.
"""
from typing import Any, List, NamedTuple, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from posekit.structures import InstanceData


class Targets(NamedTuple):
    """Targets of a batch; P positives over all images, B*N priors.

    pos_masks (B*N, ) bool; cls_targets (P, C); obj_targets, obj_weights
    (B*N, 1); bbox_targets (P, 4) xyxy; bbox_aux_targets (P, 4) raw
    ``(dx, dy, log w, log h)`` or None; kpt_targets (P, K, 2);
    kpt_aux_targets (P, K, 2) raw offsets or None; vis_targets, vis_weights
    (P, K); pos_areas (P, ); pos_priors (P, 4); group_indices (per image,
    positives per gt); num_pos_per_img (per image).
    """
    pos_masks: Tensor
    cls_targets: Tensor
    obj_targets: Tensor
    obj_weights: Tensor
    bbox_targets: Tensor
    bbox_aux_targets: Optional[Tensor]
    kpt_targets: Tensor
    kpt_aux_targets: Optional[Tensor]
    vis_targets: Tensor
    vis_weights: Tensor
    pos_areas: Tensor
    pos_priors: Tensor
    group_indices: list
    num_pos_per_img: List[int]


@torch.no_grad()
def get_targets(head: Any, priors: Tensor, cls_scores: Tensor,
                objectness: Tensor, decoded_bboxes: Tensor,
                decoded_kpts: Tensor, kpt_vis: Tensor,
                batch_data_samples: Sequence) -> Targets:
    """Targets of a batch.

    Args:
        head: The head (reads ``assigner``, ``num_classes``,
            ``num_keypoints``, ``use_aux_loss``).
        priors (Tensor): (N, 4) ``(x, y, stride_w, stride_h)``.
        cls_scores (Tensor): (B, N, C) logits.
        objectness (Tensor): (B, N, 1) logits.
        decoded_bboxes (Tensor): (B, N, 4) xyxy.
        decoded_kpts (Tensor): (B, N, K, 2).
        kpt_vis (Tensor): (B, N, K) logits.
        batch_data_samples (list[PoseDataSample]): ``gt_instance_labels``
            and optionally ``gt_fields.heatmap_mask``.
    """
    # clip first: sigmoid of an inf logit is fine, of a nan is not
    cls_scores = cls_scores.clip(min=-1e4, max=1e4).sigmoid()
    objectness = objectness.clip(min=-1e4, max=1e4).sigmoid()
    kpt_vis = kpt_vis.clip(min=-1e4, max=1e4).sigmoid()
    cls_scores[torch.isnan(cls_scores)] = 0
    objectness[torch.isnan(objectness)] = 0
    per_image = [
        _targets_single(head, priors, cls_scores[i], objectness[i],
                        decoded_bboxes[i], decoded_kpts[i], kpt_vis[i],
                        sample)
        for i, sample in enumerate(batch_data_samples)]
    columns = [list(c) for c in zip(*per_image)]
    for i, column in enumerate(columns):
        if torch.is_tensor(column[0]):
            columns[i] = torch.cat(column)
    (pos_masks, cls_t, obj_t, obj_w, bbox_t, kpt_t, vis_t, vis_w, areas,
     pos_priors, groups, num_pos) = columns
    bbox_aux = kpt_aux = None
    if head.use_aux_loss:
        cxcy = (bbox_t[:, :2] + bbox_t[:, 2:]) / 2.0
        wh = bbox_t[:, 2:] - bbox_t[:, :2]
        bbox_aux = torch.cat([(cxcy - pos_priors[:, :2]) / pos_priors[:, 2:],
                              torch.log(wh / pos_priors[:, 2:] + 1e-8)], -1)
        kpt_aux = (kpt_t - pos_priors[:, None, :2]) / pos_priors[:, None, 2:]
    return Targets(pos_masks, cls_t, obj_t, obj_w, bbox_t, bbox_aux, kpt_t,
                   kpt_aux, vis_t, vis_w, areas, pos_priors, groups, num_pos)


def _empty_targets(head: Any, priors: Tensor, scores: Tensor) -> tuple:
    n, K = priors.size(0), head.num_keypoints
    return (scores.new_zeros(n).bool(), scores.new_zeros((0, head.num_classes)),
            scores.new_zeros((n, 1)), scores.new_ones((n, 1)),
            scores.new_zeros((0, 4)), scores.new_zeros((0, K, 2)),
            scores.new_zeros((0, K)), scores.new_zeros((0, K)),
            scores.new_zeros((0, )), priors[:0], [], 0)


def _targets_single(head: Any, priors: Tensor, cls_scores: Tensor,
                    objectness: Tensor, decoded_bboxes: Tensor,
                    decoded_kpts: Tensor, kpt_vis: Tensor,
                    data_sample: Any) -> tuple:
    """One image's targets (probabilities in, see :class:`Targets`)."""
    gt = data_sample.gt_instance_labels
    if len(gt) == 0:
        return _empty_targets(head, priors, cls_scores)
    pred = InstanceData(
        bboxes=decoded_bboxes, scores=(cls_scores * objectness).sqrt_(),
        priors=priors, keypoints=decoded_kpts, keypoints_visible=kpt_vis)
    assigned = head.assigner.assign(pred_instances=pred, gt_instances=gt)
    pos_inds = torch.nonzero(assigned['gt_inds'] > 0,
                             as_tuple=False).squeeze(-1).unique()
    pos_gt = assigned['gt_inds'][pos_inds] - 1
    cls_target = F.one_hot(assigned['labels'][pos_inds], head.num_classes) \
        * assigned['max_overlaps'][pos_inds].unsqueeze(-1)
    vis_target = gt.keypoints_visible[pos_gt]
    vis_weight = (gt.keypoints_visible_weights[pos_gt]
                  if 'keypoints_visible_weights' in gt
                  else vis_target.new_ones(vis_target.shape))
    obj_target = torch.zeros_like(objectness)
    obj_target[pos_inds] = 1
    obj_weight = _objectness_weight(data_sample, decoded_kpts, kpt_vis,
                                    obj_target)
    fg_mask = torch.zeros_like(objectness.squeeze()).to(torch.bool)
    fg_mask[pos_inds] = 1
    groups = [torch.where(pos_gt == g)[0] for g in torch.unique(pos_gt)]
    return (fg_mask, cls_target, obj_target, obj_weight,
            gt.bboxes[pos_gt.long()], gt.keypoints[pos_gt], vis_target,
            vis_weight, gt.areas[pos_gt], priors[pos_inds], groups,
            pos_inds.size(0))


def _objectness_weight(data_sample: Any, decoded_kpts: Tensor,
                       kpt_vis: Tensor, obj_target: Tensor) -> Tensor:
    """(N, 1) objectness weights: 1, except for priors whose predicted
    person (mean of its keypoints of visibility > 0.3) lies in the
    ``gt_fields.heatmap_mask`` region of unlabelled people (weight 1 - the
    mask there, bilinear; the mask is assumed square, as in MMPose)."""
    fields = data_sample.get('gt_fields')
    mask = None if fields is None else fields.get('heatmap_mask')
    if mask is None or not (mask != 0.0).any():
        return obj_target.new_ones(obj_target.shape)
    vis = (kpt_vis.unsqueeze(-1) > 0.3).float()
    mean_kpts = (decoded_kpts * vis).sum(dim=1) / vis.sum(dim=1).clamp(
        min=1e-8)
    size = mask.shape[-1]
    grids = mean_kpts.reshape(1, -1, 1, 2) / (size - 1) * 2 - 1
    weight = F.grid_sample(mask.unsqueeze(0).float(), grids, mode='bilinear', align_corners=False,
                           padding_mode='zeros')
    return 1.0 - weight.reshape(decoded_kpts.size(0), 1)
