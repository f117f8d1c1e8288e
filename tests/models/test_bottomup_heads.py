"""AssociativeEmbeddingHead and DEKRHead: MMPose's state_dict layouts, and
outputs and losses equal to values measured on MMPose 1.3.2 (DEKR's
deformable conv there replaced by posekit's, which test_deform_conv.py
checks against mmcv's formula); flip test, decoding, rescoring, NMS."""
import copy
import hashlib

import numpy as np
import pytest
import torch

from posekit.codecs import BaseKeypointCodec
from posekit.models.heads import AssociativeEmbeddingHead, DEKRHead
from posekit.models.heads.dekr_head import RescoreNet, nearby_joints_nms
from posekit.registry import MODELS
from posekit.structures import InstanceData, PixelData, PoseDataSample

AE_LOSSES = dict(keypoint_loss=dict(type='KeypointMSELoss',
                                    use_target_weight=True),
                 tag_loss=dict(type='AssociativeEmbeddingLoss',
                               loss_weight=0.001))
# The heads of MMPose's configs (associative_embedding/coco, dekr/coco and
# dekr/crowdpose): key count and sha256[:16] of 'key:shape' lines, in order.
CONFIG_HEADS = [
    (dict(type='AssociativeEmbeddingHead', in_channels=32, num_keypoints=17,
          tag_dim=1, tag_per_keypoint=True, deconv_out_channels=None,
          **AE_LOSSES), 2, 'b727afcd83529c8f'),
    (dict(type='DEKRHead', in_channels=480, num_keypoints=17,
          rescore_cfg=dict(in_channels=74, norm_indexes=(5, 6))),
     52, 'a9d5fc6a7c401d7b'),
    (dict(type='DEKRHead', in_channels=720, num_keypoints=17,
          num_heatmap_filters=48, rescore_cfg=dict(in_channels=74, norm_indexes=(5, 6))),
     52, 'bedda4133aa20296'),
    (dict(type='DEKRHead', in_channels=480, num_keypoints=14,
          rescore_cfg=dict(in_channels=59, norm_indexes=(0, 1))),
     52, '22b28af47bc4b431'),
    (dict(type='DEKRHead', in_channels=720, num_keypoints=14,
          num_heatmap_filters=48, rescore_cfg=dict(in_channels=59, norm_indexes=(0, 1))),
     52, 'a94ecdaf07b2e16d'),
]


@pytest.mark.parametrize('cfg,count,digest', CONFIG_HEADS)
def test_config_heads_have_mmpose_state_dict(cfg, count, digest):
    sd = MODELS.build(copy.deepcopy(cfg)).state_dict()
    lines = '\n'.join(f'{k}:{tuple(v.shape)}' for k, v in sd.items())
    assert len(sd) == count
    assert hashlib.sha256(lines.encode()).hexdigest()[:16] == digest


def test_dekr_submodule_names():
    sd = DEKRHead(in_channels=8, num_keypoints=2, num_heatmap_filters=4,
                  num_displacement_filters_per_keypoint=3).state_dict()
    assert sd['heatmap_conv_layers.0.conv.weight'].shape == (4, 8, 1, 1)
    assert sd['heatmap_conv_layers.2.weight'].shape == (3, 4, 1, 1)
    blk = 'displacement_conv_layers.1.'
    assert sd[blk + 'regular_matrix'].shape == (3, 9)
    assert sd[blk + 'transform_matrix_conv.weight'].shape == (12, 3, 3, 3)
    assert sd[blk + 'adapt_conv.weight'].shape == (6, 3, 3, 3)
    assert sd['displacement_conv_layers.3.weight'].shape == (4, 3, 1, 1)


