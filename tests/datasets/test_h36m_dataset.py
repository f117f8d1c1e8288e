"""Human36mDataset / BaseMocapDataset against MMPose 1.3.2.

Expected lengths, frame indices (``img_ids``) and sample ids were read from
MMPose 1.3.2's ``Human36mDataset`` on the same files (fixture and the
synthetic file below) with the settings of its h36m configs; keys, dtypes and
values of every compared ``get_data_info(i)`` were equal there (exactly).
Values of the synthetic file follow from its formulas (see ``make_h36m``).
"""
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest

from posekit.datasets import BaseMocapDataset, Human36mDataset
from posekit.registry import DATASETS

FIXTURE = Path(__file__).parents[1] / 'data' / 'fixtures' / 'h36m'
CAMERAS = str(FIXTURE / 'cameras.pkl')
# (subject, action, camera, frames), in file order; sorted order is C, A, B
VIDEOS = [('S5', 'Eating', '55011271', 10), ('S1', 'Walking', '54138969', 300),
          ('S1', 'Directions_1', '54138969', 30)]
KEYS = {'camera_param', 'category_id', 'center', 'dataset_keypoint_weights', 'factor',
        'flip_indices', 'flip_pairs', 'id', 'img_ids', 'img_paths', 'iscrowd',
        'keypoints', 'keypoints_3d', 'keypoints_3d_visible', 'keypoints_visible',
        'lifting_target', 'lifting_target_visible', 'lower_body_ids', 'num_keypoints',
        'sample_idx', 'scale', 'skeleton_links', 'target_img_path', 'upper_body_ids'}


def make_h36m(root: Path) -> None:
    """340 frames in 3 videos. Frame f, keypoint k: 2D = (100 + f + k,
    200 + 2f - k, (f + k) % 2) (last frame: x = y = -5, so it is dropped), 3D =
    (0.001f + 0.01k, -0.002f + 0.02k, 4 + 0.003f, 1), center (500 + f, 400 - f),
    scale 1 + 0.01f; detections (300 + f, 50 + k, 0.5); factors 5 + 0.1f."""
    names = [f'{s}/{s}_{a}.{c}/{s}_{a}.{c}_{i + 1:06d}.jpg'
             for s, a, c, n in VIDEOS for i in range(n)]
    f = np.arange(len(names), dtype=np.float64)[:, None]
    k = np.arange(17, dtype=np.float64)[None, :]
    part = np.stack([100 + f + k, 200 + 2 * f - k, (f + k) % 2], axis=-1)
    part[-1, :, :2] = -5.0
    s3d = np.stack([0.001 * f + 0.01 * k, -0.002 * f + 0.02 * k, 4 + 0.003 * f + 0 * k,
                    np.ones_like(f + k)], axis=-1)
    np.savez(root / 'synth_h36m.npz', imgname=np.array(names), part=part, S=s3d,
             center=np.concatenate([500 + f, 400 - f], axis=1), scale=1 + 0.01 * f[:, 0])
    det = np.stack([300 + f + 0 * k, 50 + k + 0 * f, 0.5 + 0 * f * k], axis=-1)
    np.save(root / 'synth_det.npy', det)
    np.save(root / 'synth_det_16kpts.npy', det[:, :16])
    np.save(root / 'synth_factor.npy', 5 + 0.1 * f[:, 0])


@pytest.fixture(scope='module')
def synth(tmp_path_factory):
    root = tmp_path_factory.mktemp('h36m')
    make_h36m(root)
    return root


def build(root, ann_file='synth_h36m.npz', **kwargs):
    np.random.seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return Human36mDataset(ann_file=ann_file, data_root=str(root),
                               data_prefix=dict(img='images/'), **kwargs)


