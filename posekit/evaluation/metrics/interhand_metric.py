"""InterHandMetric: InterHand2.6M's 3D hand errors (Moon et al., 2020).

- ``MPJPE_all / _single / _interacting``: mean distance (mm) between
  root-relative camera-space joints, each hand relative to its own wrist
  (joint 20 right, 41 left), over the visible joints of all samples, of the
  single-hand samples, and of the interacting-hands samples.
- ``MRRPE``: mean distance (mm) between predicted and true left-root minus
  right-root vectors, on interacting samples with both wrists visible.
- ``HandednessAcc``: fraction of samples with a valid hand type whose both
  [right, left] labels are right.

Predicted keypoints are (x, y) image pixels and z the depth relative to the
hand's root (mm, as Hand3DHeatmap decodes); they are lifted to camera space
with the ground-truth absolute root depths ``abs_depth`` [right, left] and
the intrinsics ``focal`` (fx, fy) and ``principal_pt`` (cx, cy), as MMPose.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import numpy as np

from posekit.registry import METRICS
from posekit.structures import to_numpy
from ..functional import keypoint_epe
from .base_metric import BaseMetric, as_dict, logger

RIGHT_ROOT, LEFT_ROOT, HAND_SIZE = 20, 41, 21
MODES = ('MPJPE', 'MRRPE', 'HandednessAcc')


def pixel_to_camera(points: np.ndarray, fx, fy, cx, cy) -> np.ndarray:
    """Back-project ``(u, v, z)`` to camera ``((u - cx) / fx * z,
    (v - cy) / fy * z, z)``.

    Args:
        points (np.ndarray): (..., 3) pixels and depth (z > 0 forward).
        fx, fy, cx, cy (float): Intrinsics in pixels.

    Returns:
        np.ndarray: (..., 3), the dtype of ``points``.
    """
    cam = points.copy()
    cam[..., 0] = (cam[..., 0] - cx) / fx * points[..., 2]
    cam[..., 1] = (cam[..., 1] - cy) / fy * points[..., 2]
    return cam


def root_relative(points: np.ndarray) -> np.ndarray:
    """(..., 42, 3) joints, each hand minus its own wrist."""
    out = points.copy()
    out[..., :HAND_SIZE, :] -= points[..., RIGHT_ROOT:RIGHT_ROOT + 1, :]
    out[..., HAND_SIZE:, :] -= points[..., LEFT_ROOT:LEFT_ROOT + 1, :]
    return out


@METRICS.register_module()
class InterHandMetric(BaseMetric):
    """MPJPE, MRRPE and handedness accuracy on InterHand2.6M.

    Args:
        modes (list[str]): Any of 'MPJPE', 'MRRPE', 'HandednessAcc'.
        collect_device (str): As :class:`BaseMetric`.
        prefix (str, optional): As :class:`BaseMetric`.
    """

    def __init__(self, modes: Sequence[str] = MODES,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        for mode in modes:
            if mode not in MODES:
                raise ValueError(f'InterHandMetric: modes must be among '
                                 f'{MODES}, got {mode!r}')
        self.modes = list(modes)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Per sample: camera-space root-relative joints and masks, the
        root vectors and the hand types (see the module docstring)."""
        for sample in map(as_dict, data_samples):
            pred = sample['pred_instances']
            gt = sample['gt_instances']
            coords = to_numpy(pred['keypoints'])               # (1, K, 3)
            gt_cam = to_numpy(gt['keypoints_cam'])              # (1, K, 3)
            visible = to_numpy(gt['keypoints_visible'])
            gt_type = np.asarray(sample['hand_type'])           # (1, 2)
            interacting = bool(gt_type.all())
            camera = (np.asarray(sample['abs_depth']), sample['focal'],
                      sample['principal_pt'])
            result = {}
            if 'MPJPE' in self.modes:
                result.update(self._mpjpe_entry(coords, gt_cam, visible,
                                                interacting, *camera))
            if 'HandednessAcc' in self.modes:
                if pred.get('hand_type') is None:
                    raise KeyError('InterHandMetric HandednessAcc needs '
                                   'pred_instances.hand_type')
                result.update(
                    pred_hand_type=to_numpy(pred['hand_type']),
                    gt_hand_type=gt_type,
                    hand_type_mask=np.asarray(sample['hand_type_valid']) > 0)
            if 'MRRPE' in self.modes:
                if pred.get('rel_root_depth') is None:
                    raise KeyError('InterHandMetric MRRPE needs '
                                   'pred_instances.rel_root_depth')
                valid = interacting and bool(visible[..., RIGHT_ROOT]) and \
                    bool(visible[..., LEFT_ROOT])
                result.update(self._mrrpe_entry(
                    coords, gt_cam, to_numpy(pred['rel_root_depth']), valid,
                    *camera))
            self.results.append(result)

    @staticmethod
    def _mpjpe_entry(coords, gt_cam, visible, interacting, abs_depth, focal,
                     principal_pt) -> dict:
        pred_cam = coords.copy()
        pred_cam[..., :HAND_SIZE, 2] += abs_depth[0]
        pred_cam[..., HAND_SIZE:, 2] += abs_depth[1]
        pred_cam = pixel_to_camera(pred_cam, focal[0], focal[1],
                                   principal_pt[0], principal_pt[1])
        mask = visible.astype(bool).reshape(1, -1)
        none = np.zeros_like(mask)
        return dict(pred_coords=root_relative(pred_cam),
                    gt_coords=root_relative(gt_cam), mask=mask,
                    single_mask=none if interacting else mask,
                    interacting_mask=mask if interacting else none)

    @staticmethod
    def _mrrpe_entry(coords, gt_cam, rel_root_depth, valid, abs_depth, focal,
                     principal_pt) -> dict:
        if not valid:
            zeros = np.zeros((1, 1, 3), dtype=np.int64)
            return dict(pred_rel_root_coords=zeros, gt_rel_root_coords=zeros,
                        rel_root_mask=np.array([False]))
        intrinsics = (focal[0], focal[1], principal_pt[0], principal_pt[1])
        left = np.array(coords[..., LEFT_ROOT, :], dtype=np.float32)
        # MMPose lifts both roots from the right root's absolute depth
        left[..., 2] += abs_depth[0] + rel_root_depth
        right = np.array(coords[..., RIGHT_ROOT, :], dtype=np.float32)
        right[..., 2] += abs_depth[0]
        pred_vec = (pixel_to_camera(left, *intrinsics) -
                    pixel_to_camera(right, *intrinsics))
        gt_vec = gt_cam[..., LEFT_ROOT, :] - gt_cam[..., RIGHT_ROOT, :]
        return dict(pred_rel_root_coords=pred_vec[None],
                    gt_rel_root_coords=gt_vec[None],
                    rel_root_mask=np.array([True]))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        logger.info('Evaluating InterHandMetric...')
        cat = lambda key: np.concatenate([r[key] for r in results])  # noqa
        metrics = {}
        if 'MPJPE' in self.modes:
            pred, gt = cat('pred_coords'), cat('gt_coords')
            for name, key in (('all', 'mask'), ('single', 'single_mask'),
                              ('interacting', 'interacting_mask')):
                metrics[f'MPJPE_{name}'] = keypoint_epe(pred, gt, cat(key))
        if 'HandednessAcc' in self.modes:
            correct = (cat('pred_hand_type') == cat('gt_hand_type')).all(-1)
            metrics['HandednessAcc'] = np.mean(correct[cat('hand_type_mask')])
        if 'MRRPE' in self.modes:
            mask = np.array([r['rel_root_mask'] for r in results])
            metrics['MRRPE'] = keypoint_epe(cat('pred_rel_root_coords'),
                                            cat('gt_rel_root_coords'), mask)
        return metrics
