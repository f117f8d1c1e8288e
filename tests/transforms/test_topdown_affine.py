"""TopdownAffine: centre, aspect ratio, edges, rotation and UDP."""
import numpy as np
import pytest

from posekit.datasets.transforms import TopdownAffine
from posekit.registry import TRANSFORMS


def _sample(center=(120., 90.), scale=(60., 80.), rotation=None):
    img = np.zeros((200, 300, 3), np.uint8)
    cx, cy = int(center[0]), int(center[1])
    img[cy - 1:cy + 2, cx - 1:cx + 2] = 255          # a 3x3 dot on the centre
    sw, sh = scale
    keypoints = np.array([[[cx, cy],                  # centre
                           [cx - sw / 2, cy],          # left edge of the box
                           [cx + sw / 2, cy],          # right edge
                           [cx + 10, cy]]], np.float32)
    results = dict(img=img, bbox_center=np.array([center], np.float32),
                   bbox_scale=np.array([scale], np.float32),
                   keypoints=keypoints,
                   keypoints_visible=np.ones((1, 4), np.float32))
    if rotation is not None:
        results['bbox_rotation'] = np.array([rotation], np.float32)
    return results


def test_centre_maps_to_input_centre_and_shape():
    out = TRANSFORMS.build(dict(type='TopdownAffine',
                                input_size=(192, 256)))(_sample())
    assert out['img'].shape == (256, 192, 3) and out['img'].dtype == np.uint8
    kp = out['transformed_keypoints'][0]
    np.testing.assert_allclose(kp[0], [96., 128.], atol=1e-4)
    # the dot is drawn where the centre keypoint landed
    ys, xs = np.nonzero(out['img'][..., 0] > 128)
    assert abs(xs.mean() - 96) < 2 and abs(ys.mean() - 128) < 2
    assert out['input_size'] == (192, 256)
    np.testing.assert_allclose(out['input_center'], [120., 90.])
    assert out['transformed_keypoints'].dtype == np.float32


def test_fix_aspect_ratio_and_edges():
    # box 60x80 is taller than 192/256 = 0.75 wide: w grows to 80 * 0.75 = 60
    out = TopdownAffine((192, 256))(_sample(scale=(60., 80.)))
    np.testing.assert_allclose(out['bbox_scale'], [[60., 80.]])
    # box 90x80 is too wide: h grows to 90 / 0.75 = 120
    out = TopdownAffine((192, 256))(_sample(scale=(90., 80.)))
    np.testing.assert_allclose(out['bbox_scale'], [[90., 120.]])
    np.testing.assert_allclose(out['input_scale'], [90., 120.])
    kp = out['transformed_keypoints'][0]
    # box edges land on the input's edges x = 0 and x = w; 10 px = 10 * k
    np.testing.assert_allclose(kp[1], [0., 128.], atol=1e-4)
    np.testing.assert_allclose(kp[2], [192., 128.], atol=1e-4)
    np.testing.assert_allclose(kp[3], [96. + 10 * 192 / 90, 128.], atol=1e-4)


def test_rotation():
    out = TopdownAffine((192, 256))(_sample(rotation=90.))
    kp = out['transformed_keypoints'][0]
    # +90 degrees: a point 10 px right of the centre ends up above it
    # (zoom 192 / 60 = 3.2 px per image pixel)
    np.testing.assert_allclose(kp[3], [96., 128. - 32.], atol=1e-3)


def test_udp_maps_edges_to_pixel_centres():
    out = TopdownAffine((192, 256), use_udp=True)(_sample(scale=(90., 80.)))
    kp = out['transformed_keypoints'][0]
    np.testing.assert_allclose(kp[0], [95.5, 127.5], atol=1e-3)
    np.testing.assert_allclose(kp[1], [0., 127.5], atol=1e-3)
    np.testing.assert_allclose(kp[2], [191., 127.5], atol=1e-3)
    assert out['img'].shape == (256, 192, 3)


def test_extra_coordinates_and_image_lists():
    s = _sample()
    s['keypoints'] = np.concatenate(
        [s['keypoints'], np.full((1, 4, 1), 7., np.float32)], -1)
    s['img'] = [s['img'], s['img'][..., :1].copy()]
    out = TopdownAffine((192, 256))(s)
    assert out['transformed_keypoints'].shape == (1, 4, 3)
    np.testing.assert_array_equal(out['transformed_keypoints'][0, :, 2], 7.)
    np.testing.assert_array_equal(out['keypoints'], s['keypoints'])
    assert [i.shape[:2] for i in out['img']] == [(256, 192)] * 2


def test_without_keypoints_and_bad_input():
    s = _sample()
    del s['keypoints']
    out = TopdownAffine((192, 256))(s)
    assert out['transformed_keypoints'].shape == ()
    assert out['keypoints_visible'].shape == (1, 1, 1)
    two = _sample()
    two['bbox_center'] = np.zeros((2, 2), np.float32)
    two['bbox_scale'] = np.ones((2, 2), np.float32)
    with pytest.raises(ValueError, match='one instance'):
        TopdownAffine((192, 256))(two)
    with pytest.raises(ValueError, match='input_size'):
        TopdownAffine((192., 256.))


def test_fast_warp_is_bit_identical_to_opencv():
    import cv2

    from posekit.datasets.transforms.topdown_transforms import warp_image
    from posekit.structures import get_warp_matrix
    rng = np.random.RandomState(0)
    # sizes vary, so the reused scratch buffer grows and is re-sliced
    for shape in [(123, 217, 3)] * 10 + [(300, 400, 3)] * 5 + [(50, 60, 3)] * 5:
        img = rng.randint(0, 256, shape, np.uint8)
        center = rng.rand(2) * [shape[1], shape[0]]
        scale = rng.uniform(10, 400, 2)
        matrix = get_warp_matrix(center, scale, rng.uniform(-90, 90),
                                 (48, 64))
        expected = cv2.warpAffine(img, matrix, (48, 64),
                                  flags=cv2.INTER_LINEAR)
        np.testing.assert_array_equal(warp_image(img, matrix, (48, 64)),
                                      expected)
