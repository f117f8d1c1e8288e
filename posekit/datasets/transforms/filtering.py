"""``FilterAnnotations``: drop instances too small or with too few keypoints."""
from __future__ import annotations

import numpy as np

from posekit.registry import TRANSFORMS

# Per-instance keys cut with the same mask (MMPose's list).
_INSTANCE_KEYS = ('bbox', 'bbox_score', 'category_id', 'keypoints',
                  'keypoints_visible', 'area')


@TRANSFORMS.register_module()
class FilterAnnotations:
    """Keep only the instances that pass every enabled test.

    Tests (each only when enabled and its key is present):

    - ``by_box``: box width **and** height strictly greater than
      ``min_gt_bbox_wh`` (``x2 - x1 > w_min`` and ``y2 - y1 > h_min``);
    - ``by_area``: ``area >= min_gt_area``;
    - ``by_kpt``: number of visible keypoints (sum of channel 0 of
      ``keypoints_visible``) ``>= min_kpt_vis``.

    Required Keys:
        - keypoints (np.ndarray): ``(N, K, 2)``.
        - bbox (np.ndarray, optional): ``(N, 4)`` xyxy pixels.
        - area (np.ndarray, optional): ``(N,)``.
        - keypoints_visible (np.ndarray): ``(N, K)`` or ``(N, K, 2)``, needed
          when ``by_kpt``.

    Modified Keys:
        - bbox, bbox_score, category_id, keypoints, keypoints_visible, area:
          rows of the kept instances (when present).

    Args:
        min_gt_bbox_wh (tuple[float, float]): Minimum box ``(w, h)``.
            Defaults to (1, 1).
        min_gt_area (float): Minimum area. Defaults to 1.
        min_kpt_vis (int): Minimum visible keypoints. Defaults to 1.
        by_box (bool): Enable the box test. Defaults to False.
        by_area (bool): Enable the area test. Defaults to False.
        by_kpt (bool): Enable the keypoint test. Defaults to True.
        keep_empty (bool): MMPose's (inverted-sounding) meaning, kept for
            config compatibility: when True and no instance passes, return
            ``None`` so the dataset draws another sample; when False, return
            the sample with zero instances. Defaults to True.
    """

    def __init__(self,
                 min_gt_bbox_wh: tuple[float, float] = (1, 1),
                 min_gt_area: float = 1,
                 min_kpt_vis: int = 1,
                 by_box: bool = False,
                 by_area: bool = False,
                 by_kpt: bool = True,
                 keep_empty: bool = True) -> None:
        if not (by_box or by_area or by_kpt):
            raise ValueError('FilterAnnotations: enable at least one of '
                             'by_box, by_area, by_kpt')
        self.min_gt_bbox_wh = min_gt_bbox_wh
        self.min_gt_area = min_gt_area
        self.min_kpt_vis = min_kpt_vis
        self.by_box = by_box
        self.by_area = by_area
        self.by_kpt = by_kpt
        self.keep_empty = keep_empty

    def __call__(self, results: dict) -> dict | None:
        if 'keypoints' not in results:
            raise KeyError('FilterAnnotations: the results have no '
                           '"keypoints"')
        if results['keypoints'].shape[0] == 0:
            return results
        keep = self._keep_mask(results)
        if keep is None:
            return results
        if not keep.any() and self.keep_empty:
            return None
        for key in _INSTANCE_KEYS:
            if key in results:
                results[key] = results[key][keep]
        return results

    def _keep_mask(self, results: dict) -> np.ndarray | None:
        """``(N,)`` bool mask of the instances to keep; None: no test ran."""
        tests = []
        if self.by_box and 'bbox' in results:
            bbox = results['bbox']
            tests.append((bbox[..., 2] - bbox[..., 0] > self.min_gt_bbox_wh[0])
                         & (bbox[..., 3] - bbox[..., 1] > self.min_gt_bbox_wh[1]))
        if self.by_area and 'area' in results:
            tests.append(np.asarray(results['area']) >= self.min_gt_area)
        if self.by_kpt:
            visible = results['keypoints_visible']
            if visible.ndim == 3:
                visible = visible[..., 0]
            tests.append(visible.sum(axis=1) >= self.min_kpt_vis)
        if not tests:
            return None
        keep = tests[0]
        for test in tests[1:]:
            keep = keep & test
        return keep

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(min_gt_bbox_wh={self.min_gt_bbox_wh}, '
                f'min_gt_area={self.min_gt_area}, min_kpt_vis='
                f'{self.min_kpt_vis}, by_box={self.by_box}, by_area='
                f'{self.by_area}, by_kpt={self.by_kpt}, '
                f'keep_empty={self.keep_empty})')
