"""MotionBERT: the DSTFormer backbone and MotionRegressionHead.

Reference numbers were measured on MMPose 1.3.2 (throwaway scripts, not
part of the suite): the MotionBERT H3.6M configs' backbone + head (the four
configs under body_3d_keypoint/motionbert/h36m/ share this model dict; the
fine-tune ones add only a PoseLifter-level Pretrained init_cfg) have the
same state_dict keys, order and shapes; on the same weights ``mode='tensor'``
of backbone + head on a random (1, 243, 17, 3) clip differs from MMPose's by
relative L2 4.6e-7 (float32; each side is 4.4e-7 from a float64 run).
"""
import math

import numpy as np
import pytest
import torch

from posekit.models.backbones.dstformer import Attention, DSTFormer
from posekit.models.heads import MotionRegressionHead
from posekit.registry import MODELS
from posekit.structures import InstanceData, PoseDataSample

# The model dict of motionbert_dstformer-243frm_8xb32-240e_h36m.py.
BACKBONE = dict(type='DSTFormer', in_channels=3, feat_size=512, depth=5, num_heads=8,
                mlp_ratio=2, seq_len=243, att_fuse=True)
HEAD = dict(type='MotionRegressionHead', in_channels=512, out_channels=3, embedding_size=512,
            loss=dict(type='MSELoss', use_target_weight=True),
            decoder=dict(type='MotionBERTLabel', num_keypoints=17, concat_vis=True,
                         rootrel=True))
TINY = dict(type='DSTFormer', in_channels=3, feat_size=16, depth=2, num_heads=2,
            mlp_ratio=2, num_keypoints=5, seq_len=8)
TINY_HEAD = dict(type='MotionRegressionHead', in_channels=16, out_channels=3,
                 embedding_size=8)


def test_config_builds_mmpose_state_dict():
    import hashlib
    bb, head = MODELS.build(dict(BACKBONE)), MODELS.build(dict(HEAD))
    sd = {**{'backbone.' + k: v for k, v in bb.state_dict().items()},
          **{'head.' + k: v for k, v in head.state_dict().items()}}
    text = '\n'.join(f'{k}:{tuple(v.shape)}' for k, v in sd.items())
    # MMPose: 260 keys, 42466317 numbers, sha1 of the "key:shape" lines
    assert len(sd) == 260
    assert sum(v.numel() for v in sd.values()) == 42466317
    assert hashlib.sha1(text.encode()).hexdigest()[:16] == '668a24d68c6e012e'
    assert list(sd)[:3] == ['backbone.temp_embed', 'backbone.spat_embed',
                            'backbone.joints_embed.weight']
    assert tuple(sd['backbone.temp_embed'].shape) == (1, 243, 1, 512)
    assert tuple(sd['backbone.attn_regress.4.weight'].shape) == (2, 1024)
    assert tuple(sd['backbone.blocks_ts.4.mlp_t.2.weight'].shape) == (512, 1024)
    assert list(sd)[-4:] == ['head.pre_logits.fc.weight', 'head.pre_logits.fc.bias',
                             'head.fc.weight', 'head.fc.bias']


def test_seeded_init_equals_mmpose():
    """Same seed, same weights as MMPose (values read there). Biases stay
    at PyTorch's default and attn_regress's at 0.5: MMPose's reset of them
    is a no-op."""
    torch.manual_seed(0)
    bb, head = MODELS.build(dict(TINY)), MODELS.build(dict(TINY_HEAD))
    bb.init_weights()
    head.init_weights()
    sd = bb.state_dict()
    expected = {'temp_embed': ([-0.0454123, 0.0367543, -0.0147113], 0.063595),
                'joints_embed.weight': ([-0.0173308, -0.0041613, -0.031984], 0.102435),
                'joints_embed.bias': ([-0.256052, -0.0208322, 0.3692505], 0.308035),
                'blocks_ts.1.attn_t.qkv.weight': ([0.0091451, -0.0159841, -0.0101166],
                                                  -0.002717),
                'attn_regress.1.weight': ([-0.0238403, -0.0215398, -0.0193177], -0.066789),
                'attn_regress.1.bias': ([0.5, 0.5], 1.0)}
    for key, (first, total) in expected.items():
        v = sd[key].flatten()
        assert v[:len(first)].tolist() == pytest.approx(first, abs=1e-6), key
        assert v.double().sum().item() == pytest.approx(total, abs=1e-5), key
    assert head.fc.weight.flatten()[:3].tolist() == pytest.approx(
        [-0.0212543, -0.0135533, -0.0456355], abs=1e-6)
    assert torch.all(head.fc.bias == 0)


