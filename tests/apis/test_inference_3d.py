"""2D-to-3D lifting inference (posekit.apis.inference_3d).

The lifter is a small TCN (9 frames) whose weights are a fixed formula; the
expected 3D keypoints were measured with MMPose 1.3.2's
``extract_pose_sequence`` + ``inference_pose_lifter_model`` on the same
config, weights and 2D poses (posekit matched them to 3e-8).
"""
import numpy as np
import pytest
import torch

from posekit.apis import init_model
from posekit.apis.inference_3d import (collate_pose_sequence, convert_keypoint_definition,
                                       extract_pose_sequence, inference_pose_lifter_model)
from posekit.config import Config
from posekit.structures import InstanceData, PoseDataSample

CODEC = dict(type='VideoPoseLifting', num_keypoints=17, zero_center=True, root_index=0,
             remove_root=False)


@pytest.fixture(scope='module')
def lifter():
    cfg = Config(dict(
        model=dict(type='PoseLifter',
                   backbone=dict(type='TCN', in_channels=34, stem_channels=16, num_blocks=1,
                                 kernel_sizes=(3, 3), dropout=0.25, use_stride_conv=True),
                   head=dict(type='TemporalRegressionHead', in_channels=16, num_joints=17,
                             loss=dict(type='MPJPELoss'), decoder=CODEC)),
        test_dataloader=dict(dataset=dict(
            type='Human36mDataset', seq_len=9, causal=False,
            pipeline=[dict(type='GenerateTarget', encoder=CODEC),
                      dict(type='PackPoseInputs',
                           meta_keys=('id', 'category_id', 'target_img_path',
                                      'flip_indices', 'target_root'))]))))
    model = init_model(cfg, None, device='cpu')
    state = model.state_dict()
    for i, (key, value) in enumerate(state.items()):
        if value.dtype.is_floating_point:
            w = 0.2 * torch.sin(torch.arange(value.numel(), dtype=torch.float64) * 0.37 + i)
            w = w.reshape(value.shape)
            state[key] = (1 + w.abs() if 'running_var' in key else w).float()
    model.load_state_dict(state)
    return model


def _frames(num=12, k=17):
    """Two people drifting; person 1 is absent from frames 0, 1 and 10, and
    every odd frame lists the people in reverse order."""
    base = np.random.default_rng(0).uniform(100, 300, (2, k, 2))
    frames = []
    for t in range(num):
        people = []
        for tid in (0, 1):
            if tid == 1 and t in (0, 1, 10):
                continue
            kpts = base[tid] + np.array([3.0 * t, -2.0 * t]) + 5 * np.sin(t + np.arange(k))[:, None]
            s = PoseDataSample()
            s.pred_instances = InstanceData(
                keypoints=kpts[None].astype(np.float32),
                keypoint_scores=np.full((1, k), 0.9, np.float32),
                bboxes=np.concatenate([kpts.min(0), kpts.max(0)])[None].astype(np.float32))
            s.gt_instances = InstanceData()
            s.track_id = tid
            people.append(s)
        frames.append(people[::-1] if t % 2 else people)
    return frames