def test_fixture_image_lifter_config():
    """image-pose-lift_tcn_8xb64-200e_h36m.py: seq_len 1, causal, gt 2D."""
    ds = build(FIXTURE, 'test_h36m_body3d.npz', seq_len=1, causal=True, keypoint_2d_src='gt')
    assert len(ds) == 4
    info = ds.get_data_info(1)
    assert set(info) == KEYS - {'camera_param'}
    assert info['img_paths'] == ['S5/S5_SittingDown.54138969/S5_SittingDown.54138969_002061.jpg']
    assert info['img_ids'] == [1] and info['id'] == 1 and info['sample_idx'] == 1
    for key, shape in [('keypoints', (1, 17, 2)), ('keypoints_visible', (1, 17)),
                       ('keypoints_3d', (1, 17, 3)), ('lifting_target', (1, 17, 3)),
                       ('lifting_target_visible', (1, 17)), ('center', (1, 2)),
                       ('factor', (1,))]:
        assert info[key].shape == shape and info[key].dtype == np.float32, key
    np.testing.assert_allclose(info['keypoints'][0, :2].ravel(),
                               [504.70285, 669.41077, 522.78296, 662.76215], rtol=1e-6)
    np.testing.assert_allclose(info['keypoints_3d'][0, 0], [-0.0322035, 0.6349921, 4.6981411],
                               rtol=1e-6)
    np.testing.assert_array_equal(info['lifting_target'], info['keypoints_3d'])
    np.testing.assert_allclose(info['center'], [[477.50055, 619.40271]], rtol=1e-6)
    assert info['scale'].dtype == np.float32 and abs(info['scale'] - 1.454226) < 1e-6
    assert info['target_img_path'].tolist() == info['img_paths']
    assert info['flip_indices'] == [0, 4, 5, 6, 1, 2, 3, 7, 8, 9, 10, 14, 15, 16, 11, 12, 13]
    assert info['category_id'] == 1 and info['iscrowd'] == 0 and info['num_keypoints'] == 17


def test_fixture_video_config_pads_single_frame_videos():
    """video-pose-lift 27 frames: every fixture frame is its own video."""
    ds = build(FIXTURE, 'test_h36m_body3d.npz', seq_len=27, causal=False, pad_video_seq=True,
               camera_param_file='cameras.pkl')
    assert len(ds) == 4
    with open(CAMERAS, 'rb') as f:
        cameras = pickle.load(f)
    for i in range(4):
        info = ds.get_data_info(i)
        assert info['img_ids'] == [i] * 27 and info['keypoints'].shape == (27, 17, 2)
        np.testing.assert_array_equal(info['lifting_target'], info['keypoints_3d'][13:14])
        # 'S1/S1_Directions_1.54138969/...' -> ('S1', '54138969')
        subject, video = info['img_paths'][0].split('/')[:2]
        expected = cameras[(subject, video.rsplit('.', 1)[1])]
        assert set(info['camera_param']) == set(expected)
        np.testing.assert_array_equal(info['camera_param']['R'], expected['R'])


def test_fixture_detection_keypoints():
    ds = build(FIXTURE, 'test_h36m_body3d.npz', seq_len=1, causal=False,
               keypoint_2d_src='detection', keypoint_2d_det_file='test_h36m_2d_detection.npy')
    det = np.load(FIXTURE / 'test_h36m_2d_detection.npy').astype(np.float32)
    info = ds.get_data_info(2)
    np.testing.assert_array_equal(info['keypoints'], det[2:3, :, :2])
    np.testing.assert_array_equal(info['keypoints_visible'], det[2:3, :, 2])
    np.testing.assert_allclose(info['keypoints'][0, 0], [366.88541, 412.33853], rtol=1e-6)


# (settings, len, {sample index: (img_ids, id)}) read from MMPose 1.3.2.
# Sorted video order: C (frames 310-339), A (10-309), B (0-9).
CASES = [
    (dict(seq_len=1, causal=True), 339,
     {0: ([310], 0), 29: ([10], 30), 169: ([150], 170), 338: ([9], 339)}),
    (dict(seq_len=27, causal=False, pad_video_seq=True), 340,
     {0: ([310] * 14 + list(range(311, 324)), 0),
      339: ([0] * 4 + list(range(10)) + [9] * 13, 339)}),
    (dict(seq_len=9, seq_step=3, causal=True, pad_video_seq=True), 340,
     {170: (list(range(126, 151, 3)), 170)}),
    (dict(seq_len=27, causal=False), 278, {0: (list(range(310, 337)), 0)}),
    (dict(seq_len=5, seq_step=2, causal=True), 316, {315: ([1, 3, 5, 7, 9], 315)}),
    (dict(seq_len=1, multiple_target=243, multiple_target_step=81), 1,
     {0: (list(range(10, 253)), 0)}),
]


