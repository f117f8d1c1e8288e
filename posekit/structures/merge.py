"""Merging the per-box results of one image into one data sample."""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np
import torch

from .bbox import get_warp_matrix
from .data_element import to_numpy
from .instance_data import InstanceData
from .pixel_data import PixelData
from .pose_data_sample import PoseDataSample


def merge_data_samples(data_samples: Sequence[PoseDataSample]
                       ) -> PoseDataSample:
    """Merge the per-box results of one image into one data sample.

    Instances are concatenated; heatmaps (``pred_fields``/``gt_fields``),
    when present, are warped back to the image and merged by maximum. The
    metainfo is the first sample's.
    """
    if not all(isinstance(d, PoseDataSample) for d in data_samples):
        raise TypeError('merge_data_samples expects a list of PoseDataSample')
    if not data_samples:
        return PoseDataSample()
    first = data_samples[0]
    merged = PoseDataSample(metainfo=first.metainfo)
    for name in ('gt_instances', 'pred_instances'):
        if name in first:
            merged.set_field(InstanceData.cat(
                [d.get(name) for d in data_samples]), name)
    for name in ('pred_fields', 'gt_fields'):
        if name in first and 'heatmaps' in first.get(name):
            maps = [heatmap_to_image(d.get(name).heatmaps, d.input_center,
                                     d.input_scale, d.ori_shape)
                    for d in data_samples]
            merged.set_field(PixelData(heatmaps=np.max(maps, axis=0)), name)
    return merged


def heatmap_to_image(heatmap: np.ndarray | torch.Tensor,
                     input_center: np.ndarray, input_scale: np.ndarray,
                     img_shape: tuple[int, int]) -> np.ndarray:
    """Warp a crop's ``(K, h, w)`` (or ``(h, w)``) heatmap onto the image.

    The heatmap spans the box of size ``input_scale`` at ``input_center``;
    the result has the image's ``img_shape = (H, W)``, zero outside the box.
    """
    heatmap = to_numpy(heatmap)
    maps = heatmap.transpose(1, 2, 0) if heatmap.ndim == 3 else heatmap
    hm_h, hm_w = maps.shape[:2]
    warp = get_warp_matrix(np.reshape(input_center, 2),
                           np.reshape(input_scale, 2), rot=0,
                           output_size=(hm_w, hm_h), inv=True)
    img_h, img_w = img_shape
    out = cv2.warpAffine(maps, warp, (img_w, img_h), flags=cv2.INTER_LINEAR)
    return out.transpose(2, 0, 1) if heatmap.ndim == 3 else out
