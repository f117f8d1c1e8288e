"""AssociativeEmbedding: targets by hand, grouping of overlapping people,
decoding steps derived from first principles, MMPose values."""
import numpy as np
import pytest

from posekit.codecs import AssociativeEmbedding
from posekit.codecs.utils import (group_keypoints_by_tags, heatmap_nms,
                                  topk_flat)
from posekit.codecs.utils.grouping import min_cost_assignment

ORDER = [0, 1, 2, 3, 4, 5, 6, 11, 12, 7, 8, 9, 10, 13, 14, 15, 16]


def make(K=17, **kwargs):
    cfg = dict(input_size=(256, 256), heatmap_size=(64, 64), sigma=2,
               decode_keypoint_order=list(range(K)) if K != 17 else ORDER)
    cfg.update(kwargs)
    return AssociativeEmbedding(**cfg)


def test_encode_by_hand():
    # stride 4: input (20, 24) -> heatmap (5, 6) -> flat index 6 * 64 + 5
    kp = np.array([[[20., 24.], [20., 24.], [-40., 24.]]], np.float32)
    enc = make(K=3).encode(kp, np.array([[1., 0., 1.]], np.float32))
    assert enc['heatmaps'][0, 6, 5] == 1.0
    assert enc['heatmaps'][0, 6, 6] == pytest.approx(np.exp(-1 / 8), 1e-6)
    assert not enc['heatmaps'][1:].any()
    assert enc['keypoint_indices'].dtype == np.int64
    # x = int(-10 + 0.5) = -9 (truncation toward 0): index 6 * 64 - 9
    assert enc['keypoint_indices'].tolist() == [[[389, 1], [389, 0],
                                                [6 * 64 - 9, 0]]]
    assert enc['keypoint_weights'].tolist() == [[1., 0., 0.]]
    assert make(K=3, sigma=None).sigma == 1.0          # sqrt(64 * 64) / 64
    np.testing.assert_allclose(make(use_udp=True).scale_factor, 255 / 63)


def test_nms_and_topk():
    hm = np.zeros((1, 1, 6, 6), np.float32)
    hm[0, 0, 1, 1], hm[0, 0, 2, 2], hm[0, 0, 5, 5] = 0.5, 0.9, 0.9
    peaks = heatmap_nms(hm, 3)
    assert peaks[0, 0, 1, 1] == 0 and peaks[0, 0, 2, 2] == 0.9
    vals, idx = topk_flat(peaks.reshape(1, -1), 3)
    assert vals.tolist() == [[np.float32(0.9)] * 2 + [0.]]
    assert idx[0, :2].tolist() == [14, 35]        # ties: lower index first


def test_assignment_ties_follow_munkres():
    # rows are equally cheap on columns 0 and 1: munkres' solver gives row 0
    # the first free minimum (column 0) and row 1 the other
    cost = np.array([[-0.5, -0.5, 100.], [-0.4, -0.4, 100.]])
    assert min_cost_assignment(cost).tolist() == [0, 1]
    cost = np.array([[3., 1., 2.], [1., 3., 2.]])
    assert min_cost_assignment(cost).tolist() == [1, 0]


def test_grouping_by_hand():
    # keypoint 0: two candidates with tags 0 and 5 open two groups;
    # keypoint 1: tag 4.8 joins group "5", tag 9 is too far (> 1): new group
    vals = np.array([[0.9, 0.8], [0.7, 0.6]], np.float32)
    tags = np.array([[[0.], [5.]], [[4.8], [9.]]], np.float32)
    locs = np.array([[[1, 2], [3, 4]], [[5, 6], [7, 8]]])
    g = group_keypoints_by_tags(vals, tags, locs, [0, 1], val_thr=0.1)
    np.testing.assert_allclose(g, [
        [[1, 2, 0.9], [0, 0, 0]],
        [[3, 4, 0.8], [5, 6, 0.7]],
        [[0, 0, 0], [7, 8, 0.6]]])


