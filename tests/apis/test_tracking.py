"""Greedy IoU / OKS tracking (posekit.apis.tracking).

Expected track ids and scores were measured with MMPose 1.3.2's
``_track_by_iou`` / ``_track_by_oks`` / ``oks_iou`` on the same people
(generated below with numpy's seeded generator).
"""
import numpy as np
import pytest

from posekit.apis.tracking import (assign_track_ids, compute_iou, track_by_iou,
                                   track_by_oks)
from posekit.evaluation.functional.nms import oks_iou
from posekit.structures import InstanceData, PoseDataSample


def _people(seed, n=4, k=17):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        centre, size = rng.uniform(50, 400, 2), rng.uniform(40, 120)
        kpts = centre + rng.normal(0, size / 3, (k, 2))
        box = np.concatenate([kpts.min(0), kpts.max(0)])
        out.append(dict(kpts=kpts[None].astype(np.float32),
                        scores=rng.uniform(0, 1, (1, k)).astype(np.float32),
                        bboxes=box[None].astype(np.float32),
                        areas=np.array([np.prod(box[2:] - box[:2])], np.float32)))
    return out


def _moved(people, seed, jitter=4.0):
    rng = np.random.default_rng(seed)
    out = []
    for p in people:
        d = rng.normal(0, jitter, 2)
        out.append(dict(p, kpts=p['kpts'] + d.astype(np.float32),
                        bboxes=p['bboxes'] + np.tile(d, 2).astype(np.float32)))
    return out


def _sample(p, track_id=None):
    s = PoseDataSample()
    s.pred_instances = InstanceData(keypoints=p['kpts'], keypoint_scores=p['scores'],
                                    bboxes=p['bboxes'], areas=p['areas'])
    if track_id is not None:
        s.track_id = track_id
    return s


LAST = _people(1)
# the previous frame's people moved a little, in reverse order, and a newcomer
CURRENT = _moved(LAST, 2)[::-1] + _people(3, 1)


def test_compute_iou_first_principles():
    # overlap 1x1 of two 2x2 boxes: 1 / (4 + 4 - 1)
    assert compute_iou([0, 0, 2, 2], [1, 1, 3, 3]) == pytest.approx(1 / 7)
    assert compute_iou([0, 0, 2, 2], [5, 5, 6, 6]) == 0
    with pytest.warns(UserWarning, match='union 0'):
        assert compute_iou([1, 1, 1, 1], [1, 1, 1, 1]) == 0


def test_scores_match_mmpose():
    p = CURRENT[0]
    ious = [compute_iou(p['bboxes'][0], q['bboxes'][0]) for q in LAST]
    np.testing.assert_allclose(ious, [0.0, 0.0, 0.0, 0.9051897525787354], atol=1e-6)

    def flat(q):
        return np.concatenate([q['kpts'][0], q['scores'][0][:, None]], 1).reshape(-1)
    oks = oks_iou(flat(p), np.stack([flat(q) for q in LAST]), p['areas'][0],
                  np.array([q['areas'][0] for q in LAST]))
    np.testing.assert_allclose(oks, [0, 0, 0, 0.9333925843238831], atol=1e-6)


@pytest.mark.parametrize('track, thr, expected', [
    (track_by_iou, 0.3, [13, 12, 11, 10, -1]),
    (track_by_iou, 0.9, [13, -1, -1, 10, -1]),
    (track_by_oks, 0.3, [13, 12, 11, 10, -1]),
    (track_by_oks, 0.9, [13, -1, -1, 10, -1]),
])
def test_greedy_ids_match_mmpose(track, thr, expected):
    last = [_sample(p, 10 + i) for i, p in enumerate(LAST)]
    ids = []
    for p in CURRENT:
        track_id, last, matched = track(_sample(p), last, thr)
        ids.append(track_id)
        assert (matched == {}) == (track_id == -1)
        if track_id != -1:
            assert matched.track_id == track_id
    assert ids == expected
    # each match is removed from the list of candidates
    assert len(last) == 4 - sum(i != -1 for i in expected)


def test_oks_without_candidates():
    assert track_by_oks(_sample(CURRENT[0]), [], 0.3) == (-1, [], {})


def test_assign_track_ids_new_ids_and_dropped():
    last = [_sample(p, 10 + i) for i, p in enumerate(LAST)]
    current = [_sample(p) for p in CURRENT]
    # a person with only 2 nonzero keypoint y is dropped (MMPose: y = -10)
    few = dict(_people(4, 1)[0])
    few['kpts'] = np.zeros_like(few['kpts'])
    few['kpts'][0, :2, 1] = 5.0
    current.append(_sample(few))
    next_id = assign_track_ids(current, last, next_id=20, thr=0.9)
    assert [s.track_id for s in current] == [13, 20, 21, 10, 22, -1]
    assert next_id == 23
    assert np.all(current[-1].pred_instances.keypoints[..., 1] == -10)
    assert np.all(current[-1].pred_instances.bboxes == 0)
    assert len(last) == 4  # the caller's list is not consumed
    box = CURRENT[0]['bboxes'][0]
    np.testing.assert_allclose(current[0].pred_instances.areas,
                               [(box[2] - box[0]) * (box[3] - box[1])], rtol=1e-6)
