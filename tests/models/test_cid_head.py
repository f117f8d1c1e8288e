"""CIDHead and InfoNCELoss against MMPose 1.3.2.

Expected numbers were produced by MMPose 1.3.2's CIDHead (and its
DecoupledHeatmap codec) on the same deterministic weights, features and
targets built below; posekit matched them to the last float32 bit on the
machine that wrote this test. Tolerances are relative 1e-5 on float32 sums
of ~1e4 terms; decoded keypoints are heatmap maxima (+- 0.25 px refinement),
so they match exactly unless two pixels tie to 1e-6.
"""
import math

import numpy as np
import pytest
import torch

from posekit.models.heads import CIDHead
from posekit.models.losses import InfoNCELoss
from posekit.registry import KEYPOINT_CODECS, MODELS
from posekit.structures import InstanceData, PixelData, PoseDataSample

K = 17
HW = 32
FLIP = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
CODEC = dict(type='DecoupledHeatmap', input_size=(128, 128),
             heatmap_size=(32, 32))


def config_head(in_channels=480, gfd_channels=32):
    """The head dict of cid_hrnet-w32 (w48: 720, 48) _8xb20-140e_coco-512x512
    with a 32x32 codec (stride 4)."""
    return dict(
        type='CIDHead', in_channels=in_channels, num_keypoints=17,
        gfd_channels=gfd_channels,
        coupled_heatmap_loss=dict(type='FocalHeatmapLoss', loss_weight=1.0),
        decoupled_heatmap_loss=dict(type='FocalHeatmapLoss', loss_weight=4.0),
        contrastive_loss=dict(type='InfoNCELoss', temperature=0.05,
                              loss_weight=1.0),
        decoder=CODEC)


def gaussian(x, y, sigma=2.0):
    """(32, 32) float32 Gaussian, exactly 1 at pixel (x, y)."""
    ys, xs = np.mgrid[:HW, :HW]
    return np.exp(-((xs - x)**2 + (ys - y)**2) / (2 * sigma**2)).astype(
        np.float32)


ROOTS = ((6, 9, 1.6), (20, 12, 1.3), (25, 26, 1.0))  # x, y, amplitude


def root_direction():
    """(480,) unit vector: features along it make instance roots."""
    u = torch.randn(480, generator=torch.Generator().manual_seed(2))
    return u / u.norm()


def w32_head():
    """Weights N(0, 1) * 0.5 / sqrt(fan_in), state_dict order; the root
    channel also reads 0.5 * root_direction() with bias -7.5 (background
    roots score ~0.004, the planted ones 0.06-0.47)."""
    head = MODELS.build(config_head())
    g = torch.Generator().manual_seed(0)
    sd = head.state_dict()
    for k, v in sd.items():
        fan_in = v[0].numel() if v.ndim > 1 else 1
        sd[k] = torch.randn(v.shape, generator=g) * 0.5 / fan_in**0.5
    sd['iia_module.keypoint_root_conv.weight'][-1, :, 0, 0] += \
        0.5 * root_direction()
    sd['iia_module.keypoint_root_conv.bias'][-1] = -7.5
    head.load_state_dict(sd)
    return head.eval()


def make_feats():
    """(2, 480, 32, 32): an image and the features of its mirror, with bumps
    of 10 * amplitude along root_direction() at ROOTS (x -> 31 - x in the
    mirror); all vectors share a direction (cosine ~0.8) so that the
    contrastive loss at T = 0.05 is not ~0."""
    g = torch.Generator().manual_seed(1)
    common = 2.0 * torch.randn(1, 480, 1, 1, generator=g)
    feats = torch.randn(2, 480, HW, HW, generator=g) + common
    u = root_direction()[:, None, None]
    for x, y, amp in ROOTS:
        feats[0] += 10 * amp * u * torch.from_numpy(gaussian(x, y, 1.5))
        feats[1] += 10 * amp * u * torch.from_numpy(
            gaussian(HW - 1 - x, y, 1.5))
    return feats


