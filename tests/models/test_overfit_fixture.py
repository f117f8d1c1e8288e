"""Whole models overfit two real COCO fixture samples (issue: loss falls 10x).

A narrow ResNet-18 with a heatmap, an RLE and a SimCC head sees the same two
packed fixture samples for 200 Adam steps on CPU.
"""
from pathlib import Path

import pytest
import torch

from posekit.registry import DATASETS, MODELS

DATA = Path(__file__).parents[1] / 'data' / 'fixtures' / 'coco'
INPUT = (64, 64)  # (w, h): small so 200 steps take seconds; 2x2 features
PREPROCESS = dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                  std=[58.395, 57.12, 57.375], bgr_to_rgb=True)
BACKBONE = dict(type='ResNet', depth=18, base_channels=16, stem_channels=16)


def batch(codec):
    pipeline = [dict(type='LoadImage'), dict(type='GetBBoxCenterScale'),
                dict(type='TopdownAffine', input_size=INPUT),
                dict(type='GenerateTarget', encoder=codec), dict(type='PackPoseInputs')]
    ds = DATASETS.build(dict(type='CocoDataset', data_root=str(DATA), ann_file='test_coco.json',
                             data_prefix=dict(img=''), pipeline=pipeline, indices=2))
    items = [ds[i] for i in range(2)]
    return dict(inputs=[it['inputs'] for it in items],
                data_samples=[it['data_samples'] for it in items])


def total_loss(losses):
    return sum(v for k, v in losses.items() if k.startswith('loss'))


def overfit(model, data, measure, steps=200, lr=1e-3):
    """Train on one fixed batch; return ``measure`` before and after."""
    torch.manual_seed(0)
    model.train()
    optim = torch.optim.Adam(model.parameters(), lr=lr)
    packed = model.data_preprocessor(data, True)
    first = measure(model, packed)
    for _ in range(steps):
        loss = total_loss(model(packed['inputs'], packed['data_samples'], mode='loss'))
        optim.zero_grad()
        loss.backward()
        optim.step()
    return first, measure(model, packed)


def loss_value(model, packed):
    with torch.no_grad():
        return float(total_loss(model(packed['inputs'], packed['data_samples'], mode='loss')))


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_heatmap_model_overfits(one_thread):
    codec = dict(type='MSRAHeatmap', input_size=INPUT, heatmap_size=(16, 16), sigma=1)
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='TopdownPoseEstimator', data_preprocessor=PREPROCESS, backbone=BACKBONE,
        head=dict(type='HeatmapHead', in_channels=128, out_channels=17,
                  deconv_out_channels=(32, 32, 32), decoder=codec)))
    first, last = overfit(model, batch(codec), loss_value)
    assert last < first / 10, (first, last)


def test_rle_model_overfits(one_thread):
    # RLE's loss is a negative log-likelihood (it goes below 0), so "10x" is
    # measured on the coordinate error the head predicts.
    codec = dict(type='RegressionLabel', input_size=INPUT)
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='TopdownPoseEstimator', data_preprocessor=PREPROCESS, backbone=BACKBONE,
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='RLEHead', in_channels=128, num_joints=17,
                  loss=dict(type='RLELoss', use_target_weight=True), decoder=codec)))

    def coord_error(model, packed):
        with torch.no_grad():
            pred = model.head.forward(model.extract_feat(packed['inputs']))[..., :2]
        labels = torch.cat([d.gt_instance_labels.keypoint_labels for d in packed['data_samples']])
        weights = torch.cat([d.gt_instance_labels.keypoint_weights for d in packed['data_samples']])
        return float(((pred - labels).norm(dim=-1) * weights).sum() / weights.sum())

    first, last = overfit(model, batch(codec), coord_error)
    assert last < first / 10, (first, last)


def test_simcc_model_overfits(one_thread):
    codec = dict(type='SimCCLabel', input_size=INPUT, sigma=(2.0, 2.0),
                 simcc_split_ratio=2.0, normalize=False)
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='TopdownPoseEstimator', data_preprocessor=PREPROCESS, backbone=BACKBONE,
        head=dict(type='SimCCHead', in_channels=128, out_channels=17, input_size=INPUT,
                  in_featuremap_size=(2, 2), simcc_split_ratio=2.0,
                  deconv_out_channels=None, decoder=codec,
                  # RTMPose's loss: softmax targets, so a perfect fit scores 0
                  loss=dict(type='KLDiscretLoss', use_target_weight=True,
                            beta=10., label_softmax=True))))
    first, last = overfit(model, batch(codec), loss_value, lr=3e-3)
    assert last < first / 10, (first, last)


