"""Pairwise similarity measures used by the SimOTA assigner: box IoU and
keypoint OKS."""
from typing import Optional

import torch
from torch import Tensor

from posekit.datasets.metainfo import parse_pose_metainfo
from posekit.registry import TASK_UTILS

from .bbox_ops import bbox_overlaps


@TASK_UTILS.register_module()
class BBoxOverlaps2D:
    """IoU / IoF / GIoU of ``xyxy`` boxes (see :func:`bbox_overlaps`).

    Args:
        scale (float): With ``dtype='fp16'``, boxes are divided by it
            before the cast (avoids fp16 overflow).
        dtype (str, optional): 'fp16' to compute in half precision (results
            on CPU come back as float32), None for the input dtype.
    """

    def __init__(self, scale: float = 1., dtype: Optional[str] = None):
        if dtype not in (None, 'fp16'):
            raise ValueError(f"BBoxOverlaps2D: dtype must be None or 'fp16', "
                             f'got {dtype!r}')
        self.scale = scale
        self.dtype = dtype

    @torch.no_grad()
    def __call__(self, bboxes1: Tensor, bboxes2: Tensor, mode: str = 'iou',
                 is_aligned: bool = False) -> Tensor:
        """(M, 4 or 5) and (N, 4 or 5) boxes (a 5th column, a score, is
        dropped) -> (M, N), or (M, ) if ``is_aligned``."""
        bboxes1, bboxes2 = bboxes1[..., :4], bboxes2[..., :4]
        if self.dtype != 'fp16':
            return bboxes_overlaps_checked(bboxes1, bboxes2, mode, is_aligned)
        overlaps = bboxes_overlaps_checked((bboxes1 / self.scale).half(),
                                           (bboxes2 / self.scale).half(),
                                           mode, is_aligned)
        if not overlaps.is_cuda:
            overlaps = overlaps.float()
        return overlaps

    def __repr__(self) -> str:
        return f'BBoxOverlaps2D(scale={self.scale}, dtype={self.dtype})'


def bboxes_overlaps_checked(bboxes1: Tensor, bboxes2: Tensor, mode: str,
                            is_aligned: bool) -> Tensor:
    """:func:`bbox_overlaps` after checking both inputs have 4 columns."""
    for name, b in (('bboxes1', bboxes1), ('bboxes2', bboxes2)):
        if b.numel() and b.size(-1) != 4:
            raise ValueError(f'{name} must be (N, 4) or (N, 5) boxes, got '
                             f'shape {tuple(b.shape)}')
    return bbox_overlaps(bboxes1, bboxes2, mode, is_aligned)


@TASK_UTILS.register_module()
class PoseOKS:
    """Object keypoint similarity of predicted to target keypoints.

    ``OKS = sum_k w_k exp(-d_k^2 / (2 area (2 sigma_k)^2))`` with
    ``w = target_weights / sum(target_weights)`` and d_k the distance of
    keypoint k (pixels). Note the ``2 sigma`` (COCO's variance): the
    dataset's sigmas are the COCO ones. Without sigmas (``metainfo=None``)
    the ``2 sigma_k`` factor is left out.

    Args:
        metainfo (str, optional): Dataset meta file (e.g.
            'configs/_base_/datasets/coco.py'; resolved as datasets resolve
            ``from_file``) giving the per-keypoint ``sigmas``.
    """

    def __init__(self,
                 metainfo: Optional[str] = 'configs/_base_/datasets/coco.py'):
        if metainfo is not None:
            sigmas = parse_pose_metainfo(dict(from_file=metainfo)).get(
                'sigmas')
            if sigmas is not None and len(sigmas):
                self.sigmas = torch.as_tensor(sigmas)

    @torch.no_grad()
    def __call__(self, output: Tensor, target: Tensor, target_weights: Tensor,
                 areas: Tensor, eps: float = 1e-8) -> Tensor:
        """OKS over the last keypoint axis, broadcasting the leading axes.

        Args:
            output (Tensor): (..., K, 2) predicted keypoints, pixels.
            target (Tensor): (..., K, 2) target keypoints, pixels.
            target_weights (Tensor): (..., K) keypoint weights (visibility).
            areas (Tensor): target areas (pixels^2), one per target along
                the second-to-last broadcast axis, e.g. (1, G) for targets
                (1, G, K, 2).
            eps (float): Lower bound of sqrt(area) and of the weight sum.

        Returns:
            Tensor: (...) OKS in [0, 1].
        """
        dist = torch.norm(output - target, dim=-1)
        areas = areas.reshape(*((1, ) * (dist.ndim - 2)), -1, 1)
        dist = dist / areas.pow(0.5).clip(min=eps)
        sigmas = getattr(self, 'sigmas', None)
        if sigmas is not None:
            sigmas = sigmas.to(dist.device)
            dist = dist / (sigmas.reshape(*((1, ) * (dist.ndim - 1)), -1) * 2)
        weights = target_weights / target_weights.sum(
            dim=-1, keepdim=True).clip(min=eps)
        return (torch.exp(-dist.pow(2) / 2) * weights).sum(dim=-1)
