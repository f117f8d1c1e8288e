"""GetBBoxCenterScale, RandomFlip, RandomHalfBody, RandomBBoxTransform,
FilterAnnotations: hand-checked values and seeded distributions."""
import math

import numpy as np
import pytest

from posekit.datasets.transforms import (FilterAnnotations,
                                         GetBBoxCenterScale,
                                         RandomBBoxTransform, RandomFlip,
                                         RandomHalfBody)
from posekit.datasets.transforms.bbox_transforms import \
    truncated_standard_normal

# COCO: 0 nose, 1/2 left/right eye, 3/4 ears, 5/6 shoulders, ... 15/16 ankles
COCO_FLIP = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]


def _sample(w=100, h=80):
    """A (h, w) image whose pixel (y, x) encodes its own position."""
    ys, xs = np.mgrid[0:h, 0:w]
    img = np.stack([xs, ys, np.zeros_like(xs)], -1).astype(np.uint8)
    keypoints = np.zeros((1, 17, 2), np.float32)
    keypoints[0, :, 0] = np.arange(17) * 3 + 10     # x = 10, 13, ..., 58
    keypoints[0, :, 1] = np.arange(17) * 2 + 5      # y = 5, 7, ..., 37
    visible = np.linspace(0, 1, 17, dtype=np.float32)[None]
    return dict(img=img, img_shape=(h, w),
                bbox=np.array([[10., 20., 50., 60.]], np.float32),
                bbox_center=np.array([[30., 40.]], np.float32),
                keypoints=keypoints, keypoints_visible=visible,
                flip_indices=COCO_FLIP)


def test_get_bbox_center_scale():
    results = GetBBoxCenterScale()(
        dict(bbox=np.array([[10., 20., 50., 100.]], np.float32)))
    np.testing.assert_allclose(results['bbox_center'], [[30., 60.]])
    np.testing.assert_allclose(results['bbox_scale'], [[50., 100.]])
    results = GetBBoxCenterScale(padding=1.0)(
        dict(bbox=np.array([[10., 20., 50., 100.]])))
    np.testing.assert_allclose(results['bbox_scale'], [[40., 80.]])


def test_get_bbox_center_scale_keeps_existing_and_pads():
    results = dict(bbox=np.zeros((1, 4)), bbox_center=np.array([[5., 6.]]),
                   bbox_scale=np.array([[8., 4.]]))
    with pytest.warns(UserWarning, match='existing'):
        results = GetBBoxCenterScale(padding=1.5)(results)
    np.testing.assert_allclose(results['bbox_center'], [[5., 6.]])
    np.testing.assert_allclose(results['bbox_scale'], [[12., 6.]])


def test_horizontal_flip():
    s = _sample()
    out = RandomFlip.flip(_sample(), 'horizontal')
    assert out['flip'] is True and out['flip_direction'] == 'horizontal'
    # pixel x now holds what pixel 99 - x held
    np.testing.assert_array_equal(out['img'], s['img'][:, ::-1])
    assert out['img'].flags['C_CONTIGUOUS']
    # x -> w - 1 - x, and each keypoint takes its mirror partner's values:
    # the new left eye (1) is the old right eye (2) mirrored.
    kp = out['keypoints'][0]
    assert kp[1].tolist() == [99 - s['keypoints'][0, 2, 0],
                              s['keypoints'][0, 2, 1]]
    assert kp[2].tolist() == [99 - 13., 7.]       # old left eye (13, 7)
    assert kp[0].tolist() == [99 - 10., 5.]       # the nose stays the nose
    np.testing.assert_array_equal(out['keypoints_visible'][0],
                                  s['keypoints_visible'][0][COCO_FLIP])
    np.testing.assert_allclose(out['bbox'], [[49., 20., 89., 60.]])
    np.testing.assert_allclose(out['bbox_center'], [[69., 40.]])


def test_vertical_and_diagonal_flip():
    s = _sample()
    out = RandomFlip.flip(_sample(), 'vertical')
    np.testing.assert_array_equal(out['img'], s['img'][::-1])
    assert out['keypoints'][0, 2].tolist() == [13., 79. - 7.]   # swapped too
    np.testing.assert_allclose(out['bbox'], [[10., 19., 50., 59.]])
    out = RandomFlip.flip(_sample(), 'diagonal')
    np.testing.assert_array_equal(out['img'], s['img'][::-1, ::-1])
    # both axes mirrored = a 180 degree turn: left stays left, no swap
    assert out['keypoints'][0, 1].tolist() == [99. - 13., 79. - 7.]
    np.testing.assert_array_equal(out['keypoints_visible'],
                                  s['keypoints_visible'])
    np.testing.assert_allclose(out['bbox'], [[49., 19., 89., 59.]])
    np.testing.assert_allclose(out['bbox_center'], [[69., 39.]])


