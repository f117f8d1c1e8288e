"""Output values of the transforms that had none asserted elsewhere:
``Compose`` (order, ``None`` stops the chain), ``Albumentation`` (what the
library returns lands under the results keys) and the ``__call__`` of the
random transforms (seeded draws, then the deterministic ``apply`` whose
values tests/transforms/test_color_transforms.py and
test_common_transforms.py check by hand)."""
import sys
import types

import numpy as np
import pytest

from posekit.datasets.transforms import (Albumentation, Compose,
                                         PhotometricDistortion,
                                         RandomBBoxTransform,
                                         YOLOXHSVRandomAug)


def _box_results():
    return dict(bbox=np.array([[1., 2., 5., 10.]], np.float32))


def test_compose_applies_config_dicts_in_order():
    """Box (1, 2)-(5, 10): centre (3, 6), size (4, 8); padding 2 makes the
    scale (8, 16); a resize whose range is the single factor 0.5 (truncated
    normal times a zero half-width) halves it back to (4, 8), exactly."""
    seen = []
    pipeline = Compose([
        dict(type='GetBBoxCenterScale', padding=2.0),
        lambda r: seen.append(r['bbox_scale'].copy()) or r,
        dict(type='RandomBBoxTransform', shift_prob=0., scale_prob=1.,
             scale_factor=(0.5, 0.5), rotate_prob=0.)])
    np.random.seed(0)
    out = pipeline(_box_results())
    np.testing.assert_array_equal(seen[0], [[8., 16.]])   # before the resize
    np.testing.assert_array_equal(out['bbox_center'], [[3., 6.]])
    np.testing.assert_array_equal(out['bbox_scale'], [[4., 8.]])
    np.testing.assert_array_equal(out['bbox_rotation'], [0.])
    assert len(pipeline) == 3


def test_compose_stops_at_none_and_empty_is_identity():
    calls = []

    def record(name, result):
        def step(r):
            calls.append(name)
            return result(r)
        return step

    pipeline = Compose([record('a', lambda r: dict(r, a=1)),
                        record('drop', lambda r: None),
                        record('never', lambda r: r)])
    assert pipeline(dict(x=0)) is None
    assert calls == ['a', 'drop']            # the third step never ran
    results = dict(x=np.arange(3))
    assert Compose()(results) is results
    assert Compose([])(results) is results
    assert repr(Compose()) == 'Compose([])'
    with pytest.raises(TypeError, match='list of transform'):
        Compose(dict(type='LoadImage'))


def _fake_albumentations():
    """A stand-in for the third-party ``albumentations`` package (not
    installed here), with its calling convention: ``Compose(transforms)``
    called with keyword arrays returns a dict of the same keys."""
    fake = types.ModuleType('albumentations')

    class Invert:
        def __init__(self, p=1.0):
            self.p = p

        def __call__(self, arrays):
            return {k: 255 - v for k, v in arrays.items()}

    class AddOne:
        def __init__(self, p=1.0):
            self.p = p

        def __call__(self, arrays):
            return {k: v + 1 for k, v in arrays.items()}

    class Compose:
        def __init__(self, transforms):
            self.transforms = transforms

        def __call__(self, **arrays):
            for t in self.transforms:
                arrays = t(arrays)
            return arrays

    fake.Invert, fake.AddOne, fake.Compose = Invert, AddOne, Compose
    return fake


def test_albumentation_writes_the_library_outputs_back(monkeypatch):
    """One inversion then +1, in the listed order: 255 - v + 1; the
    ``keymap`` routes ``mask`` as well (a pure identity would fail)."""
    monkeypatch.setitem(sys.modules, 'albumentations', _fake_albumentations())
    img = np.array([[[0, 10, 200]]], np.int32)
    mask = np.array([[3]], np.int32)
    transform = Albumentation([dict(type='Invert'), dict(type='AddOne')],
                              keymap=dict(img='image', img_mask='mask'))
    out = transform(dict(img=img, img_mask=mask, other='kept'))
    assert out['img'].tolist() == [[[256, 246, 56]]]
    assert out['img_mask'].tolist() == [[253]]
    assert out['other'] == 'kept'
    default = Albumentation([dict(type='Invert')])
    assert default(dict(img=img))['img'].tolist() == [[[255, 245, 55]]]
    with pytest.raises(KeyError, match='img_mask'):
        transform(dict(img=img))


def _image(seed):
    return np.random.RandomState(seed).randint(0, 256, (12, 10, 3), np.uint8)


