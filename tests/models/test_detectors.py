"""RTMDet / YOLOX detectors (mmdet's type names and keys), inference only.

Expected key counts and hashes were measured on MMDetection 3.3.0 (the
reference env) for the demo configs of MMPose 1.3.2
(``demo/mmdetection_cfg/``): the hash is sha256 (first 16 hex digits) of
the sorted ``"key:shape"`` lines of the ``state_dict``. The same comparison
also gave, with the reference's weights (BatchNorm statistics from two
train-mode batches): ``mode='tensor'`` outputs with relative L2 difference
0.0 for rtmdet_m person and yolox-s face, and boxes before NMS on
coco/000000040083.jpg (500x333, 3 people) equal within 6.1e-5 px (RTMDet;
2400 boxes) and 0.0 px (YOLOX; 408 boxes), scores and labels equal.
"""
import hashlib
import math

import pytest
import torch

from posekit.models.detectors import DetDataPreprocessor, RTMDetSepBNHead, YOLOXHead
from posekit.models.detectors.postprocess import batched_nms, finish
from posekit.registry import MODELS

SILU = dict(type='SiLU', inplace=True)
RTM_TEST = dict(nms_pre=1000, min_bbox_size=0, score_thr=0.05,
                nms=dict(type='nms', iou_threshold=0.6), max_per_img=100)


def rtmdet(deepen, widen, chans, blocks, num_classes=1, share_conv=True,
           exp_on_reg=False, dw=False):
    """The model dict of MMPose's RTMDet demo configs (mmdet's bases merged)."""
    extra = dict(use_depthwise=True) if dw else {}
    return dict(
        type='RTMDet',
        data_preprocessor=dict(type='DetDataPreprocessor', mean=[103.53, 116.28, 123.675],
                               std=[57.375, 57.12, 58.395], bgr_to_rgb=False,
                               batch_augments=None),
        backbone=dict(type='CSPNeXt', arch='P5', expand_ratio=0.5, deepen_factor=deepen,
                      widen_factor=widen, channel_attention=True,
                      norm_cfg=dict(type='SyncBN'), act_cfg=SILU, **extra),
        neck=dict(type='CSPNeXtPAFPN', in_channels=chans, out_channels=chans[0],
                  num_csp_blocks=blocks, expand_ratio=0.5, norm_cfg=dict(type='SyncBN'),
                  act_cfg=SILU, **extra),
        bbox_head=dict(type='RTMDetSepBNHead', num_classes=num_classes,
                       in_channels=chans[0], stacked_convs=2, feat_channels=chans[0],
                       anchor_generator=dict(type='MlvlPointGenerator', offset=0,
                                             strides=[8, 16, 32]),
                       bbox_coder=dict(type='DistancePointBBoxCoder'),
                       loss_cls=dict(type='QualityFocalLoss', use_sigmoid=True, beta=2.0,
                                     loss_weight=1.0),
                       loss_bbox=dict(type='GIoULoss', loss_weight=2.0),
                       with_objectness=False, exp_on_reg=exp_on_reg, share_conv=share_conv,
                       pred_kernel_size=1, norm_cfg=dict(type='SyncBN'), act_cfg=SILU,
                       **extra),
        train_cfg=dict(assigner=dict(type='DynamicSoftLabelAssigner', topk=13)),
        test_cfg=RTM_TEST)


def yolox_s_face():
    norm = dict(type='BN', momentum=0.03, eps=0.001)
    return dict(
        type='YOLOX',
        data_preprocessor=dict(type='DetDataPreprocessor', pad_size_divisor=32, batch_augments=[
            dict(type='BatchSyncRandomResize', random_size_range=(480, 800),
                 size_divisor=32, interval=10)]),
        backbone=dict(type='CSPDarknet', deepen_factor=0.33, widen_factor=0.5,
                      out_indices=(2, 3, 4), use_depthwise=False, spp_kernal_sizes=(5, 9, 13),
                      norm_cfg=norm, act_cfg=dict(type='Swish')),
        neck=dict(type='YOLOXPAFPN', in_channels=[128, 256, 512], out_channels=128,
                  num_csp_blocks=1, use_depthwise=False,
                  upsample_cfg=dict(scale_factor=2, mode='nearest'), norm_cfg=norm,
                  act_cfg=dict(type='Swish')),
        bbox_head=dict(type='YOLOXHead', num_classes=1, in_channels=128, feat_channels=128,
                       stacked_convs=2, strides=(8, 16, 32), use_depthwise=False,
                       norm_cfg=norm, act_cfg=dict(type='Swish'),
                       loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True,
                                     reduction='sum', loss_weight=1.0)),
        train_cfg=dict(assigner=dict(type='SimOTAAssigner', center_radius=2.5)),
        test_cfg=dict(score_thr=0.01, nms=dict(type='nms', iou_threshold=0.65)))


