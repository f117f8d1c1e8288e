"""Fashion landmark datasets: DeepFashion (CVPR 2016) and DeepFashion2 (CVPR 2019)."""
from __future__ import annotations

from typing import Mapping

from posekit.registry import DATASETS

from ..base_coco_style import BaseCocoStyleDataset

SUBSET_METAINFO = {
    'full': 'configs/_base_/datasets/deepfashion_full.py',
    'upper': 'configs/_base_/datasets/deepfashion_upper.py',
    'lower': 'configs/_base_/datasets/deepfashion_lower.py',
}


@DATASETS.register_module()
class DeepFashionDataset(BaseCocoStyleDataset):
    """DeepFashion landmarks: 8 (full body), 6 (upper) or 4 (lower) keypoints.

    Args:
        ann_file (str): COCO json of the subset.
        subset (str): ``'full'`` (or ``''``), ``'upper'`` or ``'lower'``;
            picks the meta file when ``metainfo`` is not given.
        **kwargs: see :class:`BaseCocoStyleDataset`.
    """

    def __init__(self, ann_file: str = '', subset: str = '',
                 metainfo: Mapping | None = None, **kwargs):
        key = subset or 'full'
        if key not in SUBSET_METAINFO:
            raise ValueError(f'DeepFashionDataset: subset must be "full", '
                             f'"upper" or "lower", got {subset!r}')
        self.subset = key
        if metainfo is None:
            metainfo = dict(from_file=SUBSET_METAINFO[key])
        super().__init__(ann_file=ann_file, metainfo=metainfo, **kwargs)


@DATASETS.register_module()
class DeepFashion2Dataset(BaseCocoStyleDataset):
    """DeepFashion2 (294 landmarks over 13 clothing categories), read like COCO."""

    METAINFO: dict = dict(from_file='configs/_base_/datasets/deepfashion2.py')
