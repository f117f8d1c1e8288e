"""Mean per-joint position error (MPJPE), with optional alignment.

Pure numpy, vectorised over instances. Shapes: N instances, K keypoints,
C coordinate dims (3 for the rigid alignment).
"""
import numpy as np


def compute_similarity_transform(source_points: np.ndarray,
                                 target_points: np.ndarray) -> np.ndarray:
    """Move point sets onto others by the best scale, rotation and shift.

    The orthogonal Procrustes solution (Umeyama): the similarity transform
    ``s * R @ x + t`` with ``det(R) = +1`` that minimises the squared
    distance to the target points.

    Args:
        source_points (np.ndarray): (K, 3) or (N, K, 3) points to move.
        target_points (np.ndarray): Same shape, the points to move onto.

    Returns:
        np.ndarray: The moved source points, same shape as the input.
    """
    if source_points.shape != target_points.shape:
        raise ValueError('source and target points must have the same shape, '
                         f'got {source_points.shape} and {target_points.shape}')
    if source_points.shape[-1] != 3:
        raise ValueError('the rigid alignment is for 3D points, got shape '
                         f'{source_points.shape}')
    single = source_points.ndim == 2
    src = source_points[None] if single else source_points
    dst = target_points[None] if single else target_points
    src_mean = src.mean(axis=1, keepdims=True)
    dst_mean = dst.mean(axis=1, keepdims=True)
    src_c, dst_c = src - src_mean, dst - dst_mean
    src_var = np.sum(src_c ** 2, axis=(1, 2))
    cov = np.einsum('nki,nkj->nij', src_c, dst_c)        # (N, 3, 3)
    u, _, vh = np.linalg.svd(cov)
    v, ut = np.swapaxes(vh, 1, 2), np.swapaxes(u, 1, 2)
    # flip the last axis where U V^T is a reflection, so that det(R) = +1
    flip = np.ones(u.shape[:2])
    flip[:, -1] = np.sign(np.linalg.det(u @ vh))
    rot = v @ (flip[:, :, None] * ut)                     # (N, 3, 3)
    scale = np.trace(rot @ cov, axis1=1, axis2=2) / src_var
    moved = scale[:, None, None] * (src @ np.swapaxes(rot, 1, 2))
    moved = moved + dst_mean - scale[:, None, None] * (
        src_mean @ np.swapaxes(rot, 1, 2))
    return moved[0] if single else moved


def keypoint_mpjpe(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray,
                   alignment: str = 'none') -> float:
    """Mean Euclidean distance between predicted and true keypoints.

    Args:
        pred (np.ndarray): (N, K, C) predicted keypoints.
        gt (np.ndarray): (N, K, C) ground-truth keypoints.
        mask (np.ndarray): (N, K) bool, False to leave a keypoint out. At
            least one must be True.
        alignment (str): How ``pred`` is aligned to ``gt`` first, per
            instance: ``'none'``; ``'scale'`` (the least-squares scale, for
            N-MPJPE); ``'procrustes'`` (scale, rotation and translation, for
            P-MPJPE; C must be 3).

    Returns:
        float: The mean error over the unmasked keypoints, in the units of
        the input.
    """
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        raise ValueError('keypoint_mpjpe: the mask selects no keypoint')
    if alignment == 'procrustes':
        pred = compute_similarity_transform(pred, gt)
    elif alignment == 'scale':
        scale = np.einsum('nkc,nkc->n', pred, gt) / np.einsum(
            'nkc,nkc->n', pred, pred)
        pred = pred * scale[:, None, None]
    elif alignment != 'none':
        raise ValueError(f"alignment must be 'none', 'scale' or 'procrustes', "
                         f'got {alignment!r}')
    # a Python float, whatever the input dtype, so results print alike
    return float(np.linalg.norm(pred - gt, ord=2, axis=-1)[mask].mean())