DEMO_CONFIGS = {
    # name: (model dict, key count, hash) measured in MMDetection 3.3.0
    'rtmdet_m_640-8xb32_coco-person': (
        lambda: rtmdet(0.67, 0.75, [192, 384, 768], 2, exp_on_reg=True),
        692, '2f725a064f5757a4'),
    # rtmdet_nano_320-8xb32_hand builds the same model (same count and hash)
    'rtmdet_nano_320-8xb32_coco-person': (
        lambda: rtmdet(0.33, 0.25, [64, 128, 256], 1, share_conv=False, dw=True),
        698, '8275f7731fe36e3e'),
    'rtmdet_tiny_8xb32-300e_coco': (
        lambda: rtmdet(0.167, 0.375, [96, 192, 384], 1, num_classes=80),
        476, '9412028a030456c2'),
    'yolox-s_8xb8-300e_coco-face': (yolox_s_face, 462, 'fabb49dfe16b0b03'),
}


def key_hash(state_dict):
    lines = '\n'.join(f'{k}:{tuple(v.shape)}' for k, v in sorted(state_dict.items()))
    return hashlib.sha256(lines.encode()).hexdigest()[:16]


@pytest.mark.parametrize('name', sorted(DEMO_CONFIGS))
def test_demo_config_keys_and_shapes_equal_mmdet(name):
    make, count, digest = DEMO_CONFIGS[name]
    model = MODELS.build(make())
    state_dict = model.state_dict()
    assert len(state_dict) == count
    assert key_hash(state_dict) == digest


def test_shared_convs_are_one_tensor_but_norms_are_per_level():
    head = RTMDetSepBNHead(num_classes=1, in_channels=8, feat_channels=8, stacked_convs=2,
                           share_conv=True, with_objectness=False)
    assert head.cls_convs[2][1].conv is head.cls_convs[0][1].conv
    assert head.reg_convs[1][0].conv is head.reg_convs[0][0].conv
    assert head.cls_convs[1][0].bn is not head.cls_convs[0][0].bn


def test_rtmdet_decode_distances_from_points_clamp_and_rescale():
    """Level 1 (stride 16), cell (i=1, j=0): prior point (0, 16). Distances
    (l, t, r, b) = (2, 3, 10, 20) give (-2, 13, 10, 36), clamped to the
    32 x 32 input: (0, 13, 10, 32); divided by scale_factor (2, 0.5):
    (0, 26, 5, 64). Score sigmoid(2) = 0.8808; other logits -10 fall
    below score_thr 0.05."""
    head = RTMDetSepBNHead(num_classes=2, in_channels=4, feat_channels=4, stacked_convs=1,
                           test_cfg=dict(RTM_TEST, max_per_img=5))
    cls = [torch.full((1, 2, s, s), -10.) for s in (4, 2, 1)]
    reg = [torch.zeros(1, 4, s, s) for s in (4, 2, 1)]
    cls[1][0, 1, 1, 0] = 2.
    reg[1][0, :, 1, 0] = torch.tensor([2., 3., 10., 20.])
    meta = dict(img_shape=(32, 32), scale_factor=(2., 0.5))
    out = head.predict_by_feat(cls, reg, metas=[meta])[0]
    torch.testing.assert_close(out['bboxes'], torch.tensor([[0., 26., 5., 64.]]))
    torch.testing.assert_close(out['scores'], torch.tensor([2.]).sigmoid())
    assert out['labels'].tolist() == [1]


def test_rtmdet_raw_outputs_scale_distances_by_stride():
    torch.manual_seed(0)
    head = RTMDetSepBNHead(num_classes=1, in_channels=4, feat_channels=4, stacked_convs=1,
                           exp_on_reg=True, with_objectness=True).eval()
    feats = [torch.randn(1, 4, s, s) for s in (4, 2, 1)]
    cls, reg = head(feats)
    for level, stride in enumerate((8, 16, 32)):
        x = head.reg_convs[level][0](feats[level])
        torch.testing.assert_close(reg[level], head.rtm_reg[level](x).exp() * stride)
        prob = (head.rtm_cls[level](head.cls_convs[level][0](feats[level])).sigmoid()
                * head.rtm_obj[level](x).sigmoid()).sqrt()
        torch.testing.assert_close(cls[level].sigmoid(), prob, rtol=1e-5, atol=1e-6)