@pytest.mark.parametrize('seed', range(8))
def test_photometric_call_is_its_draws_then_apply(seed):
    transform = PhotometricDistortion()
    np.random.seed(seed)
    params = transform._draw()
    expected = PhotometricDistortion.apply(_image(seed), **params)
    np.random.seed(seed)
    out = transform(dict(img=_image(seed)))['img']
    np.testing.assert_array_equal(out, expected)


def test_photometric_call_with_fixed_ranges():
    """Brightness, contrast and HSV all fixed to identities: only the
    channel swap can act, so the output is a permutation of the channels."""
    transform = PhotometricDistortion(brightness_delta=0,
                                      contrast_range=(2., 2.),
                                      saturation_range=(1., 1.), hue_delta=1)
    img = np.array([[[10, 50, 120]]], np.uint8)
    outs = set()
    for seed in range(40):
        np.random.seed(seed)
        p = transform._draw()
        np.random.seed(seed)
        out = transform(dict(img=img.copy()))['img']
        # contrast 2 (applied at most once), then channel order
        value = img.astype(np.float64) * (2. if p['contrast'] else 1.)
        if p['hsv_mode'] == 0:     # the HSV round trip is lossy: skip those
            expected = np.clip(value, 0, 255).astype(np.uint8)
            if p['swap']:
                expected = expected[..., p['channel_order']]
            np.testing.assert_array_equal(out, expected)
            outs.add(tuple(out.ravel()))
    assert len(outs) > 2


@pytest.mark.parametrize('seed', range(8))
def test_yolox_hsv_call_is_its_draws_then_apply(seed):
    transform = YOLOXHSVRandomAug()
    np.random.seed(seed)
    gains = transform._draw()
    assert gains.dtype == np.int16
    expected = YOLOXHSVRandomAug.apply(_image(seed), gains)
    np.random.seed(seed)
    out = transform(dict(img=_image(seed)))['img']
    np.testing.assert_array_equal(out, expected)


def test_yolox_hsv_zero_deltas_keep_hsv():
    """All deltas 0: the gains are 0 and the image goes through one
    BGR->HSV->BGR round trip, which is exact for grey pixels (s = 0, v = the
    grey level)."""
    grey = np.repeat(np.arange(0, 256, 17, dtype=np.uint8)[:, None, None],
                     3, axis=2)
    np.random.seed(0)
    out = YOLOXHSVRandomAug(0, 0, 0)(dict(img=grey))['img']
    np.testing.assert_array_equal(out, grey)


def test_random_bbox_transform_call_values():
    """Every draw with probability 1 and degenerate ranges: the truncated
    normal is multiplied by 0, so shift 0, factor exactly 1.5, rotation 0;
    with probability 0 nothing moves whatever the draw."""
    results = dict(bbox_center=np.array([[10., 20.], [0., 0.]], np.float32),
                   bbox_scale=np.array([[40., 60.], [2., 4.]], np.float32))
    np.random.seed(0)
    out = RandomBBoxTransform(shift_factor=0., shift_prob=1.,
                              scale_factor=(1.5, 1.5), scale_prob=1.,
                              rotate_factor=0., rotate_prob=1.)(dict(results))
    np.testing.assert_array_equal(out['bbox_center'], results['bbox_center'])
    np.testing.assert_array_equal(out['bbox_scale'], [[60., 90.], [3., 6.]])
    np.testing.assert_array_equal(out['bbox_rotation'], [0., 0.])
    np.random.seed(0)
    still = RandomBBoxTransform(shift_prob=0., scale_prob=0.,
                                rotate_prob=0.)(dict(results))
    np.testing.assert_array_equal(still['bbox_scale'], results['bbox_scale'])
    np.testing.assert_array_equal(still['bbox_rotation'], [0., 0.])


@pytest.mark.parametrize('seed', range(4))
def test_random_bbox_transform_call_is_its_draws_then_apply(seed):
    transform = RandomBBoxTransform(shift_prob=0.5)
    results = dict(bbox_center=np.array([[10., 20.], [30., 5.]], np.float32),
                   bbox_scale=np.array([[40., 60.], [8., 4.]], np.float32))
    np.random.seed(seed)
    draws = transform._draw(2)
    expected = RandomBBoxTransform.apply(
        {k: v.copy() for k, v in results.items()}, *draws)
    np.random.seed(seed)
    out = transform({k: v.copy() for k, v in results.items()})
    for key in ('bbox_center', 'bbox_scale', 'bbox_rotation'):
        np.testing.assert_array_equal(out[key], expected[key])