def make_samples():
    """2 images with 3 and 2 instances, laid out as DecoupledHeatmap encodes
    and PackPoseInputs packs them."""
    rng = np.random.default_rng(3)
    samples = []
    for m in (3, 2):
        roots = rng.integers(4, 28, (m, 2))
        kpts = np.clip(roots[:, None] + rng.integers(-4, 5, (m, K, 2)), 0,
                       HW - 1)
        weights = (rng.uniform(size=(m, K)) > 0.2).astype(np.float32)
        inst = np.stack([gaussian(*kpts[i, k]) * weights[i, k]
                         for i in range(m) for k in range(K)])
        coupled = np.concatenate([
            inst.reshape(m, K, HW, HW).max(0),
            np.stack([gaussian(*r) for r in roots]).max(0)[None]])
        mask = np.ones((1, HW, HW), np.float32)
        mask[:, :4, :8] = 0
        d = PoseDataSample()
        d.gt_fields = PixelData(heatmaps=torch.from_numpy(coupled),
                                instance_heatmaps=torch.from_numpy(inst),
                                heatmap_mask=torch.from_numpy(mask))
        d.gt_instance_labels = InstanceData(
            instance_coords=torch.from_numpy(roots),
            keypoint_weights=torch.from_numpy(weights))
        samples.append(d)
    return samples


def sample_meta():
    return [PoseDataSample(metainfo=dict(input_size=(128, 128),
                                         flip_indices=FLIP))]


@pytest.mark.parametrize('in_channels,gfd', [(480, 32), (720, 48)])
def test_state_dict_is_mmpose(in_channels, gfd):
    """Keys, order and shapes of MMPose's CIDHead for the two COCO configs;
    the losses hold no parameters."""
    sd = MODELS.build(config_head(in_channels, gfd)).state_dict()
    expected = {
        'iia_module.keypoint_root_conv.weight': (K + 1, in_channels, 1, 1),
        'iia_module.keypoint_root_conv.bias': (K + 1, ),
        'gfd_module.conv_down.weight': (gfd, in_channels, 1, 1),
        'gfd_module.conv_down.bias': (gfd, ),
        'gfd_module.channel_attention.atn.weight': (gfd, in_channels),
        'gfd_module.channel_attention.atn.bias': (gfd, ),
        'gfd_module.spatial_attention.atn.weight': (gfd, in_channels),
        'gfd_module.spatial_attention.atn.bias': (gfd, ),
        'gfd_module.spatial_attention.conv.weight': (1, 3, 5, 5),
        'gfd_module.spatial_attention.conv.bias': (1, ),
        'gfd_module.fuse_attention.weight': (gfd, 2 * gfd, 1, 1),
        'gfd_module.fuse_attention.bias': (gfd, ),
        'gfd_module.heatmap_conv.weight': (K, gfd, 1, 1),
        'gfd_module.heatmap_conv.bias': (K, ),
    }
    assert [(k, tuple(v.shape)) for k, v in sd.items()] == list(
        expected.items())


def test_init_weights_prior_prob():
    """Heatmap convs start at sigmoid(bias) = prior_prob = 0.01, weights
    N(0, 0.001)."""
    head = CIDHead(in_channels=64, gfd_channels=16, num_keypoints=K)
    head.init_weights()
    bias = -math.log(0.99 / 0.01)
    for conv in (head.iia_module.keypoint_root_conv,
                 head.gfd_module.heatmap_conv):
        torch.testing.assert_close(conv.bias, torch.full_like(conv.bias,
                                                              bias))
    assert head.gfd_module.conv_down.bias.abs().max() == 0
    std = head.gfd_module.channel_attention.atn.weight.std().item()
    assert std == pytest.approx(0.001, rel=0.1)


def test_outputs_match_mmpose():
    head, feats = w32_head(), make_feats()
    with torch.no_grad():
        coupled = head.iia_module(feats)
        out = head.forward((feats[:1], ))
        coords = torch.tensor([[3, 4], [20, 7], [31, 31], [0, 12], [15, 15]])
        imgids = torch.tensor([0, 0, 0, 1, 1])
        vectors, _ = head.iia_module.forward_train(feats, coords, imgids)
        decoupled = head.gfd_module(feats, vectors, coords, imgids)
        _, roots, scores = head.iia_module.forward_test(
            torch.cat((feats[:1], feats[1:].flip(-1))), dict(flip_test=True))
    assert coupled.double().sum().item() == pytest.approx(18750.616875,
                                                          rel=1e-5)
    assert out.shape == (4, K, HW, HW)  # 3 planted roots, one split in two
    assert out.double().sum().item() == pytest.approx(34388.883586, rel=1e-5)
    torch.testing.assert_close(
        out[0, :3, 5, 7], torch.tensor([0.63106698, 0.70437813, 0.67521107]),
        rtol=1e-5, atol=0)
    torch.testing.assert_close(
        decoupled.double().sum((1, 2, 3)),
        torch.tensor([8442.11607867, 8627.20134288, 8466.75787979,
                      8497.87224349, 8573.61519235], dtype=torch.float64),
        rtol=1e-5, atol=0)
    assert roots.tolist() == [[6, 9], [20, 12], [25, 26]]
    torch.testing.assert_close(
        scores, torch.tensor([0.47327763, 0.27696458, 0.05705929]),
        rtol=1e-5, atol=0)


