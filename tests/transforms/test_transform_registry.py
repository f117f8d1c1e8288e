"""Every transform of this package: registered, documented, built from a
config dict, and run on one common top-down sample, where it changes exactly
the keys its docstring lists (all others stay bit-identical) to values
derived here by hand.

The sample: a 120x160 (w x h) image, one box (40, 20)-(100, 120), so centre
(70, 70), size (60, 100) and, padded by 1.25, scale (75, 125); 17 visible
COCO keypoints inside the box.
"""
import re

import numpy as np
import pytest

from posekit.registry import TRANSFORMS

COCO_FLIP = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
MSRA = dict(type='MSRAHeatmap', input_size=(192, 256), heatmap_size=(48, 64),
            sigma=2)
W, H = 120, 160

# name -> constructor arguments (others use defaults); random transforms
# get arguments whose draws cannot change the result
ARGS = {
    'Albumentation': dict(transforms=[dict(type='ToGray', p=1.0)]),
    'Compose': dict(transforms=[dict(type='GetBBoxCenterScale')]),
    'LoadImage': {},
    'GetBBoxCenterScale': {},
    'KeypointConverter': dict(num_keypoints=17,
                              mapping=[(i, j) for i, j in enumerate(COCO_FLIP)]),
    'RandomFlip': dict(prob=1.0),
    'RandomHalfBody': dict(prob=1.0, upper_prioritized_prob=1.0),
    'RandomBBoxTransform': dict(shift_prob=1.0, shift_factor=0.,
                                scale_factor=(1.5, 1.5), rotate_prob=1.0,
                                rotate_factor=0.),
    'TopdownAffine': dict(input_size=(192, 256)),
    'PhotometricDistortion': {},
    'YOLOXHSVRandomAug': {},
    'FilterAnnotations': {},
    'GenerateTarget': dict(encoder=MSRA),
    'PackPoseInputs': {},
    'BottomupRandomAffine': dict(input_size=(60, 80), shift_prob=0.,
                                 scale_prob=0., rotate_prob=0.),
    'BottomupResize': dict(input_size=(64, 64), resize_mode='fit'),
    'BottomupGetHeatmapMask': {},
    # mixing needs other samples of a dataset: here only prob=0 (the sample
    # passes untouched); tests/transforms/test_mix_img_transforms.py has
    # their values
    'Mosaic': dict(img_scale=(64, 64), prob=0.0),
    'YOLOXMixUp': dict(img_scale=(64, 64), prob=0.0),
    # lifting samples have no image: here only prob=0 (untouched);
    # tests/transforms/test_pose3d_transforms.py has its values
    'RandomFlipAroundRoot': dict(keypoints_flip_cfg={}, target_flip_cfg={},
                                 flip_prob=0.0),
    # two-hand samples: here only prob=0 (a no-flip record);
    # tests/transforms/test_hand_transforms.py has its values
    'HandRandomFlip': dict(prob=0.0),
}

# the keys each transform adds or changes on the common sample
CHANGES = {
    'Albumentation': {'img'},
    'Compose': {'bbox_center', 'bbox_scale'},
    'LoadImage': {'ori_shape'},          # img and img_shape were there already
    'GetBBoxCenterScale': {'bbox_center', 'bbox_scale'},
    'KeypointConverter': {'keypoints', 'keypoints_visible'},
    'RandomFlip': {'img', 'bbox', 'bbox_center', 'keypoints', 'flip',
                   'flip_direction'},
    'RandomHalfBody': {'bbox_center', 'bbox_scale'},
    'RandomBBoxTransform': {'bbox_scale', 'bbox_rotation'},
    'TopdownAffine': {'img', 'bbox_scale', 'transformed_keypoints',
                      'input_size', 'input_center', 'input_scale'},
    'PhotometricDistortion': {'img'},
    'YOLOXHSVRandomAug': {'img'},
    'FilterAnnotations': set(),          # the one instance passes
    'GenerateTarget': {'heatmaps', 'keypoint_weights', 'field_mapping_table',
                       'label_mapping_table', 'encoded_keys'},
    'PackPoseInputs': {'inputs', 'data_samples'},   # a new dict
    'BottomupRandomAffine': {'img', 'keypoints', 'bbox', 'input_size',
                             'warp_mat'},
    'BottomupResize': {'img', 'img_shape', 'input_size', 'input_center',
                       'input_scale', 'aug_scale'},
    'BottomupGetHeatmapMask': {'heatmap_mask'},
    'Mosaic': set(),
    'YOLOXMixUp': set(),
    'RandomFlipAroundRoot': set(),
    'HandRandomFlip': {'flip', 'flip_direction'},
}