def fill(model):
    """Weights from a formula (no RNG); the embeddings scaled to 0.1."""
    with torch.no_grad():
        for i, (k, v) in enumerate(model.state_dict().items()):
            vals = torch.sin(torch.arange(v.numel(), dtype=torch.float64) * 0.37 + i)
            vals = vals.reshape(v.shape)
            if v.dim() > 1:
                small = 'embed' in k and 'joints' not in k
                vals = vals * 0.1 if small else vals * math.sqrt(3.0 / v[0].numel())
            elif k.endswith('weight'):
                vals = 1 + 0.2 * vals
            else:
                vals = 0.1 * vals
            v.copy_(vals.to(v.dtype))


def tiny_input():
    n = 2 * 6 * 5 * 3
    return torch.sin(torch.arange(n, dtype=torch.float64) * (0.013 * 7)).reshape(2, 6, 5, 3)


# MMPose's float32 outputs of fill()-ed tiny models on tiny_input(), eval:
# backbone (mean, std); head output (mean, std, values at flat indices).
GOLDEN_INDICES = [0, 7, 101, 155]
GOLDEN = {
    True: ((-0.025487089529633522, 0.9939063191413879),
           (-0.31646910309791565, 1.5328874588012695,
            [-1.5442783832550049, 2.097362518310547, -1.827673077583313, -1.3394700288772583])),
    False: ((-0.044445883482694626, 1.0277060270309448),
            (-0.6097521781921387, 2.0441043376922607,
             [-2.2352333068847656, 2.682025909423828, -2.0007238388061523, -2.9174211025238037])),
}


@pytest.mark.parametrize('att_fuse', [True, False])
def test_tiny_outputs_match_mmpose(att_fuse):
    """MMPose's float32 numbers equal the exact (float64) outputs up to
    float32 noise: this machine's float32 error against float64, times
    ten (another CPU or kernel orders sums otherwise), plus 1e-6 of the
    spread."""
    bb = MODELS.build(dict(TINY, att_fuse=att_fuse)).eval()
    head = MODELS.build(dict(TINY_HEAD)).eval()
    fill(bb)
    fill(head)
    x = tiny_input()
    with torch.no_grad():
        f32 = head(bb(x.float()))
        feat = bb.double()(x)
        exact = head.double()(feat)
    (f_mean, f_std), (y_mean, y_std, values) = GOLDEN[att_fuse]
    assert tuple(feat.shape) == (2, 6, 5, 16) and tuple(exact.shape) == (2, 6, 5, 3)
    tol = 10 * (f32.double() - exact).abs().max().item() + 1e-6 * y_std
    assert tol < 1e-4                       # float32 noise, not a loose bound
    assert feat.mean().item() == pytest.approx(f_mean, abs=tol)
    assert feat.std().item() == pytest.approx(f_std, abs=tol)
    assert exact.mean().item() == pytest.approx(y_mean, abs=tol)
    assert exact.std().item() == pytest.approx(y_std, abs=tol)
    assert exact.flatten()[GOLDEN_INDICES].tolist() == pytest.approx(values, abs=tol)


def streams(bb, x):
    """Run only the st or only the ts blocks (the fused model's two
    extremes), float64."""
    out = {}
    for name in ('st', 'ts'):
        h = bb.embed(x)
        for blk in getattr(bb, 'blocks_' + name):
            h = blk(h, x.shape[1])
        out[name] = bb.norm(h).reshape(*x.shape[:3], -1)
    return out


def test_attention_fusion_weights():
    """alpha = softmax(attn_regress([x_st, x_ts])): zero weights with bias
    (0.5, 0.5) give the plain average (att_fuse=False); bias (b, -b) with
    large b selects one stream; a bias gap d weighs x_st by sigmoid(d)."""
    torch.manual_seed(0)
    fused = MODELS.build(dict(TINY)).double().eval()       # weight 0, bias 0.5
    plain = MODELS.build(dict(TINY, att_fuse=False)).double().eval()
    plain.load_state_dict(fused.state_dict(), strict=False)
    x = tiny_input()
    with torch.no_grad():
        torch.testing.assert_close(fused(x), plain(x), rtol=0, atol=1e-12)
        ref = streams(fused, x)
        for layer in fused.attn_regress:
            layer.bias.copy_(torch.tensor([40., -40.]))
        torch.testing.assert_close(fused(x), ref['st'], rtol=0, atol=1e-12)
        for layer in fused.attn_regress:
            layer.bias.copy_(torch.tensor([-40., 40.]))
        torch.testing.assert_close(fused(x), ref['ts'], rtol=0, atol=1e-12)
        # one level: its output is sigmoid(d) x_st + (1 - sigmoid(d)) x_ts
        one = MODELS.build(dict(TINY, depth=1)).double().eval()
        one.attn_regress[0].bias.copy_(torch.tensor([0.7, -0.3]))
        s = torch.sigmoid(torch.tensor(1.0, dtype=torch.float64))
        h = one.embed(x)
        want = one.norm(s * one.blocks_st[0](h, 6) + (1 - s) * one.blocks_ts[0](h, 6))
        torch.testing.assert_close(one(x), want.reshape(2, 6, 5, 16), rtol=0, atol=1e-12)