# ----------------------------------------------------------- bottom-up models
BU_INPUT = (128, 128)   # (w, h); stride-4 features of 32x32
BU_BACKBONE = dict(type='ResNet', depth=18, base_channels=16, stem_channels=16,
                   out_indices=(0, ))   # the stride-4 stage: 16 channels


def bottomup_batch(codec):
    """Two whole fixture images (5 and 1 people) through a bottom-up train
    pipeline with no random warp (shift, zoom and rotation off)."""
    pipeline = [dict(type='LoadImage'),
                dict(type='BottomupRandomAffine', input_size=BU_INPUT,
                     shift_prob=0, scale_prob=0, rotate_prob=0),
                dict(type='GenerateTarget', encoder=codec),
                dict(type='BottomupGetHeatmapMask'), dict(type='PackPoseInputs')]
    ds = DATASETS.build(dict(type='CocoDataset', data_root=str(DATA), ann_file='test_coco.json',
                             data_mode='bottomup', data_prefix=dict(img=''),
                             pipeline=pipeline))
    items = [ds[i] for i in (2, 3)]
    return dict(inputs=[it['inputs'] for it in items],
                data_samples=[it['data_samples'] for it in items])


def bottomup_model(head, codec):
    torch.manual_seed(0)
    return MODELS.build(dict(type='BottomupPoseEstimator', data_preprocessor=PREPROCESS,
                             backbone=BU_BACKBONE, head=dict(head, decoder=codec)))


def loss_terms(*names):
    def measure(model, packed):
        with torch.no_grad():
            losses = model(packed['inputs'], packed['data_samples'], mode='loss')
        return float(sum(losses[n] for n in names))
    return measure


def test_associative_embedding_model_overfits(one_thread):
    codec = dict(type='AssociativeEmbedding', input_size=BU_INPUT, heatmap_size=(32, 32),
                 sigma=1, decode_max_instances=10)
    model = bottomup_model(dict(
        type='AssociativeEmbeddingHead', in_channels=16, num_keypoints=17,
        tag_dim=1, tag_per_keypoint=True, deconv_out_channels=None,
        keypoint_loss=dict(type='KeypointMSELoss', use_target_weight=True),
        tag_loss=dict(type='AssociativeEmbeddingLoss', loss_weight=0.001)), codec)
    first, last = overfit(model, bottomup_batch(codec), loss_terms('loss_kpt', 'loss_pull'))
    assert last < first / 10, (first, last)


def test_dekr_model_overfits(one_thread):
    codec = dict(type='SPR', input_size=BU_INPUT, heatmap_size=(32, 32), sigma=(2., 1.),
                 minimal_diagonal_length=8, generate_keypoint_heatmaps=True)
    model = bottomup_model(dict(
        type='DEKRHead', in_channels=16, num_keypoints=17, num_heatmap_filters=8,
        num_displacement_filters_per_keypoint=2,
        heatmap_loss=dict(type='KeypointMSELoss', use_target_weight=True),
        displacement_loss=dict(type='SoftWeightSmoothL1Loss', use_target_weight=True,
                               supervise_empty=False, beta=1 / 9, loss_weight=0.002)), codec)
    first, last = overfit(model, bottomup_batch(codec),
                          loss_terms('loss/heatmap', 'loss/displacement'))
    assert last < first / 10, (first, last)


def test_cid_model_overfits(one_thread):
    codec = dict(type='DecoupledHeatmap', input_size=BU_INPUT, heatmap_size=(32, 32))
    model = bottomup_model(dict(type='CIDHead', in_channels=16, gfd_channels=8,
                                num_keypoints=17), codec)
    first, last = overfit(model, bottomup_batch(codec),
                          loss_terms('loss/heatmap_coupled', 'loss/heatmap_decoupled'))
    assert last < first / 10, (first, last)