def rand_state(sd, seed):
    """Random weights (BN variances in [0.5, 1.5]), in state_dict order."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for k, v in sd.items():
        if not v.dtype.is_floating_point or 'regular_matrix' in k:
            out[k] = v.clone()
        elif 'running_var' in k:
            out[k] = torch.rand(v.shape, generator=g) + 0.5
        else:
            out[k] = torch.randn(v.shape, generator=g) * 0.1
    return out


SMALL_AE = dict(type='AssociativeEmbeddingHead', in_channels=8,
                num_keypoints=3, tag_dim=2, deconv_out_channels=(8, ),
                deconv_kernel_sizes=(4, ), conv_out_channels=(8, ),
                conv_kernel_sizes=(3, ), **AE_LOSSES)
SMALL_AE_SHARED = dict(type='AssociativeEmbeddingHead', in_channels=8,
                       num_keypoints=3, tag_dim=2, tag_per_keypoint=False,
                       deconv_out_channels=None)
SMALL_DEKR = dict(type='DEKRHead', in_channels=8, num_keypoints=2,
                  num_heatmap_filters=4,
                  num_displacement_filters_per_keypoint=3,
                  displacement_loss=dict(type='SoftWeightSmoothL1Loss',
                                         use_target_weight=True,
                                         supervise_empty=False, beta=1 / 9,
                                         loss_weight=0.002))
# name -> (config, K, map size (H, W), MMPose's (sum, sum of squares) of
# each output in eval mode, MMPose's losses in train mode)
SMALL = {
    'ae': (SMALL_AE, 3, (8, 10),
           [(9.10889645665884, 2.3201313324560147),
            (-23.748327808454633, 8.056142482693112)],
           dict(loss_kpt=0.26645001769065857, loss_pull=8.783576959103812e-07,
                loss_push=0.0)),
    'ae_shared': (SMALL_AE_SHARED, 3, (4, 5),
                  [(12.135261426214129, 8.743278980187961),
                   (-3.0420190235599875, 7.047218699914566)],
                  dict(loss_kpt=0.2639883756637573,
                       loss_pull=0.18329566717147827, loss_push=0.0)),
    'dekr': (SMALL_DEKR, 2, (4, 5),
             [(9.585869621485472, 1.0260705442734785),
              (3.0382159147411585, 0.1735010087235292)],
             {'loss/heatmap': 0.15331576764583588,
              'loss/displacement': 0.00016166923160199076}),
}


def _ae_batch(K, H, W, B=2, seed=0):
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(B):
        s = PoseDataSample()
        s.gt_fields = PixelData(
            heatmaps=torch.from_numpy(rng.random((K, H, W)).astype(np.float32)),
            heatmap_mask=torch.from_numpy(
                (rng.random((1, H, W)) > 0.2).astype(np.float32)))
        weights = (rng.random((1, K)) > 0.3).astype(np.float32)
        indices = np.stack([rng.integers(0, H * W, (1, K)),
                            rng.random((1, K)) > 0.3], -1).astype(np.int64)
        s.gt_instance_labels = InstanceData(
            keypoint_weights=torch.from_numpy(weights),
            keypoint_indices=torch.from_numpy(indices))
        samples.append(s)
    return samples


def _dekr_batch(K, H, W, B=2, seed=0):
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(B):
        f = dict(heatmaps=rng.random((K + 1, H, W)),
                 heatmap_weights=rng.random((K + 1, H, W)),
                 heatmap_mask=rng.random((1, H, W)) > 0.2,
                 displacements=rng.standard_normal((2 * K, H, W)) * 0.3)
        f['displacement_weights'] = ((rng.random((2 * K, H, W)) > 0.5)
                                     * rng.random((2 * K, H, W)))
        s = PoseDataSample()
        s.gt_fields = PixelData(**{k: torch.from_numpy(v.astype(np.float32))
                                   for k, v in f.items()})
        samples.append(s)
    return samples


@pytest.mark.parametrize('name', sorted(SMALL))
def test_forward_and_loss_equal_mmpose(name):
    """float32 sums of <= 480 values: 1e-5 relative covers summation order;
    measured differences were 0."""
    cfg, K, (H, W), sums, losses = SMALL[name]
    head = MODELS.build(copy.deepcopy(cfg))
    head.load_state_dict(rand_state(head.state_dict(), 7))
    x = torch.randn(2, 8, 4, 5, generator=torch.Generator().manual_seed(8))
    head.eval()
    with torch.no_grad():
        outs = head.forward((x, ))
    for out, (total, squares) in zip(outs, sums):
        assert out.double().sum().item() == pytest.approx(total, rel=1e-5)
        assert (out.double()**2).sum().item() == pytest.approx(squares,
                                                               rel=1e-5)
    head.train()
    batch = (_dekr_batch if 'dekr' in name else _ae_batch)(K, H, W)
    got = head.loss((x, ), batch, {})
    assert set(got) == set(losses)
    for key, value in losses.items():
        assert torch.isfinite(got[key])
        assert got[key].item() == pytest.approx(value, rel=1e-5, abs=1e-12)


def test_ae_loss_weights_take_the_max_over_instances():
    """Two instances in one image: a keypoint weighs 1 if either has it."""
    head = AssociativeEmbeddingHead(in_channels=6, num_keypoints=3,
                                    deconv_out_channels=None,
                                    final_layer=None)
    s = PoseDataSample()
    s.gt_fields = PixelData(heatmaps=torch.ones(3, 2, 2),
                            heatmap_mask=torch.ones(1, 2, 2))
    s.gt_instance_labels = InstanceData(
        keypoint_weights=torch.tensor([[1., 0., 0.], [0., 0., 1.]]),
        keypoint_indices=torch.tensor([[[0, 1], [1, 0], [2, 0]],
                                       [[3, 0], [1, 0], [2, 1]]]))
    feats = torch.zeros(1, 6, 2, 2)
    feats[0, 3:] = torch.tensor([0., 1., 2.]).reshape(3, 1, 1)  # tags
    losses = head.loss((feats, ), [s])
    # squared error 1 on keypoints 0 and 2 (weights 1), 0 on keypoint 1
    assert losses['loss_kpt'].item() == pytest.approx(8 / 12)
    # one visible keypoint each: pull 0; tags 0 and 2 differ by 2
    assert losses['loss_pull'].item() == 0
    expected = 0.5 * (2 + 2 * np.exp(-4)) / (2 + 1e-6)
    assert losses['loss_push'].item() == pytest.approx(expected, rel=1e-6)


class RecordingCodec(BaseKeypointCodec):
    """Keeps what the head decodes; returns one instance per sample at
    (1, 2) with scores 0.5 and an instance score 0.25."""

    support_batch_decoding = True

    def encode(self, keypoints, keypoints_visible=None):
        return {}

    def decode(self, encoded):
        raise AssertionError('batch_decode should be used')

    def batch_decode(self, heatmaps, tags):
        self.seen = (heatmaps, tags)
        B, K = heatmaps.shape[:2]
        return ([np.tile([1., 2.], (1, K, 1))] * B,
                [np.full((1, K), 0.5)] * B, [np.full(1, 0.25)] * B)


def _samples(B, **meta):
    return [PoseDataSample(metainfo=dict(
        flip_indices=[0, 2, 1], img_shape=(16, 20), input_size=(20, 16),
        **meta)) for _ in range(B)]


def test_ae_flip_test_merges_as_mmpose():
    """Pass-through head, K = 3, L = 2: heatmaps of the mirror are flipped
    and swapped (1 <-> 2) then averaged; its tags (channel l * 3 + k) the
    same, then concatenated after the original's; with
    restore_heatmap_size both are resized to img_shape (h, w) = (16, 20)."""
    codec = RecordingCodec()
    head = AssociativeEmbeddingHead(in_channels=9, num_keypoints=3,
                                    tag_dim=2, deconv_out_channels=None,
                                    final_layer=None, decoder=codec)
    g = torch.Generator().manual_seed(0)
    x, x_flip = torch.randn(2, 9, 4, 5, generator=g), torch.randn(
        2, 9, 4, 5, generator=g)
    preds, fields = head.predict([(x, ), (x_flip, )], _samples(2), dict(
        flip_test=True, output_heatmaps=True))
    unflipped = x_flip.flip(-1)[:, [0, 2, 1, 3, 5, 4, 6, 8, 7]]
    hm, tags = codec.seen
    torch.testing.assert_close(hm, (x[:, :3] + unflipped[:, :3]) / 2)
    torch.testing.assert_close(tags, torch.cat([x[:, 3:], unflipped[:, 3:]],
                                               1))
    assert preds[0].bbox_scores.tolist() == [0.25]
    assert preds[1].keypoints.shape == (1, 3, 2)
    assert fields[0].tags.shape == (12, 4, 5)
    head.predict([(x, ), (x_flip, )], _samples(2), dict(
        flip_test=True, restore_heatmap_size=True, shift_heatmap=True))
    assert codec.seen[0].shape == (2, 3, 16, 20)
    assert codec.seen[1].shape == (2, 12, 16, 20)
    # a single pass is resized too; multi-scale averages scale heatmaps
    head.predict((x, ), _samples(2), dict(restore_heatmap_size=True))
    assert codec.seen[0].shape == (2, 3, 16, 20)
    head.predict([(x, ), (x[..., :2, :3], )], _samples(2),
                 dict(multiscale_test=True))
    assert codec.seen[1].shape == (2, 6, 4, 5)
    with pytest.raises(ValueError, match='flip'):
        head.predict((x, ), _samples(2), dict(flip_test=True))


def test_ae_decodes_two_people_with_the_codec():
    """Pass-through head on clean maps: Gaussian peaks (sigma 1) of two
    people at heatmap pixels, tags 0 and 3 at their keypoints; decoding
    gives the peaks times the stride 4, in input pixels."""
    K = 3
    people = np.array([[[2, 3], [5, 3], [3, 7]], [[10, 4], [13, 5], [11, 9]]])
    yy, xx = np.mgrid[0:12, 0:16]
    maps = torch.zeros(1, 2 * K, 12, 16)
    for n, person in enumerate(people):
        for k, (x, y) in enumerate(person):
            peak = np.exp(-((xx - x)**2 + (yy - y)**2) / 2)
            maps[0, k] = torch.maximum(maps[0, k], torch.from_numpy(peak))
            maps[0, K + k, y - 1:y + 2, x - 1:x + 2] = 3. * n
    head = MODELS.build(dict(
        type='AssociativeEmbeddingHead', in_channels=2 * K, num_keypoints=K,
        deconv_out_channels=None, final_layer=None, decoder=dict(
            type='AssociativeEmbedding', input_size=(64, 48),
            heatmap_size=(16, 12), decode_keypoint_order=[0, 1, 2],
            decode_max_instances=5)))
    pred = head.predict((maps, ), _samples(1), {})[0]
    assert pred.keypoints.shape == (2, K, 2)
    found = sorted(pred.keypoints.tolist())
    np.testing.assert_allclose(found, sorted((people * 4.).tolist()),
                               atol=1e-4)
    np.testing.assert_allclose(pred.keypoint_scores, 1.0, atol=1e-6)


class FakeSPR(BaseKeypointCodec):
    """Three instances at fixed input-pixel keypoints; root scores 1."""

    generate_keypoint_heatmaps = True

    def __init__(self, keypoints):
        super().__init__()
        self.keypoints = keypoints

    def encode(self, keypoints, keypoints_visible=None):
        return {}

    def decode(self, heatmaps, displacements):
        self.seen = (heatmaps, displacements)
        n, k = self.keypoints.shape[:2]
        scores = np.array([[0.9] * k, [0.8] * k, [0.7] * k], np.float32)
        return self.keypoints, (np.ones(n, np.float32), scores[:n])


def test_dekr_predict_flip_rescore_and_nms():
    """Instances 0 and 1 nearly coincide: NMS (0.05 of the pose diagonal)
    keeps 0, the better. RescoreNet with zero weights and l3 bias 0.5
    halves every score. Flip test: displacements of the mirror get
    ``(s - 1) / s`` added to x, stride s = 20 / 5 = 4."""
    kpts = np.array([[[0, 0], [10, 0], [0, 10]],
                     [[0.1, 0], [10, 0.1], [0, 10]],
                     [[30, 30], [40, 30], [30, 45]]], np.float32)
    codec = FakeSPR(kpts)
    head = DEKRHead(in_channels=4, num_keypoints=3, num_heatmap_filters=4,
                    num_displacement_filters_per_keypoint=2, decoder=codec,
                    rescore_cfg=dict(in_channels=3 * 2 + 3,
                                     norm_indexes=(0, 1))).eval()
    for p in head.rescore_net.parameters():
        torch.nn.init.zeros_(p)
    torch.nn.init.constant_(head.rescore_net.l3.bias, 0.5)
    x = torch.randn(1, 4, 4, 5, generator=torch.Generator().manual_seed(0))
    cfg = dict(nms_dist_thr=0.05)
    with torch.no_grad():
        pred = head.predict((x, ), _samples(1, skeleton_links=[[0, 1],
                                                               [0, 2]]), cfg)
    pred = pred[0]
    np.testing.assert_array_equal(pred.keypoints, kpts[[0, 2]])
    np.testing.assert_allclose(pred.keypoint_scores, [[0.45] * 3, [0.35] * 3])
    with torch.no_grad():
        hm, disp = head.forward((x, ))
        hm_f, disp_f = head.forward((x.flip(-1), ))
        head.predict([(x, ), (x.flip(-1), )], _samples(1), dict(
            flip_test=True))
    un_hm = hm_f.flip(-1)[:, [0, 2, 1, 3]]
    un_disp = disp_f.flip(-1).reshape(1, 3, 2, 4, 5)[:, [0, 2, 1]]
    un_disp[:, :, 0] = 0.75 - un_disp[:, :, 0]
    torch.testing.assert_close(codec.seen[0], ((hm + un_hm) / 2)[0])
    torch.testing.assert_close(codec.seen[1], (disp + un_disp.reshape(
        1, 6, 4, 5))[0] / 2)
    with pytest.raises(ValueError, match='one image'):
        head.predict((x.repeat(2, 1, 1, 1), ), _samples(2), {})


def test_nearby_joints_nms_by_hand():
    """Poses 0 and 1 share 2 of 3 joints (more than K // 2 = 1), so the
    lower-scored 1 goes; pose 2 is far. max_dets 1 keeps the best."""
    kpts = np.array([[[0, 0], [10, 0], [0, 10]], [[0, 0], [10, 0], [9, 9]],
                     [[50, 50], [60, 50], [50, 60]]], float)
    scores = np.array([[0.5] * 3, [0.9] * 3, [0.1] * 3])
    assert nearby_joints_nms(kpts, scores, 0.05, None) == [1, 2]
    assert nearby_joints_nms(kpts, scores, 0.05, None, max_dets=1) == [1]
    assert nearby_joints_nms(kpts, scores, 0.05, 2) == [1, 0, 2]
    with pytest.raises(ValueError, match='nms_joints_thr'):
        nearby_joints_nms(kpts, scores, 0.05, 3)


def test_rescore_net_features():
    """Links (1, 0) -> (0, 0) of length 3 and (2, 0) of length 4; the torso
    scale is their mean 3.5."""
    net = RescoreNet(in_channels=3 * 2 + 3, norm_indexes=(0, 1))
    kpts = torch.tensor([[[0., 0.], [3., 0.], [0., 4.]]])
    feat = net.make_feature(kpts, torch.tensor([[0.1, 0.2, 0.3]]),
                            [[1, 0], [0, 2]])
    expected = torch.tensor([[3., 0., 0., -4., 3., 4.]]) / 3.5
    torch.testing.assert_close(feat[:, :6], expected)
    torch.testing.assert_close(feat[:, 6:], torch.tensor([[0.1, 0.2, 0.3]]))
    with pytest.raises(ValueError, match='skeleton links'):
        net(kpts, torch.ones(1, 3), [[0, 1]])


def test_rescore_net_loads_its_checkpoint_on_init(tmp_path):
    net = RescoreNet(in_channels=9, norm_indexes=(0, 1))
    torch.save(net.state_dict(), tmp_path / 'rescore.pth')
    head = DEKRHead(in_channels=4, num_keypoints=3, rescore_cfg=dict(
        in_channels=9, norm_indexes=(0, 1), init_cfg=dict(
            type='Pretrained', checkpoint=str(tmp_path / 'rescore.pth'))))
    head.init_weights()
    torch.testing.assert_close(head.rescore_net.l1.weight, net.l1.weight)


def test_mismatched_configs_fail_at_build():
    with pytest.raises(ValueError, match='decode_keypoint_order'):
        MODELS.build(dict(type='AssociativeEmbeddingHead', in_channels=8,
                          num_keypoints=17, decoder=dict(
                              type='AssociativeEmbedding', input_size=(64, 64),
                              heatmap_size=(16, 16),
                              decode_keypoint_order=list(range(14)))))
    with pytest.raises(ValueError, match='final_layer=None'):
        AssociativeEmbeddingHead(in_channels=17, num_keypoints=17,
                                 deconv_out_channels=None, final_layer=None)
    with pytest.raises(ValueError, match='generate_keypoint_heatmaps'):
        MODELS.build(dict(type='DEKRHead', in_channels=8, num_keypoints=2,
                          decoder=dict(type='SPR', input_size=(64, 64),
                                       heatmap_size=(16, 16), sigma=4,
                                       generate_keypoint_heatmaps=False)))
    with pytest.raises(ValueError, match='rescore_cfg'):
        DEKRHead(in_channels=8, num_keypoints=17,
                 rescore_cfg=dict(in_channels=75, norm_indexes=(5, 6)))
    with pytest.raises(ValueError, match='in_channels'):
        DEKRHead(in_channels=[8, 8], num_keypoints=2)