def test_loss_matches_mmpose():
    """All 5 instances decoupled, then 3 of them drawn by torch.randperm
    after torch.manual_seed(7), as MMPose draws them."""
    head, feats, samples = w32_head().train(), make_feats(), make_samples()
    losses = head.loss((feats, ), samples, dict(max_train_instances=200))
    expected = {'loss/heatmap_coupled': 235.21690368652344,
                'loss/heatmap_decoupled': 764.7127685546875,
                'loss/contrastive': 0.034710608422756195}
    assert losses.keys() == expected.keys()
    for key, value in expected.items():
        assert losses[key].item() == pytest.approx(value, rel=1e-5), key
    torch.manual_seed(7)
    sub = head.loss((feats, ), samples, dict(max_train_instances=3))
    assert sub['loss/heatmap_decoupled'].item() == pytest.approx(
        787.2269897460938, rel=1e-5)
    # the coupled and contrastive losses see every instance
    for key in ('loss/heatmap_coupled', 'loss/contrastive'):
        assert sub[key].item() == pytest.approx(expected[key], rel=1e-5)
    sub['loss/heatmap_decoupled'].backward()
    assert head.gfd_module.heatmap_conv.weight.grad.abs().sum() > 0


def test_loss_without_instances_is_coupled_only():
    head, feats, samples = w32_head(), make_feats(), make_samples()
    for d in samples:
        d.gt_fields.instance_heatmaps = torch.zeros(0, HW, HW)
        d.gt_instance_labels = InstanceData(
            instance_coords=torch.zeros(0, 2, dtype=torch.long),
            keypoint_weights=torch.zeros(0, K))
    losses = head.loss((feats, ), samples, {})
    assert list(losses) == ['loss/heatmap_coupled']
    assert losses['loss/heatmap_coupled'].item() == pytest.approx(
        235.21690368652344, rel=1e-5)


def test_predict_matches_mmpose():
    head, feats, meta = w32_head(), make_feats(), sample_meta()
    with torch.no_grad():
        plain, fields = head.predict((feats[:1], ), meta,
                                     dict(output_heatmaps=True))
        flip, flip_fields = head.predict(
            [(feats[:1], ), (feats[1:], )], meta,
            dict(flip_test=True, output_heatmaps=True))
        top2 = head.predict([(feats[:1], ), (feats[1:], )], meta,
                            dict(flip_test=True, score_threshold=0.1))
    plain, flip = plain[0], flip[0]
    assert plain.keypoints.shape == (4, K, 2)
    assert plain.keypoints.sum() == pytest.approx(8775.0, abs=1e-3)
    assert plain.keypoint_scores.sum() == pytest.approx(8.7026378, rel=1e-5)
    assert fields[0].heatmaps.shape == (4 * K, HW, HW)
    assert fields[0].heatmaps.double().sum().item() == pytest.approx(
        33679.736964, rel=1e-5)
    assert flip.keypoints.shape == (3, K, 2)
    assert flip.keypoints.sum() == pytest.approx(5919.0, abs=1e-3)
    assert flip_fields[0].heatmaps.double().sum().item() == pytest.approx(
        25210.095861, rel=1e-5)
    np.testing.assert_allclose(
        flip.keypoints[1],
        [[69, 47], [41, 51], [91, 83], [29, 9], [29, 79], [39, 39], [75, 21],
         [63, 121], [79, 21], [91, 91], [97, 25], [113, 57], [21, 99],
         [111, 83], [6, 31], [19, 47], [45, 9]], atol=1e-3)
    np.testing.assert_allclose(flip.keypoint_scores.sum(1),
                               [4.13166999, 2.42410564, 0.49424970],
                               rtol=1e-5)
    # score_threshold 0.1 keeps the roots scoring 0.47 and 0.28, not 0.06
    np.testing.assert_array_equal(top2[0].keypoints, flip.keypoints[:2])


