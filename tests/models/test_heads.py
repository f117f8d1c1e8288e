"""Heads: every registered head on a synthetic batch packed as the
pipeline packs it, MMPose's module names, flip test, and overfitting."""
import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from posekit.codecs import BaseKeypointCodec, MSRAHeatmap
from posekit.datasets.transforms import GenerateTarget, PackPoseInputs
from posekit.models import heads as heads_pkg
from posekit.models.heads import (HeatmapHead, RegressionHead, RLEHead,
                                  RTMCCBlock, RTMCCHead,
                                  upgrade_legacy_head_keys)
from posekit.models.heads.rtmcc_block import rope
from posekit.models.losses import KeypointMSELoss
from posekit.registry import MODELS
from posekit.structures import InstanceData, PixelData

K = 5
FLIP = [0, 2, 1, 4, 3]
INPUT = (48, 64)  # (w, h)
FMAP = (6, 8)  # (w, h) of the feature map, stride 8
C = 16

HEATMAP = dict(type='MSRAHeatmap', input_size=INPUT, heatmap_size=(12, 16),
               sigma=1)
SIMCC = dict(type='SimCCLabel', input_size=INPUT, sigma=(2., 2.),
             simcc_split_ratio=2.0)
REGRESSION = dict(type='RegressionLabel', input_size=INPUT)
INTEGRAL = dict(type='IntegralRegressionLabel', input_size=INPUT,
                heatmap_size=(12, 16), sigma=1., normalize=True)
DECONV = dict(deconv_out_channels=(16, ), deconv_kernel_sizes=(4, ))


def _map(B, gen):
    return torch.randn(B, C, FMAP[1], FMAP[0], generator=gen)


# name -> (head config without decoder, codec, features maker)
CASES = {
    'HeatmapHead': (dict(type='HeatmapHead', in_channels=C, out_channels=K,
                         **DECONV), HEATMAP, lambda B, g: (_map(B, g), )),
    'ViPNASHead': (dict(type='ViPNASHead', in_channels=C, out_channels=K,
                        deconv_num_groups=(4, ), **DECONV), HEATMAP,
                   lambda B, g: (_map(B, g), )),
    'CPMHead': (dict(type='CPMHead', in_channels=C, out_channels=K,
                     num_stages=2, **DECONV), HEATMAP,
                lambda B, g: (_map(B, g), _map(B, g))),
    'RegressionHead': (dict(type='RegressionHead', in_channels=C,
                            num_joints=K), REGRESSION,
                       lambda B, g: (torch.randn(B, C, generator=g), )),
    'RLEHead': (dict(type='RLEHead', in_channels=C, num_joints=K), REGRESSION,
                lambda B, g: (torch.randn(B, C, generator=g), )),
    'IntegralRegressionHead': (dict(type='IntegralRegressionHead',
                                    in_channels=C, in_featuremap_size=FMAP,
                                    num_joints=K, **DECONV), INTEGRAL,
                               lambda B, g: (_map(B, g), )),
    'DSNTHead': (dict(type='DSNTHead', in_channels=C, in_featuremap_size=FMAP,
                      num_joints=K, **DECONV), INTEGRAL,
                 lambda B, g: (_map(B, g), )),
    'SimCCHead': (dict(type='SimCCHead', in_channels=C, out_channels=K,
                       input_size=INPUT, in_featuremap_size=FMAP, **DECONV),
                  SIMCC, lambda B, g: (_map(B, g), )),
    'RTMCCHead': (dict(type='RTMCCHead', in_channels=C, out_channels=K,
                       input_size=INPUT, in_featuremap_size=FMAP,
                       final_layer_kernel_size=3,
                       gau_cfg=dict(hidden_dims=32, s=16, expansion_factor=2,
                                    dropout_rate=0., drop_path=0.,
                                    act_fn='SiLU', use_rel_bias=False,
                                    pos_enc=False)),
                  SIMCC, lambda B, g: (_map(B, g), )),
}


