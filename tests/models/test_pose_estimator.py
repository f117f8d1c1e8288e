"""TopdownPoseEstimator: modes, coordinate mapping, flip test, options.

A stub backbone and head (built objects, not configs) make every number
predictable; test_configs.py runs the real components.
"""
import re

import numpy as np
import pytest
import torch
from torch import nn

from posekit.models.data_preprocessors import PoseDataPreprocessor
from posekit.models.pose_estimators import TopdownPoseEstimator
from posekit.registry import MODELS
from posekit.structures import InstanceData, PixelData, PoseDataSample

K = 3


class MeanBackbone(nn.Module):
    """(N, 3, H, W) -> ((N, 1, H, W) channel mean,); one weight to load."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))

    def forward(self, x):
        return (x.mean(1, keepdim=True) * self.scale, )


class FixedHead(nn.Module):
    """Predicts the same keypoints for every sample, in input pixels.

    Records what ``predict`` receives so tests can check the flip-test
    protocol.
    """

    def __init__(self, keypoints):
        super().__init__()
        self.keypoints = np.asarray(keypoints, np.float32)  # (K, 2)
        self.bias = nn.Parameter(torch.zeros(1))
        self.seen = None

    def forward(self, feats):
        return feats[-1].flatten(1).sum(1) + self.bias

    def predict(self, feats, samples, test_cfg=None):
        test_cfg = test_cfg or {}
        self.seen = feats
        preds = [InstanceData(keypoints=self.keypoints[None].copy(),
                              keypoint_scores=np.full((1, K), 0.5,
                                                      np.float32))
                 for _ in samples]
        if test_cfg.get('output_heatmaps', False):
            maps = [PixelData(heatmaps=torch.full((K, 4, 3), float(i)))
                    for i in range(len(samples))]
            return preds, maps
        return preds

    def loss(self, feats, samples, train_cfg=None):
        out = self.forward(feats)
        return dict(loss_kpt=out.mean(), acc_pose=torch.tensor(1.0))


def _model(test_cfg=None, metainfo=None, keypoints=((0, 0), (48, 64),
                                                    (96, 128))):
    return TopdownPoseEstimator(
        backbone=MeanBackbone(), head=FixedHead(keypoints),
        test_cfg=test_cfg, metainfo=metainfo,
        data_preprocessor=PoseDataPreprocessor(mean=[0.], std=[1.]))


def _sample(center, scale, size=(96, 128)):
    s = PoseDataSample(metainfo=dict(
        input_center=np.asarray(center, np.float32),
        input_scale=np.asarray(scale, np.float32), input_size=size,
        flip_indices=[0, 2, 1]))
    s.gt_instances = InstanceData(
        bboxes=np.array([[1, 2, 3, 4]], np.float32),
        bbox_scores=np.array([0.9], np.float32))
    return s


def test_state_dict_names_follow_mmpose():
    model = _model()
    assert sorted(model.state_dict()) == ['backbone.scale', 'head.bias']


def test_predict_maps_input_pixels_to_the_image():
    model = _model()
    samples = [_sample((100, 200), (48, 64)), _sample((10, 20), (192, 256))]
    out = model(torch.zeros(2, 3, 128, 96), samples, mode='predict')
    assert out is samples
    # p / input_size * input_scale + center - scale / 2
    np.testing.assert_allclose(out[0].pred_instances.keypoints[0],
                               [[76, 168], [100, 200], [124, 232]])
    np.testing.assert_allclose(out[1].pred_instances.keypoints[0],
                               [[-86, -108], [10, 20], [106, 148]])
    pred = out[0].pred_instances
    assert pred.keypoints.shape == (1, K, 2)
    assert pred.keypoint_scores.shape == (1, K)
    np.testing.assert_array_equal(pred.keypoints_visible, pred.keypoint_scores)
    np.testing.assert_array_equal(pred.bboxes, [[1, 2, 3, 4]])
    np.testing.assert_array_equal(pred.bbox_scores, np.float32([0.9]))
    assert 'pred_fields' not in out[0]


def test_mapping_is_bitwise_mmpose_formula():
    rng = np.random.default_rng(0)
    kpts = rng.uniform(0, 96, (K, 2)).astype(np.float32)
    center = rng.uniform(0, 500, 2).astype(np.float32)
    scale = rng.uniform(10, 300, 2).astype(np.float32)
    model = _model(keypoints=kpts)
    out = model(torch.zeros(1, 3, 128, 96), [_sample(center, scale)],
                mode='predict')
    expect = kpts[None].copy()
    expect[..., :2] = (expect[..., :2] / (96, 128) * scale + center
                       - 0.5 * scale)
    assert out[0].pred_instances.keypoints.dtype == np.float32
    np.testing.assert_array_equal(out[0].pred_instances.keypoints, expect)


def test_flip_test_gives_head_features_of_both_inputs():
    model = _model(test_cfg=dict(flip_test=True))
    x = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).view(2, 3, 4, 5)
    model(x, [_sample((0, 0), (1, 1)), _sample((0, 0), (1, 1))],
          mode='predict')
    seen = model.head.seen
    assert isinstance(seen, list) and len(seen) == 2
    torch.testing.assert_close(seen[0][0], x.mean(1, keepdim=True))
    torch.testing.assert_close(seen[1][0], x.flip(-1).mean(1, keepdim=True))
    model = _model(test_cfg=dict(flip_test=False))
    model(x, [_sample((0, 0), (1, 1))] * 2, mode='predict')
    assert isinstance(model.head.seen, tuple)


def test_head_gets_the_test_cfg():
    cfg = dict(flip_test=True, shift_heatmap=True)
    assert _model(test_cfg=cfg).head.test_cfg == cfg


@pytest.mark.parametrize('test_cfg, message', [
    (dict(flip_tset=True), "unknown key 'flip_tset' (did you mean 'flip_test'"),
    (dict(flip_test=True, multiscale_test=True), "unknown key 'multiscale_test'"),
    (dict(nms_thr=0.65), "unknown key 'nms_thr'; TopdownPoseEstimator reads flip_test, "
                         "flip_mode")])
def test_unknown_test_cfg_key_is_named(test_cfg, message):
    """MMPose drops such keys silently (a typo turns the flip test off)."""
    with pytest.raises(ValueError, match=re.escape(message)):
        _model(test_cfg=test_cfg)
    every = dict(flip_test=False, flip_mode='heatmap', shift_heatmap=False,
                 shift_coords=True, output_heatmaps=False, output_keypoint_indices=None)
    assert _model(test_cfg=every).test_cfg == every


def test_output_heatmaps_and_keypoint_indices():
    model = _model(test_cfg=dict(output_heatmaps=True,
                                 output_keypoint_indices=[2, 0]))
    samples = [_sample((48, 64), (96, 128)), _sample((48, 64), (96, 128))]
    out = model(torch.zeros(2, 3, 128, 96), samples, mode='predict')
    np.testing.assert_allclose(out[0].pred_instances.keypoints[0],
                               [[96, 128], [0, 0]])
    assert out[0].pred_instances.keypoint_scores.shape == (1, 2)
    assert out[1].pred_fields.heatmaps.shape == (2, 4, 3)
    assert float(out[1].pred_fields.heatmaps.max()) == 1.0


def test_metainfo_overrides_sample_metainfo():
    meta = dict(from_file='configs/_base_/datasets/coco.py')
    model = _model(metainfo=meta)
    assert model.metainfo['num_keypoints'] == 17
    sample = _sample((0, 0), (1, 1))
    model(torch.zeros(1, 3, 8, 6), [sample], mode='predict')
    assert sample.dataset_name == 'coco'
    assert len(sample.flip_indices) == 17
    with pytest.raises(TypeError, match='metainfo must be a dict'):
        _model(metainfo=['coco'])


def test_loss_and_tensor_modes():
    model = _model()
    x = torch.ones(2, 3, 4, 5)
    losses = model(x, [_sample((0, 0), (1, 1))] * 2, mode='loss')
    assert set(losses) == {'loss_kpt', 'acc_pose'}
    assert losses['loss_kpt'].item() == 20.0  # 4 * 5 pixels of mean 1
    total, logs = model.parse_losses(losses)
    assert total.item() == 20.0 and list(logs) == ['loss', 'loss_kpt',
                                                   'acc_pose']
    with pytest.raises(ValueError, match='no loss'):
        model.parse_losses(dict(acc_pose=torch.tensor(1.0)))
    out = model(x, None, mode='tensor')
    torch.testing.assert_close(out, torch.full((2, ), 20.0))
    # a list of (C, H, W) tensors is stacked
    torch.testing.assert_close(model(list(x), None), out)
    with pytest.raises(ValueError, match='Invalid mode'):
        model(x, None, mode='train')


def test_test_step_preprocesses_then_predicts():
    model = _model()
    imgs = [torch.full((3, 128, 96), 7, dtype=torch.uint8)] * 2
    out = model.test_step(dict(
        inputs=imgs, data_samples=[_sample((48, 64), (96, 128))] * 2))
    assert len(out) == 2
    assert out[0].batch_input_shape == (128, 96)
    assert torch.is_tensor(model.head.seen[0])


def test_state_dict_round_trip_ignores_old_preprocessor_keys():
    a, b = _model(), _model()
    with torch.no_grad():
        a.backbone.scale.fill_(3.0)
    state = dict(a.state_dict())
    state['data_preprocessor.mean'] = torch.zeros(3, 1, 1)
    state['data_preprocessor.std'] = torch.ones(3, 1, 1)
    b.load_state_dict(state, strict=True)
    assert b.backbone.scale.item() == 3.0


def test_built_from_config_with_neck():
    model = MODELS.build(dict(
        type='TopdownPoseEstimator',
        backbone=MeanBackbone(),
        neck=dict(type='GlobalAveragePooling'),
        head=None,
        data_preprocessor=dict(type='PoseDataPreprocessor')))
    assert model.with_neck and not model.with_head
    feats = model(torch.ones(2, 3, 4, 4), None, mode='tensor')
    torch.testing.assert_close(feats[0], torch.ones(2, 1))
