"""Pose-lifting codecs (ImagePoseLifting, VideoPoseLifting, MotionBERTLabel):
first-principles round trips, and encode/decode against MMPose 1.3.2.

``h36m_lifting/lifting_reference.npz`` holds inputs (4 frames of the H3.6M
fixture: 2D pixels, camera-space metres, camera S1/54138969; and seeded
random poses) with MMPose 1.3.2's outputs for the cases below, written by a
throwaway script (/tmp/h2/ref.py) that ran the reference on them. Keys are
``<case>/<encoded key>``; ``<case>_dec/keypoints`` is the decode of the
case's own ``lifting_target_label`` as a head hands it over (one sample
with a leading 1). posekit reproduces float32 values to rounding: 1e-6
relative on values up to ~1e3 (the same operations, in the same order).
"""
from pathlib import Path

import numpy as np
import pytest

from posekit.codecs import ImagePoseLifting, MotionBERTLabel, VideoPoseLifting
from posekit.codecs.utils import camera_to_image_coord, camera_to_pixel

REF = np.load(Path(__file__).resolve().parents[1] /
              'data/fixtures/h36m_lifting/lifting_reference.npz')
CAMERA = dict(w=int(REF['cam_wh'][0]), h=int(REF['cam_wh'][1]),
              f=REF['cam_f'], c=REF['cam_c'], p=REF['cam_p'])


def _image_h36m():
    codec = ImagePoseLifting(
        17, root_index=0, remove_root=True, save_index=True,
        keypoints_mean=REF['cfg_keypoints_mean'],
        keypoints_std=REF['cfg_keypoints_std'],
        target_mean=REF['cfg_target_mean'], target_std=REF['cfg_target_std'])
    enc = codec.encode(REF['kp2d'][:1], REF['vis2d'][:1], REF['kp3d'][:1],
                       REF['vis3d'][:1])
    return codec, enc, (enc['target_root'][None],)


def _image_rand():
    codec = ImagePoseLifting(17, root_index=[0, 3], remove_root=True,
                             reshape_keypoints=False, concat_vis=True)
    enc = codec.encode(REF['rkp2d'][:1], REF['rvis'][:1], REF['rkp3d'][:1])
    return codec, enc, (enc['target_root'][None],)


def _video_h36m():
    codec = VideoPoseLifting(17, zero_center=True, root_index=0,
                             remove_root=False)
    enc = codec.encode(REF['kp2d'], REF['vis2d'], REF['kp3d'][:1],
                       REF['vis3d'][:1], dict(CAMERA))
    return codec, enc, (enc['target_root'][None],)


def _video_rand():
    codec = VideoPoseLifting(17, root_index=0, remove_root=True,
                             save_index=True, concat_vis=True,
                             normalize_camera=True)
    enc = codec.encode(REF['rkp2d'], REF['rvis'], REF['rkp3d'][:1],
                       REF['rvis'][:1], dict(CAMERA))
    return codec, enc, (enc['target_root'][None],)


def _motionbert(camera, factor=None, **kwargs):
    def case():
        codec = MotionBERTLabel(17, **kwargs)
        enc = codec.encode(REF['kp2d'], REF['vis2d'], REF['kp3d'].copy(),
                           REF['vis3d'], camera, factor)
        wh = (np.array([[float(camera['w'])]]),
              np.array([[float(camera['h'])]]))
        return codec, enc, (*wh, enc['factor'][None])
    return case


CASES = {
    'image_h36m': _image_h36m, 'image_rand': _image_rand,
    'video_h36m': _video_h36m, 'video_rand': _video_rand,
    'mb_train': _motionbert(CAMERA, concat_vis=True, mode='train'),
    'mb_test': _motionbert(CAMERA, concat_vis=True, rootrel=True),
    'mb_factor': _motionbert(CAMERA, np.full(4, 2.5, np.float32)),
    'mb_nocam': _motionbert(dict(w=1000, h=1002), mode='TRAIN'),
}


def _flat(enc):
    flat = {}
    for key, value in enc.items():
        if isinstance(value, dict):
            flat.update({f'{key}.{k}': v for k, v in value.items()})
        else:
            flat[key] = value
    return flat


def _assert_close(ours, ref, name):
    ours = np.asarray(ours)
    assert ours.shape == ref.shape, name
    if ref.dtype.kind in 'biu':
        np.testing.assert_array_equal(ours, ref, err_msg=name)
    else:
        np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-6,
                                   err_msg=name)


