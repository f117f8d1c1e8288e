"""DecoupledHeatmap (CID): sigmas by formula, seeded targets equal to
MMPose's, round trip through decode, bad input."""
import json
import random
from pathlib import Path

import numpy as np
import pytest

from posekit.codecs import DecoupledHeatmap
from posekit.codecs.utils import (get_diagonal_lengths, get_instance_bbox,
                                  get_instance_wise_sigmas)
from posekit.codecs.utils.instance_property import bbox_xyxy_to_corners

FIXTURE = Path(__file__).parents[1] / 'data/fixtures/coco/test_coco.json'


def coco_people(image_id=197388, input_size=512):
    """(5, 17, 2) float32 keypoints of a COCO image scaled into a 512 x 512
    input and (5, 17) visibility (as tests/codecs/test_spr.py)."""
    data = json.loads(FIXTURE.read_text())
    img = next(i for i in data['images'] if i['id'] == image_id)
    anns = [a for a in data['annotations']
            if a['image_id'] == image_id and a['num_keypoints'] > 0]
    kp = np.array([a['keypoints'] for a in anns], np.float32).reshape(
        len(anns), -1, 3)
    s = min(input_size / img['width'], input_size / img['height'])
    return ((kp[..., :2] * s).astype(np.float32),
            np.minimum(kp[..., 2], 1).astype(np.float32))


def make(**kwargs):
    return DecoupledHeatmap(input_size=(512, 512), heatmap_size=(128, 128),
                            **kwargs)


def test_sigma_is_a_third_of_cornernet_radius():
    # box h x w = 20 x 40, overlap 0.7: smallest root of the three quadratics
    h, w, mo = 20., 40., 0.7
    r1 = (h + w + np.sqrt((h + w)**2 - 4 * w * h * (1 - mo) / (1 + mo))) / 2
    r2 = (2 * (h + w) + np.sqrt(4 * (h + w)**2 - 16 * (1 - mo) * w * h)) / 2
    r3 = (-2 * mo * (h + w) + np.sqrt(4 * mo**2 * (h + w)**2 -
                                      16 * mo * (mo - 1) * w * h)) / 2
    corners = bbox_xyxy_to_corners(np.array([[0., 0., w, h]], np.float32))
    assert corners[0].tolist() == [[0, 0], [0, h], [w, 0], [w, h]]
    got = get_instance_wise_sigmas(corners, mo)
    assert got.dtype == np.float32
    assert got[0] == pytest.approx(min(r1, r2, r3) / 3, rel=1e-6)


def test_fixture_targets_match_mmpose():
    kp, vis = coco_people()
    np.random.seed(0)
    random.seed(0)
    enc = make().encode(kp, vis)
    # MMPose 1.3.2 with the same seeds
    assert enc['instance_coords'].dtype == np.int32
    assert enc['instance_coords'].tolist() == [[64, 25], [5, 24], [115, 28],
                                               [58, 38], [107, 52]]
    assert enc['keypoint_weights'].sum(1).tolist() == [16., 13., 15., 16.,
                                                       16.]
    assert enc['heatmaps'].shape == (18, 128, 128)
    assert enc['heatmaps'].sum() == pytest.approx(3670.30126953125, rel=1e-6)
    assert enc['instance_heatmaps'].shape == (5 * 17, 128, 128)
    assert enc['instance_heatmaps'].sum() == pytest.approx(3458.485595703125,
                                                           rel=1e-6)


def test_round_trip_through_decode():
    """Each instance's maps are its own Gaussians, symmetric about their
    peak, so decode returns the peak pixel times the stride (the 0.25 step
    is 0). MMPose's window puts that peak at ``int(mu - 3s) + floor(3s +
    0.5)`` with ``mu = int(kp + 0.5)``: ``mu`` itself, or ``mu - 1`` when the
    fraction of 3s is below 0.5 (CID's sigmas are not integers), which is
    kept for equal targets. So |err| <= 1.5 heatmap px = 6 input px."""
    kp, vis = coco_people()
    np.random.seed(1)
    random.seed(1)
    codec = make()
    enc = codec.encode(kp, vis)
    hm_kp = kp / 4
    order = np.argsort(get_diagonal_lengths(hm_kp, vis))   # small to large
    corners = bbox_xyxy_to_corners(get_instance_bbox(kp, vis)) / 4
    radius = 3 * get_instance_wise_sigmas(corners, 0.7).astype(float)
    mu = np.floor(hm_kp + 0.5)
    r = radius[:, None, None]
    peak = np.trunc(mu - r) + np.floor(r + 0.5)
    maps = enc['instance_heatmaps'].reshape(5, 17, 128, 128)
    out, scores = codec.decode(maps, np.full((5, 1), 0.5, np.float32))
    shown = vis[order] > 0
    np.testing.assert_array_equal(out[shown], (peak[order] * 4)[shown])
    np.testing.assert_array_equal(scores[shown], 0.5)
    assert np.abs(out - kp[order])[shown].max() <= 6


def test_instances_capped_and_empty():
    kp, vis = coco_people()
    enc = make(encode_max_instances=2).encode(kp, vis)
    assert enc['instance_coords'].shape == (2, 2)
    assert enc['instance_heatmaps'].shape == (34, 128, 128)
    enc = make().encode(kp, np.zeros_like(vis))
    assert enc['instance_heatmaps'].shape == (0, 128, 128)
    assert enc['keypoint_weights'].shape == (0, 17)
    assert enc['instance_coords'].shape == (0, 2)


def test_decode_no_person_and_bad_input():
    codec = make()
    out, scores = codec.decode(np.zeros((0, 17, 32, 32)), np.zeros((0, 1)))
    assert out.shape == (0, 17, 2) and scores.shape == (0, 17)
    with pytest.raises(ValueError, match='instance_scores'):
        codec.decode(np.zeros((2, 17, 32, 32)), np.zeros((3, 1)))
    with pytest.raises(ValueError, match='instance_heatmaps'):
        codec.decode(np.zeros((32, 32)), np.zeros((1, 1)))
    kp, vis = coco_people()
    with pytest.raises(ValueError, match='bbox'):
        codec.encode(kp, vis, bbox=np.zeros((5, 4)))
    with pytest.raises(ValueError, match='root_type'):
        make(root_type='nose')
