"""YOLOXPoseHead and RTMOHead: MMPose's state_dict layouts, predictions on
hand-made outputs, and losses equal to values measured on MMPose 1.3.2.

Reference comparison (throwaway scripts, not run here): the heads of the
rtmo-s/m/l/t, rtmo crowdpose and yoloxpose-s/tiny/m/l configs built in both,
MMPose's state_dict loaded into posekit's (strict), random features: eval
forward, predict (score_thr 0.3, NMS 0.65), loss, loss after the mode-switch
attributes, parameter gradients and the deploy-mode predict were all
bitwise equal (max difference 0.0).
"""
import copy
import hashlib
import math

import numpy as np
import pytest
import torch

from posekit.models.heads import RTMOHead, YOLOXPoseHead
from posekit.registry import MODELS
from posekit.structures import InstanceData, PixelData, PoseDataSample

COCO = 'configs/_base_/datasets/coco.py'
BN = dict(type='BN', momentum=0.03, eps=0.001)


def rtmo_cfg(widen, pose_vec, num_keypoints=17, meta=COCO, mle_weight=1.0,
             kpt_center=True):
    """``model.head`` of MMPose's RTMO configs (they differ only here)."""
    assigner = dict(type='SimOTAAssigner', dynamic_k_indicator='oks',
                    oks_calculator=dict(type='PoseOKS', metainfo=meta))
    if kpt_center:
        assigner['use_keypoints_for_center'] = True
    return dict(
        type='RTMOHead', num_keypoints=num_keypoints, featmap_strides=(16, 32),
        head_module_cfg=dict(num_classes=1, in_channels=256,
                             cls_feat_channels=256, channels_per_group=36,
                             pose_vec_channels=pose_vec, widen_factor=widen,
                             stacked_convs=2, norm_cfg=BN,
                             act_cfg=dict(type='Swish')),
        assigner=assigner,
        prior_generator=dict(type='MlvlPointGenerator',
                             centralize_points=True, strides=[16, 32]),
        dcc_cfg=dict(in_channels=pose_vec, feat_channels=128,
                     num_bins=(192, 256), spe_channels=128,
                     gau_cfg=dict(s=128, expansion_factor=2,
                                  dropout_rate=0.0, drop_path=0.0,
                                  act_fn='SiLU', pos_enc='add')),
        overlaps_power=0.5,
        loss_cls=dict(type='VariFocalLoss', reduction='sum',
                      use_target_weight=True, loss_weight=1.0),
        loss_bbox=dict(type='IoULoss', mode='square', eps=1e-16,
                       reduction='sum', loss_weight=5.0),
        loss_oks=dict(type='OKSLoss', reduction='none', metainfo=meta,
                      loss_weight=30.0),
        loss_vis=dict(type='BCELoss', use_target_weight=True,
                      reduction='mean', loss_weight=1.0),
        loss_mle=dict(type='MLECCLoss', use_target_weight=True,
                      loss_weight=mle_weight),
        loss_bbox_aux=dict(type='L1Loss', reduction='sum', loss_weight=1.0))


def yolox_cfg(widen, channels=256, strides=(8, 16, 32), stacked=2, offset=0):
    """``model.head`` of MMPose's yoloxpose configs."""
    return dict(
        type='YOLOXPoseHead', num_keypoints=17, featmap_strides=strides,
        head_module_cfg=dict(num_classes=1, in_channels=channels,
                             feat_channels=channels, widen_factor=widen,
                             stacked_convs=stacked, norm_cfg=BN,
                             act_cfg=dict(type='Swish')),
        prior_generator=dict(type='MlvlPointGenerator', offset=offset,
                             strides=list(strides)),
        assigner=dict(type='SimOTAAssigner', dynamic_k_indicator='oks'),
        overlaps_power=0.5,
        loss_cls=dict(type='BCELoss', reduction='sum', loss_weight=1.0),
        loss_bbox=dict(type='IoULoss', mode='square', eps=1e-16,
                       reduction='sum', loss_weight=5.0),
        loss_obj=dict(type='BCELoss', use_target_weight=True,
                      reduction='sum', loss_weight=1.0),
        loss_oks=dict(type='OKSLoss', reduction='none', metainfo=COCO,
                      norm_target_weight=True, loss_weight=30.0),
        loss_vis=dict(type='BCELoss', use_target_weight=True,
                      reduction='mean', loss_weight=1.0),
        loss_bbox_aux=dict(type='L1Loss', reduction='sum', loss_weight=1.0))


