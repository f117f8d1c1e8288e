"""Mosaic and YOLOXMixUp: geometry with fixed draws, the draw order, and
extra samples drawn from a real dataset.

Compared with MMPose 1.3.2 (6 seeds, Mosaic then YOLOXMixUp on random
images of 200-500 px): boxes, keypoints, visibility, areas, labels, scores
and the mosaic image identical; the mixup image differs by 1 (uint8) in at
most 63 of 983,040 values (posekit rescales the canvas in float32, MMPose
in float64, and both truncate).
"""
from pathlib import Path

import numpy as np
import pytest

from posekit.datasets.transforms import Mosaic, YOLOXMixUp
from posekit.registry import DATASETS

FIXTURES = Path(__file__).parents[1] / 'data' / 'fixtures'


def _sample(h, w, value, keypoints, bbox, area=100.):
    keypoints = np.asarray(keypoints, np.float32)
    return dict(img=np.full((h, w, 3), value, np.uint8),
                keypoints=keypoints,
                keypoints_visible=np.ones(keypoints.shape[:2], np.float32),
                bbox=np.asarray(bbox, np.float32),
                bbox_score=np.ones(len(keypoints), np.float32),
                category_id=[1] * len(keypoints),
                area=np.full(len(keypoints), area, np.float32),
                flip_indices=[1, 0])


class _ListDataset:
    def __init__(self, samples):
        self.samples = samples

    def __len__(self):
        return len(self.samples)

    def get_data_info(self, i):
        return {k: np.copy(v) if isinstance(v, np.ndarray) else v
                for k, v in self.samples[i].items()}


def test_mosaic_places_points_by_the_formula():
    """img_scale (100, 100), center (120, 90), canvas 200 x 200.
    Top-left: 100 x 200 (h x w) image, ratio 0.5 -> 50 x 100, pasted at
    (20, 40)-(120, 90): (40, 20) -> (40, 20) * 0.5 + (20, 40) = (40, 50).
    Top-right: 50 x 50 image, ratio 2 -> 100 x 100, pasted at (120, 0)-
    (200, 90) from crop (0, 10)-(80, 100): (10, 30) -> (20, 60) + (120, -10)
    = (140, 50); (45, 2) -> (210, -6) falls outside: invisible."""
    tl = _sample(100, 200, 10, [[[40, 20], [0, 0]]], [[0, 0, 200, 100]])
    tr = _sample(50, 50, 20, [[[10, 30], [45, 2]]], [[10, 2, 45, 30]], 4.)
    bl = _sample(100, 100, 30, [[[50, 50], [0, 0]]], [[0, 0, 10, 10]])
    br = _sample(100, 100, 40, np.zeros((0, 2, 2)), np.zeros((0, 4)))
    out = Mosaic(img_scale=(100, 100)).apply(tl, [tr, bl, br], (120, 90))
    assert out['img'].shape == (200, 200, 3)
    assert out['img_shape'] == (200, 200)
    np.testing.assert_allclose(out['keypoints'][0], [[40, 50], [20, 40]])
    np.testing.assert_allclose(out['keypoints'][1], [[140, 50], [210, -6]])
    np.testing.assert_array_equal(out['keypoints_visible'][1], [1, 0])
    # bottom-left: ratio 1, pasted at (20, 90)-(120, 190): (50, 50) -> (70, 140)
    np.testing.assert_allclose(out['keypoints'][2, 0], [70, 140])
    # boxes scaled, moved, clipped to the canvas
    np.testing.assert_allclose(out['bbox'], [[20, 40, 120, 90],
                                             [140, 0, 200, 50],
                                             [20, 90, 30, 100]])
    np.testing.assert_allclose(out['area'], [25, 16, 100])
    # pixels: each quadrant's colour, padding elsewhere
    img = out['img'][..., 0]
    assert (img[40, 20], img[89, 119], img[0, 120], img[89, 199]) == \
        (10, 10, 20, 20)
    assert (img[90, 20], img[189, 119], img[90, 120], img[189, 199]) == \
        (30, 30, 40, 40)
    assert (img[0, 0], img[39, 19], img[199, 0], img[190, 199]) == \
        (114, 114, 114, 114)


def test_mosaic_draw_order_follows_mmpose():
    """One U(0, 1) for prob, three sample indices, then the center (x,
    then y), all from NumPy's global generator."""
    samples = [_sample(100, 100, v, [[[50, 50], [10, 10]]],
                       [[0, 0, 100, 100]]) for v in (0, 1, 2, 3, 4)]
    ds = _ListDataset(samples)
    np.random.seed(7)
    np.random.uniform(0, 1)
    indexes = [np.random.randint(0, 5) for _ in range(3)]
    cx = int(np.random.uniform(0.5, 1.5) * 100)
    cy = int(np.random.uniform(0.5, 1.5) * 100)
    np.random.seed(7)
    out = Mosaic(img_scale=(100, 100))(dict(ds.get_data_info(0), dataset=ds))
    assert out['dataset'] is ds
    # the top-left sample's point (50, 50) lands at center - (50, 50)
    np.testing.assert_allclose(out['keypoints'][0, 0], [cx - 50, cy - 50])
    # the other quadrants show the drawn samples' colours
    img = out['img'][..., 0]
    assert [img[cy - 1, cx], img[cy, cx - 1], img[cy, cx]] == indexes


