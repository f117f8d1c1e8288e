"""Keypoint flips and clipping against values worked out by hand."""
import numpy as np
import pytest

from posekit.structures.keypoint import (flip_keypoints,
                                         flip_keypoints_custom_center,
                                         keypoint_clip_border)

# keypoint 0 is central, 1 and 2 are a left/right pair
KPTS = np.array([[[10., 20.], [30., 40.], [50., 60.]]])
VIS = np.array([[1., 0.5, 0.]])
FLIP_INDICES = [0, 2, 1]
SIZE = (200, 150)  # x -> 199 - x, y -> 149 - y


@pytest.mark.parametrize('direction, expected, vis', [
    ('horizontal', [[189., 20.], [149., 60.], [169., 40.]], [1., 0., 0.5]),
    ('vertical', [[10., 129.], [50., 89.], [30., 109.]], [1., 0., 0.5]),
    ('diagonal', [[189., 129.], [169., 109.], [149., 89.]], [1., 0.5, 0.]),
])
def test_flip_keypoints(direction, expected, vis):
    before = KPTS.copy()
    kpts, visible = flip_keypoints(KPTS, VIS, SIZE, FLIP_INDICES, direction)
    np.testing.assert_allclose(kpts, [expected])
    np.testing.assert_allclose(visible, [vis])
    np.testing.assert_array_equal(KPTS, before)  # input untouched


def test_flip_keypoints_visibility_with_weights_and_none():
    vis2 = np.stack([VIS, VIS * 2], axis=-1)  # (1, 3, 2)
    _, visible = flip_keypoints(KPTS, vis2, SIZE, FLIP_INDICES)
    np.testing.assert_allclose(visible, [[[1., 2.], [0., 0.], [0.5, 1.]]])
    kpts, visible = flip_keypoints(KPTS, None, SIZE, FLIP_INDICES)
    assert visible is None and kpts[0, 1, 0] == 149.


def test_flip_keypoints_keeps_depth_and_checks_inputs():
    kpts3d = np.concatenate([KPTS, np.full((1, 3, 1), 7.)], axis=-1)
    kpts, _ = flip_keypoints(kpts3d, VIS, SIZE, FLIP_INDICES, 'diagonal')
    np.testing.assert_allclose(kpts[0, 0], [189., 129., 7.])
    with pytest.raises(ValueError, match='direction'):
        flip_keypoints(KPTS, VIS, SIZE, FLIP_INDICES, 'up')
    with pytest.raises(ValueError, match='do not match'):
        flip_keypoints(KPTS, VIS[:, :2], SIZE, FLIP_INDICES)


def test_flip_custom_center_static_and_root():
    kpts = np.array([[[0.2, 1., 5.], [0.1, 2., 6.], [0.4, 3., 7.]]])
    vis = np.array([[1., 0.5, 0.]])
    out, out_vis = flip_keypoints_custom_center(kpts, vis, FLIP_INDICES)
    # x -> 2 * 0.5 - x after swapping keypoints 1 and 2
    np.testing.assert_allclose(
        out, [[[0.8, 1., 5.], [0.6, 3., 7.], [0.9, 2., 6.]]])
    np.testing.assert_allclose(out_vis, [[1., 0., 0.5]])
    out, _ = flip_keypoints_custom_center(
        kpts, vis, FLIP_INDICES, center_mode='root', center_index=0)
    np.testing.assert_allclose(out[0, :, 0], [0.2, 0.0, 0.3])  # x_c = 0.2
    # root mode works per pose for several frames
    frames = np.concatenate([kpts, kpts + [1., 0., 0.]])
    out, _ = flip_keypoints_custom_center(
        frames, np.concatenate([vis, vis]), FLIP_INDICES, 'root',
        center_index=[1, 2])  # x_c = 0.25 and 1.25
    np.testing.assert_allclose(out[:, 0, 0], [0.3, 1.3])
    with pytest.raises(ValueError, match='center_mode'):
        flip_keypoints_custom_center(kpts, vis, FLIP_INDICES, 'mean')


def test_keypoint_clip_border():
    kpts = np.array([[[-1., 5.], [100., 80.], [50., 81.], [50., 40.]]])
    vis = np.ones((1, 4))
    out_k, out_v = keypoint_clip_border(kpts, vis, (100, 80))
    assert out_v is vis and out_k is kpts
    np.testing.assert_allclose(vis, [[0., 1., 0., 1.]])
    vis2 = np.ones((1, 4, 2))
    keypoint_clip_border(kpts, vis2, (100, 80))
    np.testing.assert_allclose(vis2[..., 0], [[0., 1., 0., 1.]])
    np.testing.assert_allclose(vis2[..., 1], 1.)
