"""Associative-embedding decoding: peak candidates, greedy tag grouping and
filling of missing keypoints (Newell et al., 2017, as in MMPose 1.x).

Heatmaps are ``(B, K, H, W)`` or ``(K, H, W)``; tag maps ``(K * L, H, W)``
hold tag dimension ``l`` of keypoint ``k`` in channel ``l * K + k``.
Locations are integer heatmap pixels ``(x, y)`` = (column, row).
"""
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np


def heatmap_nms(heatmaps: np.ndarray, kernel_size: int = 5) -> np.ndarray:
    """Keep only pixels equal to the maximum of their ``k x k`` window.

    The window is cut at the border (pixels beyond it never win), like a
    max-pool with implicit ``-inf`` padding; other pixels become 0.

    Args:
        heatmaps (np.ndarray): (..., H, W) float.
        kernel_size (int): Odd window size.

    Returns:
        np.ndarray: same shape and dtype.
    """
    if not isinstance(kernel_size, (int, np.integer)) or kernel_size % 2 != 1:
        raise ValueError(f'NMS kernel size must be an odd integer, got '
                         f'{kernel_size!r}')
    maps = heatmaps
    if maps.dtype not in (np.float32, np.float64):
        maps = maps.astype(np.float32)
    # cv2's dilation is the max filter (6x faster than scipy's here); its
    # default border value never wins, as -inf padding
    kernel = np.ones((kernel_size, kernel_size), np.uint8)
    flat = maps.reshape((-1, ) + maps.shape[-2:])
    peak = np.stack([cv2.dilate(m, kernel) for m in flat]).reshape(maps.shape)
    return heatmaps * (maps == peak).astype(heatmaps.dtype)


