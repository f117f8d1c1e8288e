"""Batch-level training augmentations, run by ``PoseDataPreprocessor`` on
the padded, normalised batch (``batch_augments``, training mode only)."""
from __future__ import annotations

import random
from typing import Sequence

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from posekit.registry import MODELS
from posekit.structures import PixelData


def _dist_rank() -> int:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return 0


@MODELS.register_module()
class BatchSyncRandomResize(nn.Module):
    """Resize the whole batch to a random size, the same on every rank.

    The first batch keeps its size. After every ``interval``-th call (call
    ``i`` with ``(i + 1) % interval == 0``, i.e. MMPose's iteration count,
    here counted by this module from 0), a new size is drawn for the next
    batches: ``s ~ randint(lo, hi)`` (Python's ``random``, both ends
    included) with ``(lo, hi) = round(random_size_range / size_divisor)``,
    giving ``(h, w) = (size_divisor * s, size_divisor * int(s * W / H))``
    for a batch of shape ``(H, W)``. Rank 0 draws and broadcasts it.

    A resize is bilinear (``align_corners=False``); in each data sample's
    ``gt_instance_labels`` (tensors, where the one-stage codecs put them)
    keypoints x/y are scaled by ``(sx, sy) = (w / W, h / H)``, boxes
    ``xyxy`` likewise, areas by ``sx * sy``; a ``gt_fields.heatmap_mask``
    is resized to ``(h, w)`` (as float); the metainfo ``img_shape`` and
    ``pad_shape`` are scaled (truncated to int) and ``batch_input_shape``
    becomes ``(h, w)``.

    The phase of the ``interval`` counts from this module's first call, so
    a resumed run with ``interval > 1`` may change sizes at other
    iterations than MMPose would (the RTMO/YOLOX-Pose configs use 1).

    Args:
        random_size_range (tuple[int, int]): Range of the output height in
            pixels, e.g. (480, 800).
        interval (int): Draw a new size every ``interval`` calls. Defaults
            to 10.
        size_divisor (int): Sizes are multiples of it. Defaults to 32.
    """

    def __init__(self, random_size_range: Sequence[int], interval: int = 10,
                 size_divisor: int = 32) -> None:
        super().__init__()
        if interval < 1:
            raise ValueError('BatchSyncRandomResize: interval must be >= 1, '
                             f'got {interval}')
        self._input_size: tuple[int, int] | None = None
        self._random_size_range = (round(random_size_range[0] / size_divisor),
                                   round(random_size_range[1] / size_divisor))
        self._interval = interval
        self._size_divisor = size_divisor
        self._iter = 0

    def forward(self, inputs: Tensor, data_samples: list | None
                ) -> tuple[Tensor, list | None]:
        """inputs (N, C, H, W) float; data samples updated in place."""
        h, w = inputs.shape[-2:]
        if self._input_size is None:
            self._input_size = (h, w)
        scale_y = self._input_size[0] / h
        scale_x = self._input_size[1] / w
        if scale_x != 1 or scale_y != 1:
            inputs = F.interpolate(inputs, size=self._input_size,
                                   mode='bilinear', align_corners=False)
            for sample in data_samples or ():
                self._rescale_sample(sample, scale_x, scale_y)
        if (self._iter + 1) % self._interval == 0:
            self._input_size = self._get_random_size(w / h, inputs.device)
        self._iter += 1
        return inputs, data_samples

    def _rescale_sample(self, sample, scale_x: float, scale_y: float) -> None:
        meta = dict(batch_input_shape=self._input_size)
        for key in ('img_shape', 'pad_shape'):
            if key in sample:
                shape = sample.get(key)
                meta[key] = (int(shape[0] * scale_y), int(shape[1] * scale_x))
        sample.set_metainfo(meta)
        labels = sample.get('gt_instance_labels')
        if labels is not None:
            if 'bboxes' in labels:
                labels.bboxes[..., 0::2] *= scale_x
                labels.bboxes[..., 1::2] *= scale_y
            if 'keypoints' in labels:
                labels.keypoints[..., 0] *= scale_x
                labels.keypoints[..., 1] *= scale_y
            if 'areas' in labels:
                labels.areas *= scale_x * scale_y
        fields = sample.get('gt_fields')
        if fields is not None and 'heatmap_mask' in fields:
            others = [k for k in fields.keys() if k != 'heatmap_mask']
            if others:
                raise ValueError(
                    'BatchSyncRandomResize resizes gt_fields.heatmap_mask only'
                    f'; the samples also have {others} (MMPose drops them)')
            mask = fields.heatmap_mask.unsqueeze(0).float()
            sample.gt_fields = PixelData(heatmap_mask=F.interpolate(
                mask, size=self._input_size, mode='bilinear',
                align_corners=False).squeeze(0))

    def _get_random_size(self, aspect_ratio: float,
                         device: torch.device) -> tuple[int, int]:
        """A new ``(h, w)``, drawn on rank 0 and broadcast to all ranks."""
        size = torch.zeros(2, dtype=torch.long, device=device)
        if _dist_rank() == 0:
            s = random.randint(*self._random_size_range)
            size[0] = self._size_divisor * s
            size[1] = self._size_divisor * int(aspect_ratio * s)
        if dist.is_available() and dist.is_initialized():
            dist.barrier()
            dist.broadcast(size, 0)
        return int(size[0]), int(size[1])