def test_flip_uses_input_size_and_flips_lists_and_masks():
    s = _sample()
    s['input_size'] = (60, 80)              # (w, h) of an already warped img
    s['img'] = [s['img'], s['img']]
    s['img_mask'] = np.eye(80, 100, dtype=bool)
    out = RandomFlip.flip(s, 'horizontal')
    assert out['keypoints'][0, 0].tolist() == [59. - 10., 5.]
    assert len(out['img']) == 2
    np.testing.assert_array_equal(out['img_mask'],
                                  np.eye(80, 100, dtype=bool)[:, ::-1])


def test_flip_visibility_with_weights_channel():
    s = _sample()
    s['keypoints_visible'] = np.stack(
        [s['keypoints_visible'], np.full((1, 17), 0.5, np.float32)], -1)
    out = RandomFlip.flip(s, 'horizontal')
    assert out['keypoints_visible'].shape == (1, 17, 2)
    assert out['keypoints_visible'][0, 1, 0] == _sample()[
        'keypoints_visible'][0, 2]


def test_random_flip_probabilities():
    np.random.seed(0)
    assert RandomFlip(prob=0.)(_sample())['flip'] is False
    assert RandomFlip(prob=1.)(_sample())['flip_direction'] == 'horizontal'
    flip = RandomFlip(prob=[0.3, 0.2], direction=['horizontal', 'vertical'])
    picks = [flip(dict(img=np.zeros((2, 2, 3), np.uint8), img_shape=(2, 2)))
             ['flip_direction'] for _ in range(4000)]
    assert abs(picks.count('horizontal') / 4000 - 0.3) < 0.03
    assert abs(picks.count('vertical') / 4000 - 0.2) < 0.03
    assert abs(picks.count(None) / 4000 - 0.5) < 0.03
    shared = RandomFlip(prob=0.6, direction=['vertical', 'diagonal'])
    picks = [shared._draw() for _ in range(4000)]
    assert abs(picks.count('diagonal') / 4000 - 0.3) < 0.03


def test_random_flip_rejects_bad_arguments():
    with pytest.raises(ValueError, match='direction'):
        RandomFlip(direction='sideways')
    with pytest.raises(ValueError, match='sum'):
        RandomFlip(prob=[0.7, 0.6], direction=['horizontal', 'vertical'])
    with pytest.raises(ValueError, match='same length'):
        RandomFlip(prob=[0.5], direction=['horizontal', 'vertical'])


def _half_body_sample():
    keypoints = np.zeros((1, 17, 2), np.float32)
    keypoints[0, :, 0] = np.arange(17) * 10.      # x = 0, 10, ..., 160
    keypoints[0, :, 1] = np.arange(17) * 5.       # y = 0, 5, ..., 80
    return dict(keypoints=keypoints, keypoints_visible=np.ones((1, 17)),
                bbox_center=np.array([[1., 2.]], np.float32),
                bbox_scale=np.array([[3., 4.]], np.float32),
                upper_body_ids=list(range(11)),
                lower_body_ids=list(range(11, 17)))


def test_half_body_upper_and_lower():
    np.random.seed(0)
    upper = RandomHalfBody(prob=1., upper_prioritized_prob=1.)(
        _half_body_sample())
    # keypoints 0..10: x 0..100, y 0..50 -> centre (50, 25), size x1.5
    np.testing.assert_allclose(upper['bbox_center'], [[50., 25.]])
    np.testing.assert_allclose(upper['bbox_scale'], [[150., 75.]])
    lower = RandomHalfBody(prob=1., upper_prioritized_prob=0.)(
        _half_body_sample())
    # keypoints 11..16: x 110..160, y 55..80
    np.testing.assert_allclose(lower['bbox_center'], [[135., 67.5]])
    np.testing.assert_allclose(lower['bbox_scale'], [[75., 37.5]])


