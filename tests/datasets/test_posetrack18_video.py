"""PoseTrack18VideoDataset on the PoseTrack18 fixture, and LoadImage on frame lists.

Expected data lists were compared with MMPose 1.3.2's PoseTrack18VideoDataset
on the same json (fixed/random sampling, train/test mode, detections with
bbox_score_thr 0.3, bottom-up): identical keys, paths, arrays and dtypes.
"""
from pathlib import Path

import cv2
import numpy as np
import pytest

from posekit.datasets import PoseTrack18VideoDataset
from posekit.datasets.transforms.loading import LoadImage
from posekit.registry import DATASETS

ROOT = Path(__file__).parents[1] / 'data' / 'fixtures' / 'posetrack18'
VIDEO = str(ROOT / 'images' / 'val' / '012834_mpii_test')
IDS = [1012834000000 + i for i in range(11)] + [1009473000000, 1009473000001,
                                                1003418000000]
FIXED = dict(frame_sampler_mode='fixed', frame_indices=[2, 0, -1],
             frame_weights=[0.2, 0.3, 0.5])


def build(**kwargs):
    cfg = dict(type='PoseTrack18VideoDataset', data_root=str(ROOT),
               ann_file='annotations/test_posetrack18_val.json',
               data_prefix=dict(img=str(ROOT)), test_mode=True)
    return DATASETS.build(dict(cfg, **kwargs))


def frame(i, video=VIDEO):
    return f'{video}/{i:06d}.jpg'


def test_fixed_test_mode_fields():
    ds = build(**FIXED)
    assert len(ds) == 14 and [ds.get_data_info(i)['id'] for i in range(14)] == IDS
    info = ds.get_data_info(0)
    assert info['img_id'] == 10128340000  # the image's frame_id
    # offsets sorted to [-1, 0, 2]; 0 skipped in test mode; -1 clipped to 0
    assert info['img_path'] == [frame(0), frame(0), frame(2)]
    # xywh [322.3, 488.60029, 166.4, 186.40837] -> xyxy, inside 1920 x 1080
    np.testing.assert_allclose(info['bbox'], [[322.3, 488.60029, 488.7, 675.00866]],
                               rtol=1e-6)
    assert info['bbox'].dtype == np.float32 and info['num_keypoints'] == 11
    np.testing.assert_array_equal(info['frame_weights'], [0.2, 0.3, 0.5])
    np.testing.assert_allclose(info['keypoints'][0, 2], [392.85593, 510.10895], rtol=1e-6)
    np.testing.assert_array_equal(info['keypoints_visible'][0, [0, 3, 5, 13]], [1, 0, 1, 0])
    assert 'area' not in info and 'iscrowd' not in info
    last = ds.get_data_info(13)
    np.testing.assert_array_equal(last['bbox'], [[214.25, 15.0, 1572.75, 1079.0]])


def test_train_mode_keeps_offset_zero():
    info = build(test_mode=False, **FIXED).get_data_info(0)
    assert info['img_path'] == [frame(0), frame(0), frame(0), frame(2)]


def test_random_offsets_follow_np_random():
    np.random.seed(0)
    ds = build(test_mode=False, frame_sampler_mode='random', frame_range=[-2, 3],
               num_sampled_frame=2, frame_weights=[0.2, 0.3, 0.5])
    np.random.seed(0)
    for i in range(14):
        offsets = np.random.randint(-2, 4, 2)  # one draw per sample, file order
        paths = ds.get_data_info(i)['img_path']
        video = str(Path(paths[0]).parent)
        assert paths[1:] == [frame(max(o, 0), video) for o in offsets]
    # MMPose 1.3.2 gives sample 0 the frames 2 and 3 with this seed
    assert ds.get_data_info(0)['img_path'][1:] == [frame(2), frame(3)]


def test_detections():
    ds = build(bbox_file=str(ROOT / 'annotations' / 'test_posetrack18_human_detections.json'),
               filter_cfg=dict(bbox_score_thr=0.3), **FIXED)
    assert len(ds) == 119  # of 278 detections
    info = ds.get_data_info(0)
    assert info['id'] == 0 and info['img_id'] == 10128340000
    assert info['img_path'] == [frame(0), frame(0), frame(2)]
    np.testing.assert_allclose(
        info['bbox'], [[1475.2755, 2.7196581, 1572.2427, 255.60208]], rtol=1e-6)
    np.testing.assert_allclose(info['bbox_score'], [0.92902005])
    np.testing.assert_array_equal(info['keypoints'], np.zeros((1, 17, 2)))
    assert ds.get_data_info(118)['id'] == 267  # counts every person detection


def test_bottomup_stacks_instances():
    ds = build(data_mode='bottomup', frame_sampler_mode='fixed', frame_indices=[0, 1],
               frame_weights=[0.5, 0.5])
    info = ds.get_data_info(0)
    assert len(ds) == 3 and info['img_path'] == [frame(0), frame(1)]
    assert info['bbox'].shape == (11, 4) and info['id'] == IDS[:11]
    assert info['frame_weights'].shape == (22,)  # concatenated, as in MMPose


@pytest.mark.parametrize('kwargs, match', [
    (dict(frame_weights=[0.5, 0.6], frame_sampler_mode='fixed', frame_indices=[0, 1]),
     'frame_weights'),
    (dict(frame_sampler_mode='fixed', frame_indices=[0]), 'frame_indices'),
    (dict(frame_sampler_mode='random', frame_range=[1, 2], num_sampled_frame=1),
     'frame_range'),
    (dict(frame_sampler_mode='random', frame_range=2, num_sampled_frame=3),
     'num_sampled_frame'),
    (dict(frame_sampler_mode='middle'), 'frame_sampler_mode'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PoseTrack18VideoDataset(ann_file=str(ROOT / 'annotations/test_posetrack18_val.json'),
                                **kwargs)


def test_load_image_frame_list(tmp_path):
    paths = []
    for i in range(3):
        paths.append(str(tmp_path / f'{i:06d}.png'))
        cv2.imwrite(paths[-1], np.full((4, 5, 3), 10 * i, np.uint8))
    out = LoadImage(to_float32=True)(dict(img_path=paths))
    assert [f[0, 0, 0] for f in out['img']] == [0.0, 10.0, 20.0]
    assert out['img'][0].dtype == np.float32 and out['img_shape'] == (4, 5)
    cv2.imwrite(paths[1], np.zeros((6, 5, 3), np.uint8))
    with pytest.raises(ValueError, match='000001.png'):
        LoadImage()(dict(img_path=paths))


def test_pipeline_packs_frames():
    pipeline = [dict(type='LoadImage'), dict(type='GetBBoxCenterScale'),
                dict(type='TopdownAffine', input_size=(48, 64)), dict(type='PackPoseInputs')]
    ds = build(frame_sampler_mode='fixed', frame_indices=[-2, -1, 0],
               frame_weights=[0.2, 0.3, 0.5], pipeline=pipeline)
    packed = ds[0]
    # three copies of frame 0 (offsets clipped), warped alike: (T, C, H, W)
    assert packed['inputs'].shape == (3, 3, 64, 48)
    assert (packed['inputs'][0] == packed['inputs'][2]).all()