def topk_flat(values: np.ndarray, k: int) -> Tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest values along the last axis, largest first.

    Equal values come in increasing index order (``torch.topk``, which
    MMPose uses, leaves the order of ties unspecified).

    Args:
        values (np.ndarray): (..., M) float.
        k (int): Number of values; at most M are returned.

    Returns:
        tuple: values (..., k) and int64 indices (..., k).
    """
    M = values.shape[-1]
    k = min(k, M)
    if k == 0 or 4 * k > M:
        order = np.argsort(-values, axis=-1, kind='stable')[..., :k]
        return np.take_along_axis(values, order, -1), order.astype(np.int64)
    # One pass per row instead of a full sort: the k-th largest value is the
    # cut; what is above it is in, and of the values equal to it the lowest
    # indices fill up to k (what a stable sort of the whole row would keep).
    rows = values.reshape(-1, M)
    cut = -np.partition(-rows, k - 1, axis=-1)[:, k - 1]
    order = np.empty((len(rows), k), np.int64)
    for r, (row, c) in enumerate(zip(rows, cut)):
        kept = np.flatnonzero(row >= c)        # increasing index
        order[r] = kept[np.argsort(-row[kept], kind='stable')[:k]]
    order = order.reshape(values.shape[:-1] + (k, ))
    return np.take_along_axis(values, order, -1), order


def get_topk_candidates(heatmaps: np.ndarray, tags: np.ndarray, k: int
                        ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-k responses of each heatmap with their tags and locations.

    Args:
        heatmaps (np.ndarray): (B, K, H, W) float (after NMS).
        tags (np.ndarray): (B, K * L, H, W) float.
        k (int): Candidates per keypoint.

    Returns:
        tuple: vals (B, K, k), tags (B, K, k, L) and locs (B, K, k, 2) int64
        ``(x, y)``.
    """
    B, K, H, W = heatmaps.shape
    L = tags.shape[1] // K
    vals, index = topk_flat(heatmaps.reshape(B, K, H * W), k)
    flat_tags = tags.reshape(B, L, K, H * W)
    cand_tags = np.take_along_axis(flat_tags, index[:, None], axis=-1)
    locs = np.stack((index % W, index // W), axis=-1)
    return vals, cand_tags.transpose(0, 2, 3, 1), locs


def min_cost_assignment(cost: np.ndarray) -> np.ndarray:
    """Optimal assignment of every row of an (n, m) cost matrix, n <= m.

    Shortest-augmenting-path Hungarian method with dual potentials, after
    a greedy warm start on each row's cheapest free cell. The grouping cost
    ties often (a candidate's response is the same in its whole row), and
    which optimum wins then changes the result; this follows the solver of
    the ``munkres`` package MMPose calls (scanning columns in index order,
    first minimum wins) rather than ``scipy.optimize.linear_sum_assignment``,
    whose ties fall elsewhere. float64 throughout.

    Args:
        cost (np.ndarray): (n, m) float, finite, n <= m.

    Returns:
        np.ndarray: (n,) int64 column of each row.
    """
    cost = np.asarray(cost, dtype=np.float64)
    n, m = cost.shape
    u, v = cost.min(axis=1), np.zeros(m + 1)
    owner = np.full(m + 1, -1)       # owner[j]: row matched to column j
    way = np.zeros(m + 1, dtype=np.int64)
    unmatched = []
    for i in range(n):
        free = np.flatnonzero((owner[:m] == -1) & (cost[i] == u[i]))
        if len(free):
            owner[free[0]] = i
        else:
            unmatched.append(i)
    for i in unmatched:
        owner[m], j0 = i, m
        minv = np.full(m + 1, np.inf)
        used = np.zeros(m + 1, dtype=bool)
        while True:
            used[j0] = True
            i0 = owner[j0]
            cur = cost[i0] - u[i0] - v[:m]
            better = ~used[:m] & (cur < minv[:m])
            minv[:m][better] = cur[better]
            way[:m][better] = j0
            j1 = int(np.argmin(np.where(used[:m], np.inf, minv[:m])))
            delta = minv[j1]
            u[owner[used]] += delta
            v[used] -= delta
            minv[~used] -= delta
            j0 = j1
            if owner[j0] == -1:
                break
        while j0 != m:                  # flip the augmenting path
            j1 = way[j0]
            owner[j0] = owner[j1]
            j0 = j1
    cols = np.full(n, -1, dtype=np.int64)
    matched = np.flatnonzero(owner[:m] >= 0)
    cols[owner[matched]] = matched
    return cols


def _match(joints: np.ndarray, keys: list, tags_of: dict) -> np.ndarray:
    """Hungarian assignment of candidate rows to existing groups.

    The cost is ``round(tag distance) * 100 - response`` (float64); with
    more candidates than groups, columns of cost 1e10 stand for "new
    group". Returns, per row, its column (>= len(keys) means none).
    """
    means = np.array([np.mean(tags_of[key], axis=0) for key in keys])
    dist = np.linalg.norm(joints[:, None, 3:] - means[None], ord=2, axis=2)
    cost = np.round(dist) * 100 - joints[:, 2:3]
    n_rows, n_groups = cost.shape
    if n_rows > n_groups:
        pad = np.full((n_rows, n_rows - n_groups), 1e10, dtype=np.float32)
        cost = np.concatenate((cost, pad), axis=1)
    return min_cost_assignment(cost), dist


def group_keypoints_by_tags(vals: np.ndarray, tags: np.ndarray,
                            locs: np.ndarray, keypoint_order: Sequence[int],
                            val_thr: float, tag_thr: float = 1.0,
                            max_groups: Optional[int] = None) -> np.ndarray:
    """Greedy grouping of keypoint candidates into instances by their tags.

    Keypoints are visited in ``keypoint_order``. Candidates with response
    > ``val_thr`` of the first visited keypoint each open a group; later
    ones are matched to groups by the Hungarian algorithm on
    ``round(|tag - group mean tag|) * 100 - response`` and join their group
    when the tag distance is < ``tag_thr``, else open a new one. Groups are
    keyed by the first tag value of their opening candidate, as in MMPose
    (so a new group with an equal key takes that group's place); they come
    out in order of creation and only the first ``max_groups`` are kept.

    Args:
        vals (np.ndarray): (K, M) float32 candidate responses.
        tags (np.ndarray): (K, M, L) float32 candidate tags.
        locs (np.ndarray): (K, M, 2) int candidate locations.
        keypoint_order (Sequence[int]): A permutation of range(K).
        val_thr (float): Minimum response of a candidate.
        tag_thr (float): Maximum tag distance to join a group.
        max_groups (int, optional): Keep at most this many groups.

    Returns:
        np.ndarray: (G, K, 3) float32 ``x, y, response``; zeros for the
        keypoints a group lacks.
    """
    K, M, L = tags.shape
    # float64, as MMPose concatenates int64 locations with float32 values
    joints_all = np.concatenate((locs, vals[..., None], tags), axis=2)
    joints_of: dict = {}
    tags_of: dict = {}

    def open_group(key, k, joint, tag):
        joints_of.setdefault(key, np.zeros((K, 3 + L), np.float32))[k] = joint
        tags_of[key] = [tag]

    for i, k in enumerate(keypoint_order):
        keep = vals[k] > val_thr
        if not keep.any():
            continue
        joints, cand_tags = joints_all[k][keep], tags[k][keep]
        if i == 0 or not joints_of:
            for joint, tag in zip(joints, cand_tags):
                open_group(tag[0], k, joint, tag)
            continue
        keys = list(joints_of)
        assigned, dist = _match(joints, keys, tags_of)
        for row, col in enumerate(assigned):
            if col < len(keys) and dist[row, col] < tag_thr:
                joints_of[keys[col]][k] = joints[row]
                tags_of[keys[col]].append(cand_tags[row])
            else:
                open_group(cand_tags[row][0], k, joints[row], cand_tags[row])

    keys = list(joints_of)[:max_groups]
    if not keys:
        return np.zeros((0, K, 3), dtype=np.float32)
    return np.stack([joints_of[key][:, :3] for key in keys])


def fill_missing_keypoints(keypoints: np.ndarray, scores: np.ndarray,
                           heatmaps: np.ndarray, tags: np.ndarray
                           ) -> Tuple[np.ndarray, np.ndarray]:
    """Give each instance's missing keypoints (score 0) a location.

    The instance tag is the mean of the tags read at its found keypoints
    (locations truncated to pixels and clipped into the map). A missing
    keypoint goes to the pixel minimising ``round(|tag map - instance
    tag|) * 100 - heatmap``, i.e. the strongest response among the pixels
    of nearest rounded tag distance; its score is the heatmap value there.

    Args:
        keypoints (np.ndarray): (N, K, 2) float32 heatmap pixels.
        scores (np.ndarray): (N, K) float32, 0 where missing.
        heatmaps (np.ndarray): (K, H, W) float (before NMS).
        tags (np.ndarray): (K * L, H, W) float.

    Returns:
        tuple: new keypoints (N, K, 2) and scores (N, K), same dtypes.
    """
    keypoints, scores = keypoints.copy(), scores.copy()
    N, K = scores.shape
    H, W = heatmaps.shape[1:]
    tag_maps = tags.reshape(-1, K, H, W)       # (L, K, H, W)
    for n in range(N):
        found = np.flatnonzero(scores[n] > 0)
        missing = np.flatnonzero(~(scores[n] > 0))
        if len(missing) == 0:
            continue
        xy = keypoints[n, found].astype(np.int64)
        x, y = np.clip(xy[:, 0], 0, W - 1), np.clip(xy[:, 1], 0, H - 1)
        with np.errstate(invalid='ignore', divide='ignore'):
            # an (m, L) C-ordered array, as MMPose builds it: numpy's
            # summation order (and so the float32 mean) depends on layout
            tag = np.mean(np.ascontiguousarray(tag_maps[:, found, y, x].T),
                          axis=0)
        for k in missing:
            by, bx = _best_match(tag_maps[:, k], tag, heatmaps[k])
            keypoints[n, k] = (bx, by)
            scores[n, k] = heatmaps[k, by, bx]
    return keypoints, scores


def _best_match(tag_map: np.ndarray, tag: np.ndarray,
                heatmap: np.ndarray) -> Tuple[int, int]:
    """(y, x) minimising ``round(|tag_map - tag|) * 100 - heatmap``.

    One (H, W) map at a time, in place (6x faster than stacking every
    missing keypoint: the stacked temporaries do not fit in cache). Same
    float operations as ``np.linalg.norm`` (squares summed over L in
    order, then sqrt), so the same argmin, ties included.
    """
    dist = np.square(tag_map[0] - tag[0])
    for tl, t in zip(tag_map[1:], tag[1:]):
        dist += np.square(tl - t)
    np.sqrt(dist, out=dist)
    np.round(dist, out=dist)
    dist *= 100
    cost = dist - heatmap
    return divmod(int(np.argmin(cost)), heatmap.shape[1])