def test_infonce_matches_mmpose_and_hand_case():
    x = torch.randn(6, 16, generator=torch.Generator().manual_seed(5))
    for kwargs, expected in ((dict(temperature=0.05), 4.3511055991984904e-05),
                             ({}, 6.462632179260254),
                             (dict(temperature=0.5, loss_weight=2.0),
                              7.034901142120361)):
        assert InfoNCELoss(**kwargs)(x).item() == pytest.approx(expected,
                                                                rel=1e-5)
    # unit vectors a = (1, 0), b = (0, 1), c = (1, 1)/sqrt2; T = 1: rows a
    # and b have logits (1, 0, r), c has (r, r, 1), r = 1/sqrt2; each row
    # costs log(sum exp) - own logit, summed (no mean)
    r = 1 / math.sqrt(2)
    row_a = math.log(math.e + 1 + math.exp(r)) - 1
    row_c = math.log(2 * math.exp(r) + math.e) - 1
    x3 = torch.tensor([[1., 0.], [0., 1.], [1., 1.]])
    assert InfoNCELoss()(x3).item() == pytest.approx(2 * row_a + row_c,
                                                     rel=1e-6)
    assert InfoNCELoss()(torch.ones(1, 4)).item() == 0   # one own logit
    assert InfoNCELoss()(torch.zeros(0, 4)).item() == 0
    with pytest.raises(ValueError, match='temperature'):
        InfoNCELoss(temperature=0)


def test_bad_configs_and_inputs_raise():
    with pytest.raises(ValueError, match='DecoupledHeatmap'):
        MODELS.build(dict(config_head(), decoder=dict(
            type='MSRAHeatmap', input_size=(128, 128), heatmap_size=(32, 32),
            sigma=2)))
    codec = KEYPOINT_CODECS.build(CODEC)
    codec.num_keypoints = 14   # a codec that knows its keypoint count
    with pytest.raises(ValueError, match='num_keypoints=17 .* num_keypoints=14'):
        MODELS.build(dict(config_head(), decoder=codec))
    with pytest.raises(TypeError, match='in_channels.*expected int'):
        MODELS.build(dict(config_head(), in_channels=[32, 64]))
    with pytest.raises(ValueError, match='prior_prob'):
        MODELS.build(dict(config_head(), prior_prob=1.0))
    head, feats, samples = w32_head(), make_feats(), make_samples()
    with pytest.raises(ValueError, match='unknown train_cfg'):
        head.loss((feats, ), samples, dict(max_instances=3))
    samples[0].gt_fields.heatmaps = samples[0].gt_fields.heatmaps[:K]
    samples[1].gt_fields.heatmaps = samples[1].gt_fields.heatmaps[:K]
    with pytest.raises(ValueError, match='num_keypoints'):
        head.loss((feats, ), samples, {})
    meta = sample_meta()
    with pytest.raises(ValueError, match='multiscale_test'):
        head.predict((feats[:1], ), meta, dict(multiscale_test=True))
    with pytest.raises(ValueError, match='blur_kernel_size'):
        head.predict((feats[:1], ), meta, dict(blur_kernel_size=4))
    with pytest.raises(ValueError, match='unknown test_cfg'):
        head.predict((feats[:1], ), meta, dict(flip_mode='heatmap'))
    with pytest.raises(ValueError, match='one image'):
        head.forward((feats, ))
    meta[0].set_metainfo(dict(flip_indices=FLIP[:5]))
    with pytest.raises(ValueError, match='flip_indices'):
        head.predict([(feats[:1], ), (feats[1:], )], meta,
                     dict(flip_test=True))


def test_predict_batch_gives_one_result_per_image():
    """Unlike MMPose (batch size 1 only), a batch is predicted per image:
    image 1 alone gives what the batch gives for it."""
    head, feats = w32_head(), make_feats()
    batch = sample_meta() * 2
    with torch.no_grad():
        both = head.predict((feats, ), batch, {})
        second = head.predict((feats[1:], ), batch[:1], {})
    assert len(both) == 2
    np.testing.assert_array_equal(both[1].keypoints, second[0].keypoints)
    assert both[0].keypoints.shape == (4, K, 2)   # as plain predict above
