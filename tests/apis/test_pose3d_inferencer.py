"""Pose3DInferencer and ``posekit infer --pose3d`` on a short video made here.

2D: the conftest's constant-heatmap model (every keypoint at the top-left
corner of the box's crop; no detector: the whole frame is the box), so each
frame has one person at a known place. 3D: a small TCN lifter (9 frames)
with weights set by a formula. The expected 3D keypoints are those of
:func:`inference_pose_lifter_model` (compared with MMPose's in
test_inference_3d.py) on the same converted 2D poses, turned to z-up axes.
"""
import json
import warnings

import cv2
import numpy as np
import pytest
import torch

from posekit.apis import init_model
from posekit.apis.inference_3d import convert_keypoint_definition, inference_pose_lifter_model
from posekit.apis.pose3d_inferencer import Pose3DInferencer
from posekit.cli import main
from posekit.datasets import parse_pose_metainfo
from posekit.structures import InstanceData, PoseDataSample

LIFTER_CFG = '''
codec = dict(type='VideoPoseLifting', num_keypoints=17, zero_center=True, root_index=0,
             remove_root=False)
model = dict(
    type='PoseLifter',
    backbone=dict(type='TCN', in_channels=34, stem_channels=16, num_blocks=1,
                  kernel_sizes=(3, 3), dropout=0.25, use_stride_conv=True),
    head=dict(type='TemporalRegressionHead', in_channels=16, num_joints=17,
              loss=dict(type='MPJPELoss'), decoder=codec))
test_dataloader = dict(dataset=dict(
    type='Human36mDataset', seq_len=9, causal=False,
    pipeline=[dict(type='GenerateTarget', encoder=codec),
              dict(type='PackPoseInputs', meta_keys=('id', 'category_id', 'target_img_path',
                                                     'flip_indices', 'target_root'))]))
visualizer = dict(type='Pose3dLocalVisualizer')
'''
W, H = 320, 196


@pytest.fixture
def models(weights, tmp_path):
    meta = parse_pose_metainfo(dict(from_file='configs/_base_/datasets/coco.py'))
    pose2d = tmp_path / 'pose2d.pth'
    torch.save(dict(meta=dict(dataset_meta=meta), state_dict=weights), pose2d)
    config = tmp_path / 'lifter.py'
    config.write_text(LIFTER_CFG)
    lifter = init_model(str(config))
    state = lifter.state_dict()
    for i, (key, value) in enumerate(state.items()):
        if value.dtype.is_floating_point:
            w = 0.2 * torch.sin(torch.arange(value.numel(), dtype=torch.float64) * 0.37 + i)
            w = w.reshape(value.shape)
            state[key] = (1 + w.abs() if 'running_var' in key else w).float()
    lift_path = tmp_path / 'lifter.pth'
    torch.save(dict(state_dict=state), lift_path)
    return dict(config=str(config), weights=str(lift_path), pose2d=str(pose2d))


@pytest.fixture
def video(tmp_path):
    path = tmp_path / 'clip.mp4'
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), 10, (W, H))
    rng = np.random.default_rng(0)
    for _ in range(3):
        writer.write(rng.integers(0, 255, (H, W, 3), dtype=np.uint8))
    writer.release()
    return path


def _expected_3d(models, constant_model):
    """The 3D keypoints of a still person at the whole frame's crop corner."""
    corner = constant_model.crop_corner([0, 0, W, H])
    kpts = convert_keypoint_definition(np.tile(corner, (1, 17, 1)).astype(np.float32),
                                       'coco', 'h36m')
    person = PoseDataSample()
    person.pred_instances = InstanceData(keypoints=kpts, bboxes=np.zeros((1, 4)))
    person.gt_instances = InstanceData()
    person.track_id = 0
    lifter = init_model(models['config'], models['weights'])
    [res] = inference_pose_lifter_model(lifter, [[person]] * 9, image_size=(W, H))
    cam = np.asarray(res.pred_instances.keypoints)[0]
    up = np.stack([-cam[:, 0], cam[:, 2], -cam[:, 1]], axis=1)
    up[:, 2] -= up[:, 2].min()
    return up


