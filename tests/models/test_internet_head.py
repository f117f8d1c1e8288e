"""InternetHead: MMPose's state_dict layout, outputs and decoding (values
written from MMPose 1.3.2 on the same deterministic weights), the losses and
the flip-test merge derived by hand."""
import numpy as np
import pytest
import torch

from posekit.models.heads import InternetHead
from posekit.registry import MODELS
from posekit.structures import InstanceData, PixelData, PoseDataSample

CFG = dict(
    type='InternetHead',
    keypoint_head_cfg=dict(in_channels=8, out_channels=3 * 4, depth_size=4,
                           deconv_out_channels=(6, ),
                           deconv_kernel_sizes=(4, )),
    root_head_cfg=dict(in_channels=8, heatmap_size=5, hidden_dims=(7, )),
    hand_type_head_cfg=dict(in_channels=8, num_labels=2, hidden_dims=(7, )),
    decoder=dict(type='Hand3DHeatmap', image_size=[16, 16],
                 root_heatmap_size=5, heatmap_size=[4, 4, 4], depth_size=4))

# MMPose 1.3.2's state_dict of CFG (deconv BN has 6 entries per hand)
HAND_KEYS = [('deconv_layers.0.weight', (8, 6, 4, 4)),
             ('deconv_layers.1.weight', (6, )), ('deconv_layers.1.bias', (6, )),
             ('deconv_layers.1.running_mean', (6, )),
             ('deconv_layers.1.running_var', (6, )),
             ('deconv_layers.1.num_batches_tracked', ()),
             ('final_layer.weight', (12, 6, 1, 1)), ('final_layer.bias', (12, ))]
MLP_KEYS = [('fc.0.weight', (7, 8)), ('fc.0.bias', (7, )),
            ('fc.2.weight', (None, 7)), ('fc.2.bias', (None, ))]
EXPECTED_KEYS = (
    [(f'right_hand_head.{k}', s) for k, s in HAND_KEYS] +
    [(f'left_hand_head.{k}', s) for k, s in HAND_KEYS] +
    [(f'root_head.{k}', tuple(5 if d is None else d for d in s))
     for k, s in MLP_KEYS] +
    [(f'hand_type_head.{k}', tuple(2 if d is None else d for d in s))
     for k, s in MLP_KEYS])


def _head():
    head = MODELS.build(CFG)
    state = {}
    for i, (key, value) in enumerate(head.state_dict().items()):
        if value.dtype.is_floating_point:
            t = 0.3 * torch.sin(torch.arange(value.numel(),
                                             dtype=torch.float32) * 0.7 + i)
            t = t.reshape(value.shape)
            state[key] = 1 + t.abs() if 'running_var' in key else t
        else:
            state[key] = value
    head.load_state_dict(state)
    return head.eval()


def _input():
    return torch.cos(torch.arange(64, dtype=torch.float32) * 0.37
                     ).reshape(2, 8, 2, 2)


def test_state_dict_keys_and_shapes_are_mmpose():
    head = MODELS.build(CFG)
    assert [(k, tuple(v.shape)) for k, v in head.state_dict().items()] == \
        EXPECTED_KEYS