def test_yolox_decode_exp_size_and_objectness():
    """Level 0 (stride 8), cell (i=2, j=1): prior (8, 16). (dx, dy) = (0.5,
    -0.25) -> centre (12, 14); (log w, log h) = (log 2, log 4) -> size
    (16, 32): box (4, -2, 20, 30), not clamped. Score sigmoid(0) *
    sigmoid(log 3) = 0.5 * 0.75 = 0.375; the rest: sigmoid(-10)^2."""
    head = YOLOXHead(num_classes=1, in_channels=4, feat_channels=4,
                     test_cfg=dict(score_thr=0.01, nms=dict(type='nms', iou_threshold=0.65)))
    cls = [torch.full((1, 1, s, s), -10.) for s in (4, 2, 1)]
    obj = [torch.full((1, 1, s, s), -10.) for s in (4, 2, 1)]
    reg = [torch.zeros(1, 4, s, s) for s in (4, 2, 1)]
    cls[0][0, 0, 2, 1], obj[0][0, 0, 2, 1] = 0., torch.tensor(3.).log()
    reg[0][0, :, 2, 1] = torch.tensor([0.5, -0.25, math.log(2), math.log(4)])
    out = head.predict_by_feat(cls, reg, obj, metas=[dict(scale_factor=(1., 1.))])[0]
    torch.testing.assert_close(out['bboxes'], torch.tensor([[4., -2., 20., 30.]]))
    torch.testing.assert_close(out['scores'], torch.tensor([0.375]))


def test_nms_is_per_class_and_max_per_img_caps_after_it():
    """Box 1 overlaps box 0 with IoU 90 / 110 = 0.818 > 0.6 (same class):
    dropped. Box 3 equals box 0 but is of class 1: kept. max_per_img=2
    keeps the best two survivors, 0 (0.9) and 2 (0.7)."""
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 0., 11., 10.],
                          [20., 20., 30., 30.], [0., 0., 10., 10.]])
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6])
    labels = torch.tensor([0, 0, 0, 1])
    assert batched_nms(boxes, scores, labels, 0.6).tolist() == [0, 2, 3]
    assert batched_nms(boxes, scores, labels, 0.85).tolist() == [0, 1, 2, 3]
    cfg = dict(nms=dict(type='nms', iou_threshold=0.6), max_per_img=2, min_bbox_size=0)
    out = finish(boxes, scores, labels, cfg, scale_factor=None)
    assert out['scores'].tolist() == pytest.approx([0.9, 0.7])


def test_min_bbox_size_is_measured_after_rescale():
    """A 4 x 4 input box is 2 x 8 in the image (scale (2, 0.5)): removed by
    min_bbox_size=3 (its width 2 <= 3)."""
    boxes = torch.tensor([[0., 0., 4., 4.], [0., 0., 8., 4.]])
    out = finish(boxes, torch.tensor([0.9, 0.8]), torch.tensor([0, 0]),
                 dict(min_bbox_size=3), scale_factor=(2., 0.5))
    torch.testing.assert_close(out['bboxes'], torch.tensor([[0., 0., 4., 8.]]))


def test_clear_errors_for_training_and_unknown_options():
    model = MODELS.build(yolox_s_face())
    with pytest.raises(NotImplementedError, match='YOLOX'):
        model(torch.zeros(1, 3, 32, 32), [], mode='loss')
    with pytest.raises(NotImplementedError, match='BatchSyncRandomResize'):
        model.data_preprocessor(dict(inputs=[torch.zeros(3, 32, 32)]), True)
    with pytest.raises(ValueError, match="test_cfg key 'nms_thr'"):
        YOLOXHead(num_classes=1, in_channels=4, test_cfg=dict(nms_thr=0.5))
    with pytest.raises(ValueError, match='use_depthwise'):
        RTMDetSepBNHead(num_classes=1, in_channels=4, share_conv=True, use_depthwise=True)
    with pytest.raises(ValueError, match='pad_mask'):
        DetDataPreprocessor(pad_mask=True)
