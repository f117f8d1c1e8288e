"""OKS matrices of all images at once, as COCOeval.computeOks gives them.

For each (image, category): rows are the detections by decreasing score
(stable), at most ``max_dets``; columns are the ground truth in annotation
order. A ground truth with labelled keypoints (``v > 0``) is compared on
those only; one without any is compared on every keypoint, with the distance
to the box twice the size of its box (0 inside)::

    e_k = d_k^2 / (2 sigma_k)^2 / (area + eps) / 2,  OKS = mean_k exp(-e_k)

Every (detection, ground truth) pair of every image is computed in one
vectorised pass with the same float64 operations in the same order as
COCOeval (the sums run over the same numbers in the same order), so the
values are bit-identical.
"""
from __future__ import annotations

import numpy as np


def _ragged_arange(counts: np.ndarray) -> np.ndarray:
    """``concatenate([arange(c) for c in counts])``."""
    return np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts,
                                               counts)


class DetectionLayout:
    """How detections and ground truth group by (image, category).

    Args:
        image_ids, category_ids (np.ndarray): (D,) int of the detections.
        scores (np.ndarray): (D,) float64 detection scores.
        gt: :class:`~.coco_keypoint_eval.KeypointGroundTruth`.
        max_dets (int): Detections kept per image and category.
    """

    def __init__(self, image_ids: np.ndarray, category_ids: np.ndarray,
                 scores: np.ndarray, gt, max_dets: int):
        cats = np.unique(np.concatenate([category_ids, gt.category_ids]))
        num_cats = max(len(cats), 1)
        det_value = image_ids * num_cats + np.searchsorted(cats, category_ids)
        gt_value = gt.image_ids * num_cats + np.searchsorted(
            cats, gt.category_ids)
        values, inverse = np.unique(np.concatenate([det_value, gt_value]),
                                    return_inverse=True)
        det_key, gt_key = inverse[:len(det_value)], inverse[len(det_value):]
        self.key_image = values // num_cats
        self.key_category = cats[values % num_cats] if len(cats) else values
        num_keys = len(values)
        # detections: by key, then by decreasing score (stable); top max_dets
        order = np.lexsort((-scores, det_key))
        count = np.bincount(det_key, minlength=num_keys)
        rank = _ragged_arange(count)
        keep = rank < max_dets
        self.det_order, self.det_rank = order[keep], rank[keep]
        self.det_key = det_key[self.det_order]
        self.det_count = np.minimum(count, max_dets)
        self.scores = scores
        self.gt_order = np.argsort(gt_key, kind='stable')
        self.gt_count = np.bincount(gt_key, minlength=num_keys)
        self.gt_start = np.cumsum(self.gt_count) - self.gt_count

    def ranked(self, category: int, img_ids: np.ndarray) -> tuple:
        """The kept detections of ``category`` on ``img_ids`` (sorted), in
        the order COCO accumulation sorts them: by decreasing score, ties by
        image then rank.

        Returns:
            tuple: (index of the image in ``img_ids``, rank in its image,
            number of kept detections in its image, score), each a list.
        """
        image = self.key_image[self.det_key]
        chosen = (self.key_category[self.det_key] == category) & np.isin(
            image, img_ids)
        scores = self.scores[self.det_order[chosen]]
        order = np.argsort(-scores, kind='mergesort')
        return (np.searchsorted(img_ids, image[chosen])[order].tolist(),
                self.det_rank[chosen][order].tolist(),
                self.det_count[self.det_key[chosen]][order].tolist(),
                scores[order].tolist())


def oks_matrices(layout: DetectionLayout, gt, keypoints: np.ndarray,
                 sigmas: np.ndarray) -> dict:
    """{(image id, category id): (D, G) float64 OKS} for every pair that
    has both detections and ground truth.

    Args:
        layout (DetectionLayout): The grouping.
        gt: :class:`~.coco_keypoint_eval.KeypointGroundTruth`.
        keypoints (np.ndarray): (D, K, 3) float64 detections, ``[x, y, s]``.
        sigmas (np.ndarray): (K,) OKS sigmas.
    """
    per_det = layout.gt_count[layout.det_key]
    if per_det.sum() == 0:
        return {}
    pair_det = np.repeat(layout.det_order, per_det)
    first = np.repeat(layout.gt_start[layout.det_key], per_det)
    pair_gt = layout.gt_order[first + _ragged_arange(per_det)]
    oks = pair_oks(gt, keypoints[pair_det], pair_gt, sigmas)
    sizes = layout.det_count * layout.gt_count
    blocks = np.split(oks, np.cumsum(sizes)[:-1])
    return {(img, cat): blocks[k].reshape(layout.det_count[k], -1)
            for k, (img, cat, size) in enumerate(zip(
                layout.key_image.tolist(), layout.key_category.tolist(),
                sizes.tolist())) if size}


def pair_oks(gt, det_kpts: np.ndarray, pair_gt: np.ndarray,
             sigmas: np.ndarray) -> np.ndarray:
    """OKS of detections ``det_kpts`` (P, K, 3) with ground truth
    ``pair_gt`` (P,) indices, one value per pair (see the module doc)."""
    variances = (np.asarray(sigmas) * 2)**2
    gt_kpts = gt.keypoints[pair_gt]
    xd, yd = det_kpts[:, :, 0], det_kpts[:, :, 1]
    dx = xd - gt_kpts[:, :, 0]
    dy = yd - gt_kpts[:, :, 1]
    empty = gt.num_visible[pair_gt] == 0
    if empty.any():
        box = gt.boxes[pair_gt[empty]]
        x0, x1 = box[:, :1] - box[:, 2:3], box[:, :1] + box[:, 2:3] * 2
        y0, y1 = box[:, 1:2] - box[:, 3:4], box[:, 1:2] + box[:, 3:4] * 2
        zero = np.zeros_like(xd[empty])
        dx[empty] = (np.max((zero, x0 - xd[empty]), axis=0) +
                     np.max((zero, xd[empty] - x1), axis=0))
        dy[empty] = (np.max((zero, y0 - yd[empty]), axis=0) +
                     np.max((zero, yd[empty] - y1), axis=0))
    area = gt.areas[pair_gt]
    e = (dx**2 + dy**2) / variances / (area[:, None] + np.spacing(1)) / 2
    similarity = np.exp(-e)
    used = gt_kpts[:, :, 2] > 0
    used[empty] = True
    counts = used.sum(axis=1)
    oks = np.empty(len(pair_gt))
    # pairs comparing the same number of keypoints are averaged together:
    # each row then sums the same numbers, in the same order, as COCOeval
    for count in np.unique(counts):
        rows = counts == count
        values = similarity[rows][used[rows]].reshape(-1, count)
        oks[rows] = values.sum(axis=1) / count
    return oks
