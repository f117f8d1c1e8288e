"""Convert 2D keypoints of a detector's dataset to Human3.6M's 17 keypoints.

A pose lifter trained on Human3.6M reads its 17 joints in H36M order:
0 pelvis (root), 1-3 right hip/knee/ankle, 4-6 left hip/knee/ankle,
7 spine, 8 thorax, 9 neck base, 10 head, 11-13 left shoulder/elbow/wrist,
14-16 right shoulder/elbow/wrist. Joints the 2D dataset lacks are
interpolated from its others (MMPose's ``convert_keypoint_definition``).
"""
from __future__ import annotations

import numpy as np

# target H36M index <- source index, for the joints both datasets have
_COPIED = {
    'coco': ([1, 2, 3, 4, 5, 6, 9, 11, 12, 13, 14, 15, 16],
             [12, 14, 16, 11, 13, 15, 0, 5, 7, 9, 6, 8, 10]),
    'aic': ([1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16],
            [6, 7, 8, 9, 10, 11, 3, 4, 5, 0, 1, 2]),
    'crowdpose': ([1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16],
                  [7, 9, 11, 6, 8, 10, 0, 2, 4, 1, 3, 5]),
}
# (left hip, right hip), (left shoulder, right shoulder) in the source
_HIPS_SHOULDERS = {'coco': ((11, 12), (5, 6)), 'aic': ((9, 6), (3, 0)),
                   'crowdpose': ((6, 7), (0, 1))}
_ALIASES = {'posetrack18': 'coco'}
_SAME_AS_H36M = ('h36m', 'coco_wholebody')
LIFT_DATASETS = ('h36m', 'h3wb')


def convert_keypoint_definition(keypoints: np.ndarray, pose_det_dataset: str,
                                pose_lift_dataset: str) -> np.ndarray:
    """2D keypoints of ``pose_det_dataset`` as the lifter's H36M keypoints.

    Args:
        keypoints (np.ndarray): (N, K, C) keypoints (C = 2 for x, y pixels,
            or any per-keypoint channels such as scores: every channel is
            converted the same way).
        pose_det_dataset (str): 'coco', 'posetrack18' (as COCO; its head is
            the middle of keypoints 1 and 2), 'aic', 'crowdpose', or 'h36m' /
            'coco_wholebody' (returned unchanged, as in MMPose).
        pose_lift_dataset (str): 'h36m' or 'h3wb'.

    Returns:
        np.ndarray: (N, 17, C), same dtype (``keypoints`` itself for the
        unchanged datasets).

    Raises:
        ValueError: An unknown lifting dataset.
        NotImplementedError: No conversion from ``pose_det_dataset``.
    """
    if pose_lift_dataset not in LIFT_DATASETS:
        raise ValueError(f'pose_lift_dataset must be one of {LIFT_DATASETS}, '
                         f'got {pose_lift_dataset!r}')
    if pose_det_dataset in _SAME_AS_H36M:
        return keypoints
    source = _ALIASES.get(pose_det_dataset, pose_det_dataset)
    if source not in _COPIED:
        raise NotImplementedError(
            f'no keypoint conversion from {pose_det_dataset!r} to '
            f'{pose_lift_dataset!r}; known: coco, posetrack18, aic, crowdpose, '
            f'{", ".join(_SAME_AS_H36M)}')
    kpts = np.asarray(keypoints)
    out = np.zeros((kpts.shape[0], 17, kpts.shape[2]), dtype=kpts.dtype)
    (lhip, rhip), (lsho, rsho) = _HIPS_SHOULDERS[source]
    out[:, 0] = (kpts[:, lhip] + kpts[:, rhip]) / 2
    out[:, 8] = (kpts[:, lsho] + kpts[:, rsho]) / 2
    out[:, 7] = (out[:, 0] + out[:, 8]) / 2
    if source == 'coco':
        # the head is between the eyes (PoseTrack18: head bottom and top)
        out[:, 10] = (kpts[:, 1] + kpts[:, 2]) / 2
    else:
        # AIC and CrowdPose have head top (12) and neck (13): the neck base
        # is 1/4 and the head centre 7/12 of the way from neck to head top
        out[:, 9] = (3 * kpts[:, 13] + kpts[:, 12]) / 4
        out[:, 10] = (5 * kpts[:, 13] + 7 * kpts[:, 12]) / 12
    dst, src = _COPIED[source]
    out[:, dst] = kpts[:, src]
    return out
