"""The synthetic motion-capture dataset (``posekit make-synthetic --mocap``).

Sizes used: ``num_videos=1, num_frames=30``: each of the 5 train subjects
(S1 S5 S6 S7 S8) has one video seen by 4 cameras, 5 * 4 * 30 = 600 frames;
the val subjects (S9 S11) 2 * 4 * 30 = 240.
"""
import pickle
from collections import Counter

import numpy as np
import pytest

from posekit.cli import main
from posekit.datasets import Human36mDataset
from posekit.datasets.body3d.h36m_dataset import parse_h36m_imgname
from posekit.datasets.synthetic_mocap import (BONE_LENGTHS, CAMERA_IDS, MOTIONS, PARENTS,
                                              bone_lengths, make_synthetic_mocap,
                                              subject_lengths)

SMALL = dict(num_videos=1, num_frames=30)


@pytest.fixture(scope='module')
def mocap(tmp_path_factory):
    out = tmp_path_factory.mktemp('mocap')
    res = make_synthetic_mocap(out, seed=3, **SMALL)
    return out, res


def _load(out, split):
    name = 'h36m_train' if split == 'train' else 'h36m_test'
    with np.load(out / 'annotation_body3d' / 'fps50' / f'{name}.npz') as npz:
        return {k: npz[k] for k in npz.files}


def _cameras(out):
    with open(out / 'annotation_body3d' / 'cameras.pkl', 'rb') as f:
        return pickle.load(f)


def test_layout_and_sizes(mocap):
    out, res = mocap
    assert res['train']['num_frames'] == 600 and res['val']['num_frames'] == 240
    train, val = _load(out, 'train'), _load(out, 'val')
    assert train['S'].shape == (600, 17, 4) and train['part'].shape == (600, 17, 3)
    assert train['center'].shape == (600, 2) and train['scale'].shape == (600,)
    subjects = lambda d: Counter(parse_h36m_imgname(n)[0] for n in d['imgname'])
    assert subjects(train) == {s: 120 for s in ('S1', 'S5', 'S6', 'S7', 'S8')}
    assert subjects(val) == {'S9': 120, 'S11': 120}
    assert parse_h36m_imgname(train['imgname'][0]) == ('S1', 'Walking_1', CAMERA_IDS[0])
    assert train['imgname'][0] == 'S1/S1_Walking_1.50000001/S1_Walking_1.50000001_000001.jpg'
    assert (train['S'][..., 3] == 1).all() and (train['part'][..., 2] == 1).all()
    cams = _cameras(out)
    assert set(cams) == {(s, c) for s in ('S1', 'S5', 'S6', 'S7', 'S8', 'S9', 'S11')
                         for c in CAMERA_IDS}


def test_bone_lengths_are_constant_and_plausible(mocap):
    out, _ = mocap
    data = _load(out, 'train')
    for subject_index, subject in enumerate(('S1', 'S5', 'S6', 'S7', 'S8')):
        rows = slice(subject_index * 120, (subject_index + 1) * 120)
        lengths = bone_lengths(data['S'][rows, :, :3])          # (120, 16), metres
        expected = subject_lengths(3, subject)[1:]
        # float64 sums of a few terms: far below 1 micrometre
        np.testing.assert_allclose(lengths, np.broadcast_to(expected, lengths.shape),
                                   rtol=0, atol=1e-9)
    # each bone within the stature (+-10%) and per-bone (+-5%) range of the means
    ratio = bone_lengths(data['S'][:, :, :3]) / np.array(BONE_LENGTHS[1:])
    assert ratio.min() >= 0.9 * 0.95 - 1e-9 and ratio.max() <= 1.1 * 1.05 + 1e-9
    assert PARENTS[10] == 9 and PARENTS[13] == 12   # head on neck, wrist on elbow


