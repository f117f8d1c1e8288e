"""Hand3DHeatmap: 3D Gaussian volumes, root depth bins, hand type.

Expected values are derived in the docstrings or, where marked, written from
MMPose 1.3.2's ``Hand3DHeatmap`` run on the same inputs (posekit matched it
bit for bit, including the real InterNet codec on random inputs).
"""
import numpy as np
import pytest

from posekit.codecs import Hand3DHeatmap
from posekit.registry import KEYPOINT_CODECS

SMALL = dict(image_size=[32, 32], heatmap_size=[8, 8, 8], sigma=1.5,
             max_bound=1.0, depth_size=8, root_heatmap_size=8,
             heatmap_size_root=8)
HAND = dict(rel_root_depth=np.float32(-120.), rel_root_valid=np.float32(1.),
            hand_type=np.array([[0, 1]], np.float32),
            hand_type_valid=np.array([1]))


def _codec(**kw):
    return KEYPOINT_CODECS.build(dict(type='Hand3DHeatmap', **{**SMALL, **kw}))


def test_peak_and_neighbours_at_an_integer_voxel():
    """x=12, y=20 px with stride 4 -> voxel (3, 5); z=100 mm with bound 400
    and D=8 -> (100 / 400 + 0.5) * 8 = 6. The peak is max_bound and a face
    neighbour exp(-1 / (2 sigma^2)) * max_bound."""
    codec = _codec(sigma=1.0, max_bound=255)
    enc = codec.encode(np.array([[[12., 20., 100.]]], np.float32), None,
                       **HAND)
    hm = enc['heatmaps'].reshape(1, 8, 8, 8)
    assert hm[0, 6, 5, 3] == pytest.approx(255)
    np.testing.assert_allclose(hm[0, 6, 5, [2, 4]], 255 * np.exp(-0.5),
                               rtol=1e-6)
    np.testing.assert_allclose(hm[0, 5, 5, 3], 255 * np.exp(-0.5), rtol=1e-6)
    # beyond 3 sigma nothing is drawn
    assert hm[0, 6, 5, 7] == 0
    np.testing.assert_array_equal(enc['keypoint_weights'], [[1.]])


def test_encode_matches_mmpose_with_border_clipping():
    """Values written from MMPose 1.3.2 (keypoints off the volume paint its
    border; the third keypoint is outside in x)."""
    kp = np.array([[[1.3, 30.7, -190.0], [15.2, 9.9, 33.3], [40., 10., 0.]]],
                  np.float32)
    enc = _codec().encode(kp, np.ones((1, 3), np.float32), **HAND)
    hm = enc['heatmaps'].reshape(3, 8, 8, 8)
    np.testing.assert_allclose(hm.reshape(3, -1).sum(1),
                               [11.6938705, 50.1755409, 1.1981113], rtol=1e-5)
    np.testing.assert_allclose(hm.reshape(3, -1).max(1),
                               [0.8749302, 0.9195986, 0.1280217], rtol=1e-5)
    np.testing.assert_allclose(hm[0, 0, 7, 0:3], [0.8749302, 0.8094591,
                                                   0.4801719], rtol=1e-5)
    np.testing.assert_allclose(hm[1, 4, 2, 3:6], [0.7475687, 0.8541951,
                                                   0.6258110], rtol=1e-5)
    # root: (-120 / 400 + 0.5) * 8 = 1.6 bins
    np.testing.assert_allclose(enc['root_depth'], [1.6], rtol=1e-6)
    np.testing.assert_array_equal(enc['root_depth_weight'], [1.])
    np.testing.assert_array_equal(enc['type'], [[0., 1.]])
    np.testing.assert_array_equal(enc['type_weight'], [1])


def test_weights_zero_outside_the_depth_range_and_root_range():
    """z = 250 mm -> (0.625 + 0.5) * 8 = 9 >= D: weight 0. Root -250 mm ->
    (-0.625 + 0.5) * 8 = -1 < 0: root weight 0."""
    kp = np.array([[[12., 20., 250.], [12., 20., 0.]]], np.float32)
    enc = _codec().encode(kp, np.array([[1., 0.]], np.float32),
                          **{**HAND, 'rel_root_depth': np.float32(-250.)})
    np.testing.assert_array_equal(enc['keypoint_weights'], [[0., 0.]])
    np.testing.assert_array_equal(enc['root_depth_weight'], [0.])
    np.testing.assert_allclose(enc['root_depth'], [-1.])


def test_round_trip_and_decode_formulas():
    """Integer voxels decode back exactly: x, y times stride 4, z by
    (z_bin / depth_size - 0.5) * 400. Root bin 5.5 of 8 -> (5.5 / 8 - 0.5)
    * 400 = 75 mm; logits > 0 -> hand type 1."""
    codec = _codec(sigma=1.0)
    kp = np.array([[[12., 20., 100.], [28., 4., -200.]]], np.float32)
    enc = codec.encode(kp, None, **HAND)
    keypoints, scores, root, hand = codec.decode(
        enc['heatmaps'].reshape(2, 8, 8, 8), np.array([5.5], np.float32),
        np.array([0.3, -0.2], np.float32))
    np.testing.assert_allclose(keypoints, kp)
    np.testing.assert_allclose(scores, [[1., 1.]])
    np.testing.assert_allclose(root, [75.])
    np.testing.assert_array_equal(hand, [[1, 0]])


def test_non_positive_maxima_decode_to_minus_one():
    """A volume <= 0 everywhere gives location (-1, -1, -1) before scaling:
    x, y = -1 * 4 and z = (-1 / 8 - 0.5) * 400 = -250."""
    codec = _codec()
    hm = np.zeros((1, 8, 8, 8), np.float32)
    keypoints, scores, _, _ = codec.decode(hm, np.zeros(1), np.zeros(2))
    np.testing.assert_allclose(keypoints, [[[-4., -4., -250.]]])
    np.testing.assert_array_equal(scores, [[0.]])


def test_missing_hand_type_and_joint_weights_raise():
    codec = _codec()
    kp = np.zeros((1, 1, 3), np.float32)
    with pytest.raises(ValueError, match='hand_type'):
        codec.encode(kp)
    codec = _codec(use_different_joint_weights=True)
    with pytest.raises(ValueError, match='dataset_keypoint_weights'):
        codec.encode(kp, **HAND)
    enc = codec.encode(kp + [[[12., 20., 0.]]], dataset_keypoint_weights=
                       np.array([0.5]), **HAND)
    np.testing.assert_array_equal(enc['keypoint_weights'], [[0.5]])


def test_config_defaults_and_routing():
    codec = Hand3DHeatmap(image_size=[256, 256], heatmap_size=[64, 64, 64])
    np.testing.assert_array_equal(codec.scale_factor, [4., 4.])
    assert codec.heatmap3d_depth_bound == 400.0
    assert codec.root_depth_bound == 400.0
    routed = {**codec.field_mapping_table, **codec.label_mapping_table}
    enc = _codec().encode(np.zeros((1, 2, 3), np.float32), **HAND)
    assert set(enc) <= set(routed)