# key count and sha256[:16] of the 'key:shape' lines, in order, of MMPose's
# heads built from those configs (losses included: OKSLoss's sigmas buffer)
CONFIG_HEADS = {
    'rtmo-s': (rtmo_cfg(0.5, 256), 117, '868a7c290fff00a6'),
    'rtmo-m': (rtmo_cfg(0.75, 384, mle_weight=0.01, kpt_center=False), 117,
               'af20484a337e2690'),
    'rtmo-l': (rtmo_cfg(1.0, 512, mle_weight=0.01, kpt_center=False), 117,
               '6ae3065e7b6a0bd0'),
    'rtmo-t': (rtmo_cfg(0.375, 192), 117, 'ba8b57852fb55488'),
    'rtmo-s-crowdpose': (rtmo_cfg(0.5, 256, 14,
                                  'configs/_base_/datasets/crowdpose.py',
                                  0.001, False), 117, 'a53f8f50c5bdd3a7'),
    'yoloxpose-s': (yolox_cfg(0.5), 175, 'b628549a82c8ecdb'),
    'yoloxpose-tiny': (yolox_cfg(0.375), 175, 'bdcf3c41b8439549'),
    'yoloxpose-m': (yolox_cfg(0.75), 175, 'd699fb9aee36cc05'),
    'yoloxpose-l': (yolox_cfg(1), 175, '0f377dd75bf4f253'),
}


@pytest.mark.parametrize('name', sorted(CONFIG_HEADS))
def test_config_heads_have_mmpose_state_dict(name):
    cfg, count, digest = CONFIG_HEADS[name]
    sd = MODELS.build(copy.deepcopy(cfg)).state_dict()
    lines = '\n'.join(f'{k}:{tuple(v.shape)}' for k, v in sd.items())
    assert len(sd) == count
    assert hashlib.sha256(lines.encode()).hexdigest()[:16] == digest


# Tiny heads for value tests (17 keypoints: the losses use COCO's sigmas).
TINY_RTMO = dict(rtmo_cfg(1.0, 8), head_module_cfg=dict(
    num_classes=1, in_channels=8, cls_feat_channels=8, channels_per_group=4,
    num_groups=2, pose_vec_channels=8, stacked_convs=1, norm_cfg=BN,
    act_cfg=dict(type='Swish')), dcc_cfg=dict(
        in_channels=8, feat_channels=8, num_bins=(12, 16), spe_channels=8,
        gau_cfg=dict(s=8, expansion_factor=2, dropout_rate=0.0,
                     drop_path=0.0, act_fn='SiLU', pos_enc='add')))
TINY_YOLOX = yolox_cfg(1.0, channels=8, strides=(16, 32), stacked=1)


