"""Turning dense detector outputs into boxes: decode, filter, NMS, rescale.

Coordinates: boxes are ``xyxy`` in pixels of the network input (the resized
and padded image) until :func:`rescale_boxes` divides them by the resize's
``scale_factor = (w_scale, h_scale)``. Padding is at the bottom and right
only, so no offset is needed to return to the original image. Prior points
follow :class:`~posekit.models.task_modules.MlvlPointGenerator` with
``offset=0``: cell ``(i, j)`` of a level of stride ``s`` sits at input pixel
``(j * s, i * s)``.

These are MMDetection 3.x's test-time steps (``BaseDenseHead`` and
``YOLOXHead`` post-processing, ``batched_nms`` with mmcv's ``nms``).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import torch
from torch import Tensor

from ..task_modules.bbox_ops import nms

TEST_CFG_KEYS = ('score_thr', 'nms', 'nms_pre', 'max_per_img', 'min_bbox_size')


def check_test_cfg(test_cfg: Mapping | None, owner: str) -> dict:
    """A plain copy of a detector ``test_cfg``; unknown keys raise.

    Args:
        test_cfg (Mapping, optional): ``score_thr`` (float), ``nms``
            (``dict(type='nms', iou_threshold=float)``), ``nms_pre`` (int,
            candidates kept per level before NMS), ``max_per_img`` (int),
            ``min_bbox_size`` (float, pixels of the original image).
        owner (str): The head's name, for errors.

    Raises:
        ValueError: An unknown key, or an NMS type other than 'nms'.
    """
    cfg = dict(test_cfg or {})
    for key in cfg:
        if key not in TEST_CFG_KEYS:
            raise ValueError(f'{owner}: test_cfg key {key!r} is not supported; '
                             f'known keys: {", ".join(TEST_CFG_KEYS)}')
    nms_cfg = cfg.get('nms')
    if nms_cfg is not None:
        nms_cfg = dict(nms_cfg)
        kind = str(nms_cfg.pop('type', 'nms')).rsplit('.', 1)[-1]
        extra = set(nms_cfg) - {'iou_threshold', 'class_agnostic'}
        if kind != 'nms' or extra or 'iou_threshold' not in nms_cfg:
            raise ValueError(f"{owner}: test_cfg.nms must be dict(type='nms', "
                             f'iou_threshold=float[, class_agnostic=bool]), got '
                             f'{test_cfg["nms"]!r}')
    return cfg


def flatten_levels(maps: Sequence[Tensor]) -> Tensor:
    """(B, C, H_l, W_l) per level -> (B, sum_l H_l * W_l, C), row-major cells,
    finest level first (the order of the prior points)."""
    return torch.cat([m.permute(0, 2, 3, 1).reshape(m.shape[0], -1, m.shape[1])
                      for m in maps], dim=1)


def distance2bbox(points: Tensor, distance: Tensor,
                  max_shape: Sequence[int] | None = None) -> Tensor:
    """RTMDet's boxes: a point and its distances to the four sides.

    Args:
        points (Tensor): (N, 2) ``(x, y)`` input pixels.
        distance (Tensor): (N, 4) ``(left, top, right, bottom)`` pixels.
        max_shape (tuple[int, int], optional): ``(h, w)``: clamp x to
            ``[0, w]`` and y to ``[0, h]``.

    Returns:
        Tensor: (N, 4) ``xyxy``.
    """
    boxes = torch.cat([points - distance[:, :2], points + distance[:, 2:]], dim=1)
    if max_shape is not None:
        boxes[:, 0::2] = boxes[:, 0::2].clamp(min=0, max=max_shape[1])
        boxes[:, 1::2] = boxes[:, 1::2].clamp(min=0, max=max_shape[0])
    return boxes


def yolox_decode(priors: Tensor, preds: Tensor) -> Tensor:
    """YOLOX's boxes: centre offset and log-size in strides.

    Args:
        priors (Tensor): (N, 4) ``(x, y, s_w, s_h)``: prior point and stride.
        preds (Tensor): (..., N, 4) ``(dx, dy, log w, log h)``.

    Returns:
        Tensor: (..., N, 4) ``xyxy`` with centre ``(x + dx * s_w, y + dy * s_h)``
        and size ``(exp(log w) * s_w, exp(log h) * s_h)``.
    """
    centre = preds[..., :2] * priors[:, 2:] + priors[:, :2]
    half = preds[..., 2:].exp() * priors[:, 2:] / 2
    return torch.cat([centre - half, centre + half], dim=-1)


def topk_above(scores: Tensor, score_thr: float, nms_pre: int
               ) -> tuple[Tensor, Tensor, Tensor]:
    """The best (point, class) pairs of one level with a score > score_thr.

    Args:
        scores (Tensor): (N, C) per-class probabilities.
        score_thr (float): Strict lower bound.
        nms_pre (int): Keep at most this many, best first; <= 0 keeps all
            (MMDetection's default of -1 would drop the last one instead).

    Returns:
        tuple: ``scores`` (M,), ``labels`` (M,) int64, ``points`` (M,) int64
        row indices into ``scores``, sorted by score, descending.
    """
    mask = scores > score_thr
    kept = scores[mask]
    idxs = torch.nonzero(mask)
    kept, order = kept.sort(descending=True)
    if nms_pre > 0:
        kept, order = kept[:nms_pre], order[:nms_pre]
    points, labels = idxs[order].unbind(dim=1)
    return kept, labels, points


def batched_nms(boxes: Tensor, scores: Tensor, labels: Tensor, iou_threshold: float,
                class_agnostic: bool = False) -> Tensor:
    """Per-class greedy NMS in one pass: boxes of different classes are
    shifted apart by ``label * (max coordinate + 1)`` so they never overlap.

    Returns:
        Tensor: (K,) int64 indices of the kept boxes, best score first.
    """
    if boxes.numel() == 0:
        return labels.new_zeros((0, ))
    if class_agnostic:
        shifted = boxes
    else:
        shifted = boxes + (labels.to(boxes) * (boxes.max() + 1))[:, None]
    return nms(shifted, scores, iou_threshold)


def rescale_boxes(boxes: Tensor, scale_factor: Sequence[float]) -> Tensor:
    """Input pixels -> original image pixels: divide x by ``w_scale`` and y
    by ``h_scale`` (``scale_factor = (w_scale, h_scale)`` of the resize)."""
    w_scale, h_scale = scale_factor
    return boxes / boxes.new_tensor([w_scale, h_scale, w_scale, h_scale])


def finish(boxes: Tensor, scores: Tensor, labels: Tensor, cfg: Mapping,
           scale_factor: Sequence[float] | None, with_nms: bool = True) -> dict:
    """Rescale, drop small boxes, NMS, cap the count (MMDetection's
    ``_bbox_post_process``).

    ``min_bbox_size`` (when >= 0) keeps boxes whose width and height both
    exceed it, measured after rescaling; ``max_per_img`` caps the count
    after NMS (absent: no cap).

    Returns:
        dict: ``bboxes`` (K, 4), ``scores`` (K,), ``labels`` (K,) tensors.
    """
    if scale_factor is not None:
        boxes = rescale_boxes(boxes, scale_factor)
    min_size = cfg.get('min_bbox_size', -1)
    if min_size is not None and min_size >= 0:
        wh = boxes[:, 2:] - boxes[:, :2]
        keep = (wh[:, 0] > min_size) & (wh[:, 1] > min_size)
        boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
    nms_cfg = cfg.get('nms')
    if with_nms and nms_cfg is not None and boxes.numel() > 0:
        keep = batched_nms(boxes, scores, labels, nms_cfg['iou_threshold'],
                           nms_cfg.get('class_agnostic', False))
        max_per_img = cfg.get('max_per_img')
        if max_per_img is not None:
            keep = keep[:max_per_img]
        boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
    return dict(bboxes=boxes, scores=scores, labels=labels)