def make_batch(codec, keypoints, visible=None):
    """PoseDataSamples as GenerateTarget + PackPoseInputs make them.

    keypoints: (B, K, 2) in input pixels.
    """
    samples = []
    for i, kp in enumerate(keypoints):
        vis = np.ones((1, K), np.float32) if visible is None else visible[i]
        results = dict(img=np.zeros((INPUT[1], INPUT[0], 3), np.uint8),
                       keypoints=kp[None].astype(np.float32),
                       keypoints_visible=vis, flip_indices=FLIP,
                       input_size=INPUT)
        results = GenerateTarget(encoder=codec)(results)
        samples.append(PackPoseInputs()(results)['data_samples'])
    return samples


def random_keypoints(B, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform([4, 4], [INPUT[0] - 5, INPUT[1] - 5], (B, K, 2))


def build(name, **overrides):
    cfg, codec, feats = CASES[name]
    cfg = dict(copy.deepcopy(cfg), decoder=codec)
    cfg.update(overrides)
    torch.manual_seed(0)
    return MODELS.build(cfg), codec, feats


# Bottom-up heads whose batches differ from the top-down CASES: their value
# tests live in another file, which must build them by name.
TESTED_ELSEWHERE = {'CIDHead': 'test_cid_head.py',
                    'AssociativeEmbeddingHead': 'test_bottomup_heads.py',
                    'DEKRHead': 'test_bottomup_heads.py',
                    'RTMOHead': 'test_onestage_heads.py',
                    'YOLOXPoseHead': 'test_onestage_heads.py',
                    'TemporalRegressionHead': 'test_pose_lifter.py',
                    'TrajectoryRegressionHead': 'test_pose_lifter.py',
                    'MotionRegressionHead': 'test_dstformer.py',
                    'InternetHead': 'test_internet_head.py',
                    'MSPNHead': 'test_mspn_head.py',
                    'RTMWHead': 'test_rtmw_head.py',
                    'VisPredictHead': 'test_vis_head.py'}


def test_cases_cover_every_registered_head():
    registered = {n for n in heads_pkg.__all__ if n in MODELS}
    assert registered == set(CASES) | set(TESTED_ELSEWHERE)
    for name, test_file in TESTED_ELSEWHERE.items():
        text = (Path(__file__).parent / test_file).read_text()
        assert f"type='{name}'" in text, (name, test_file)


def _outputs(x):
    return list(x) if isinstance(x, (tuple, list)) else [x]


EXPECTED_SHAPES = {
    'HeatmapHead': [(2, K, 16, 12)], 'ViPNASHead': [(2, K, 16, 12)],
    'CPMHead': [(2, K, 16, 12)] * 2, 'RegressionHead': [(2, K, 2)],
    'RLEHead': [(2, K, 4)],
    'IntegralRegressionHead': [(2, K, 2), (2, K, 16, 12)],
    'DSNTHead': [(2, K, 2), (2, K, 16, 12)],
    'SimCCHead': [(2, K, 96), (2, K, 128)],
    'RTMCCHead': [(2, K, 96), (2, K, 128)],
}


@pytest.mark.parametrize('name', sorted(CASES))
def test_head_forward_loss_predict(name):
    head, codec, make_feats = build(name)
    gen = torch.Generator().manual_seed(1)
    feats = make_feats(2, gen)
    out = head.forward(feats)
    assert [tuple(o.shape) for o in _outputs(out)] == EXPECTED_SHAPES[name]

    samples = make_batch(codec, random_keypoints(2))
    losses = head.loss(feats, samples, {})
    assert set(losses) == {'loss_kpt', 'acc_pose'}
    assert torch.isfinite(losses['loss_kpt']) and losses['loss_kpt'].ndim == 0
    assert 0 <= losses['acc_pose'] <= 1
    losses['loss_kpt'].backward()
    grads = [p.grad for p in head.parameters() if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
    assert all(g is None or torch.isfinite(g).all() for g in grads)

    head.eval()
    with torch.no_grad():
        for test_cfg, f in ((dict(), feats),
                            (dict(flip_test=True),
                             [feats, tuple(x.flip(-1) if x.ndim == 4 else x
                                           for x in feats)])):
            preds = head.predict(f, samples, test_cfg)
            assert len(preds) == 2 and all(
                isinstance(p, InstanceData) for p in preds)
            for p in preds:
                assert np.asarray(p.keypoints).shape == (1, K, 2)
                assert np.asarray(p.keypoint_scores).shape == (1, K)
                assert np.isfinite(p.keypoints).all()


@pytest.mark.parametrize('name', sorted(CASES))
def test_head_without_decoder_cannot_predict(name):
    cfg, _, make_feats = CASES[name]
    head = MODELS.build(copy.deepcopy(cfg))
    with pytest.raises(RuntimeError, match='decoder'):
        head.predict(make_feats(1, torch.Generator().manual_seed(0)), [], {})


def test_heatmap_head_mmpose_names_and_shapes():
    head = HeatmapHead(in_channels=2048, out_channels=17)
    sd = head.state_dict()
    assert sd['deconv_layers.0.weight'].shape == (2048, 256, 4, 4)
    assert 'deconv_layers.0.bias' not in sd
    assert sd['deconv_layers.1.running_var'].shape == (256, )
    assert sd['deconv_layers.6.weight'].shape == (256, 256, 4, 4)
    assert sd['final_layer.weight'].shape == (17, 256, 1, 1)
    assert len(sd) == 3 * 6 + 2
    # HRNet: no deconv, 1x1 final layer only
    head = HeatmapHead(in_channels=32, out_channels=17,
                       deconv_out_channels=None)
    assert list(head.state_dict()) == ['final_layer.weight',
                                       'final_layer.bias']
    x = torch.randn(1, 32, 8, 6)
    assert head((x, )).shape == (1, 17, 8, 6)
    # WFLW HRNetV2: an intermediate conv layer
    head = HeatmapHead(in_channels=270, out_channels=98,
                       deconv_out_channels=None, conv_out_channels=(270, ),
                       conv_kernel_sizes=(1, ))
    assert head.state_dict()['conv_layers.0.weight'].shape == (270, 270, 1, 1)
    assert 'conv_layers.1.running_mean' in head.state_dict()
    with pytest.raises(ValueError, match='same length'):
        HeatmapHead(8, 4, deconv_out_channels=(8, 8), deconv_kernel_sizes=(4, ))
    with pytest.raises(ValueError, match='kernel size'):
        HeatmapHead(8, 4, deconv_out_channels=(8, ), deconv_kernel_sizes=(5, ))
    with pytest.raises(TypeError, match='tuple of feature maps'):
        head(torch.randn(1, 270, 4, 4))


def test_heads_accept_built_loss_and_codec():
    head = HeatmapHead(in_channels=C, out_channels=K, deconv_out_channels=None,
                       loss=KeypointMSELoss(skip_empty_channel=True),
                       decoder=MSRAHeatmap(INPUT, (6, 8), sigma=1))
    assert head.loss_module.skip_empty_channel
    assert isinstance(head.decoder, MSRAHeatmap)


def test_default_init_cfg():
    head = HeatmapHead(in_channels=64, out_channels=17)
    head.init_weights()
    assert head.final_layer.weight.std().item() == pytest.approx(0.001,
                                                                 rel=0.1)
    assert (head.final_layer.bias == 0).all()
    assert (head.deconv_layers[1].weight == 1).all()
    rle = RLEHead(in_channels=64, num_joints=17)
    rle.init_weights()
    assert rle.fc.weight.std().item() == pytest.approx(0.01, rel=0.1)


def _identity_heatmap_head():
    return HeatmapHead(in_channels=K, out_channels=K, deconv_out_channels=None,
                       final_layer=None, decoder=HEATMAP)


def test_heatmap_flip_test_recovers_keypoints():
    """A head that passes heatmaps through, fed the heatmaps of an image
    and of its mirror, predicts the keypoints back exactly with flip test
    (shift_heatmap aligns the mirrored heatmaps)."""
    codec = MSRAHeatmap(input_size=INPUT, heatmap_size=(12, 16), sigma=1)
    kp = np.array([[8., 20.], [28., 40.], [16., 4.], [40., 60.], [4., 8.]])
    kp_flip = kp.copy()
    kp_flip[:, 0] = INPUT[0] - 1 - kp[:, 0]
    kp_flip = kp_flip[FLIP]
    hm = torch.from_numpy(codec.encode(kp[None])['heatmaps'])[None]
    hm_flip = torch.from_numpy(codec.encode(kp_flip[None])['heatmaps'])[None]
    samples = make_batch(HEATMAP, kp[None])
    head = _identity_heatmap_head()
    preds = head.predict([(hm, ), (hm_flip, )], samples,
                         dict(flip_test=True, shift_heatmap=True,
                              output_heatmaps=True))
    preds, fields = preds
    np.testing.assert_allclose(preds[0].keypoints[0], kp, atol=1e-4)
    assert isinstance(fields[0], PixelData)
    assert fields[0].heatmaps.shape == (K, 16, 12)


def test_regression_flip_test_recovers_keypoints():
    head = RegressionHead(in_channels=2 * K, num_joints=K, decoder=REGRESSION)
    with torch.no_grad():
        head.fc.weight.copy_(torch.eye(2 * K))
        head.fc.bias.zero_()
    kp = random_keypoints(1)[0]
    kp_flip = kp.copy()
    kp_flip[:, 0] = INPUT[0] - 1 - kp[:, 0]
    kp_flip = kp_flip[FLIP]
    norm = np.array(INPUT, dtype=np.float64)
    feats = (torch.tensor(kp / norm, dtype=torch.float32).reshape(1, -1), )
    feats_flip = (torch.tensor(kp_flip / norm,
                               dtype=torch.float32).reshape(1, -1), )
    samples = make_batch(REGRESSION, kp[None])
    preds = head.predict([feats, feats_flip], samples, dict(flip_test=True))
    np.testing.assert_allclose(preds[0].keypoints[0], kp, atol=1e-4)
    np.testing.assert_array_equal(preds[0].keypoint_scores, np.ones((1, K)))


def test_rle_scores_come_from_sigmoid_sigmas():
    head, _, make_feats = build('RLEHead')
    head.eval()
    feats = make_feats(2, torch.Generator().manual_seed(0))
    with torch.no_grad():
        raw = head.forward(feats)
        preds = head.predict(feats, [], {})
    expected = (1 - raw[..., 2:].sigmoid()).mean(-1).numpy()
    np.testing.assert_allclose(preds[0].keypoint_scores[0], expected[0],
                               rtol=1e-5)


def test_simcc_output_heatmaps():
    head, codec, make_feats = build('SimCCHead')
    head.eval()
    feats = make_feats(2, torch.Generator().manual_seed(0))
    samples = make_batch(codec, random_keypoints(2))
    with pytest.warns(UserWarning, match='normalised'):
        preds, fields = head.predict(feats, samples,
                                     dict(output_heatmaps=True))
    assert fields[0].heatmaps.shape == (K, 128, 96)  # (K, Wy, Wx)
    assert preds[0].keypoint_x_labels.shape == (1, K, 96)
    assert float(fields[0].heatmaps.max()) <= 1.0 + 1e-6


def test_dsnt_drops_the_heatmap_loss_after_lambda_t():
    head, codec, make_feats = build('DSNTHead', lambda_t=3)
    feats = make_feats(2, torch.Generator().manual_seed(0))
    samples = make_batch(codec, random_keypoints(2))
    full = head.loss(feats, samples)['loss_kpt']
    head.set_epoch(3)
    coord_only = head.loss(feats, samples)['loss_kpt']
    assert coord_only < full
    assert 'linspace_x' in head.state_dict()
    assert head.state_dict()['linspace_y'].shape == (1, 1, 16, 1)


def test_missing_target_is_named():
    head, _, make_feats = build('SimCCHead')
    samples = make_batch(HEATMAP, random_keypoints(2))  # wrong codec
    with pytest.raises(KeyError, match='keypoint_x_labels'):
        head.loss(make_feats(2, torch.Generator().manual_seed(0)), samples)


def test_rtmcc_block_parts():
    block = RTMCCBlock(4, 8, 8, s=4, use_rel_bias=True)
    with torch.no_grad():
        block.w.copy_(torch.arange(7.))
    bias = block.rel_pos_bias(4)[0]
    for i in range(4):
        for j in range(4):
            assert bias[i, j] == j - i + 3
    x = torch.randn(2, 4, 3, 8)
    # rope rotates pairs of channels: norms are kept
    torch.testing.assert_close(rope(x, 1).norm(dim=-1), x.norm(dim=-1))
    assert block(torch.randn(2, 4, 8)).shape == (2, 4, 8)
    names = set(RTMCCHead(8, 4, (16, 16), (2, 2), gau_cfg=dict(
        hidden_dims=8, s=4, expansion_factor=2, dropout_rate=0.,
        drop_path=0., act_fn='ReLU', use_rel_bias=False,
        pos_enc=False)).state_dict())
    assert names == {'final_layer.weight', 'final_layer.bias', 'mlp.0.g',
                     'mlp.1.weight', 'gau.gamma', 'gau.beta', 'gau.o.weight',
                     'gau.uv.weight', 'gau.ln.g', 'gau.res_scale.scale',
                     'cls_x.weight', 'cls_y.weight'}


@pytest.fixture
def one_thread():
    """Tiny tensors gain nothing from threads, and lose a lot on a busy
    machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _overfit(head, feats, samples, steps=200, lr=1e-2):
    torch.manual_seed(0)
    opt = torch.optim.Adam(head.parameters(), lr=lr)
    first = None
    for _ in range(steps):
        loss = head.loss(feats, samples)['loss_kpt']
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
    return first, head.loss(feats, samples)['loss_kpt'].item()


def test_overfit_heatmap_head(one_thread):
    head, codec, make_feats = build('HeatmapHead')
    head.init_weights()
    feats = make_feats(2, torch.Generator().manual_seed(0))
    samples = make_batch(codec, random_keypoints(2))
    first, last = _overfit(head, feats, samples)
    assert last < first / 10, (first, last)


def test_overfit_rle_head(one_thread):
    """RLE's loss is a negative log-likelihood (it goes below 0), so the
    check is on the coordinate error, plus a falling loss."""
    head, codec, make_feats = build('RLEHead')
    head.init_weights()
    feats = make_feats(2, torch.Generator().manual_seed(0))
    samples = make_batch(codec, random_keypoints(2))
    labels = torch.cat([s.gt_instance_labels.keypoint_labels for s in samples])

    def error():
        return (head.forward(feats)[..., :2] - labels).abs().mean().item()

    before = error()
    first, last = _overfit(head, feats, samples, lr=3e-3)
    assert error() < before / 10, (before, error())
    assert last < first - 5, (first, last)


def test_overfit_rtmcc_head(one_thread):
    head, codec, make_feats = build(
        'RTMCCHead', loss=dict(type='KLDiscretLoss', use_target_weight=True,
                               beta=10., label_softmax=True))
    head.init_weights()
    feats = make_feats(2, torch.Generator().manual_seed(0))
    samples = make_batch(codec, random_keypoints(2))
    first, last = _overfit(head, feats, samples)
    assert last < first / 10, (first, last)
    head.eval()
    preds = head.predict(feats, samples, {})
    kp = np.stack([p.keypoints[0] for p in preds])
    assert np.abs(kp - random_keypoints(2)).max() < 1.0


def test_decode_visibility_and_batch_decoding_codecs():
    head, codec, make_feats = build('SimCCHead', decoder=dict(
        SIMCC, decode_visibility=True))
    head.eval()
    feats = make_feats(2, torch.Generator().manual_seed(0))
    preds = head.predict(feats, [], {})
    assert preds[0].keypoints_visible.shape == (1, K)

    class BatchCodec(BaseKeypointCodec):
        """Decodes the whole batch at once: keypoints = output, score 1."""

        def encode(self, keypoints, keypoints_visible=None):
            return {}

        def decode(self, encoded):
            raise AssertionError('batch_decode should be used')

        def batch_decode(self, batch_outputs):
            out = batch_outputs.detach().numpy()
            return list(out), [np.ones(o.shape[:-1]) for o in out]

    head = RegressionHead(in_channels=C, num_joints=K, decoder=BatchCodec())
    preds = head.predict((torch.randn(3, C), ), [], {})
    assert len(preds) == 3 and preds[0].keypoints.shape == (1, K, 2)


def test_upgrade_legacy_head_keys():
    """MMPose 0.x names: the intermediate convs inside final_layer, the
    RLE flow under 'loss'."""
    head = HeatmapHead(in_channels=8, out_channels=4, deconv_out_channels=None,
                       conv_out_channels=(8, ), conv_kernel_sizes=(1, ))
    new = head.state_dict()
    old = {k.replace('conv_layers.', 'final_layer.').replace(
        'final_layer.weight', 'final_layer.3.weight').replace(
            'final_layer.bias', 'final_layer.3.bias'): v
           for k, v in new.items()}
    assert 'final_layer.0.weight' in old and 'final_layer.3.bias' in old
    model_sd = {'backbone.conv.weight': 0, **{'head.' + k: v
                                               for k, v in old.items()}}
    upgraded = upgrade_legacy_head_keys(head, model_sd)
    assert list(upgraded) == ['backbone.conv.weight'] + [
        'head.' + k for k in new]
    assert list(upgrade_legacy_head_keys(head, new, prefix='')) == list(new)
    rle = RLEHead(in_channels=8, num_joints=2)
    old = {k.replace('loss_module.', 'loss.'): v
           for k, v in rle.state_dict().items()}
    rle.load_state_dict(upgrade_legacy_head_keys(rle, old, prefix=''))


def test_bfloat16_outputs_decode_and_score():
    """Under CPU autocast heads output bfloat16, which numpy lacks."""
    head, codec, make_feats = build('HeatmapHead')
    feats = make_feats(2, torch.Generator().manual_seed(0))
    samples = make_batch(codec, random_keypoints(2))
    with torch.autocast('cpu', dtype=torch.bfloat16):
        losses = head.loss(feats, samples)
        head.eval()
        preds = head.predict(feats, samples, {})
    assert torch.isfinite(losses['loss_kpt'])
    assert preds[0].keypoints.dtype == np.float32


def test_heatmap_head_loss_and_accuracy_follow_from_a_pass_through():
    """A head that passes its input through (no deconv, no final layer):
    fed the target heatmaps it has loss 0 and accuracy 1; fed zeros, the
    MSE is the mean of the squared targets (weights all 1), computed here
    in float64 from the packed targets."""
    kp = random_keypoints(2)
    samples = make_batch(HEATMAP, kp)
    target = torch.stack([s.gt_fields.heatmaps for s in samples])
    head = _identity_heatmap_head()
    perfect = head.loss((target, ), samples, {})
    assert perfect['loss_kpt'].item() == 0.0
    assert perfect['acc_pose'] == 1.0
    zero = head.loss((torch.zeros_like(target), ), samples, {})
    expected = (target.double() ** 2).mean().item()
    # float32 mean of 1920 squares in [0, 1]: 1e-6 relative is 16 ulps
    assert zero['loss_kpt'].item() == pytest.approx(expected, rel=1e-6)
    assert zero['acc_pose'] == 0.0


def _simcc_head_with_set_biases():
    """SimCC head whose x/y classifiers have zero weights: every keypoint's
    outputs are the biases, peaked at bin 40 (x) and bin 100 (y)."""
    head, codec, make_feats = build('SimCCHead')
    bins_x, bins_y = torch.arange(96.), torch.arange(128.)
    with torch.no_grad():
        head.mlp_head_x.weight.zero_()
        head.mlp_head_y.weight.zero_()
        head.mlp_head_x.bias.copy_(5. - 0.25 * (bins_x - 40).abs())
        head.mlp_head_y.bias.copy_(3. - 0.25 * (bins_y - 100).abs())
    head.eval()
    return head, codec, make_feats


def test_simcc_head_outputs_and_decoding_follow_from_set_weights():
    """Split ratio 2: bin 40 is x = 20, bin 100 is y = 50 (input pixels);
    the score is the smaller of the two peaks, min(5, 3) = 3."""
    head, _, make_feats = _simcc_head_with_set_biases()
    feats = make_feats(2, torch.Generator().manual_seed(0))
    with torch.no_grad():
        pred_x, pred_y = head.forward(feats)
    torch.testing.assert_close(pred_x, head.mlp_head_x.bias.expand(2, K, 96),
                               rtol=0, atol=0)
    torch.testing.assert_close(pred_y, head.mlp_head_y.bias.expand(2, K, 128),
                               rtol=0, atol=0)
    preds = head.predict(feats, [], {})
    for p in preds:
        np.testing.assert_array_equal(p.keypoints, np.tile([20., 50.], (1, K, 1)))
        np.testing.assert_array_equal(p.keypoint_scores, np.full((1, K), 3.))


def test_simcc_head_loss_by_hand():
    """KLDiscretLoss (beta 1, no label softmax) per axis: for each keypoint
    the mean over bins of q (log q - log softmax(p)), times its weight,
    summed, divided by K; x and y added. Computed in float64 from the
    packed labels and the (known) bias outputs."""
    head, codec, make_feats = _simcc_head_with_set_biases()
    samples = make_batch(codec, random_keypoints(2))
    feats = make_feats(2, torch.Generator().manual_seed(0))
    loss = head.loss(feats, samples, {})['loss_kpt'].item()
    expected = 0.
    for axis, bias in (('keypoint_x_labels', head.mlp_head_x.bias),
                       ('keypoint_y_labels', head.mlp_head_y.bias)):
        log_p = torch.log_softmax(bias.detach().double(), 0)
        for s in samples:
            q = s.gt_instance_labels[axis][0].double()          # (K, bins)
            w = s.gt_instance_labels.keypoint_weights[0].double()
            kl = torch.where(q > 0, q * (q.log() - log_p), torch.zeros_like(q))
            expected += (kl.mean(-1) * w).sum().item()
    expected /= K
    # float32 softmax/KL over <= 128 bins of values below 30: 1e-5 relative
    assert loss == pytest.approx(expected, rel=1e-5)


def test_upgrade_legacy_cid_and_dekr_keys():
    """CID 0.x: layers on the head itself; DEKR 0.x: offsets (negated last
    layer), root heatmap first, rescore net outside the head."""
    cid = MODELS.build(dict(type='CIDHead', in_channels=8, gfd_channels=4,
                            num_keypoints=2))
    new = cid.state_dict()
    old = {k.replace('iia_module.keypoint_root_conv', 'keypoint_center_conv')
            .replace('gfd_module.channel_attention', 'c_attn')
            .replace('gfd_module.spatial_attention', 's_attn')
            .replace('gfd_module.fuse_attention', 'fuse_attn')
            .replace('gfd_module.', ''): v for k, v in new.items()}
    assert 'keypoint_center_conv.weight' in old and 'c_attn.atn.weight' in old
    upgraded = upgrade_legacy_head_keys(cid, old, prefix='')
    assert sorted(upgraded) == sorted(new)
    assert list(upgrade_legacy_head_keys(cid, new, prefix='')) == list(new)

    dekr = MODELS.build(dict(type='DEKRHead', in_channels=8, num_keypoints=2,
                             num_heatmap_filters=4,
                             num_displacement_filters_per_keypoint=2))
    new = {'head.' + k: v for k, v in dekr.state_dict().items()}
    old = {k.replace('displacement_conv_layers', 'offset_conv_layers'): v
           for k, v in new.items()}
    for name in ('weight', 'bias'):   # offsets point the other way
        old[f'head.offset_conv_layers.3.{name}'] = -new[
            f'head.displacement_conv_layers.3.{name}']
    for name in ('weight', 'bias'):   # the root channel first
        v = new[f'head.heatmap_conv_layers.2.{name}']
        old[f'head.heatmap_conv_layers.2.{name}'] = torch.cat((v[-1:], v[:-1]))
    upgraded = upgrade_legacy_head_keys(dekr, old)
    assert sorted(upgraded) == sorted(new)
    for key, value in new.items():
        assert torch.equal(upgraded[key], value), key
    assert upgrade_legacy_head_keys(dekr, new) == new
