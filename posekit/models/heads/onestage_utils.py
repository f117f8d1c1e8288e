"""Tensor helpers shared by the one-stage heads (YOLOX-Pose, RTMO).

Layouts: a level's output is (B, C, H, W); flattened predictions are
(B, N, C) with the N = sum H_i * W_i cells of all levels in row-major order,
level after level (the order of the prior points). Coordinates are pixels of
the network input.
"""
from typing import Any, List, Mapping, Optional, Sequence, Tuple

import torch
import torch.distributed as dist
from torch import Tensor


def flatten_predictions(preds: List[Tensor]) -> Optional[Tensor]:
    """Per-level (B, C, H_i, W_i) maps -> (B, N, C); None for no level."""
    if len(preds) == 0:
        return None
    return torch.cat([x.permute(0, 2, 3, 1).flatten(1, 2) for x in preds],
                     dim=1)


def grid_strides(priors: Tensor, featmap_sizes: Sequence[Any],
                 strides: Sequence[int]) -> Tensor:
    """(N, ) stride of each cell, from the levels' (h, w) and strides."""
    return torch.cat([
        priors.new_full((int(size[0]) * int(size[1]), ), stride)
        for size, stride in zip(featmap_sizes, strides)])


def decode_bbox(pred_bboxes: Tensor, priors: Tensor, stride: Tensor) -> Tensor:
    """``(dx, dy, log w, log h)`` (B, N, 4) -> ``xyxy`` (B, N, 4) boxes:
    centre ``prior + (dx, dy) * stride``, size ``exp(log w, log h) *
    stride``; priors (N, 2), stride (N, )."""
    stride = stride.view(1, stride.size(0), 1)
    priors = priors.view(1, priors.size(0), 2)
    xys = pred_bboxes[..., :2] * stride + priors
    whs = pred_bboxes[..., 2:].exp() * stride
    return torch.stack([xys[..., 0] - whs[..., 0] / 2,
                        xys[..., 1] - whs[..., 1] / 2,
                        xys[..., 0] + whs[..., 0] / 2,
                        xys[..., 1] + whs[..., 1] / 2], -1)


def decode_kpt_reg(pred_kpt_offsets: Tensor, priors: Tensor, stride: Tensor,
                   num_keypoints: int) -> Tensor:
    """Offsets (B, N, 2K) -> keypoints (B, N, K, 2): ``prior + offset *
    stride``; priors (N, 2), stride (N, )."""
    stride = stride.view(1, stride.size(0), 1, 1)
    priors = priors.view(1, priors.size(0), 1, 2)
    offsets = pred_kpt_offsets.reshape(*pred_kpt_offsets.shape[:-1],
                                       num_keypoints, 2)
    return offsets * stride + priors


def bbox_xyxy2cs(bboxes: Tensor, padding: float = 1.
                 ) -> Tuple[Tensor, Tensor]:
    """(N, 4) ``xyxy`` -> centres (N, 2) and scales ``(w, h) * padding``
    (N, 2), in torch (the numpy version is in posekit.structures.bbox)."""
    scale = (bboxes[..., 2:] - bboxes[..., :2]) * padding
    center = (bboxes[..., 2:] + bboxes[..., :2]) * 0.5
    return center, scale


def filter_scores_and_topk(scores: Tensor, score_thr: float, topk: int,
                           results: Optional[Mapping[str, Tensor]] = None
                           ) -> Tuple[Tensor, Tensor, Tensor, Optional[dict]]:
    """Entries of (N, C) ``scores`` above ``score_thr``, the ``topk`` best.

    Returns:
        tuple: ``scores`` (M, ) best first, their class ``labels`` (M, ),
        row indices ``keep`` (M, ), and ``results`` (each (N, ...) tensor
        indexed by ``keep``) or None.
    """
    valid = scores > score_thr
    scores = scores[valid]
    valid_idxs = torch.nonzero(valid)
    num_topk = min(topk, valid_idxs.size(0))
    scores, order = scores.sort(descending=True)
    scores = scores[:num_topk]
    keep, labels = valid_idxs[order[:num_topk]].unbind(dim=1)
    if results is not None:
        results = {k: v[keep] for k, v in results.items()}
    return scores, labels, keep, results


def reduce_mean(tensor: Tensor) -> Tensor:
    """Mean of ``tensor`` over the processes of a distributed run (itself
    when not distributed)."""
    if not (dist.is_available() and dist.is_initialized()):
        return tensor
    tensor = tensor.clone()
    dist.all_reduce(tensor.div_(dist.get_world_size()),
                    op=dist.ReduceOp.SUM)
    return tensor


def check_no_tta(head: Any, test_cfg: Mapping) -> None:
    """One-stage heads decode one pass: flip and multi-scale tests are not
    implemented (nor in MMPose); say so instead of failing inside."""
    for key in ('flip_test', 'multiscale_test'):
        if test_cfg.get(key, False):
            raise ValueError(f'{type(head).__name__} does not support '
                             f'test_cfg.{key}=True; set it to False')