def test_half_body_needs_enough_visible_keypoints():
    np.random.seed(0)
    s = _half_body_sample()
    s['keypoints_visible'][0, 9:] = 0               # only 9 visible ...
    s['keypoints_visible'] = np.stack(               # ... given as (N, K, 2)
        [s['keypoints_visible'], np.ones((1, 17))], -1)
    out = RandomHalfBody(prob=1., upper_prioritized_prob=0.)(s)
    # lower half has no visible keypoint, so the upper one is used
    np.testing.assert_allclose(out['bbox_center'], [[40., 20.]])
    s = _half_body_sample()
    s['keypoints_visible'][0, 8:] = 0               # 8 < 9: unchanged
    out = RandomHalfBody(prob=1.)(s)
    np.testing.assert_allclose(out['bbox_center'], [[1., 2.]])
    np.testing.assert_allclose(out['bbox_scale'], [[3., 4.]])


def test_truncated_normal_matches_its_distribution():
    np.random.seed(0)
    t = truncated_standard_normal((200000, ))
    assert t.dtype == np.float32 and t.min() >= -1 and t.max() <= 1
    # std of N(0, 1) truncated to [-1, 1]: 1 - 2 phi(1) / (Phi(1) - Phi(-1))
    phi = math.exp(-0.5) / math.sqrt(2 * math.pi)
    mass = math.erf(1 / math.sqrt(2))
    assert abs(t.std() - math.sqrt(1 - 2 * phi / mass)) < 3e-3
    assert abs(t.mean()) < 3e-3


def test_random_bbox_transform_stays_in_range():
    np.random.seed(0)
    transform = RandomBBoxTransform()
    n = 3000
    results = transform(dict(bbox_center=np.full((n, 2), 100., np.float32),
                             bbox_scale=np.full((n, 2), 50., np.float32)))
    shift = (results['bbox_center'] - 100.) / 50.
    factor = results['bbox_scale'] / 50.
    rotation = results['bbox_rotation']
    assert results['bbox_center'].dtype == np.float32
    assert rotation.shape == (n, ) and rotation.dtype == np.float32
    assert np.abs(shift).max() <= 0.16 + 1e-6
    assert factor.min() >= 0.5 - 1e-6 and factor.max() <= 1.5 + 1e-6
    np.testing.assert_allclose(factor[:, 0], factor[:, 1])   # aspect kept
    assert np.abs(rotation).max() <= 80.
    # probabilities: shift 0.3 (both axes at once), scale 1.0, rotate 0.6
    assert abs((np.abs(shift).sum(1) > 0).mean() - 0.3) < 0.03
    assert abs((rotation != 0).mean() - 0.6) < 0.03
    assert (factor != 1).mean() > 0.99


def test_random_bbox_transform_apply_is_deterministic():
    results = RandomBBoxTransform.apply(
        dict(bbox_center=np.array([[10., 20.]]),
             bbox_scale=np.array([[100., 200.]])),
        offset=np.array([[0.1, -0.05]]), scale=np.array([[1.2]]),
        rotation=np.array([30.]))
    np.testing.assert_allclose(results['bbox_center'], [[20., 10.]])
    np.testing.assert_allclose(results['bbox_scale'], [[120., 240.]])
    np.testing.assert_allclose(results['bbox_rotation'], [30.])


def _instances():
    return dict(
        bbox=np.array([[0., 0., 10., 10.], [0., 0., 0.5, 10.],
                       [0., 0., 10., 10.]]),
        bbox_score=np.ones(3), category_id=np.ones(3, int),
        area=np.array([100., 5., 0.5]),
        keypoints=np.zeros((3, 17, 2)),
        keypoints_visible=np.stack([np.ones(17), np.ones(17),
                                    np.zeros(17)])[..., None].repeat(2, -1))


def test_filter_annotations():
    out = FilterAnnotations(by_box=True)(_instances())
    # box test drops #1 (w 0.5 <= 1); keypoint test drops #2 (none visible)
    assert out['bbox'].shape == (1, 4) and out['area'].tolist() == [100.]
    assert out['keypoints_visible'].shape == (1, 17, 2)
    out = FilterAnnotations(by_kpt=False, by_area=True, min_gt_area=1)(
        _instances())
    assert out['area'].tolist() == [100., 5.]


def test_filter_annotations_empty_result():
    none_left = dict(_instances(), keypoints_visible=np.zeros((3, 17)))
    assert FilterAnnotations(keep_empty=True)(dict(none_left)) is None
    out = FilterAnnotations(keep_empty=False)(dict(none_left))
    assert out['keypoints'].shape == (0, 17, 2)
    with pytest.raises(ValueError, match='at least one'):
        FilterAnnotations(by_kpt=False)