# a container: the transforms it runs say what they read and write
UNDOCUMENTED_KEYS = {'Compose'}


def registered_transforms():
    return sorted(name for name in TRANSFORMS.keys()
                  if TRANSFORMS.get(name).__module__.startswith('posekit.'))


def test_every_registered_transform_has_an_example():
    assert set(registered_transforms()) == set(ARGS) == set(CHANGES)


def _sample():
    rng = np.random.RandomState(0)
    keypoints = (rng.rand(1, 17, 2) * [60, 100] + [40, 20]).astype(np.float32)
    return dict(img=rng.randint(0, 256, (H, W, 3), np.uint8),
                img_shape=(H, W), img_path=None,
                bbox=np.array([[40., 20., 100., 120.]], np.float32),
                bbox_score=np.ones(1, np.float32),
                keypoints=keypoints,
                keypoints_visible=np.ones((1, 17), np.float32),
                flip_indices=COCO_FLIP, upper_body_ids=list(range(11)),
                lower_body_ids=list(range(11, 17)),
                bbox_center=np.array([[70., 70.]], np.float32),
                bbox_scale=np.array([[75., 125.]], np.float32))


def _run(name):
    if name == 'Albumentation':
        pytest.importorskip('albumentations')
    sample = _sample()
    if name in ('GetBBoxCenterScale', 'Compose'):   # computed from the bbox
        del sample['bbox_center'], sample['bbox_scale']
    transform = TRANSFORMS.build(dict(type=name, **ARGS[name]))
    np.random.seed(0)
    return transform, transform(dict(sample))