def fill(head, seed):
    """Parameters ~ N(0, 0.5^2) and BN statistics from one generator, in
    state_dict order (the reference script filled MMPose's head alike)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, p in head.named_parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
        for name, b in head.named_buffers():
            if name.endswith('running_mean'):
                b.copy_(torch.randn(b.shape, generator=g) * 0.1)
            elif name.endswith('running_var'):
                b.copy_(torch.rand(b.shape, generator=g) + 0.5)


def tiny_inputs(channels):
    """Features of a 64 x 64 input (strides 16, 32) and two samples with
    2 and 1 people, as YOLOXPoseAnnotationProcessor + PackPoseInputs give
    them (input pixels)."""
    g = torch.Generator().manual_seed(7)
    feats = (torch.randn(2, channels, 4, 4, generator=g),
             torch.randn(2, channels, 2, 2, generator=g))
    samples = []
    for b in (torch.tensor([[4., 6., 40., 60.], [30., 10., 62., 50.]]),
              torch.tensor([[10., 8., 50., 58.]])):
        n = len(b)
        kpts = b[:, None, :2] + torch.rand(n, 17, 2, generator=g) * (
            b[:, None, 2:] - b[:, None, :2])
        vis = (torch.rand(n, 17, generator=g) > 0.2).float()
        d = PoseDataSample(metainfo=dict(input_size=(64, 64)))
        d.gt_instance_labels = InstanceData(
            bboxes=b, labels=torch.zeros(n, dtype=torch.int8),
            keypoints=kpts, keypoints_visible=vis,
            areas=(b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]))
        samples.append(d)
    return feats, samples


# Measured on MMPose 1.3.2 with the same cfg, fill(head, 0), tiny_inputs and
# train mode (3 positives). float32 losses of at most a few hundred terms
# each: relative rounding error << 1e-4 on any CPU.
GOLDEN = {
    'RTMOHead': dict(
        loss_bbox=4.6270671, loss_vis=0.6982767,
        loss_mle=[6.7077804, 8.1260471, 7.3825655],
        loss_oks=[28.89682, 28.196419, 29.245588], loss_cls=0.71089429,
        num_samples=3.0, overlaps=[0.048087344, 0.068135306, 0.028500009]),
    'YOLOXPoseHead': dict(
        loss_obj=10.136491, loss_bbox=4.7419705,
        loss_kpt=[27.542858, 27.273268, 28.635868], loss_vis=0.7770794,
        overlaps=[0.081904687, 0.090891086, 0.045471083],
        loss_cls=0.74431342),
}


@pytest.mark.parametrize('cfg,channels', [(TINY_RTMO, 16), (TINY_YOLOX, 8)])
def test_loss_equals_mmpose(cfg, channels):
    head = MODELS.build(copy.deepcopy(cfg))
    fill(head, 0)
    head.train()
    feats, samples = tiny_inputs(channels)
    losses = head.loss(feats, samples, {})
    golden = GOLDEN[cfg['type']]
    assert set(losses) == set(golden)
    for key, value in golden.items():
        np.testing.assert_allclose(
            np.asarray(losses[key].detach()).ravel(), np.ravel(value),
            rtol=1e-4, err_msg=key)
    total = sum(v.mean() for k, v in losses.items() if 'loss' in k)
    total.backward()
    assert all(torch.isfinite(p.grad).all() for p in head.parameters()
               if p.grad is not None)


def test_rtmo_mode_switch_attributes_act():
    """The attributes RTMOModeSwitchHook sets by dotted name change the
    loss: loss_mle.loss_weight 0 drops loss_mle, proxy_target_cc then
    has no DCC keypoints (clear error), use_aux_loss adds the L1 term."""
    head = MODELS.build(copy.deepcopy(TINY_RTMO))
    fill(head, 0)
    feats, samples = tiny_inputs(16)
    head.use_aux_loss = True
    assert 'loss_bbox_aux' in head.loss(feats, samples)
    head.loss_mle.loss_weight = 0.
    assert 'loss_mle' not in head.loss(feats, samples)
    head.proxy_target_cc = True
    with pytest.raises(ValueError, match='proxy_target_cc'):
        head.loss(feats, samples)


def test_loss_without_people_gives_background_terms_only():
    for cfg, channels, keys in ((TINY_YOLOX, 8, {'loss_obj'}),
                                (TINY_RTMO, 16, {'loss_cls',
                                                 'num_samples'})):
        head = MODELS.build(copy.deepcopy(cfg))
        fill(head, 0)
        feats, samples = tiny_inputs(channels)
        for d in samples:
            d.gt_instance_labels = d.gt_instance_labels[[]]
        losses = head.loss(feats, samples)
        assert set(losses) == keys
        assert all(torch.isfinite(v).all() for v in losses.values())


def test_rtmo_loss_with_a_single_positive():
    """DCC's BatchNorm cannot normalise one sample: a batch whose assigner
    picks one positive gets loss_mle 0 (no gradient), and the OKS loss of
    the regression keypoints, also with proxy_target_cc (whose DCC
    keypoints are missing then)."""
    head = MODELS.build(copy.deepcopy(TINY_RTMO))
    fill(head, 0)
    head.train()
    feats, samples = tiny_inputs(16)
    feats = tuple(f[1:] for f in feats)  # the second sample: one person
    samples = samples[1:]
    plain = head.loss(feats, samples)
    assert float(plain['num_samples']) == 1.0  # the assigner's dynamic k
    assert float(plain['loss_mle']) == 0.0
    head.proxy_target_cc = True
    proxied = head.loss(feats, samples)
    for key in ('loss_oks', 'loss_bbox', 'loss_cls', 'loss_mle'):
        assert torch.equal(proxied[key], plain[key]), key
    assert torch.isfinite(plain['loss_oks']).all()


def test_forward_shapes():
    yolox = MODELS.build(copy.deepcopy(TINY_YOLOX))
    rtmo = MODELS.build(copy.deepcopy(TINY_RTMO))
    feats8, _ = tiny_inputs(8)
    feats16, _ = tiny_inputs(16)
    shapes = [[tuple(t.shape) for t in out] for out in yolox(feats8)]
    assert shapes == [[(2, 1, 4, 4), (2, 1, 2, 2)], [(2, 1, 4, 4), (2, 1, 2, 2)],
                      [(2, 4, 4, 4), (2, 4, 2, 2)],
                      [(2, 34, 4, 4), (2, 34, 2, 2)],
                      [(2, 17, 4, 4), (2, 17, 2, 2)]]
    rtmo.eval()  # no keypoint offsets in eval mode
    shapes = [[tuple(t.shape) for t in out] for out in rtmo(feats16)]
    assert shapes == [[(2, 1, 4, 4), (2, 1, 2, 2)], [(2, 4, 4, 4), (2, 4, 2, 2)],
                      [], [(2, 17, 4, 4), (2, 17, 2, 2)],
                      [(2, 8, 4, 4), (2, 8, 2, 2)]]


def logit(p):
    return math.log(p / (1 - p))


def test_yoloxpose_predict_hand_case():
    """One level, stride 8, offset 0: priors (0,0), (8,0), (0,8), (8,8).

    cls logits [2, 1, 0, -3], objectness 0.5: scores 0.5 * sigmoid =
    [.4404, .3655, .25, .0237]; score_thr 0.2 keeps cells 0, 1, 2.
    Boxes 16 x 16 (log 2 * stride 8) centred at (0,0), (8-4, 0), (0, 8):
    IoU(0, 1) = 12*16 / (2*256 - 192) = 0.6 > nms_thr 0.5 -> cell 1 goes;
    IoU(0, 2) = 1/3 stays. Boxes clipped to the 16 x 16 input. Keypoint
    = prior + 8 * offset; visibility sigmoid(0) = 0.5.
    """
    head = YOLOXPoseHead(
        num_keypoints=1, featmap_strides=(8, ),
        prior_generator=dict(type='MlvlPointGenerator', offset=0,
                             strides=[8]))
    cls = torch.tensor([2., 1., 0., -3.]).view(1, 1, 2, 2)
    obj = torch.zeros(1, 1, 2, 2)
    box = torch.zeros(1, 4, 2, 2)
    box[0, 2:] = math.log(2)
    box[0, 0, 0, 1] = -0.5
    kpt = torch.zeros(1, 2, 2, 2)
    kpt[0, :, 0, 0] = torch.tensor([0.5, 0.25])
    kpt[0, :, 1, 0] = torch.tensor([1., 1.])
    vis = torch.zeros(1, 1, 2, 2)
    outputs = ([cls], [obj], [box], [kpt], [vis])
    sample = PoseDataSample(metainfo=dict(input_size=(16, 16)))
    (pred, ) = head.predict_with(lambda _: outputs, None, [sample],
                                 dict(score_thr=0.2, nms_thr=0.5))
    s = 1 / (1 + np.exp(-np.array([2., 0.])))
    np.testing.assert_allclose(pred.scores, 0.5 * s, rtol=1e-6)
    np.testing.assert_array_equal(pred.bbox_scores, pred.scores)
    np.testing.assert_array_equal(pred.labels, [0, 0])
    np.testing.assert_allclose(pred.bboxes, [[0, 0, 8, 8], [0, 0, 8, 16]],
                               atol=1e-5)
    np.testing.assert_allclose(pred.keypoints, [[[4, 2]], [[8, 16]]],
                               atol=1e-5)
    np.testing.assert_allclose(pred.keypoint_scores, [[0.5], [0.5]])
    np.testing.assert_array_equal(pred.keypoints_visible, pred.keypoint_scores)
    # without NMS (nms_thr 1.0, the default) cell 1 stays, best first
    (pred, ) = head.predict_with(lambda _: outputs, None, [sample],
                                 dict(score_thr=0.2))
    np.testing.assert_allclose(pred.scores, [0.4404, 0.3655, 0.25],
                               atol=1e-4)
    # nms_pre keeps the best ones before NMS
    (pred, ) = head.predict_with(lambda _: outputs, None, [sample],
                                 dict(score_thr=0.0, nms_pre=2))
    assert len(pred.scores) == 2


def test_rtmo_predict_keypoints_at_box_centres():
    """With DCC's bin encoders x_fc, y_fc zero, every bin scores the same:
    the softmax is uniform and the expected bin, the keypoint, is the box
    centre (bins are symmetric about it); sigmoid(0) = 0.5 visibility."""
    head = MODELS.build(copy.deepcopy(TINY_RTMO))
    fill(head, 0)
    for fc in (head.dcc.x_fc, head.dcc.y_fc):
        torch.nn.init.zeros_(fc.weight)
        torch.nn.init.zeros_(fc.bias)
    head.eval()
    # level 0: 2 x 2 cells (stride 16); level 1: one cell scoring ~0
    cls = [torch.tensor([[logit(0.9), logit(0.05)],
                         [logit(0.2), logit(0.6)]]).view(1, 1, 2, 2),
           torch.full((1, 1, 1, 1), -20.)]
    box = [torch.zeros(1, 4, 2, 2), torch.zeros(1, 4, 1, 1)]
    box[0][0, 0, 1, 1] = 0.25  # cell 3: centre shifted by 0.25 * 16 px
    vis = [torch.zeros(1, 17, 2, 2), torch.zeros(1, 17, 1, 1)]
    gen = torch.Generator().manual_seed(0)
    pose = [torch.randn(1, 8, 2, 2, generator=gen),
            torch.randn(1, 8, 1, 1, generator=gen)]
    outputs = (cls, box, [], vis, pose)
    sample = PoseDataSample(metainfo=dict(input_size=(64, 64)))
    (pred, ) = head.predict_with(lambda _: outputs, None, [sample],
                                 dict(score_thr=0.1, nms_thr=0.65))
    # priors (centralised, stride 16): (7.5, 7.5), (23.5, 7.5), (7.5,
    # 23.5), (23.5, 23.5); boxes 16 x 16 at the priors (cell 3 at x 27.5)
    np.testing.assert_allclose(pred.scores, [0.9, 0.6, 0.2], rtol=1e-5)
    centres = np.array([[7.5, 7.5], [27.5, 23.5], [7.5, 23.5]])
    np.testing.assert_allclose(pred.keypoints,
                               np.repeat(centres[:, None], 17, 1), atol=1e-4)
    # boxes are clipped to the input after DCC read the unclipped ones
    np.testing.assert_allclose(
        pred.bboxes, np.clip(np.concatenate([centres - 8, centres + 8], 1),
                             0, 64), atol=1e-4)
    np.testing.assert_allclose(pred.keypoint_scores, 0.5)
    # deploy mode (BN folded into pose_to_kpts, as MMPose) gives the same
    head.switch_to_deploy(dict(input_size=(64, 64)))
    head.dcc.switch_to_deploy()
    assert 'dcc.pose_to_kpts.weight' in head.state_dict()
    (dep, ) = head.predict_with(lambda _: outputs, None, [sample],
                                dict(score_thr=0.1, nms_thr=0.65))
    np.testing.assert_allclose(dep.keypoints, pred.keypoints, atol=1e-4)
    assert tuple(head.flatten_priors.shape) == (20, 2)
    np.testing.assert_array_equal(head.flatten_stride[[0, 15, 16, 19]],
                                  [16, 16, 32, 32])


def test_rtmo_dcc_deploy_folds_batchnorm_exactly():
    head = MODELS.build(copy.deepcopy(TINY_RTMO))
    fill(head, 1)
    head.eval()
    x = torch.randn(5, 8, generator=torch.Generator().manual_seed(2))
    before = head.dcc.pose_to_kpts(x)
    head.dcc.switch_to_deploy()
    assert isinstance(head.dcc.pose_to_kpts, torch.nn.Linear)
    # w' x + b' with w' = w g / std, b' = beta + (b - mean) g / std
    torch.testing.assert_close(head.dcc.pose_to_kpts(x), before,
                               rtol=1e-5, atol=1e-5)


def test_empty_predictions_and_unsupported_options():
    head = MODELS.build(copy.deepcopy(TINY_RTMO))
    head.eval()
    feats, samples = tiny_inputs(16)
    preds = head.predict(feats, samples, dict(score_thr=1.0))
    assert [p.keypoints.shape for p in preds] == [(0, 17, 2)] * 2
    assert [p.bboxes.shape for p in preds] == [(0, 4)] * 2
    with pytest.raises(ValueError, match='flip_test'):
        head.predict(feats, samples, dict(flip_test=True))
    assert RTMOHead.test_cfg_keys == ('score_thr', 'nms_pre', 'nms_thr',
                                      'input_size')
    assert YOLOXPoseHead.test_cfg_keys == ('score_thr', 'nms_pre', 'nms_thr')
    bare = YOLOXPoseHead(num_keypoints=17, prior_generator=dict(
        type='MlvlPointGenerator', strides=[8, 16, 32]))
    with pytest.raises(ValueError, match='loss_cls'):
        bare.loss(feats, samples)


def test_heatmap_mask_lowers_objectness_weight():
    """Priors whose predicted person (mean visible keypoint) falls in
    gt_fields.heatmap_mask (unlabelled people; input pixels) get objectness
    weight 1 - mask there, so a mask of ones over the input lowers loss_obj
    (the exact values were compared with MMPose's)."""
    head = MODELS.build(copy.deepcopy(TINY_YOLOX))
    fill(head, 0)
    feats, samples = tiny_inputs(8)
    for d in samples:
        d.gt_fields = PixelData(heatmap_mask=torch.ones(1, 64, 64))
    losses = head.loss(feats, samples)
    assert float(losses['loss_obj'].detach()) < GOLDEN['YOLOXPoseHead']['loss_obj']