@pytest.mark.parametrize('case', sorted(CASES))
def test_encode_decode_match_mmpose(case):
    """ImagePoseLifting / VideoPoseLifting / MotionBERTLabel: every encoded
    key and the decode equal MMPose 1.3.2's."""
    codec, enc, decode_args = CASES[case]()
    flat = _flat(enc)
    expected = {k.split('/', 1)[1] for k in REF.files
                if k.startswith(case + '/')}
    assert set(flat) == expected
    for key in expected:
        _assert_close(flat[key], REF[f'{case}/{key}'], f'{case}/{key}')
    keypoints, scores = codec.decode(enc['lifting_target_label'][None]
                                     if isinstance(codec, MotionBERTLabel)
                                     else enc['lifting_target_label'],
                                     *decode_args)
    _assert_close(keypoints, REF[f'{case}_dec/keypoints'], case + '_dec')
    np.testing.assert_array_equal(scores, REF[f'{case}_dec/scores'])


@pytest.mark.parametrize('remove_root', [False, True])
def test_image_pose_lifting_round_trip_is_identity(remove_root):
    """ImagePoseLifting: root-relative, standardised encode, then decode
    with the stored root, gives the target back (float32 rounding of
    values ~5 m over a subtract/divide/multiply/add chain: 1e-5)."""
    rng = np.random.default_rng(1)
    target = (rng.normal(0, .5, (1, 17, 3)) + [0, 0, 5]).astype(np.float32)
    kk = 16 if remove_root else 17
    codec = ImagePoseLifting(17, remove_root=remove_root,
                             target_mean=rng.normal(0, .1, (kk, 3)),
                             target_std=rng.uniform(.1, 1, (kk, 3)))
    enc = codec.encode(rng.uniform(0, 1000, (1, 17, 2)), None, target)
    np.testing.assert_array_equal(enc['target_root'], target[:, 0])
    back, _ = codec.decode(enc['lifting_target_label'],
                           enc['target_root'][None])
    np.testing.assert_allclose(back, target, atol=1e-5)


def test_video_pose_lifting_round_trip_and_input_frame():
    """VideoPoseLifting: 2D pixels p -> (p - (w/2, h/2)) / (w/2), so the
    image centre is 0 and the right edge x = 1; the 3D round trip with the
    stored root is the identity."""
    codec = VideoPoseLifting(2, root_index=[0, 1], reshape_keypoints=False)
    kp = np.array([[[500., 501.], [1000., 0.]]], np.float32)
    target = np.array([[[1., 2., 3.], [3., 2., 5.]]], np.float32)
    enc = codec.encode(kp, None, target, np.ones((1, 2)),
                       dict(w=1000, h=1002))
    np.testing.assert_allclose(enc['keypoint_labels'],
                               [[[0., 0.], [1., -501 / 500]]], atol=1e-7)
    np.testing.assert_array_equal(enc['target_root'], [[2., 2., 4.]])
    np.testing.assert_array_equal(enc['lifting_target_label'],
                                  [[[-1., 0., -1.], [1., 0., 1.]]])
    back, _ = codec.decode(enc['lifting_target_label'],
                           enc['target_root'][None])
    np.testing.assert_array_equal(back, target)


def test_camera_to_image_coord_by_hand():
    """A point on the optical axis projects to c; a point 1 m right at
    z = 4 m projects f / 4 pixels right (all / 1000); the factor is the
    inverse of the projected size of 1 m at the root's depth."""
    cam = dict(f=np.array([[1000.], [1000.]]), c=np.array([[500.], [400.]]))
    pts = np.array([[[0., 0., 4.], [1., 0., 4.], [0., 0., 6.]]], np.float32)
    np.testing.assert_allclose(
        camera_to_pixel(pts[0, :2], 1., 1., .5, .4), [[.5, .4], [.75, .4]])
    image, factor = camera_to_image_coord(0, pts, cam)
    np.testing.assert_allclose(image[0, :, :2],
                               [[.5, .4], [.75, .4], [.5, .4]], rtol=1e-6)
    ratio = (0.5 + 0.001) / 2            # (0.25 - (-0.25) + 0.001) / 2
    np.testing.assert_allclose(image[0, :, 2], [0., 0., 2 * ratio],
                               rtol=1e-6)
    np.testing.assert_allclose(factor, [1 / ratio], rtol=1e-6)


def test_motionbert_test_mode_decode_recovers_metres():
    """MotionBERTLabel without f, c: 'test' mode keeps camera space, makes
    it root-relative and multiplies by the default factor 4; decoding
    without w (no screen step) multiplies by the given factor (here 1/4)
    and divides by 1000, so it returns the root-relative pose / 1000."""
    codec = MotionBERTLabel(17)
    enc = codec.encode(REF['kp2d'], None, REF['kp3d'].copy(), None,
                       dict(w=1000, h=1002))       # no f, c: factor 4
    np.testing.assert_array_equal(enc['factor'], np.full((4, 1), 4.))
    rel = REF['kp3d'] - REF['kp3d'][:, :1]
    np.testing.assert_allclose(enc['lifting_target_label'], rel * 4,
                               atol=1e-6)
    out, _ = codec.decode(enc['lifting_target_label'][None], None, None,
                          np.full((1, 4, 1), .25, np.float32))
    np.testing.assert_allclose(out[0], rel / 1000, atol=1e-8)