def naive_attention(attn, x, seq_len):
    """softmax(q k^T * scale) v per head, written out per group of tokens:
    the K joints of a frame (spatial) or the T frames of a joint (temporal)."""
    BT, K, C = x.shape
    H, c = attn.num_heads, C // attn.num_heads
    q, k, v = attn.qkv(x).reshape(BT, K, 3, H, c).unbind(2)       # (BT, K, H, c)
    if attn.mode == 'temporal':
        # group tokens by (clip, joint): (B*K, T, H, c)
        q, k, v = (t.reshape(-1, seq_len, K, H, c).transpose(1, 2).reshape(-1, seq_len, H, c)
                   for t in (q, k, v))
    w = torch.einsum('nihc,njhc->nhij', q, k) * attn.scale
    out = torch.einsum('nhij,njhc->nihc', w.softmax(-1), v)
    if attn.mode == 'temporal':
        out = out.reshape(-1, K, seq_len, H, c).transpose(1, 2)
    return attn.proj(out.reshape(BT, K, C))


@pytest.mark.parametrize('mode', ['spatial', 'temporal'])
def test_attention_groups_tokens_by_mode(mode):
    torch.manual_seed(0)
    attn = Attention(8, num_heads=2, qkv_bias=True, qk_scale=0.3, mode=mode).double().eval()
    x = torch.randn(2 * 4, 3, 8, dtype=torch.float64)   # B=2, T=4, K=3
    with torch.no_grad():
        out = attn(x, 4)
        torch.testing.assert_close(out, naive_attention(attn, x, 4), rtol=0, atol=1e-12)
        y = x.clone()
        y[5, 1] += 1.0          # clip 1, frame 1, joint 1
        changed = (attn(y, 4) - out).abs().amax(-1) > 0     # (B*T, K)
    want = torch.zeros(8, 3, dtype=torch.bool)
    if mode == 'spatial':
        want[5] = True           # the joints of that frame only
    else:
        want[4:8, 1] = True      # that joint in the frames of that clip only
    assert torch.equal(changed, want)


def test_shapes_and_sequence_length():
    torch.manual_seed(0)
    bb = MODELS.build(dict(TINY)).eval()
    x = torch.randn(3, 5, 3)
    with torch.no_grad():
        one = bb(x)
        assert tuple(one.shape) == (1, 3, 5, 16)
        # a clip shorter than seq_len uses the first rows of temp_embed
        torch.testing.assert_close(one, bb(x[None]), rtol=0, atol=0)
    with pytest.raises(ValueError, match='seq_len 8'):
        bb(torch.randn(1, 9, 5, 3))
    with pytest.raises(ValueError, match='divisible'):
        DSTFormer(in_channels=3, feat_size=10, num_heads=4)
    deep = DSTFormer(in_channels=3, feat_size=8, depth=3, num_heads=2, drop_path_rate=0.2)
    assert [b.drop_path.drop_prob for b in deep.blocks_ts[1:]] == pytest.approx([0.1, 0.2])
    # with dropouts, eval is deterministic and train is not
    drop = DSTFormer(in_channels=3, feat_size=8, depth=2, num_heads=2, drop_rate=0.3,
                     attn_drop_rate=0.3, drop_path_rate=0.3, num_keypoints=5, seq_len=8)
    x = torch.randn(2, 4, 5, 3)
    drop.eval()
    assert torch.equal(drop(x), drop(x))
    drop.train()
    assert not torch.equal(drop(x), drop(x))


def samples(B=2, T=4, K=5):
    """Data samples as the MotionBERT val pipeline packs them."""
    out = []
    for b in range(B):
        d = PoseDataSample()
        d.set_metainfo(dict(flip_indices=[0, 2, 1, 4, 3],
                            camera_param=dict(w=1000. + b * 200, h=1002.),
                            factor=np.full((T, 1), 4.5 + b, np.float32)))
        weight = torch.ones(T, K)
        weight[1, 2], weight[3, 0] = 0, 0.5
        label = torch.cos(torch.arange(T * K * 3, dtype=torch.float64) * 0.3 + b)
        d.gt_instance_labels = InstanceData(lifting_target_label=label.reshape(T, K, 3).float(),
                                            lifting_target_weight=weight)
        out.append(d)
    return out


