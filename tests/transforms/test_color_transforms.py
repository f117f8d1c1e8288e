"""PhotometricDistortion, YOLOXHSVRandomAug and Albumentation."""
import sys
import types

import cv2
import numpy as np
import pytest

from posekit.datasets.transforms import (Albumentation, PhotometricDistortion,
                                         YOLOXHSVRandomAug)

OFF = dict(contrast_late=False, brightness=False, contrast=False, hsv_mode=0,
           swap=False, beta=0., alpha=1., saturation=1., hue=0,
           channel_order=np.array([0, 1, 2]))


def _image(seed=0, shape=(16, 12, 3)):
    return np.random.RandomState(seed).randint(0, 256, shape, dtype=np.uint8)


def test_photometric_apply_steps():
    img = np.array([[[10, 100, 250]]], np.uint8)
    apply = PhotometricDistortion.apply
    np.testing.assert_array_equal(apply(img, **OFF), img)
    # brightness +20.7: 250 + 20.7 clips to 255; values truncate
    out = apply(img, **dict(OFF, brightness=True, beta=20.7))
    assert out.tolist() == [[[30, 120, 255]]] and out.dtype == np.uint8
    out = apply(img, **dict(OFF, contrast=True, alpha=0.5))
    assert out.tolist() == [[[5, 50, 125]]]
    out = apply(img, **dict(OFF, contrast=True, alpha=0.5,
                            contrast_late=True))
    assert out.tolist() == [[[5, 50, 125]]]       # once, in either position
    out = apply(img, **dict(OFF, swap=True, channel_order=np.array([2, 0, 1])))
    assert out.tolist() == [[[250, 10, 100]]]


def test_photometric_hue_wraps_and_saturation_scales():
    img = _image()
    hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
    out = PhotometricDistortion.apply(img, **dict(OFF, hsv_mode=2, hue=-18))
    expected = hsv.copy()
    expected[..., 0] = (hsv[..., 0].astype(int) - 18) % 180
    np.testing.assert_array_equal(
        out, cv2.cvtColor(expected, cv2.COLOR_HSV2BGR))
    out = PhotometricDistortion.apply(
        img, **dict(OFF, hsv_mode=1, saturation=1.3))
    expected = hsv.copy()
    expected[..., 1] = np.clip(hsv[..., 1] * np.float32(1.3), 0, 255)
    np.testing.assert_array_equal(
        out, cv2.cvtColor(expected, cv2.COLOR_HSV2BGR))


def test_photometric_random_draws_in_range():
    np.random.seed(0)
    transform = PhotometricDistortion()
    for _ in range(200):
        p = transform._draw()
        assert -32 <= p['beta'] <= 32 and 0.5 <= p['alpha'] <= 1.5
        assert 0.5 <= p['saturation'] <= 1.5 and -18 <= p['hue'] < 18
        assert sorted(p['channel_order']) == [0, 1, 2]
        assert p['hsv_mode'] in (0, 1, 2, 3)
    results = transform(dict(img=_image()))
    assert results['img'].shape == (16, 12, 3)
    assert results['img'].dtype == np.uint8


def test_yolox_hsv_matches_direct_arithmetic():
    img = _image(1, (20, 30, 3))
    gains = np.array([-4, 25, -30], np.int16)
    out = YOLOXHSVRandomAug.apply(img, gains)
    # the per-pixel int16 arithmetic the lookup tables stand for
    hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV).astype(np.int16)
    hsv[..., 0] = (hsv[..., 0] + gains[0]) % 180
    hsv[..., 1] = np.clip(hsv[..., 1] + gains[1], 0, 255)
    hsv[..., 2] = np.clip(hsv[..., 2] + gains[2], 0, 255)
    np.testing.assert_array_equal(
        out, cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR))


def test_yolox_hsv_gains_in_range():
    np.random.seed(0)
    transform = YOLOXHSVRandomAug()
    gains = np.stack([transform._draw() for _ in range(1000)])
    assert gains.dtype == np.int16
    assert (np.abs(gains).max(0) <= [5, 30, 30]).all()
    zero = (gains == 0).mean(0)
    assert ((zero > 0.45) & (zero < 0.65)).all()  # ~1/2 off + int rounding
    out = transform(dict(img=_image()))['img']
    assert out.shape == (16, 12, 3) and out.dtype == np.uint8


def test_albumentation_without_the_library(monkeypatch):
    monkeypatch.setitem(sys.modules, 'albumentations', None)
    with pytest.raises(ImportError, match='pip install albumentations'):
        Albumentation([dict(type='Blur')])


def test_albumentation_with_a_broken_install(monkeypatch, tmp_path):
    package = tmp_path / 'albumentations'
    package.mkdir()
    (package / '__init__.py').write_text('import posekit_missing_dep\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, 'albumentations', raising=False)
    with pytest.raises(ImportError, match='installed but fails.*'
                       'posekit_missing_dep'):
        Albumentation([dict(type='Blur')])


def test_albumentation_builds_and_maps_keys(monkeypatch):
    fake = types.ModuleType('albumentations')

    class Invert:
        def __init__(self, p=1.0):
            self.p = p

        def __call__(self, image):
            return 255 - image

    class OneOf:
        def __init__(self, transforms, p=1.0):
            self.transforms = transforms

        def __call__(self, image):
            return self.transforms[0](image)

    class Compose:
        def __init__(self, transforms):
            self.transforms = transforms

        def __call__(self, image):
            for t in self.transforms:
                image = t(image)
            return dict(image=image)

    fake.Invert, fake.OneOf, fake.Compose = Invert, OneOf, Compose
    monkeypatch.setitem(sys.modules, 'albumentations', fake)
    transform = Albumentation([
        dict(type='Invert', p=1.0),
        dict(type='OneOf', transforms=[dict(type='Invert')], p=0.5)])
    assert isinstance(transform.aug.transforms[1].transforms[0], Invert)
    img = _image()
    # inverted twice = unchanged; 'img' reached the library as 'image'
    np.testing.assert_array_equal(transform(dict(img=img))['img'], img)
    with pytest.raises(KeyError, match='Sharpen'):
        Albumentation([dict(type='Sharpen')])