def test_decode_steps_by_hand():
    """One person, two keypoints (stride 4, no UDP): keypoint 0 peaks at
    (10, 20) with a higher right and upper neighbour -> (10.25, 19.75)
    heatmap px; keypoint 1 is below the 0.1 threshold, so it is filled at
    its strongest pixel among those of rounded tag distance 0 from the
    instance tag; the instance score is the mean before filling, 0.5."""
    hm = np.zeros((1, 2, 64, 64), np.float32)
    hm[0, 0, 20, 10], hm[0, 0, 20, 11], hm[0, 0, 19, 10] = 1., .5, .3
    hm[0, 1, 40, 30] = 0.05
    tags = np.zeros((1, 2, 64, 64), np.float32)
    tags[0, 1, 40, 30] = 3.        # tag distance 3: not this instance's
    tags[0, 1, 10, 10] = 0.2       # response 0 here, but distance rounds to 0
    kpts, scores, inst = make(K=2, decode_center_shift=0.5).batch_decode(
        hm, tags)
    np.testing.assert_allclose(kpts[0], [[[10.75 * 4, 20.25 * 4],
                                          [0., 0.]]])
    np.testing.assert_allclose(scores[0], [[1., 0.]])
    np.testing.assert_allclose(inst[0], [0.5])
    tags[0, 1, 40, 30] = 0.
    kpts, scores, _ = make(K=2).batch_decode(hm, tags)
    np.testing.assert_allclose(kpts[0][0, 1], [120., 160.])
    assert scores[0][0, 1] == np.float32(0.05)


def _two_overlapping_people(rng):
    """(2, 17, 2) input pixels: one person and a copy 16 px (4 heatmap px)
    away: their boxes overlap almost entirely and their Gaussians touch,
    while same-type keypoints stay outside each other's 5 x 5 NMS window."""
    a = rng.uniform(40, 200, (1, 17, 2))
    return np.concatenate((a, a + 16.)).astype(np.float32)


@pytest.mark.parametrize('use_udp', [False, True])
def test_round_trip_keeps_overlapping_people_apart(use_udp):
    """Tags built from the ground truth (person n has tag 3n where its
    Gaussian dominates) must give back both people. Bound: the peak is the
    rounded heatmap pixel (<= 0.5 px off per axis) and the quarter step or
    UDP's Newton step moves it by <= 0.25 px toward the true position or
    away when the other person's Gaussian skews a neighbour; so |err| <=
    0.75 heatmap px = 3 input px (stride 4) per axis."""
    rng = np.random.default_rng(0)
    codec = make(use_udp=use_udp)
    for _ in range(3):
        kp = _two_overlapping_people(rng)
        hm = codec.encode(kp)['heatmaps']
        own = np.stack([codec.encode(kp[n:n + 1])['heatmaps']
                        for n in range(2)])
        tags = (own.argmax(0) * 3.).astype(np.float32)
        kpts, scores, inst = codec.batch_decode(hm[None], tags[None])
        out = kpts[0]
        assert out.shape == (2, 17, 2)
        # match decoded to true people by their mean position
        first = np.argmin(np.abs(out.mean(1)[:, None] - kp.mean(1)[None])
                          .sum(-1), axis=1)
        assert sorted(first.tolist()) == [0, 1]
        err = np.abs(out - kp[first]).max()
        assert err <= 0.75 * codec.scale_factor.max() + 1e-4
        assert np.all(scores[0] > 0.5) and np.all(inst[0] > 0.5)


def test_no_person_and_bad_input():
    codec = make()
    kpts, scores, inst = codec.batch_decode(np.zeros((2, 17, 64, 64)),
                                            np.zeros((2, 17, 64, 64)))
    assert [k.shape for k in kpts] == [(0, 17, 2)] * 2
    assert scores[0].shape == (0, 17) and inst[0].shape == (0, )
    with pytest.raises(ValueError, match='batch_tags'):
        codec.batch_decode(np.zeros((1, 17, 64, 64)),
                           np.zeros((1, 17, 32, 32)))
    with pytest.raises(ValueError, match='batch_heatmaps'):
        codec.batch_decode(np.zeros((17, 64, 64)), np.zeros((17, 64, 64)))
    with pytest.raises(ValueError, match='decode_keypoint_order'):
        make(decode_keypoint_order=[0, 1]).batch_decode(
            np.zeros((1, 17, 8, 8)), np.zeros((1, 17, 8, 8)))
    with pytest.raises(ValueError, match='decode_nms_kernel'):
        make(decode_nms_kernel=4)
    with pytest.raises(NotImplementedError):
        codec.decode(None)


def test_topk_flat_equals_a_stable_full_sort():
    """The one-pass selection keeps what a stable descending sort of the
    whole row keeps: larger values first, equal values by increasing index
    (ties here are many: values rounded to fifths, half the row zero)."""
    rng = np.random.default_rng(0)
    for trial in range(60):
        values = np.round(rng.random((2, 3, 257)) * 5) / 5
        values[..., ::2] = 0
        if trial % 2:
            values = -values
        k = int(rng.integers(1, 40))
        vals, idx = topk_flat(values, k)
        full = np.argsort(-values, axis=-1, kind='stable')[..., :k]
        np.testing.assert_array_equal(idx, full)
        np.testing.assert_array_equal(vals, np.take_along_axis(values, full, -1))
        assert idx.dtype == np.int64
