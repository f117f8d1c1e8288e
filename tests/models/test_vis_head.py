"""VisPredictHead: keys, losses and predicted visibility, against numbers
read from MMPose 1.3.2's VisPredictHead on the same weights and batch.

The batch: weights, features and target heatmaps drawn in that order from
``torch.Generator().manual_seed(3)``; visibility labels KW (N=1 per sample),
visibility weights VW.
"""
import numpy as np
import pytest
import torch

from posekit.registry import MODELS
from posekit.structures import InstanceData, PixelData, PoseDataSample

CODEC = dict(type='MSRAHeatmap', input_size=(48, 64), heatmap_size=(12, 16), sigma=1)
POSE = dict(type='HeatmapHead', in_channels=8, out_channels=5, deconv_out_channels=None,
            loss=dict(type='KeypointMSELoss', use_target_weight=True), decoder=CODEC)
LOSSES = {
    # the COCO-AIC vis config's loss: probabilities, weighted
    'sigmoid': dict(type='BCELoss', use_target_weight=True, use_sigmoid=True, loss_weight=1e-3),
    'logits': dict(type='BCELoss', use_target_weight=False),
}
KW = torch.tensor([[1., 0, 1, 1, 0], [0, 1, 1, 1, 1]])
VW = torch.tensor([[1, 1, 0.5, 1, 1], [1, 1, 1, 0, 1]])
# MMPose 1.3.2: loss_vis, acc_vis (loss_kpt 1.2758116 and acc_pose 0 in both)
EXPECTED_LOSSES = {'sigmoid': (0.0005994682, 0.6527777), 'logits': (0.7014483, 0.6)}
VIS = [[0.510309, 0.564028, 0.532850, 0.515175, 0.662202],
       [0.494945, 0.530257, 0.480357, 0.494087, 0.685405]]
# flip test averages probabilities (sigmoid) or logits, so the two differ
VIS_FLIP = {'sigmoid': [[0.532530, 0.523340, 0.540580, 0.594969, 0.583809],
                        [0.509583, 0.500009, 0.524873, 0.592760, 0.591507]],
            'logits': [[0.532594, 0.523496, 0.540590, 0.597549, 0.585986],
                       [0.509591, 0.500009, 0.525073, 0.596665, 0.594977]]}


def build(name):
    head = MODELS.build(dict(type='VisPredictHead', loss=LOSSES[name], pose_cfg=POSE))
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for v in head.state_dict().values():
            v.copy_(torch.randn(v.shape, generator=gen) * 0.5)
    feats = (torch.randn(2, 8, 16, 12, generator=gen), )
    feats_flip = (torch.randn(2, 8, 16, 12, generator=gen), )
    heatmaps = torch.rand(2, 5, 16, 12, generator=gen)
    samples = []
    for i in range(2):
        s = PoseDataSample(metainfo=dict(flip_indices=[0, 2, 1, 4, 3], input_size=(48, 64),
                                         input_center=[24, 32], input_scale=[48, 64]))
        s.gt_fields = PixelData(heatmaps=heatmaps[i])
        s.gt_instance_labels = InstanceData(keypoint_weights=KW[i:i + 1],
                                            keypoints_visible_weights=VW[i:i + 1])
        samples.append(s)
    return head, feats, feats_flip, samples


def test_keys_and_forward():
    head, feats, _, _ = build('sigmoid')
    assert list(head.state_dict()) == ['pose_head.final_layer.weight', 'pose_head.final_layer.bias',
                                       'vis_head.2.weight', 'vis_head.2.bias']
    heatmaps, vis = head(feats)
    assert heatmaps.shape == (2, 5, 16, 12) and vis.shape == (2, 5)
    assert ((vis > 0) & (vis < 1)).all()  # the sigmoid is in the network
    logits = build('logits')[0](feats)[1]
    assert torch.allclose(torch.sigmoid(logits), vis)


@pytest.mark.parametrize('name', sorted(LOSSES))
def test_loss_matches_mmpose(name):
    head, feats, _, samples = build(name)
    losses = head.loss(feats, samples)
    assert set(losses) == {'loss_vis', 'acc_vis', 'loss_kpt', 'acc_pose'}
    assert losses['loss_vis'].item() == pytest.approx(EXPECTED_LOSSES[name][0], rel=1e-5)
    assert losses['acc_vis'].item() == pytest.approx(EXPECTED_LOSSES[name][1], rel=1e-5)
    assert losses['loss_kpt'].item() == pytest.approx(1.2758116, rel=1e-5)


@pytest.mark.parametrize('name', sorted(LOSSES))
def test_predict_matches_mmpose(name):
    head, feats, feats_flip, samples = build(name)
    with torch.no_grad():
        preds = head.predict(feats, samples, {})
        flipped = head.predict([feats, feats_flip], samples,
                               dict(flip_test=True, flip_mode='heatmap', shift_heatmap=False))
    for pred, vis in zip(preds, VIS):
        assert pred.keypoints_visible.shape == (1, 5)
        assert pred.keypoints_visible.dtype == np.float32
        np.testing.assert_allclose(pred.keypoints_visible[0], vis, atol=2e-6)
        assert pred.keypoints.shape == (1, 5, 2)
    for pred, vis in zip(flipped, VIS_FLIP[name]):
        np.testing.assert_allclose(pred.keypoints_visible[0], vis, atol=2e-6)


def test_errors():
    with pytest.raises(ValueError, match='num_joints or out_channels'):
        MODELS.build(dict(type='VisPredictHead', pose_cfg=dict(type='HeatmapHead', in_channels=8)))
    head, feats, _, samples = build('sigmoid')
    with pytest.raises(ValueError, match='flip_test'):
        head.predict(feats, samples, dict(flip_test=True))
