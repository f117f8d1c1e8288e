"""KeypointConverter: values checked against MMPose 1.3.2 (same inputs, same outputs)."""
import numpy as np
import pytest

from posekit.datasets.transforms import Compose, KeypointConverter
from posekit.registry import TRANSFORMS


def _results(num_instances=2, num_keypoints=5, seed=0):
    rng = np.random.default_rng(seed)
    keypoints = rng.random((num_instances, num_keypoints, 2)).astype(np.float32) * 100
    visible = np.array([[1, 0, 1, 1, 0], [0, 1, 1, 0, 1]], dtype=np.float32)[:num_instances]
    return dict(keypoints=keypoints, keypoints_visible=visible,
                flip_indices=[1, 0, 2, 4, 3])


def test_one_to_one_mapping_copies_and_marks_weights():
    results = _results()
    src_kpts, src_vis = results['keypoints'].copy(), results['keypoints_visible'].copy()
    out = KeypointConverter(num_keypoints=6, mapping=[(0, 2), (1, 0), (3, 5)])(results)
    assert out['keypoints'].shape == (2, 6, 2) and out['keypoints'].dtype == np.float64
    np.testing.assert_allclose(out['keypoints'][:, 2], src_kpts[:, 0])
    np.testing.assert_allclose(out['keypoints'][:, 0], src_kpts[:, 1])
    np.testing.assert_allclose(out['keypoints'][:, 5], src_kpts[:, 3])
    assert np.all(out['keypoints'][:, [1, 3, 4]] == 0)
    assert out['keypoints_visible'].shape == (2, 6, 2)
    np.testing.assert_array_equal(out['keypoints_visible'][..., 0],
                                  [[0, 0, 1, 0, 0, 1], [1, 0, 0, 0, 0, 0]])
    # channel 1 is the loss weight: 1 wherever the mapping writes, visible or not
    np.testing.assert_array_equal(out['keypoints_visible'][..., 1],
                                  [[1, 0, 1, 0, 0, 1]] * 2)
    assert src_vis[0, 1] == 0  # target 0 comes from an invisible source
    # one-to-one mappings pass flip_indices through (CombinedDataset replaces it)
    assert out['flip_indices'] == [1, 0, 2, 4, 3]


def test_pair_mapping_averages_and_multiplies_visibility():
    results = _results()
    src = results['keypoints'].copy()
    out = KeypointConverter(num_keypoints=5, mapping=[((0, 1), 2), (2, 0), (3, 4)])(results)
    np.testing.assert_allclose(out['keypoints'][:, 2], 0.5 * (src[:, 0] + src[:, 1]), rtol=1e-6)
    np.testing.assert_allclose(out['keypoints'][:, 0], src[:, 2])
    # visibility of a midpoint is the product: instance 0 has v = 1, 0 -> 0
    np.testing.assert_array_equal(out['keypoints_visible'][:, 2, 0], [0, 0])
    # flip_indices rewritten as MMPose does: entry i takes flip[src] for a
    # single source, i for a pair; then cut to the number of entries
    assert out['flip_indices'] == [0, 2, 4]


def test_pair_mapping_flip_indices_read_after_write_like_mmpose():
    out = KeypointConverter(5, [((0, 3), 1), (2, 2), ((1, 1), 0)])(_results())
    # entry 2 reads flip[1], which entry 1 has just overwritten with 2
    assert out['flip_indices'] == [0, 2, 2]


def test_missing_visibility_means_visible_and_3d_visibility_uses_channel_0():
    results = _results()
    del results['keypoints_visible']
    out = KeypointConverter(3, [(0, 0), (1, 1), (2, 2)])(results)
    np.testing.assert_array_equal(out['keypoints_visible'][..., 0], np.ones((2, 3)))

    results = _results()
    vis = results['keypoints_visible']
    results['keypoints_visible'] = np.stack([vis, vis * 0.5], axis=-1)
    out = KeypointConverter(5, [(i, i) for i in range(5)])(results)
    np.testing.assert_array_equal(out['keypoints_visible'][..., 0], vis)


def test_keypoints_3d_are_converted_with_lifting_targets():
    results = _results()
    results['keypoints_3d'] = np.arange(30, dtype=np.float64).reshape(2, 5, 3)
    results['target_idx'] = [1]
    out = KeypointConverter(4, [(4, 0), (0, 3)])(results)
    assert out['keypoints_3d'].shape == (2, 4, 3)
    np.testing.assert_array_equal(out['keypoints_3d'][1, 0], [27, 28, 29])
    np.testing.assert_array_equal(out['keypoints'][1, 0], [27, 28])
    np.testing.assert_array_equal(out['lifting_target'], out['keypoints_3d'][[1]])
    np.testing.assert_array_equal(out['lifting_target_visible'], [[1, 0, 0, 0]])


def test_empty_mapping_gives_all_zero_outputs():
    out = KeypointConverter(3, [])(_results())
    assert out['keypoints'].shape == (2, 3, 2) and not out['keypoints'].any()
    assert not out['keypoints_visible'].any()


@pytest.mark.parametrize('mapping, match', [
    ([(0, 5)], 'out of range'),
    ([((0, 1, 2), 0)], 'pair'),
    ([(0,)], r'\(src, dst\)'),
])
def test_bad_mapping_raises(mapping, match):
    with pytest.raises(ValueError, match=match):
        KeypointConverter(num_keypoints=5, mapping=mapping)


def test_registered_and_composable():
    mapping = [(0, 1), (1, 0)]
    conv = TRANSFORMS.build(dict(type='KeypointConverter', num_keypoints=2, mapping=mapping))
    assert repr(conv) == 'KeypointConverter(num_keypoints=2, mapping=[(0, 1), (1, 0)])'
    pipeline = Compose([dict(type='mmpose.KeypointConverter', num_keypoints=2, mapping=mapping),
                        lambda r: dict(r, seen=True)])
    out = pipeline(dict(keypoints=np.array([[[1., 2.], [3., 4.]]])))
    np.testing.assert_array_equal(out['keypoints'], [[[3, 4], [1, 2]]])
    assert out['seen']