def test_projection_with_the_written_cameras(mocap):
    out, _ = mocap
    cams = _cameras(out)
    for split in ('train', 'val'):
        data = _load(out, split)
        for i in range(0, len(data['imgname']), 7):
            subject, _, camera = parse_h36m_imgname(data['imgname'][i])
            cam = cams[(subject, camera)]
            xyz = data['S'][i, :, :3]
            assert (xyz[:, 2] > 2.5).all()                    # in front, metres away
            pix = cam['f'][:, 0] * xyz[:, :2] / xyz[:, 2:] + cam['c'][:, 0]
            np.testing.assert_allclose(data['part'][i, :, :2], pix, rtol=0, atol=1e-6)
            assert ((pix >= 0) & (pix <= (cam['w'] - 1, cam['h'] - 1))).all()
            # SimpleCamera's convention: X_cam = (X_world - T.T) @ R, R a rotation
            R, T = cam['R'], cam['T']
            np.testing.assert_allclose(R.T @ R, np.eye(3), atol=1e-12)
            assert np.linalg.det(R) == pytest.approx(1.0, abs=1e-12)
            world = xyz @ R.T + T.T
            # z is up: the head is above the pelvis, the pelvis above the ground
            assert world[10, 2] > world[0, 2] > 0.5
            assert (cam['k'] == 0).all() and (cam['p'] == 0).all()


def test_box_center_and_scale(mocap):
    out, _ = mocap
    data = _load(out, 'val')
    part = data['part'][..., :2]
    lo, hi = part.min(1), part.max(1)
    np.testing.assert_allclose(data['center'], (lo + hi) / 2)
    np.testing.assert_allclose(data['scale'], 1.2 * (hi - lo).max(1) / 200)


def test_human36m_dataset_reads_it(mocap):
    out, _ = mocap
    common = dict(data_root=str(out), camera_param_file='annotation_body3d/cameras.pkl',
                  data_prefix=dict(img='images/'))
    padded = Human36mDataset(ann_file='annotation_body3d/fps50/h36m_train.npz', seq_len=27,
                             causal=False, pad_video_seq=True, **common)
    assert len(padded) == 600                       # one sample per frame
    windows = Human36mDataset(ann_file='annotation_body3d/fps50/h36m_test.npz', seq_len=27,
                              **common)
    assert len(windows) == 8 * (30 - 27 + 1)        # 8 videos, 4 full windows each
    info = padded[0]
    assert info['keypoints'].shape == (27, 17, 2)
    assert info['lifting_target'].shape == (1, 17, 3)
    assert info['camera_param']['id'] == CAMERA_IDS[0] and info['camera_param']['w'] == 1000


def test_seed_fixes_every_value(tmp_path):
    make_synthetic_mocap(tmp_path / 'a', seed=5, **SMALL)
    make_synthetic_mocap(tmp_path / 'b', seed=5, **SMALL)
    make_synthetic_mocap(tmp_path / 'c', seed=6, **SMALL)
    make_synthetic_mocap(tmp_path / 'more', seed=5, num_videos=2, num_frames=30)
    a, b, c = (_load(tmp_path / n, 'train') for n in 'abc')
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert np.abs(a['S'] - c['S']).max() > 0.01
    assert _cameras(tmp_path / 'a')[('S1', CAMERA_IDS[0])]['f'][0, 0] == \
        _cameras(tmp_path / 'b')[('S1', CAMERA_IDS[0])]['f'][0, 0]
    # the first video of S1 does not depend on how many videos are written
    more = _load(tmp_path / 'more', 'train')
    np.testing.assert_array_equal(more['S'][:120], a['S'][:120])
    assert parse_h36m_imgname(more['imgname'][120])[1] == f'{MOTIONS[1]}_1'


def test_cli(tmp_path, capsys):
    out = tmp_path / 'cli'
    assert main(['make-synthetic', str(out), '--mocap', '--seed', '5',
                 '--num-videos', '1', '--num-frames', '30']) == 0
    printed = capsys.readouterr().out
    assert 'train: 600 frames of S1 S5 S6 S7 S8' in printed
    assert 'val: 240 frames of S9 S11' in printed
    make_synthetic_mocap(tmp_path / 'api', seed=5, **SMALL)
    np.testing.assert_array_equal(_load(out, 'val')['part'], _load(tmp_path / 'api', 'val')['part'])
    # options of the other dataset are refused, not ignored
    assert main(['make-synthetic', str(out), '--mocap', '--num-images', '5']) == 2
    assert '--num-images only apply without --mocap' in capsys.readouterr().err
    assert main(['make-synthetic', str(out), '--num-frames', '5']) == 2
    assert '--num-frames only apply with --mocap' in capsys.readouterr().err
    with pytest.raises(ValueError, match='num_frames'):
        make_synthetic_mocap(tmp_path / 'bad', num_frames=0)
