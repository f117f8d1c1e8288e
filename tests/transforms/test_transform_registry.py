"""Every transform of this package: registered, documented, built from a
config dict, and run on one common top-down sample."""
import numpy as np
import pytest

from posekit.registry import TRANSFORMS

COCO_FLIP = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
MSRA = dict(type='MSRAHeatmap', input_size=(192, 256), heatmap_size=(48, 64),
            sigma=2)

# name -> constructor arguments needed to build it (others use defaults)
ARGS = {
    'LoadImage': {},
    'GetBBoxCenterScale': {},
    'RandomFlip': dict(prob=1.0),
    'RandomHalfBody': dict(prob=1.0),
    'RandomBBoxTransform': {},
    'TopdownAffine': dict(input_size=(192, 256)),
    'PhotometricDistortion': {},
    'YOLOXHSVRandomAug': {},
    'FilterAnnotations': {},
    'GenerateTarget': dict(encoder=MSRA),
    'PackPoseInputs': {},
}


def _sample():
    rng = np.random.RandomState(0)
    keypoints = (rng.rand(1, 17, 2) * [60, 100] + [40, 20]).astype(np.float32)
    return dict(img=rng.randint(0, 256, (160, 120, 3), np.uint8),
                img_shape=(160, 120), img_path=None,
                bbox=np.array([[40., 20., 100., 120.]], np.float32),
                bbox_score=np.ones(1, np.float32),
                keypoints=keypoints,
                keypoints_visible=np.ones((1, 17), np.float32),
                flip_indices=COCO_FLIP, upper_body_ids=list(range(11)),
                lower_body_ids=list(range(11, 17)),
                bbox_center=np.array([[70., 70.]], np.float32),
                bbox_scale=np.array([[75., 125.]], np.float32))


@pytest.mark.parametrize('name', sorted(ARGS))
def test_registered_documented_and_runs(name):
    assert name in TRANSFORMS
    cls = TRANSFORMS.get(name)
    doc = cls.__doc__ or ''
    assert 'Required Keys:' in doc
    assert 'Modified Keys:' in doc or 'Added Keys:' in doc or \
        'Returns a new dict:' in doc
    transform = TRANSFORMS.build(dict(type=name, **ARGS[name]))
    assert repr(transform).startswith(name + '(')
    sample = _sample()
    if name == 'GetBBoxCenterScale':     # computes them from the bbox
        del sample['bbox_center'], sample['bbox_scale']
    np.random.seed(0)
    out = transform(sample)
    assert isinstance(out, dict)
    if name != 'PackPoseInputs':
        assert out['img'].dtype == np.uint8


def test_scoped_names_resolve():
    assert TRANSFORMS.get('mmdet.YOLOXHSVRandomAug') is \
        TRANSFORMS.get('YOLOXHSVRandomAug')
    assert TRANSFORMS.get('mmpose.TopdownAffine') is \
        TRANSFORMS.get('TopdownAffine')