# MMPose's keypoints[0, [0, 3, 9, 16]] and sum(|keypoints|) per person
EXPECTED = {
    'f1': [([[-0.1689362, -0.1328794, -0.0799730], [0.1473783, 0.1067828, 0.0528925],
             [0.1019981, 0.0578602, 0.0070381], [-0.0628939, -0.0926392, -0.1097723]],
            4.765851564705372)],
    'f5_img': [([[-0.1684469, -0.1273782, -0.0701776], [0.1450936, 0.0996661, 0.0418722],
                 [0.0962616, 0.0478808, -0.0058822], [-0.0768482, -0.1047371, -0.1184356]],
                4.944104619324207),
               ([[-0.1640513, -0.1252517, -0.0705975], [0.1414406, 0.0984156, 0.0431874],
                 [0.0942576, 0.0484286, -0.0028542], [-0.0706594, -0.0977134, -0.1114931]],
                4.7371082454919815)],
    # H36M's stats_info box: centre (528, 427), scale 400
    'f10_norm': [([[-0.1598488, -0.1195654, -0.0641693], [0.1366449, 0.0923782, 0.0366958],
                   [0.0885158, 0.0419849, -0.0091589], [-0.0749040, -0.0999359, -0.1114037]],
                  4.688660807907581)],
    # no stats_info: the mean box of the input
    'f10_nostats': [([[-0.1688228, -0.1321885, -0.0787947], [0.1470571, 0.1059075, 0.0515773],
                      [0.1012803, 0.0566612, 0.0055144], [-0.0645034, -0.0940141, -0.1107332]],
                     4.783485487103462)],
    'f4_notrack': [([[-0.1665652, -0.1289380, -0.0749755], [0.1444110, 0.1024048, 0.0476748],
                     [0.0979907, 0.0528264, 0.0016346], [-0.0673280, -0.0956869, -0.1110360]],
                    4.757705330848694)],
}
CASES = [('f1', 1, dict(image_size=(1000, 1000))),
         ('f5_img', 5, dict(image_size=(640, 480))),
         ('f10_norm', 10, dict(norm_pose_2d=True, image_size=(1000, 1000))),
         ('f10_nostats', 10, dict(norm_pose_2d=True, image_size=(1000, 1000))),
         ('f4_notrack', 4, dict(with_track_id=False, image_size=(800, 600)))]


@pytest.mark.parametrize('name, frame_idx, kwargs', CASES)
def test_lifting_matches_mmpose(lifter, name, frame_idx, kwargs):
    seq = extract_pose_sequence(_frames(), frame_idx, causal=False, seq_len=9)
    if not kwargs.get('with_track_id', True):
        seq = [[p for p in frame if p.track_id == 0] for frame in seq]
    meta = lifter.dataset_meta
    if name == 'f10_nostats':
        lifter.dataset_meta = {k: v for k, v in meta.items() if k != 'stats_info'}
    try:
        results = inference_pose_lifter_model(lifter, seq, **kwargs)
    finally:
        lifter.dataset_meta = meta
    assert len(results) == len(EXPECTED[name])
    for res, (rows, abs_sum) in zip(results, EXPECTED[name]):
        kpts = np.asarray(res.pred_instances.keypoints)
        assert kpts.shape == (1, 17, 3)
        # float32 network of 3 small convolutions: values ~0.1, error ~1e-7
        np.testing.assert_allclose(kpts[0, [0, 3, 9, 16]], rows, atol=2e-6)
        assert np.abs(kpts).sum() == pytest.approx(abs_sum, abs=1e-4)
        np.testing.assert_array_equal(res.pred_instances.keypoint_scores, 1)


def test_no_people(lifter):
    assert inference_pose_lifter_model(lifter, [[] for _ in range(9)],
                                       image_size=(10, 10)) == []


# expected: MMPose 1.3.2's extract_pose_sequence on frames 0..9
@pytest.mark.parametrize('frame_idx, causal, seq_len, step, expected', [
    (0, False, 5, 1, [0, 0, 0, 1, 2]),       # padded with the first frame
    (9, False, 5, 1, [7, 8, 9, 9, 9]),       # ... and the last
    (5, False, 5, 2, [1, 3, 5, 7, 9]),
    (2, False, 5, 2, [0, 0, 2, 4, 6]),       # frame_idx // step frames on the left
    (8, False, 5, 3, [2, 5, 8, 9, 9]),
    (3, False, 5, 3, [0, 0, 3, 6, 9]),
    (4, True, 3, 1, [2, 3, 4]),
    (1, True, 4, 1, [0, 0, 0, 1]),
])
def test_extract_pose_sequence(frame_idx, causal, seq_len, step, expected):
    video = list(range(10))
    assert extract_pose_sequence(video, frame_idx, causal, seq_len, step) == expected