def test_forward_and_decode_match_mmpose():
    head = _head()
    with torch.no_grad():
        heatmaps, root, hand_type = head((_input(), ))
    assert heatmaps.shape == (2, 6, 4, 4, 4)
    # float32 sums of ~400 terms of magnitude < 1: 1e-5 relative is loose
    np.testing.assert_allclose(
        [heatmaps.sum(), heatmaps.abs().sum(), root.sum(), hand_type.sum()],
        [24.0036983, 148.8201599, 3.6682706, -0.9385437], rtol=1e-5)
    np.testing.assert_allclose(heatmaps[0, 1, 2, :, 1],
                               [-0.2657460, -0.3079297, -0.2483907,
                                -0.3033789], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(root.flatten(), [1.8330415, 1.8352292],
                               rtol=1e-5)
    np.testing.assert_allclose(hand_type.flatten(),
                               [-0.2845619, -0.1938031, -0.2897664,
                                -0.1704122], rtol=1e-5)
    pred = head.decode((heatmaps, root, hand_type))[1]
    np.testing.assert_allclose(pred.keypoints, [[
        [8., 8., 0.], [-4., -4., -300.], [8., 8., 100.], [4., 8., -100.],
        [4., 8., 100.], [8., 8., -200.]]])
    np.testing.assert_allclose(pred.keypoint_scores, [[
        0.4939356, -0.0319323, 0.4737613, 0.1717668, 0.4212219, 0.3685048]],
        rtol=1e-5)
    np.testing.assert_allclose(pred.rel_root_depth, [-53.1816711], rtol=1e-5)
    np.testing.assert_array_equal(pred.hand_type, [[0, 0]])


def test_root_head_is_the_soft_argmax_bin():
    """Zero last layer: uniform softmax over 5 bins -> bin (0+1+2+3+4)/5 = 2."""
    head = _head()
    with torch.no_grad():
        head.root_head.fc[2].weight.zero_()
        head.root_head.fc[2].bias.zero_()
        _, root, _ = head((_input(), ))
    np.testing.assert_allclose(root, [[2.], [2.]], rtol=1e-6)


def _sample(type_weight=1.):
    s = PoseDataSample(metainfo=dict(flip_indices=[3, 4, 5, 0, 1, 2]))
    s.gt_fields = PixelData(heatmaps=torch.zeros(6 * 4, 4, 4))
    s.gt_instance_labels = InstanceData(
        keypoint_weights=torch.ones(1, 6), root_depth=torch.tensor([2.]),
        root_depth_weight=torch.tensor([1.]),
        type=torch.tensor([[1., 0.]]), type_weight=torch.tensor([type_weight]))
    return s


def test_losses_by_hand():
    """Zero heatmap targets: loss_kpt = mean(pred^2). Root target 2 bins:
    mean |root - 2|. Hand type [1, 0]: mean BCE-with-logits; acc_pose
    thresholds the logits at 0.5 (MMPose), so both samples (logits < 0.5
    for label 1) are wrong: 0."""
    head = _head()
    feats = (_input(), )
    with torch.no_grad():
        heatmaps, root, logits = head(feats)
        losses = head.loss(feats, [_sample(), _sample()])
    assert losses['loss_kpt'].item() == pytest.approx(
        (heatmaps**2).mean().item(), rel=1e-5)
    assert losses['loss_rel_root'].item() == pytest.approx(
        (root - 2).abs().mean().item(), rel=1e-5)
    target = torch.tensor([[1., 0.], [1., 0.]])
    bce = -(target * torch.nn.functional.logsigmoid(logits) +
            (1 - target) * torch.nn.functional.logsigmoid(-logits)).mean()
    assert losses['loss_hand_type'].item() == pytest.approx(bce.item(),
                                                            rel=1e-5)
    assert losses['acc_pose'].item() == 0.0


def test_flip_test_merge_as_mmpose():
    """Heatmaps: mean with the mirrored volumes (W reversed, hands
    swapped); root: (r - r_flip) / 2; hand type: MMPose averages the
    original logits with themselves swapped, so both come out equal."""
    head = _head()
    x = _input()
    with torch.no_grad():
        out, out_flip = head((x, )), head((x.flip(-1), ))
        preds = head.predict([(x, ), (x.flip(-1), )], [_sample(), _sample()],
                             dict(flip_test=True))
    hm = (out[0] + out_flip[0].flip(-1)[:, [3, 4, 5, 0, 1, 2]]) * 0.5
    ref = head.decode((hm, (out[1] - out_flip[1]) * 0.5,
                       out[2].mean(1, keepdim=True).repeat(1, 2)))
    for p, r in zip(preds, ref):
        np.testing.assert_allclose(p.keypoints, r.keypoints)
        np.testing.assert_allclose(p.rel_root_depth, r.rel_root_depth,
                                   rtol=1e-6)
        np.testing.assert_array_equal(p.hand_type, r.hand_type)


def test_bad_depth_size_and_missing_decoder_raise():
    cfg = {k: v for k, v in CFG.items() if k not in ('type', 'decoder')}
    bad = dict(cfg, keypoint_head_cfg=dict(cfg['keypoint_head_cfg'],
                                           depth_size=5))
    with pytest.raises(ValueError, match='depth_size'):
        InternetHead(**bad)
    head = InternetHead(**cfg)
    with pytest.raises(RuntimeError, match='decoder'):
        head.predict((_input(), ), [_sample()], {})
