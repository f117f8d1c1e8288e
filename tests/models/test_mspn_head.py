"""MSPNHead: multi-stage multi-unit heatmaps trained on multilevel targets.

The loss is checked against the formulas written out here: each output i
is compared with the targets at level ``level_indices[i]``, masked by that
level's keypoint weights; KeypointMSELoss is the mean of the squared masked
difference, KeypointOHKMMSELoss the mean over samples of the ``topk``
largest per-keypoint MSEs.
"""
import numpy as np
import pytest
import torch

from posekit.datasets.transforms import GenerateTarget, PackPoseInputs
from posekit.registry import MODELS

K, INPUT, HM = 5, (48, 64), (12, 16)  # (w, h)
# two target levels (Megvii kernels 7 and 5), as MMPose's MSPN configs use
CODECS = [dict(type='MegviiHeatmap', input_size=INPUT, heatmap_size=HM, kernel_size=k)
          for k in (7, 5)]
MSE = dict(type='KeypointMSELoss', use_target_weight=True, loss_weight=0.25)
OHKM = dict(type='KeypointOHKMMSELoss', use_target_weight=True, topk=2)
LEVELS = [0, 1, 0, 1]


def head(**kw):
    torch.manual_seed(0)
    cfg = dict(type='MSPNHead', num_stages=2, num_units=2, out_shape=(16, 12),
               unit_channels=8, out_channels=K, level_indices=LEVELS,
               loss=[MSE, OHKM] * 2, decoder=CODECS[-1])
    return MODELS.build(dict(cfg, **kw))


def samples():
    rng = np.random.default_rng(0)
    out = []
    for vis in ([1, 1, 0, 1, 1], [1, 1, 1, 1, 1]):
        kp = rng.uniform([4, 4], [INPUT[0] - 5, INPUT[1] - 5], (1, K, 2))
        r = dict(img=np.zeros((INPUT[1], INPUT[0], 3), np.uint8),
                 keypoints=kp.astype(np.float32),
                 keypoints_visible=np.array([vis], np.float32),
                 flip_indices=[0, 2, 1, 4, 3], input_size=INPUT)
        r = GenerateTarget(encoder=CODECS, multilevel=True)(r)
        out.append(PackPoseInputs()(r)['data_samples'])
    return out


def feats():
    g = torch.Generator().manual_seed(1)
    return [[torch.randn(2, 8, 4, 3, generator=g), torch.randn(2, 8, 8, 6, generator=g)]
            for _ in range(2)]


def test_loss_value_uses_level_indices_and_weights():
    h, data, x = head(), samples(), feats()
    preds = h.forward(x)
    assert [tuple(p.shape) for p in preds] == [(2, K, 16, 12)] * 4
    expected = 0.
    for i, (pred, level) in enumerate(zip(preds, LEVELS)):
        gt = torch.stack([d.gt_fields[level].heatmaps for d in data])
        w = torch.stack([d.gt_instance_labels.keypoint_weights[level, 0] for d in data])
        diff2 = ((pred - gt) * w[:, :, None, None]) ** 2
        if i % 2 == 0:
            expected += 0.25 * diff2.mean()
        else:
            per_kpt = diff2.mean(dim=(2, 3))
            expected += per_kpt.topk(2, dim=1).values.sum(1).div(2).mean()
    losses = h.loss(x, data, {})
    assert set(losses) == {'loss_kpt', 'acc_pose'}
    torch.testing.assert_close(losses['loss_kpt'], expected, rtol=1e-6, atol=0)
    losses['loss_kpt'].backward()
    assert all(p.grad is not None for p in h.parameters())


def test_predict_and_prm_keys():
    h = head(use_prm=True).eval()
    keys = h.state_dict()
    # MMPose's names, so its RSN checkpoints (use_prm) load
    assert keys['predict_layers.3.prm.middle_path.0.weight'].shape == (K, K)
    assert keys['predict_layers.3.prm.bottom_path.1.depthwise_conv.conv.weight'].shape == (K, 1, 9, 9)
    assert keys['predict_layers.0.conv_layers.1.conv.weight'].shape == (K, 8, 3, 3)
    x, data = feats(), samples()
    with torch.no_grad():
        for cfg, f in ((dict(), x), (dict(flip_test=True),
                                     [x, [[t.flip(-1) for t in s] for s in x]])):
            preds = h.predict(f, data, cfg)
            assert len(preds) == 2 and preds[0].keypoints.shape == (1, K, 2)
            assert np.isfinite(preds[1].keypoint_scores).all()


def test_bad_lengths_are_named():
    with pytest.raises(ValueError, match='level_indices'):
        head(level_indices=[0, 1])
    with pytest.raises(ValueError, match='losses'):
        head(loss=[MSE])
    with pytest.raises(ValueError, match='2 stages of 2'):
        head().forward(feats()[:1])