def _person(track_id, value):
    s = PoseDataSample()
    s.pred_instances = InstanceData(keypoints=np.full((1, 2, 2), value, np.float32))
    s.gt_instances = InstanceData()
    s.track_id = track_id
    return s


def test_collate_fills_gaps_from_the_target_outwards():
    # track 7 exists in frames 1..3; frames 0 and 4 lack it
    frames = [[_person(1, 0.0)], [_person(7, 1.0)], [_person(1, 5.0), _person(7, 2.0)],
              [_person(7, 3.0)], [_person(1, 9.0)]]
    seqs = collate_pose_sequence(frames, with_track_id=True, target_frame=2)
    assert len(seqs) == 2
    kpts = seqs[1].pred_instances.keypoints
    assert kpts.shape == (1, 5, 2, 2) and kpts.dtype == np.float32
    # left gap repeats frame 1 (as MMPose); the right gap repeats frame 3
    # (MMPose 1.3.2 leaves zeros there, an indexing slip)
    np.testing.assert_array_equal(kpts[0, :, 0, 0], [1, 1, 2, 3, 3])
    # track 1 is missing next to the target on both sides: its frames 0 and
    # 4 are not reached
    np.testing.assert_array_equal(seqs[0].pred_instances.keypoints[0, :, 0, 0], [5] * 5)


def test_collate_without_track_id_raises():
    person = _person(0, 1.0)
    del person.track_id
    with pytest.raises(ValueError, match='track_id'):
        collate_pose_sequence([[person]], with_track_id=True)
    [seq] = collate_pose_sequence([[person], [_person(3, 2.0)]], with_track_id=False,
                                  target_frame=0)
    np.testing.assert_array_equal(seq.pred_instances.keypoints[0, :, 0, 0], [1, 2])


def test_convert_coco_to_h36m():
    coco = np.arange(17 * 2, dtype=np.float32).reshape(1, 17, 2)
    x = convert_keypoint_definition(coco, 'coco', 'h36m')[0, :, 0]
    cx = coco[0, :, 0]
    assert x[0] == (cx[11] + cx[12]) / 2                 # pelvis: mid hips
    assert x[8] == (cx[5] + cx[6]) / 2                   # thorax: mid shoulders
    assert x[7] == (x[0] + x[8]) / 2                     # spine
    assert x[10] == (cx[1] + cx[2]) / 2                  # head: mid eyes
    assert x[9] == cx[0]                                 # neck base <- nose
    np.testing.assert_array_equal(x[[1, 2, 3, 14, 15, 16]], cx[[12, 14, 16, 6, 8, 10]])
    assert convert_keypoint_definition(coco, 'h36m', 'h36m') is coco
    with pytest.raises(NotImplementedError, match='mpii'):
        convert_keypoint_definition(coco, 'mpii', 'h36m')
    with pytest.raises(ValueError, match='pose_lift_dataset'):
        convert_keypoint_definition(coco, 'coco', 'mpi_inf_3dhp')


@pytest.mark.parametrize('dataset, hips, shoulders', [('aic', (9, 6), (3, 0)),
                                                      ('crowdpose', (6, 7), (0, 1))])
def test_convert_head_top_datasets(dataset, hips, shoulders):
    # (posekit matched MMPose exactly on random input for all six datasets)
    src = np.arange(14 * 2, dtype=np.float64).reshape(1, 14, 2) ** 1.5
    out = convert_keypoint_definition(src, dataset, 'h3wb')[0]
    s = src[0]
    np.testing.assert_allclose(out[0], (s[hips[0]] + s[hips[1]]) / 2)
    np.testing.assert_allclose(out[8], (s[shoulders[0]] + s[shoulders[1]]) / 2)
    # neck (13) to head top (12): neck base at 1/4, head centre at 7/12
    np.testing.assert_allclose(out[9], s[13] + (s[12] - s[13]) / 4)
    np.testing.assert_allclose(out[10], s[13] + (s[12] - s[13]) * 7 / 12)
