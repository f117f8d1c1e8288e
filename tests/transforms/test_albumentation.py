"""``Albumentation`` with the installed albumentations (1.4 or 2.x), run with
every transform and argument set that MMPose 1.3.2's configs give it:

- ``Blur(p=0.1 | 0.2)`` and ``MedianBlur(p=0.1 | 0.2)`` (default
  ``blur_limit=7``: an odd kernel in ``{3, 5, 7}``);
- ``CoarseDropout(max_holes=1, max_height=0.4, max_width=0.4, min_holes=1,
  min_height=0.2, min_width=0.2, p=1.0 | 0.5)`` (RTMPose configs);
- ``CoarseDropout(max_holes=8, max_height=40, max_width=40, min_holes=1,
  min_height=10, min_width=10, p=0.5)`` and ``GridDropout(unit_size_min=10,
  unit_size_max=40, random_offset=True, p=0.5)`` (HRNet cutout/gridmask).

Each is applied at ``p=1`` to a 256 x 192 crop of a COCO fixture image.
"""
import inspect
import os
import random
from pathlib import Path

import cv2
import numpy as np
import pytest

os.environ.setdefault('NO_ALBUMENTATIONS_UPDATE', '1')  # no PyPI query
albumentations = pytest.importorskip('albumentations')

from posekit.datasets.transforms import Albumentation  # noqa: E402

IMAGE = (Path(__file__).resolve().parents[1] / 'data' / 'fixtures' / 'coco'
         / '000000000785.jpg')
RTMPOSE_DROPOUT = dict(type='CoarseDropout', max_holes=1, max_height=0.4,
                       max_width=0.4, min_holes=1, min_height=0.2,
                       min_width=0.2, p=1.0)
CUTOUT = dict(type='CoarseDropout', max_holes=8, max_height=40, max_width=40,
              min_holes=1, min_height=10, min_width=10, p=1.0)
GRIDMASK = dict(type='GridDropout', unit_size_min=10, unit_size_max=40,
                random_offset=True, p=1.0)
V2_DROPOUT = 'max_holes' not in inspect.signature(
    albumentations.CoarseDropout).parameters


def _results():
    img = cv2.imread(str(IMAGE))
    assert img is not None, IMAGE
    # no zero pixel in the input: a dropped (zero-filled) pixel always shows
    img = np.maximum(img[100:356, 200:392], 1)
    keypoints = np.array([[[10.5, 20.], [100., 200.]]], np.float32)
    return dict(img=img, keypoints=keypoints, bbox=np.array(
        [[5., 6., 150., 250.]], np.float32),
        keypoints_visible=np.ones((1, 2), np.float32))


def _run(cfg, seed=0):
    random.seed(seed)
    np.random.seed(seed)
    transform = Albumentation([cfg])
    if hasattr(transform.aug, 'set_random_seed'):   # albumentations >= 2
        transform.aug.set_random_seed(seed)
    results = _results()
    source = {k: v.copy() for k, v in results.items()}
    out = transform(results)
    # only the image reaches the library: annotations are the same arrays
    for key in ('keypoints', 'bbox', 'keypoints_visible'):
        np.testing.assert_array_equal(out[key], source[key])
    assert out['img'].shape == source['img'].shape
    assert out['img'].dtype == np.uint8
    return source['img'], out['img']


@pytest.mark.parametrize('name, reference', [
    ('Blur', lambda img, k: cv2.blur(img, (k, k))),
    ('MedianBlur', cv2.medianBlur)])
@pytest.mark.parametrize('seed', [0, 1])
def test_blurs_equal_opencv_with_one_odd_kernel(name, reference, seed):
    img, out = _run(dict(type=name, p=1.0), seed)
    matches = [k for k in (3, 5, 7)
               if np.array_equal(out, reference(img, k))]
    assert len(matches) == 1, (name, matches)
    assert not np.array_equal(out, img)


def test_import_never_asks_pypi_for_updates(monkeypatch):
    monkeypatch.delenv('NO_ALBUMENTATIONS_UPDATE', raising=False)
    Albumentation([dict(type='Blur')])
    assert os.environ['NO_ALBUMENTATIONS_UPDATE'] == '1'


def _dropped(img, out):
    """(H, W) bool: pixels the dropout changed, all of them filled with 0."""
    changed = (out != img).any(-1)
    assert (out[changed] == 0).all()
    return changed