def test_bad_configs_raise():
    with pytest.raises(ValueError, match='mode'):
        MotionBERTLabel(17, mode='val')
    with pytest.raises(ValueError, match='remove_root'):
        MotionBERTLabel(17, remove_root=True)
    with pytest.raises(ValueError, match='zero_center'):
        VideoPoseLifting(17, zero_center=False, remove_root=True)
    with pytest.raises(ValueError, match='target_std'):
        ImagePoseLifting(17, target_mean=np.zeros((17, 3)))
    with pytest.raises(KeyError, match='"w" and "h"'):
        VideoPoseLifting(17).encode(np.zeros((1, 17, 2)), None,
                                    np.zeros((1, 17, 3)), None, None)


def test_lifting_targets_pass_generate_target_and_pack_pose_inputs():
    """GenerateTarget(VideoPoseLifting) + PackPoseInputs as in the VideoPose3D
    configs: the network input is keypoint_labels (K * 2, T), the labels
    and the 3D target reach the sample, target_root the metainfo."""
    from posekit.datasets.transforms import Compose
    pipeline = Compose([
        dict(type='GenerateTarget',
             encoder=dict(type='VideoPoseLifting', num_keypoints=17)),
        dict(type='PackPoseInputs',
             meta_keys=('id', 'flip_indices', 'target_root'))])
    sample = dict(keypoints=REF['kp2d'], keypoints_visible=REF['vis2d'],
                  lifting_target=REF['kp3d'][:1],
                  lifting_target_visible=REF['vis3d'][:1],
                  camera_param=dict(CAMERA), id=7)
    out = pipeline(sample)
    np.testing.assert_array_equal(out['inputs'].numpy(),
                                  REF['video_h36m/keypoint_labels'])
    ds = out['data_samples']
    labels = ds.gt_instance_labels
    np.testing.assert_array_equal(labels.lifting_target_label.numpy(),
                                  REF['video_h36m/lifting_target_label'])
    np.testing.assert_array_equal(labels.lifting_target_weight.numpy(),
                                  REF['video_h36m/lifting_target_weight'])
    np.testing.assert_array_equal(labels.trajectory_weights.numpy(),
                                  REF['video_h36m/trajectory_weights'])
    np.testing.assert_array_equal(ds.gt_instances.lifting_target,
                                  REF['kp3d'][:1])
    np.testing.assert_array_equal(ds.metainfo['target_root'],
                                  REF['video_h36m/target_root'])
    assert ds.metainfo['id'] == 7


def test_motionbert_train_pipeline_flips_labels():
    """MotionBERT's train pipeline: GenerateTarget, RandomFlipAroundRoot on
    the labels about x = 0, PackPoseInputs; the packed input is the flipped
    (T, K, 3) keypoint_labels and factor/camera_param reach the metainfo."""
    from posekit.datasets.transforms import Compose
    flip = [int(i) for i in REF['flip_indices']]
    pipeline = Compose([
        dict(type='GenerateTarget',
             encoder=dict(type='MotionBERTLabel', num_keypoints=17,
                          concat_vis=True, mode='train')),
        dict(type='RandomFlipAroundRoot',
             keypoints_flip_cfg=dict(center_mode='static', center_x=0.),
             target_flip_cfg=dict(center_mode='static', center_x=0.),
             flip_label=True, flip_prob=1.0),
        dict(type='PackPoseInputs',
             meta_keys=('id', 'flip_indices', 'factor', 'camera_param'))])
    sample = dict(keypoints=REF['kp2d'], keypoints_visible=REF['vis2d'],
                  lifting_target=REF['kp3d'].copy(),
                  lifting_target_visible=REF['vis3d'],
                  camera_param=dict(CAMERA), flip_indices=flip)
    out = pipeline(sample)
    expected = REF['mb_train/keypoint_labels'][:, flip]
    expected[..., 0] *= -1
    np.testing.assert_allclose(out['inputs'].numpy(), expected, atol=0)
    target = REF['mb_train/lifting_target_label'][:, flip]
    target[..., 0] *= -1
    ds = out['data_samples']
    np.testing.assert_allclose(
        ds.gt_instance_labels.lifting_target_label.numpy(), target, atol=0)
    np.testing.assert_array_equal(ds.metainfo['factor'],
                                  REF['mb_train/factor'])
