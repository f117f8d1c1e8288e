"""RandomFlipAroundRoot: by hand, twice is the identity, and MMPose 1.3.2's
outputs on the H3.6M fixture (``h36m_lifting/lifting_reference.npz``, keys
``flip_default/*`` and ``flip_label/*``, written by /tmp/h2/ref.py: the
reference transform with flip_prob=1 on the sample built in ``_sample``)."""
from pathlib import Path

import numpy as np
import pytest

from posekit.datasets.transforms import RandomFlipAroundRoot

REF = np.load(Path(__file__).resolve().parents[1] /
              'data/fixtures/h36m_lifting/lifting_reference.npz')
FLIP = [int(i) for i in REF['flip_indices']]     # H3.6M left/right partners
KEYS = ('keypoints', 'keypoints_visible', 'lifting_target',
        'lifting_target_visible', 'keypoint_labels',
        'keypoint_labels_visible', 'lifting_target_label')


def _sample():
    return dict(keypoints=REF['kp2d'].copy(),
                keypoints_visible=REF['rvis'][:1].repeat(4, 0),
                lifting_target=REF['kp3d'][:1].copy(),
                lifting_target_visible=REF['vis3d'][:1].copy(),
                flip_indices=FLIP, keypoint_labels=REF['rkp2d'].copy(),
                keypoint_labels_visible=REF['rvis'].copy(),
                lifting_target_label=REF['rkp3d'][:1].copy(),
                camera_param=dict(w=1000, h=1002, c=np.array([[.1], [.2]]),
                                  p=np.array([[.3], [.4]])))


CONFIGS = {
    'flip_default': dict(keypoints_flip_cfg={},
                         target_flip_cfg=dict(center_mode='root',
                                              center_index=0)),
    'flip_label': dict(keypoints_flip_cfg=dict(center_mode='static',
                                               center_x=0.),
                       target_flip_cfg=dict(center_mode='static',
                                            center_x=0.),
                       flip_label=True, flip_camera=True),
}


@pytest.mark.parametrize('case', sorted(CONFIGS))
def test_random_flip_around_root_matches_mmpose(case):
    out = RandomFlipAroundRoot(flip_prob=1.0, **CONFIGS[case])(_sample())
    for key in KEYS:
        np.testing.assert_array_equal(out[key], REF[f'{case}/{key}'], key)
    np.testing.assert_array_equal(out['camera_param']['c'],
                                  REF[f'{case}/camera_c'])
    np.testing.assert_array_equal(out['camera_param']['p'],
                                  REF[f'{case}/camera_p'])


def test_random_flip_around_root_by_hand():
    """RandomFlipAroundRoot, root mode: x -> 2 * x_root - x per pose, then
    partners swap; y, z and the root (its own partner) stay."""
    target = np.array([[[1., 2., 3.], [4., 5., 6.], [0., 7., 8.]]])
    keypoints = np.array([[[.2, .3], [.6, .1], [.9, .4]]])
    results = dict(keypoints=keypoints, lifting_target=target,
                   keypoints_visible=np.array([[1., 0., .5]]),
                   flip_indices=[0, 2, 1])
    t = RandomFlipAroundRoot(dict(center_mode='static', center_x=.5),
                             dict(center_mode='root', center_index=0),
                             flip_prob=1.)
    out = t(results)
    np.testing.assert_allclose(out['lifting_target'],
                               [[[1., 2., 3.], [2., 7., 8.], [-2., 5., 6.]]])
    np.testing.assert_allclose(out['keypoints'],
                               [[[.8, .3], [.1, .4], [.4, .1]]])
    np.testing.assert_array_equal(out['keypoints_visible'], [[1., .5, 0.]])
    np.testing.assert_array_equal(out['lifting_target_visible'],
                                  np.ones((1, 3)))


@pytest.mark.parametrize('case', sorted(CONFIGS))
def test_random_flip_around_root_twice_is_identity(case):
    """Mirroring is an involution: static line, or a root that is its own
    partner (H3.6M pelvis, index 0), and flip_indices a permutation of
    order 2. Exact for c = 0; otherwise each 2 * c - x on float32 values
    below 1024 rounds by at most half an ulp (3.1e-5), twice: 1e-4."""
    t = RandomFlipAroundRoot(flip_prob=1.0, **CONFIGS[case])
    sample = _sample()
    twice = t(t(_sample()))
    for key in KEYS:
        np.testing.assert_allclose(twice[key], sample[key], atol=1e-4,
                                   err_msg=key)
    np.testing.assert_array_equal(twice['camera_param']['c'],
                                  sample['camera_param']['c'])


def test_random_flip_around_root_probability_and_errors():
    """RandomFlipAroundRoot with flip_prob=0 leaves the sample untouched;
    unknown cfg keys, missing flip_indices and a missing camera raise."""
    sample = _sample()
    out = RandomFlipAroundRoot({}, {}, flip_prob=0.)(_sample())
    np.testing.assert_array_equal(out['keypoints'], sample['keypoints'])
    with pytest.raises(ValueError, match='center_y'):
        RandomFlipAroundRoot(dict(center_y=0.), {})
    no_indices = _sample()
    del no_indices['flip_indices']
    with pytest.raises(KeyError, match='flip_indices'):
        RandomFlipAroundRoot({}, {}, flip_prob=1.)(no_indices)
    no_camera = _sample()
    del no_camera['camera_param']
    with pytest.raises(KeyError, match='camera_param'):
        RandomFlipAroundRoot({}, {}, flip_prob=1., flip_camera=True)(
            no_camera)