def test_rtmpose_coarse_dropout_one_hole_of_the_configured_size():
    """``Albumentation`` with RTMPose's ``CoarseDropout`` arguments: one
    hole of ``int(side * u)``, ``u`` in [0.2, 0.4]: on 256 x 192,
    height in [51, 102] and width in [38, 76]; the rest is unchanged."""
    for seed in range(3):
        img, out = _run(RTMPOSE_DROPOUT, seed)
        changed = _dropped(img, out)
        ys, xs = np.nonzero(changed)
        h, w = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
        assert 51 <= h <= 102 and 38 <= w <= 76, (h, w)
        assert changed.sum() == h * w     # one filled rectangle
        np.testing.assert_array_equal(out[~changed], img[~changed])


def test_cutout_coarse_dropout_holes_within_the_ranges():
    """1 to 8 holes of 10 to 40 px a side (they may overlap): the filled
    area lies in [10 * 10, 8 * 40 * 40] and every filled blob is at least
    10 px high and wide."""
    for seed in range(3):
        img, out = _run(CUTOUT, seed)
        changed = _dropped(img, out)
        assert 100 <= changed.sum() <= 8 * 40 * 40
        count, _, stats, _ = cv2.connectedComponentsWithStats(
            changed.astype(np.uint8), connectivity=4)
        assert 1 <= count - 1 <= 8
        assert (stats[1:, cv2.CC_STAT_WIDTH] >= 10).all()
        assert (stats[1:, cv2.CC_STAT_HEIGHT] >= 10).all()


def test_gridmask_grid_dropout_drops_a_quarter():
    """``ratio=0.5`` (default): each grid unit of ``u`` px (10 <= u <= 40)
    loses a hole of ``floor(u / 2)`` px a side, so the dropped fraction is
    at most 1/4 and at least ((u - 1) / (2u))^2 >= (9 / 20)^2 = 0.2025
    (less the few pixels of the cut-off last row/column of units, hence
    0.19)."""
    for seed in range(3):
        img, out = _run(GRIDMASK, seed)
        fraction = _dropped(img, out).mean()
        assert 0.19 <= fraction <= 0.25, fraction


@pytest.mark.skipif(not V2_DROPOUT, reason='albumentations 1.x arguments')
def test_v1_dropout_arguments_become_v2_ranges():
    coarse = Albumentation([RTMPOSE_DROPOUT]).aug.transforms[0]
    assert coarse.num_holes_range == (1, 1)
    assert coarse.hole_height_range == (0.2, 0.4)
    assert coarse.hole_width_range == (0.2, 0.4)
    # 1.x: a missing min_* equals its max_*, a missing max_* is 8
    cutout = Albumentation([dict(type='CoarseDropout', max_height=40,
                                 fill_value=7)]).aug.transforms[0]
    assert cutout.num_holes_range == (8, 8)
    assert cutout.hole_height_range == (40, 40)
    assert cutout.hole_width_range == (8, 8)
    assert cutout.fill == 7
    grid = Albumentation([GRIDMASK]).aug.transforms[0]
    # 1.x's randint(10, 40) is inclusive, 2.x's integers(10, 41) is not
    assert grid.unit_size_range == (10, 41) and grid.random_offset is True
    shifted = Albumentation([dict(type='GridDropout', shift_x=3,
                                  always_apply=True)]).aug.transforms[0]
    assert shifted.shift_xy == (3, 0) and shifted.random_offset is False
    assert shifted.p == 1.0


@pytest.mark.skipif(not V2_DROPOUT, reason='albumentations 1.x arguments')
@pytest.mark.parametrize('cfg, error, match', [
    (dict(type='CoarseDropout', max_height=1.0, max_width=0.5,
          min_height=0.5, min_width=0.5), ValueError, 'max_height'),
    (dict(type='CoarseDropout', max_height=40, max_width=0.5),
     TypeError, 'all ints'),
    (dict(type='CoarseDropout', max_holes=2, num_holes_range=(1, 2)),
     TypeError, 'num_holes_range'),
    (dict(type='GridDropout', unit_size_min=10), ValueError,
     'unit_size_max'),
    (dict(type='GridDropout', holes_number_x=4), ValueError,
     'holes_number_y')])
def test_v1_arguments_without_an_equivalent_raise(cfg, error, match):
    with pytest.raises(error, match=match):
        Albumentation([cfg])


def test_unknown_argument_names_it():
    with pytest.raises(TypeError, match="Blur.*'blur_limt'"):
        Albumentation([dict(type='OneOf', transforms=[
            dict(type='Blur', blur_limt=3)])])