def _equal(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (type(a) is type(b) and a.dtype == b.dtype
                and np.array_equal(a, b))
    return type(a) is type(b) and a == b


def _documented_keys(doc):
    """The text of the Modified / Added / Returns sections."""
    parts = re.split(r'\n\s*(Required Keys:|Modified Keys:|Added Keys:|'
                     r'Returns a new dict:|Args:|Raises:)', doc)
    return ' '.join(body for head, body in zip(parts[1::2], parts[2::2])
                    if head in ('Modified Keys:', 'Added Keys:',
                                'Returns a new dict:'))


@pytest.mark.parametrize('name', registered_transforms())
def test_registered_documented_and_builds(name):
    assert name in TRANSFORMS
    doc = TRANSFORMS.get(name).__doc__ or ''
    if name not in UNDOCUMENTED_KEYS:
        assert 'Required Keys:' in doc
        assert _documented_keys(doc).strip()
    transform, _ = _run(name)
    assert repr(transform).startswith(name + '(')


@pytest.mark.parametrize('name', registered_transforms())
def test_changes_exactly_the_documented_keys(name):
    _, out = _run(name)
    sample = _sample()
    changed = {k for k in out if k not in sample or not _equal(out[k], sample[k])}
    if name in ('GetBBoxCenterScale', 'Compose'):
        changed |= {'bbox_center', 'bbox_scale'} & set(out)   # deleted, re-added
    assert changed == CHANGES[name]
    if name == 'PackPoseInputs':
        assert set(out) == CHANGES[name]
    else:
        assert set(sample) <= set(out)          # nothing is dropped
    if name not in UNDOCUMENTED_KEYS:
        text = _documented_keys(TRANSFORMS.get(name).__doc__)
        undocumented = {k for k in changed
                        if not re.search(rf'\b{k}\b', text)}
        assert not undocumented, f'{name} changes undocumented {undocumented}'


def _check_center_scale(out, sample):
    np.testing.assert_array_equal(out['bbox_center'], [[70., 70.]])
    np.testing.assert_array_equal(out['bbox_scale'], [[75., 125.]])


def _check_load(out, sample):
    np.testing.assert_array_equal(out['img'], sample['img'])
    assert out['ori_shape'] == out['img_shape'] == (H, W)


def _check_converter(out, sample):
    # target FLIP[i] is source i: a left/right relabelling
    np.testing.assert_array_equal(out['keypoints'][:, COCO_FLIP],
                                  sample['keypoints'])
    np.testing.assert_array_equal(out['keypoints_visible'],
                                  np.ones((1, 17, 2)))


def _check_flip(out, sample):
    """x -> w - 1 - x = 119 - x, and each keypoint takes its partner's."""
    np.testing.assert_array_equal(out['img'], sample['img'][:, ::-1])
    kp = sample['keypoints'][:, COCO_FLIP]
    np.testing.assert_allclose(out['keypoints'][..., 0], 119 - kp[..., 0])
    np.testing.assert_array_equal(out['keypoints'][..., 1], kp[..., 1])
    np.testing.assert_array_equal(out['bbox'], [[19., 20., 79., 120.]])
    np.testing.assert_array_equal(out['bbox_center'], [[49., 70.]])
    assert out['flip'] is True and out['flip_direction'] == 'horizontal'


def _check_half_body(out, sample):
    """Upper body (ids 0..10): centred on their mean, their extent x 1.5
    (float32 arithmetic on values below 200: 1e-4 is 30 ulps)."""
    upper = sample['keypoints'][0, :11].astype(np.float64)
    np.testing.assert_allclose(out['bbox_center'][0], upper.mean(0), atol=1e-4)
    np.testing.assert_allclose(out['bbox_scale'][0],
                               (upper.max(0) - upper.min(0)) * 1.5, atol=1e-4)


def _check_bbox_transform(out, sample):
    np.testing.assert_array_equal(out['bbox_center'], [[70., 70.]])
    np.testing.assert_array_equal(out['bbox_scale'], [[112.5, 187.5]])
    np.testing.assert_array_equal(out['bbox_rotation'], [0.])


def _check_affine(out, sample):
    """Scale (75, 125) widened to the input's aspect 192 / 256 = 0.75:
    (93.75, 125); both axes then zoom by 256 / 125 = 2.048 about the box
    centre (70, 70), which lands on the input centre (96, 128). Float32
    warp on values below 400: 1e-3 leaves a wide margin."""
    assert out['img'].shape == (256, 192, 3) and out['img'].dtype == np.uint8
    np.testing.assert_array_equal(out['bbox_scale'], [[93.75, 125.]])
    np.testing.assert_array_equal(out['input_center'], [70., 70.])
    np.testing.assert_array_equal(out['input_scale'], [93.75, 125.])
    assert out['input_size'] == (192, 256)
    expected = (sample['keypoints'].astype(np.float64) - 70) * 2.048 + [96, 128]
    np.testing.assert_allclose(out['transformed_keypoints'], expected, atol=1e-3)


def _check_color(out, sample):
    assert out['img'].shape == sample['img'].shape
    assert out['img'].dtype == np.uint8


def _check_filter(out, sample):
    np.testing.assert_array_equal(out['keypoints'], sample['keypoints'])
    np.testing.assert_array_equal(out['bbox'], sample['bbox'])


def _check_target(out, sample):
    """MSRA heatmaps (stride 4): each keypoint's Gaussian peaks, at value
    exp(0) = 1, on its position / 4 rounded half up."""
    heatmaps = out['heatmaps']
    assert heatmaps.shape == (17, 64, 48)
    for k, (x, y) in enumerate(sample['keypoints'][0]):
        peak = np.unravel_index(heatmaps[k].argmax(), heatmaps[k].shape)
        assert peak == (int(y / 4 + 0.5), int(x / 4 + 0.5))
        assert heatmaps[k].max() == 1.0
    np.testing.assert_array_equal(out['keypoint_weights'], np.ones((1, 17)))


def _check_pack(out, sample):
    np.testing.assert_array_equal(out['inputs'].numpy(),
                                  sample['img'].transpose(2, 0, 1))
    gt = out['data_samples'].gt_instances
    np.testing.assert_array_equal(gt.keypoints, sample['keypoints'])
    np.testing.assert_array_equal(gt.bboxes, sample['bbox'])


def _check_bottomup_affine(out, sample):
    """No draw: the whole 120x160 image (aspect 0.75 = input's) zooms by
    0.5 about its centre (60, 80) onto the input centre (30, 40)."""
    assert out['img'].shape == (80, 60, 3)
    np.testing.assert_allclose(out['keypoints'],
                               (sample['keypoints'] - [60, 80]) * .5
                               + [30, 40], atol=1e-4)
    np.testing.assert_allclose(out['bbox'],
                               [[[20, 10], [20, 60], [50, 10], [50, 60]]],
                               atol=1e-4)


def _check_bottomup_resize(out, sample):
    """'fit' 120x160 into 64x64: resized (48, 64), padded 8 px left and
    right; input_scale (120 * 64 / 48, 160) = (160, 160); output pixel
    (32, 32) samples image pixel (60, 80)."""
    assert out['img_shape'] == (64, 64) and out['input_size'] == (64, 64)
    np.testing.assert_allclose(out['input_scale'], [160., 160.])
    np.testing.assert_allclose(out['input_center'], [60., 80.])
    assert not out['img'][:, :7].any() and not out['img'][:, 57:].any()
    np.testing.assert_array_equal(out['img'][32, 32], sample['img'][80, 60])


def _check_heatmap_mask(out, sample):
    """Nothing invalid, no warp, no heatmaps: all True at img_shape."""
    np.testing.assert_array_equal(out['heatmap_mask'], np.ones((H, W), bool))


def _check_no_flip(out, sample):
    """prob=0: no flip recorded, every other value as it was."""
    assert out['flip'] is False and out['flip_direction'] is None
    _check_unchanged({k: v for k, v in out.items() if k not in ('flip', 'flip_direction')},
                     sample)


def _check_unchanged(out, sample):
    """prob=0: the very sample, every value as it was."""
    assert set(out) == set(sample)
    assert all(_equal(out[k], sample[k]) for k in sample)


CHECKS = {
    'Albumentation': _check_color, 'Compose': _check_center_scale,
    'LoadImage': _check_load, 'GetBBoxCenterScale': _check_center_scale,
    'KeypointConverter': _check_converter, 'RandomFlip': _check_flip,
    'RandomHalfBody': _check_half_body,
    'RandomBBoxTransform': _check_bbox_transform,
    'TopdownAffine': _check_affine, 'PhotometricDistortion': _check_color,
    'YOLOXHSVRandomAug': _check_color, 'FilterAnnotations': _check_filter,
    'GenerateTarget': _check_target, 'PackPoseInputs': _check_pack,
    'BottomupRandomAffine': _check_bottomup_affine,
    'BottomupResize': _check_bottomup_resize,
    'BottomupGetHeatmapMask': _check_heatmap_mask,
    'Mosaic': _check_unchanged, 'YOLOXMixUp': _check_unchanged,
    'RandomFlipAroundRoot': _check_unchanged, 'HandRandomFlip': _check_no_flip,
}


@pytest.mark.parametrize('name', registered_transforms())
def test_values_on_the_common_sample(name):
    _, out = _run(name)
    CHECKS[name](out, _sample())


def test_scoped_names_resolve():
    assert TRANSFORMS.get('mmdet.YOLOXHSVRandomAug') is \
        TRANSFORMS.get('YOLOXHSVRandomAug')
    assert TRANSFORMS.get('mmpose.TopdownAffine') is \
        TRANSFORMS.get('TopdownAffine')