def test_mosaic_prob_and_missing_dataset():
    sample = _sample(10, 10, 0, [[[1, 1], [2, 2]]], [[0, 0, 5, 5]])
    out = Mosaic(prob=0.)(dict(sample))
    np.testing.assert_array_equal(out['img'], sample['img'])
    with pytest.raises(KeyError, match='dataset'):
        Mosaic()(dict(sample))


def test_yolox_mixup_weights_and_geometry():
    """img_scale (100, 100); the other image is 50 x 100 (h x w), ratio 1,
    on a 114 canvas. Jitter 1, no flip, no shift: top half 0.5 * 201 +
    0.5 * 100 = 150.5 -> 150, bottom half 0.5 * 201 + 0.5 * 114 = 157.5 ->
    157 (uint8 truncation)."""
    own = _sample(100, 100, 201, [[[5, 5], [6, 6]]], [[0, 0, 9, 9]])
    other = _sample(50, 100, 100, [[[10, 20], [40, 30]]], [[10, 5, 30, 25]])
    mix = YOLOXMixUp(img_scale=(100, 100))
    out = mix.apply(dict(own), other, 1.0, False, 0, 0)
    assert (out['img'][0, 0, 0], out['img'][99, 99, 0]) == (150, 157)
    np.testing.assert_allclose(out['keypoints'][1], [[10, 20], [40, 30]])
    np.testing.assert_allclose(out['bbox'][1], [10, 5, 30, 25])
    # jitter 2 (ratio 2), shift (30, 40): (10, 20) -> (20, 40) - (30, 40)
    # = (-10, 0), outside; (40, 30) -> (50, 20); area x 4
    out = mix.apply(dict(own), other, 2.0, False, 30, 40)
    np.testing.assert_allclose(out['keypoints'][1], [[-10, 0], [50, 20]])
    np.testing.assert_array_equal(out['keypoints_visible'][1], [0, 1])
    np.testing.assert_allclose(out['area'], [100, 400])
    np.testing.assert_allclose(out['bbox'][1], [0, 0, 30, 10])
    # flip on a 100-wide canvas: x -> 99 - x, partners swapped
    out = mix.apply(dict(own), other, 1.0, True, 0, 0)
    np.testing.assert_allclose(out['keypoints'][1], [[59, 30], [89, 20]])
    np.testing.assert_allclose(out['bbox'][1], [69, 5, 89, 25])


def test_yolox_mixup_options():
    own = _sample(10, 10, 0, [[[1, 1], [2, 2]]], [[0, 0, 5, 5]])
    empty = _sample(10, 10, 9, np.zeros((0, 2, 2)), np.zeros((0, 4)))
    ds = _ListDataset([empty])
    out = YOLOXMixUp()(dict(own, dataset=ds))    # nothing to mix in
    np.testing.assert_array_equal(out['img'], own['img'])
    assert out['dataset'] is ds
    with pytest.raises(ValueError, match='bbox_clip_border'):
        YOLOXMixUp(bbox_clip_border=False)
    with pytest.raises(TypeError, match='img_scale'):
        YOLOXMixUp(img_scale=[640, 640])


def test_mixing_draws_from_a_coco_dataset():
    """The stage-1 RTMO pipeline's mixing part on the COCO fixture: the
    dataset hands itself to Mosaic, whose pre_transform loads the extra
    images; the mosaic holds the instances of the four drawn samples."""
    pipeline = [
        dict(type='LoadImage'),
        dict(type='Mosaic', img_scale=(128, 128), pad_val=114.0,
             pre_transform=[dict(type='LoadImage')]),
        dict(type='YOLOXMixUp', img_scale=(128, 128), ratio_range=(0.8, 1.6),
             pad_val=114.0, prob=0., pre_transform=[dict(type='LoadImage')]),
    ]
    ds = DATASETS.build(dict(
        type='CocoDataset', data_root=str(FIXTURES),
        ann_file='coco/test_coco.json', data_prefix=dict(img='coco/'),
        data_mode='bottomup', pipeline=pipeline))
    np.random.seed(0)
    np.random.uniform(0, 1)
    indexes = [np.random.randint(0, len(ds)) for _ in range(3)]
    counts = [len(ds.get_data_info(i)['keypoints']) for i in [1, *indexes]]
    np.random.seed(0)
    out = ds[1]
    assert out['img'].shape == (256, 256, 3)
    assert len(out['keypoints']) == sum(counts)
    assert len(out['bbox']) == len(out['area']) == sum(counts)
    assert out['dataset'] is ds