def golden_head():
    head = MODELS.build(dict(type='MotionRegressionHead', in_channels=6, out_channels=3,
                             embedding_size=8, loss=HEAD['loss'],
                             decoder=dict(HEAD['decoder'], num_keypoints=5)))
    with torch.no_grad():
        for i, v in enumerate(head.state_dict().values()):
            v.copy_(0.3 * torch.sin(torch.arange(v.numel(), dtype=torch.float64) * 0.37 + i
                                    ).reshape(v.shape))
    n = 2 * 4 * 5 * 6
    feats = torch.sin(torch.arange(n, dtype=torch.float64) * 0.11).reshape(2, 4, 5, 6).float()
    flipped = torch.cos(torch.arange(n, dtype=torch.float64) * 0.07).reshape(2, 4, 5, 6).float()
    return head.eval(), feats, flipped


# MMPose's predictions of golden_head(): per sample, keypoints at flat
# indices [0, 5, 17, 33, 59] and the sum of |keypoints|.
PREDICT = {
    False: [([0., 0.47538206, 0., 0.9223083, 0.40630165], 25.480690002441406),
            ([0., 0.7653338, 0., 1.3757007, 0.69211], 35.526309967041016)],
    True: [([0., 0.4585626, 0., 0.08516943, 0.33117244], 17.724205017089844),
           ([0., -0.09093279, 0., 0.15540649, -0.08550892], 23.441232681274414)],
}


@pytest.mark.parametrize('flip_test', [False, True])
def test_head_predict_matches_mmpose(flip_test):
    """Decoded with camera_param (w, h) and factor; keypoints are about
    unit size, so 1e-5 is float32 noise of a few operations."""
    head, feats, flipped = golden_head()
    with torch.no_grad():
        preds = head.predict([feats, flipped] if flip_test else feats, samples(),
                             dict(flip_test=flip_test))
    for pred, (values, total) in zip(preds, PREDICT[flip_test]):
        assert pred.keypoints.shape == (1, 4, 5, 3)
        assert pred.keypoint_scores.shape == (1, 4, 5) and np.all(pred.keypoint_scores == 1)
        flat = pred.keypoints.reshape(-1)
        assert flat[[0, 5, 17, 33, 59]].tolist() == pytest.approx(values, abs=1e-5)
        assert np.abs(pred.keypoints).sum() == pytest.approx(total, abs=1e-4)


def test_head_flip_test_mirrors_back():
    """The flipped input's output is mirrored (x -> -x, joints swapped):
    feeding the mirror of the output as the flipped prediction returns the
    plain prediction."""
    head, feats, _ = golden_head()
    out = head(feats)
    mirrored = out[:, :, [0, 2, 1, 4, 3]] * torch.tensor([-1., 1., 1.])
    with torch.no_grad():
        plain = head.decode_clips(out, *(torch.empty(2, 0), ) * 3)
        nometa = [PoseDataSample(metainfo=dict(flip_indices=[0, 2, 1, 4, 3]))] * 2
        flip = head.predict_with(lambda f: out if f is feats else mirrored,
                                 [feats, None], nometa, dict(flip_test=True))
    for p, q in zip(plain, flip):
        np.testing.assert_allclose(p.keypoints, q.keypoints, atol=1e-6)


def test_head_loss_matches_mmpose_and_by_hand():
    head, feats, _ = golden_head()
    batch = samples()
    losses = head.loss(feats, batch, {})
    assert set(losses) == {'loss_pose3d', 'mpjpe'}
    # MMPose (MSELoss with target weights): 0.532856822013855, 1.2431588172912598
    assert losses['loss_pose3d'].item() == pytest.approx(0.532856822013855, abs=1e-6)
    pred = head(feats).detach().numpy()
    gt = np.stack([d.gt_instance_labels.lifting_target_label.numpy() for d in batch])
    mask = np.stack([d.gt_instance_labels.lifting_target_weight.numpy() for d in batch]) > 0
    by_hand = np.linalg.norm(pred - gt, axis=-1)[mask].mean()
    assert losses['mpjpe'].item() == pytest.approx(by_hand, rel=1e-6)
    assert by_hand == pytest.approx(1.2431588172912598, abs=1e-5)
    losses['loss_pose3d'].backward()
    assert head.fc.weight.grad.abs().sum() > 0


def test_head_errors():
    with pytest.raises(ValueError, match='embedding_size'):
        MotionRegressionHead(in_channels=4, embedding_size=0)
    head = MotionRegressionHead(in_channels=4, embedding_size=4)
    with pytest.raises(RuntimeError, match='decoder'):
        head.predict(torch.zeros(1, 4, 5, 4), samples(1), {})
    d = PoseDataSample()
    with pytest.raises(KeyError, match='lifting_target_label'):
        head.loss(torch.zeros(1, 2, 5, 4), [d], {})
    # a tuple of features (as other backbones return) reads its last
    x = torch.randn(1, 2, 5, 4)
    assert torch.equal(head((torch.zeros(1), x)), head(x))
