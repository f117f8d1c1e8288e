"""Box overlaps and greedy box NMS in torch, as one-stage pose heads use them.

Boxes are ``xyxy`` in pixels of the network input, continuous coordinates:
a box ``(x1, y1, x2, y2)`` has area ``(x2 - x1) * (y2 - y1)`` (no ``+ 1``
pixel convention here, unlike :func:`posekit.evaluation.functional.nms`,
which follows MMPose's top-down NMS).
"""
import torch
from torch import Tensor

BBOX_OVERLAP_MODES = ('iou', 'iof', 'giou')


def bbox_overlaps(bboxes1: Tensor, bboxes2: Tensor, mode: str = 'iou',
                  is_aligned: bool = False, eps: float = 1e-6) -> Tensor:
    """IoU (or IoF, GIoU) between two sets of ``xyxy`` boxes.

    Args:
        bboxes1 (Tensor): (..., M, 4), or (4,) for a single box.
        bboxes2 (Tensor): (..., N, 4), or (4,); same leading dims.
        mode (str): 'iou' (intersection over union), 'iof' (intersection
            over the area of ``bboxes1``) or 'giou' (generalised IoU).
        is_aligned (bool): Compare row i with row i only (M == N).
        eps (float): Lower bound of the union (and of the enclosing area).

    Returns:
        Tensor: (..., M, N), or (..., M) if ``is_aligned``.
    """
    if mode not in BBOX_OVERLAP_MODES:
        raise ValueError(f'bbox_overlaps: mode must be one of '
                         f'{BBOX_OVERLAP_MODES}, got {mode!r}')
    bboxes1 = bboxes1[None] if bboxes1.ndim == 1 else bboxes1
    bboxes2 = bboxes2[None] if bboxes2.ndim == 1 else bboxes2
    rows, cols = bboxes1.size(-2), bboxes2.size(-2)
    if is_aligned and rows != cols:
        raise ValueError(f'bbox_overlaps: is_aligned needs as many boxes on '
                         f'both sides, got {rows} and {cols}')
    batch = bboxes1.shape[:-2]
    if rows * cols == 0:
        shape = batch + ((rows, ) if is_aligned else (rows, cols))
        return bboxes1.new_zeros(shape)
    area1 = (bboxes1[..., 2] - bboxes1[..., 0]) * (bboxes1[..., 3] -
                                                   bboxes1[..., 1])
    area2 = (bboxes2[..., 2] - bboxes2[..., 0]) * (bboxes2[..., 3] -
                                                   bboxes2[..., 1])
    if is_aligned:
        a, b = bboxes1, bboxes2
    else:  # broadcast (..., M, 1, 4) against (..., 1, N, 4)
        a, b = bboxes1[..., :, None, :], bboxes2[..., None, :, :]
        area1, area2 = area1[..., None], area2[..., None, :]
    wh = (torch.min(a[..., 2:], b[..., 2:]) -
          torch.max(a[..., :2], b[..., :2])).clamp(min=0)
    overlap = wh[..., 0] * wh[..., 1]
    union = area1 if mode == 'iof' else area1 + area2 - overlap
    eps_t = union.new_tensor([eps])
    union = torch.max(union, eps_t)
    ious = overlap / union
    if mode != 'giou':
        return ious
    enclose = (torch.max(a[..., 2:], b[..., 2:]) -
               torch.min(a[..., :2], b[..., :2])).clamp(min=0)
    enclose_area = torch.max(enclose[..., 0] * enclose[..., 1], eps_t)
    return ious - (enclose_area - union) / enclose_area


def nms(bboxes: Tensor, scores: Tensor, threshold: float) -> Tensor:
    """Greedy NMS: keep the best box, drop the others of IoU > threshold
    with it, repeat on what is left.

    Args:
        bboxes (Tensor): (N, 4) ``xyxy``.
        scores (Tensor): (N, ) scores; ties are ordered by ``Tensor.sort``.
        threshold (float): IoU above which a lower-scored box is dropped.

    Returns:
        Tensor: (M, ) int64 indices of the kept boxes, best score first.
    """
    order = scores.sort(descending=True)[1]
    keep = []
    while order.numel() > 0:
        best, order = order[0], order[1:]
        keep.append(best)
        ious = bbox_overlaps(bboxes[best], bboxes[order])[0]
        # not (iou > thr), so a NaN IoU keeps the box as MMPose does
        order = order[~(ious > threshold)]
    if not keep:
        return scores.new_zeros((0, ), dtype=torch.long)
    return torch.stack(keep)