@pytest.mark.parametrize('kwargs,length,samples', CASES)
def test_synthetic_sequences_match_mmpose(synth, kwargs, length, samples):
    ds = build(synth, **kwargs)
    assert len(ds) == length
    for i, (img_ids, id_) in samples.items():
        info = ds.get_data_info(i)
        assert info['img_ids'] == img_ids and info['id'] == id_
        f = np.array(img_ids, dtype=np.float32)[:, None]
        k = np.arange(17, dtype=np.float32)[None]
        np.testing.assert_allclose(info['keypoints'][..., 0], 100 + f + k)
        np.testing.assert_allclose(info['keypoints_visible'], (f + k) % 2)
        np.testing.assert_allclose(info['keypoints_3d'][..., 2], 4 + 0.003 * f + 0 * k,
                                   rtol=1e-6)
        target = (list(range(len(img_ids))) if kwargs.get('multiple_target')
                  else [-1] if kwargs['causal'] else [kwargs['seq_len'] // 2])
        np.testing.assert_array_equal(info['lifting_target'], info['keypoints_3d'][target])
        names = np.array(info['img_paths'])[target]
        np.testing.assert_array_equal(info['target_img_path'], names)
        # MMPose reads center and scale at row `id` (see the module docstring)
        np.testing.assert_allclose(info['center'], [[500 + id_, 400 - id_]])
        assert abs(info['scale'] - (1 + 0.01 * id_)) < 1e-5


def test_motionbert_test_config_factors_and_cameras(synth):
    ds = build(synth, seq_len=1, seq_step=1, multiple_target=243, test_mode=True,
               factor_file='synth_factor.npy', camera_param_file=CAMERAS)
    assert len(ds) == 1
    info = ds.get_data_info(0)
    assert set(info) == KEYS
    f = np.arange(10, 253, dtype=np.float32)
    np.testing.assert_allclose(info['factor'], 5 + 0.1 * f, rtol=1e-6)
    assert info['lifting_target'].shape == (243, 17, 3)
    assert info['lifting_target_visible'].shape == (243, 17)
    assert info['camera_param']['name'] is not None
    with open(CAMERAS, 'rb') as fh:
        assert info['camera_param']['id'] == pickle.load(fh)[('S1', '54138969')]['id']


def test_detection_2d_source_with_243_frames(synth):
    ds = build(synth, seq_len=243, causal=False, pad_video_seq=True,
               keypoint_2d_src='detection', keypoint_2d_det_file='synth_det.npy')
    info = ds.get_data_info(170)  # video A, frame 150: frames 29..271
    assert info['img_ids'] == list(range(29, 272))
    np.testing.assert_allclose(info['keypoints'][[0, -1], 0], [[329, 50], [571, 50]])
    np.testing.assert_allclose(info['keypoints_visible'], 0.5)
    np.testing.assert_array_equal(info['factor'], np.zeros(243, np.float32))


def test_subset_frac_draws_like_mmpose(synth):
    np.random.seed(3)
    ds = Human36mDataset(ann_file='synth_h36m.npz', data_root=str(synth), subset_frac=0.5)
    # MMPose, seed 3: 170 of 340 sequences from sequence 106 on; then rand() = 0.0707...
    assert len(ds) == 170
    assert ds.get_data_info(0)['img_ids'] == [86] and ds.get_data_info(169)['img_ids'] == [255]
    assert abs(np.random.rand() - 0.07072488001099086) < 1e-15


def test_lazy_init_serialize_and_registry(synth):
    lazy = DATASETS.build(dict(type='Human36mDataset', ann_file='synth_h36m.npz',
                               data_root=str(synth), lazy_init=True))
    assert not lazy._fully_initialized and lazy.metainfo['num_keypoints'] == 17
    plain = build(synth, serialize_data=False)
    a, b = lazy.get_data_info(5), plain.get_data_info(5)
    assert a['img_ids'] == b['img_ids'] == [315]
    np.testing.assert_array_equal(a['keypoints'], b['keypoints'])


def test_base_mocap_dataset_single_frames_and_merge(synth):
    meta = dict(from_file='configs/_base_/datasets/h36m.py')
    ds = BaseMocapDataset(ann_file='synth_h36m.npz', data_root=str(synth), metainfo=meta)
    assert len(ds) == 339 and ds.get_data_info(7)['img_ids'] == [7]  # file order
    merged = BaseMocapDataset(ann_file='synth_h36m.npz', data_root=str(synth),
                              metainfo=meta, multiple_target=100)
    assert len(merged) == 3 and merged.get_data_info(2)['img_ids'] == list(range(200, 300))
    with pytest.raises(ValueError, match='seq_len=1 only'):
        BaseMocapDataset(ann_file='synth_h36m.npz', data_root=str(synth), metainfo=meta,
                         seq_len=3)


def test_bad_inputs(synth):
    with pytest.raises(FileNotFoundError, match='camera_param_file.*no_cameras.pkl'):
        build(synth, camera_param_file='no_cameras.pkl')
    with pytest.raises(FileNotFoundError, match='annotation file.*missing.npz'):
        build(synth, 'missing.npz')
    with pytest.raises(ValueError, match=r'synth_det_16kpts.npy has shape \(340, 16, 3\), '
                                         r'expected \(340, 17, 3\)'):
        build(synth, keypoint_2d_src='detection', keypoint_2d_det_file='synth_det_16kpts.npy')
    with pytest.raises(ValueError, match='needs keypoint_2d_det_file'):
        build(synth, keypoint_2d_src='detection')
    with pytest.raises(ValueError, match="keypoint_2d_src must be one of .*'cpn'"):
        build(synth, keypoint_2d_src='cpn')
    with pytest.raises(ValueError, match='multiple_target needs seq_step=1'):
        build(synth, multiple_target=243, seq_step=2)
    with pytest.raises(ValueError, match='data_mode must be "topdown"'):
        build(synth, data_mode='bottomup')


def test_videos_shorter_than_a_sample(synth):
    np.random.seed(0)
    with pytest.warns(UserWarning, match='1 video.* shorter than one sample .*S5_Eating'):
        ds = Human36mDataset(ann_file='synth_h36m.npz', data_root=str(synth), seq_len=27,
                             causal=False)
    assert len(ds) == 278  # 30 - 26 + 300 - 26 samples, none from the 10-frame video
    with pytest.raises(ValueError, match='no sample .*seq_len=301'):
        build(synth, seq_len=301)
    assert len(build(synth, seq_len=301, pad_video_seq=True)) == 340
    # a 10-frame video gives no 20-frame window (MMPose 1.3.2 fails here)
    assert len(build(synth, multiple_target=20, multiple_target_step=7)) == 2 + 41


def test_bad_files_name_the_file_and_the_expectation(synth, tmp_path):
    """Issue 15: a wrong frame count, an unreadable detection or camera file,
    and a camera missing from the camera file each name file and key."""
    det = np.load(synth / 'synth_det.npy')
    np.save(tmp_path / 'det_339.npy', det[:339])
    with pytest.raises(ValueError, match=r'det_339.npy has shape \(339, 17, 3\), '
                                         r'expected \(340, 17, 3\) \(frames of .*synth_h36m.npz'):
        build(synth, keypoint_2d_src='detection',
              keypoint_2d_det_file=str(tmp_path / 'det_339.npy'))
    (tmp_path / 'det.npy').write_bytes(b'not a numpy file')
    with pytest.raises(ValueError, match='cannot read keypoint_2d_det_file .*det.npy'):
        build(synth, keypoint_2d_src='detection', keypoint_2d_det_file=str(tmp_path / 'det.npy'))
    (tmp_path / 'cams.pkl').write_bytes(b'garbage')
    with pytest.raises(ValueError, match='camera_param_file .*cams.pkl is not a readable'):
        build(synth, camera_param_file=str(tmp_path / 'cams.pkl'))
    (tmp_path / 'list.pkl').write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(ValueError, match='list.pkl holds a list, expected a dict'):
        build(synth, camera_param_file=str(tmp_path / 'list.pkl'))
    with open(CAMERAS, 'rb') as f:
        cams = pickle.load(f)
    del cams[('S5', '55011271')]
    (tmp_path / 'no_s5.pkl').write_bytes(pickle.dumps(cams))
    with pytest.raises(KeyError, match=r"no_s5.pkl has no entry \('S5', '55011271'\) "
                                       'for frame .*S5_Eating'):
        build(synth, camera_param_file=str(tmp_path / 'no_s5.pkl'))


def test_no_sample_error_says_how_many_frames_are_needed():
    """MotionBERT's multiple_target=243 on the 4-frame fixture (MMPose 1.3.2
    fails with 'need at least one array to concatenate')."""
    with pytest.raises(ValueError, match=r'needs 243 consecutive frames .*multiple_target=243'
                                         r'\) and the longest of its 4 video\(s\) has 1$'):
        build(FIXTURE, 'test_h36m_body3d.npz', multiple_target=243)
    with pytest.raises(ValueError, match=r'needs 27 consecutive .*has 1; set pad_video_seq'):
        build(FIXTURE, 'test_h36m_body3d.npz', seq_len=27)
    assert len(build(FIXTURE, 'test_h36m_body3d.npz', seq_len=27, pad_video_seq=True)) == 4