def test_an_onnx_lifter_lifts_as_its_checkpoint(models, constant_model, video, tmp_path):
    """The lifter exported by posekit export runs in ONNX Runtime: the same
    3D keypoints as the checkpoint's, up to float32 rounding of the TCN."""
    pytest.importorskip('onnxruntime')
    pytest.importorskip('onnxscript')
    from posekit.export import export_onnx
    onnx_file = export_onnx(models['config'], models['weights'],
                            output=tmp_path / 'lifter.onnx', dynamic_batch=True)
    inferencer = Pose3DInferencer(models['config'], onnx_file, pose2d=constant_model.config,
                                  pose2d_weights=models['pose2d'], device='cpu')
    assert type(inferencer.model).__name__ == 'OnnxPoseModel'
    results = list(inferencer(str(video)))
    expected = _expected_3d(models, constant_model)
    scale = np.abs(expected).max()
    for result in results:
        [inst] = result['predictions']
        np.testing.assert_allclose(inst['keypoints'], expected, rtol=0, atol=1e-5 * scale)


def test_video_is_tracked_lifted_and_drawn(models, constant_model, video, tmp_path):
    inferencer = Pose3DInferencer(models['config'], models['weights'], pose2d=constant_model.config,
                                  pose2d_weights=models['pose2d'], device='cpu')
    vis, preds = tmp_path / 'vis', tmp_path / 'preds'
    results = list(inferencer(str(video), vis_out_dir=str(vis), pred_out_dir=str(preds),
                              return_vis=True))
    assert [r['frame_id'] for r in results] == [0, 1, 2]
    expected = _expected_3d(models, constant_model)
    records = json.loads((preds / 'clip.json').read_text())
    assert [r['frame_id'] for r in records] == [0, 1, 2]
    for record, result in zip(records, results):
        [inst] = record['instances']
        assert inst['track_id'] == 0  # the same person in every frame
        # every frame's 9-frame window holds the same still pose
        np.testing.assert_allclose(inst['keypoints'], expected, atol=1e-5)
        assert min(k[2] for k in inst['keypoints']) == 0  # rebased to the floor
        # the picture: the frame padded to S x S (S = 320), then one 3D panel
        assert result['visualization'].shape == (320, 640, 3)
    cap = cv2.VideoCapture(str(vis / 'clip.mp4'))
    ok, first = cap.read()
    assert ok and first.shape == (320, 640, 3)


def test_cli_pose3d(models, constant_model, video, tmp_path, capsys):
    preds = tmp_path / 'preds'
    code = main(['infer', str(video), '--pose2d', constant_model.config, '--pose2d-weights',
                 models['pose2d'], '--pose3d', models['config'], '--pose3d-weights',
                 models['weights'], '--device', 'cpu', '--pred-out-dir', str(preds),
                 '--disable-rebase-keypoint', '--no-progress'])
    assert code == 0
    assert '3 frame(s), 3 instance(s)' in capsys.readouterr().out
    [inst] = json.loads((preds / 'clip.json').read_text())[0]['instances']
    # not rebased: the lowest joint keeps the lifter's height
    assert min(k[2] for k in inst['keypoints']) != 0
    assert main(['infer', str(video), '--pose2d', constant_model.config, '--pose3d',
                 models['config'], '--draw-heatmap', '--pred-out-dir', str(preds)]) == 2
    assert '--draw-heatmap does not apply' in capsys.readouterr().err
    # a lifting option without --pose3d is refused, not ignored
    assert main(['infer', str(video), '--pose2d', constant_model.config, '--tracking-thr',
                 '0.5', '--pred-out-dir', str(preds)]) == 2
    assert '--tracking-thr needs --pose3d' in capsys.readouterr().err


def test_unconvertible_2d_dataset(models, constant_model):
    # the conftest checkpoint's dataset is 'coco_from_checkpoint'
    with pytest.raises(NotImplementedError, match='coco_from_checkpoint'):
        Pose3DInferencer(models['config'], models['weights'], pose2d=constant_model.config,
                         pose2d_weights=constant_model.checkpoint, device='cpu')


def test_lifter_by_zoo_name_takes_its_config_and_weights_url(models, constant_model, tmp_path,
                                                             monkeypatch):
    """'human3d' is MotionBERT: posekit's shipped config and the index's
    weights URL, which offline mode refuses to fetch (naming the file)."""
    from posekit.apis.zoo import model_info
    from posekit.hub import DownloadError
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    monkeypatch.setenv('POSEKIT_OFFLINE', '1')
    url = model_info('human3d')['weights']
    with warnings.catch_warnings():
        warnings.simplefilter('error', UserWarning)   # no "random weights" warning
        with pytest.raises(DownloadError, match=url.rsplit('/', 1)[-1]):
            Pose3DInferencer('human3d', pose2d=constant_model.config,
                             pose2d_weights=models['pose2d'])
