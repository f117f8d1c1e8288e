"""Pose lifters in ONNX: a MotionBERT-style DSTFormer (flip test on) exported
and run through the ONNX Runtime backend gives the PyTorch model's 3D
keypoints; the file's metadata describes its input. (The TCN lifter's file
is checked against MMPose's metrics in tests/engine/test_lifting_e2e.py.)"""
import json

import numpy as np
import pytest
import torch

pytest.importorskip('onnxruntime')
pytest.importorskip('onnxscript')

from posekit.apis import init_model, init_onnx_model  # noqa: E402
from posekit.datasets import parse_pose_metainfo  # noqa: E402
from posekit.export import export_onnx  # noqa: E402
from posekit.structures import PoseDataSample  # noqa: E402

CONFIG = '''
codec = dict(type='MotionBERTLabel', num_keypoints=17, concat_vis=True, rootrel=True)
model = dict(
    type='PoseLifter',
    backbone=dict(type='DSTFormer', in_channels=3, feat_size=32, depth=1, num_heads=4,
                  mlp_ratio=2, seq_len=9, att_fuse=True),
    head=dict(type='MotionRegressionHead', in_channels=32, out_channels=3,
              embedding_size=32, loss=dict(type='MPJPEVelocityJointLoss'), decoder=codec),
    test_cfg=dict(flip_test=True))
test_dataloader = dict(dataset=dict(
    type='Human36mDataset', seq_len=1, multiple_target=9,
    metainfo=dict(from_file='configs/_base_/datasets/h36m.py'),
    pipeline=[dict(type='GenerateTarget', encoder=codec),
              dict(type='PackPoseInputs', meta_keys=('id', 'flip_indices'))]))
'''


def test_motionbert_lifter_runs_in_onnx_runtime_as_in_pytorch(tmp_path):
    config = tmp_path / 'motionbert.py'
    config.write_text(CONFIG)
    torch.manual_seed(0)
    model = init_model(str(config))
    ckpt = tmp_path / 'motionbert.pth'
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    onnx_file = export_onnx(str(config), str(ckpt), output=tmp_path / 'motionbert.onnx',
                            dynamic_batch=True)
    onnx_model = init_onnx_model(str(config), onnx_file, num_threads=1)
    meta = onnx_model.network.metadata
    assert json.loads(meta['input_shape']) == [9, 17, 3]   # (T, K, C) of one clip
    assert meta['data_mode'] == 'lifting' and json.loads(meta['output_names']) == ['keypoints_3d']
    flip = parse_pose_metainfo(dict(from_file='configs/_base_/datasets/h36m.py'))['flip_indices']
    inputs = [torch.randn(9, 17, 3, generator=torch.Generator().manual_seed(i))
              for i in range(3)]
    samples = [PoseDataSample(metainfo=dict(flip_indices=flip)) for _ in inputs]
    expected = model.test_step(dict(inputs=inputs, data_samples=samples))
    samples = [PoseDataSample(metainfo=dict(flip_indices=flip)) for _ in inputs]
    got = onnx_model.test_step(dict(inputs=inputs, data_samples=samples))
    for a, b in zip(got, expected):
        want = np.asarray(b.pred_instances.keypoints)
        assert want.shape == (1, 9, 17, 3)
        # float32 rounding of the network, flip-averaged
        np.testing.assert_allclose(np.asarray(a.pred_instances.keypoints), want,
                                   rtol=0, atol=1e-5 * np.abs(want).max())
    # a file and a config that disagree on the clip are refused
    with pytest.raises(ValueError, match=r'graph input shape \(9, 17, 3\).*config \(27, 17, 3\)'):
        init_onnx_model(str(config), onnx_file, cfg_options={
            'test_dataloader.dataset.multiple_target': 27})
