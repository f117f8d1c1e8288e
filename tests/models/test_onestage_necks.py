"""One-stage (RTMO, YOLOX-Pose) necks and their parts: CSPDarknet's Focus
stem, YOLOXPAFPN, CSPNeXtPAFPN, ChannelMapper, HybridEncoder (sine position
encoding, DETR encoder layers, RepVGG blocks).

KEYS and GOLDEN were produced by MMPose 1.3.2 from the same configs (the
numbers of parameters and state_dict keys, and a sha1 of the "key:shape"
lines in order); posekit loaded the reference state_dicts of all 15 RTMO /
YOLOX-Pose configs (and RTMW's CSPNeXtPAFPN) strictly, with outputs within
2e-7 relative L2 of MMPose's.
"""
import hashlib
import math

import pytest
import torch
import torch.nn as nn

from posekit.models.backbones.csp_darknet import space_to_depth
from posekit.models.utils.reparam_layers import RepVGGBlock
from posekit.models.utils.transformer import (DetrTransformerEncoder, MultiheadAttention,
                                              SinePositionalEncoding)
from posekit.registry import MODELS

ENC = dict(self_attn_cfg=dict(embed_dims=16, num_heads=4, dropout=0.0),
           ffn_cfg=dict(embed_dims=16, feedforward_channels=32, ffn_drop=0.0,
                        act_cfg=dict(type='GELU')))
# name: (config, input widths); inputs are 8x8, 4x4, 2x2 maps.
NECKS = {
    'yoloxpafpn': (dict(type='YOLOXPAFPN', in_channels=[8, 16, 32], out_channels=8,
                        num_csp_blocks=1), [8, 16, 32]),
    'yoloxpafpn-dw': (dict(type='YOLOXPAFPN', in_channels=[8, 16, 32], out_channels=8,
                           num_csp_blocks=2, use_depthwise=True), [8, 16, 32]),
    'cspnextpafpn': (dict(type='CSPNeXtPAFPN', in_channels=[8, 16, 32], out_channels=None,
                          out_indices=(1, 2), num_csp_blocks=1,
                          act_cfg=dict(type='SiLU', inplace=True)), [8, 16, 32]),
    'hybrid': (dict(type='HybridEncoder', in_channels=[8, 16, 32], hidden_dim=16,
                    deepen_factor=0.33, widen_factor=0.5, output_indices=[1, 2],
                    use_encoder_idx=[1, 2], encoder_cfg=ENC,
                    projector=dict(type='ChannelMapper', in_channels=[16, 16], kernel_size=1,
                                   out_channels=8, act_cfg=None, norm_cfg=dict(type='BN'),
                                   num_outs=2)), [8, 16, 32]),
    'hybrid-2layers': (dict(type='HybridEncoder', in_channels=[8, 16], hidden_dim=16,
                            num_encoder_layers=2, use_encoder_idx=[1], pe_temperature=100,
                            encoder_cfg=ENC), [8, 16]),
    'channelmapper': (dict(type='ChannelMapper', in_channels=[8, 16], out_channels=8,
                           norm_cfg=dict(type='GN', num_groups=2), num_outs=4), [8, 16]),
}
GOLDEN_INDICES = (0, 7, 101, 555)
# MMPose's eval outputs for fill_deterministic weights and level_inputs():
# per output (shape, mean, std, values at GOLDEN_INDICES of the flat tensor).
GOLDEN = {
    'yoloxpafpn': [((1, 8, 8, 8), 0.0478438, 0.0545954, (0.0314942, 0.0329488, -0.0826064, 0.0889882)), ((1, 8, 4, 4), 0.4099796, 1.230407, (2.3905566, 0.9612359, -0.0030021, -0.0524403)), ((1, 8, 2, 2), 0.1374063, 0.2603061, (-0.1645042, -0.1297038, -0.1721458, -0.0550742))],  # noqa: E501
    'yoloxpafpn-dw': [((1, 8, 8, 8), 0.3763379, 0.9903965, (0.8333829, 0.0554418, -0.0413408, -0.0227933)), ((1, 8, 4, 4), 52.2087739, 62.2050467, (137.5122681, -0.0009117, -0.1820894, 140.5003204)), ((1, 8, 2, 2), 363.224911, 573.1877826, (37.4312744, 1246.2510986, 386.4421692, 1982.8903809))],  # noqa: E501
    'cspnextpafpn': [((1, 16, 4, 4), 0.303703, 0.7388809, (0.9064915, 1.0420309, -0.2610992, -0.118828)), ((1, 32, 2, 2), 0.0987031, 0.3181665, (-0.2185295, 0.7535725, -0.1970516, 0.2558126))],  # noqa: E501
    'hybrid': [((1, 8, 4, 4), -27.2871505, 55.9457641, (-86.9001999, -13.0321388, 10.0637445, -19.9164829)), ((1, 8, 2, 2), -91.649933, 442.7985921, (318.870697, 96.0735474, 593.1837769, 79.8628159))],  # noqa: E501
    'hybrid-2layers': [((1, 16, 8, 8), 2.1921724, 3.2442166, (-0.4497929, -0.5109051, -0.4418512, 12.7451859)), ((1, 16, 4, 4), 43.2702104, 49.6894905, (38.9075203, 104.6335831, 106.0239258, 7.400774))],  # noqa: E501
    'channelmapper': [((1, 8, 8, 8), 0.4727818, 0.6197513, (0.2175732, 0.9427478, 0.1260785, 0.0)), ((1, 8, 4, 4), 0.4418578, 0.4835333, (0.0, 0.0, 0.0, 0.0)), ((1, 8, 2, 2), 0.5617186, 0.6055296, (1.06399, 0.0, 0.0, 1.3473073)), ((1, 8, 1, 1), 0.398551, 0.4866502, (0.0, 0.0, 0.4628966, 0.0))],  # noqa: E501
}
RTMO_S = dict(type='HybridEncoder', in_channels=[128, 256, 512], deepen_factor=0.33,
              widen_factor=0.5, hidden_dim=256, output_indices=[1, 2],
              encoder_cfg=dict(self_attn_cfg=dict(embed_dims=256, num_heads=8, dropout=0.0),
                               ffn_cfg=dict(embed_dims=256, feedforward_channels=1024,
                                            ffn_drop=0.0, act_cfg=dict(type='GELU'))),
              projector=dict(type='ChannelMapper', in_channels=[256, 256], kernel_size=1,
                             out_channels=256, act_cfg=None, norm_cfg=dict(type='BN'),
                             num_outs=2))
YOLOXPOSE_S = dict(type='YOLOXPAFPN', in_channels=[128, 256, 512], out_channels=128,
                   num_csp_blocks=1, use_depthwise=False,
                   upsample_cfg=dict(scale_factor=2, mode='nearest'),
                   norm_cfg=dict(type='BN', momentum=0.03, eps=0.001), act_cfg=dict(type='Swish'))
RTMW_M = dict(type='CSPNeXtPAFPN', in_channels=[192, 384, 768], out_channels=None,
              out_indices=(1, 2), num_csp_blocks=2, expand_ratio=0.5,
              norm_cfg=dict(type='SyncBN'), act_cfg=dict(type='SiLU', inplace=True))
# name: (config, state_dict keys, parameters, sha1 of "key:shape" lines), from MMPose.
KEYS = {
    'rtmo-s neck': (RTMO_S, 187, 3782400, '0a8c3174df72fe0b'),
    'rtmo-l neck': (dict(RTMO_S, in_channels=[256, 512, 1024], deepen_factor=1.0,
                         widen_factor=1.0, projector=dict(RTMO_S['projector'], out_channels=512)),
                    259, 11756288, '54ebd96d141fd111'),
    'yoloxpose-s neck': (YOLOXPOSE_S, 162, 2950144, '89033ce0a38f04ff'),
    'rtmw-m neck': (RTMW_M, 240, 8725824, '0e6acb9d0a26b851'),
}


def key_fingerprint(model):
    text = '\n'.join(f'{k}:{tuple(v.shape)}' for k, v in model.state_dict().items())
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def fill_deterministic(model):
    """Weights from a formula (no RNG); the one of test_backbones.py."""
    with torch.no_grad():
        for i, (k, v) in enumerate(model.state_dict().items()):
            if k.endswith('num_batches_tracked'):
                continue
            vals = torch.sin(torch.arange(v.numel(), dtype=torch.float64) * 0.37 + i)
            vals = vals.reshape(v.shape)
            if k.endswith('running_var'):
                vals = 1 + 0.5 * vals
            elif v.dim() > 1:
                vals = vals * math.sqrt(3.0 / v[0].numel())
            elif k.endswith('weight'):
                vals = 1 + 0.2 * vals
            else:
                vals = 0.1 * vals
            v.copy_(vals.to(v.dtype))


def level_inputs(channels, size=8, dtype=torch.float32):
    """Maps (1, C_i, size / 2**i, size / 2**i) of sin(0.11 * n + i)."""
    return [torch.sin(torch.arange(c * (size >> i) ** 2, dtype=torch.float64) * 0.11 + i)
            .reshape(1, c, size >> i, size >> i).to(dtype) for i, c in enumerate(channels)]


@pytest.mark.parametrize('name', sorted(KEYS))
def test_state_dict_matches_mmpose(name):
    cfg, num_keys, num_params, fingerprint = KEYS[name]
    model = MODELS.build(cfg)
    assert len(model.state_dict()) == num_keys
    assert sum(p.numel() for p in model.parameters()) == num_params
    assert key_fingerprint(model) == fingerprint


def test_rtmo_neck_key_names():
    sd = MODELS.build(RTMO_S).state_dict()
    for key, shape in {'encoder.0.layers.0.self_attn.attn.in_proj_weight': (768, 256),
                       'encoder.0.layers.0.self_attn.attn.out_proj.bias': (256,),
                       'encoder.0.layers.0.ffn.layers.0.0.weight': (1024, 256),
                       'encoder.0.layers.0.ffn.layers.1.weight': (256, 1024),
                       'encoder.0.layers.0.norms.1.weight': (256,),
                       'sincos_pos_enc.dim_t': (64,),
                       'fpn_blocks.0.bottlenecks.0.branch_3x3.conv.weight': (128, 128, 3, 3),
                       'pan_blocks.1.conv3.conv.weight': (256, 128, 1, 1),
                       'projector.convs.1.bn.running_var': (256,)}.items():
        assert tuple(sd[key].shape) == shape, key


@pytest.mark.parametrize('name', sorted(GOLDEN))
def test_outputs_match_mmpose(name):
    """MMPose's float32 outputs equal ours up to float32 rounding: the bound
    is ten times this machine's float32-vs-float64 difference (as in
    test_backbones.py), plus 1e-6 of the output's spread."""
    cfg, channels = NECKS[name]
    model = MODELS.build(cfg)
    fill_deterministic(model)
    model.eval()
    with torch.no_grad():
        outs = model(level_inputs(channels))
        exact = model.double()(level_inputs(channels, dtype=torch.float64))
    assert len(outs) == len(GOLDEN[name])
    for out, ref, (shape, mean, std, values) in zip(outs, exact, GOLDEN[name]):
        flat, ref = out.double().flatten(), ref.flatten()
        tol = 10 * (flat - ref).abs().max().item() + 1e-6 * std
        assert tuple(out.shape) == shape
        assert ref.mean().item() == pytest.approx(mean, abs=tol)
        assert ref.std().item() == pytest.approx(std, abs=tol)
        got = [ref[i % ref.numel()].item() for i in GOLDEN_INDICES]
        assert got == pytest.approx(list(values), abs=tol)


def test_rtmo_and_yoloxpose_output_strides():
    """Backbone + neck as the configs chain them: strides 16, 32 (RTMO,
    output_indices [1, 2]) and 8, 16, 32 (YOLOX-Pose)."""
    torch.manual_seed(0)
    backbone = MODELS.build(dict(type='CSPDarknet', deepen_factor=0.33, widen_factor=0.125))
    x = torch.randn(1, 3, 96, 64)
    feats = backbone(x)
    assert [tuple(f.shape[1:]) for f in feats] == [(32, 12, 8), (64, 6, 4), (128, 3, 2)]
    neck = MODELS.build(dict(RTMO_S, in_channels=[32, 64, 128], hidden_dim=32,
                             encoder_cfg=dict(ENC, self_attn_cfg=dict(embed_dims=32, num_heads=4),
                                              ffn_cfg=dict(embed_dims=32, feedforward_channels=64)),
                             projector=dict(RTMO_S['projector'], in_channels=[32, 32],
                                            out_channels=16)))
    assert [tuple(o.shape) for o in neck(feats)] == [(1, 16, 6, 4), (1, 16, 3, 2)]
    yolox = MODELS.build(dict(YOLOXPOSE_S, in_channels=[32, 64, 128], out_channels=24))
    assert [tuple(o.shape) for o in yolox(feats)] == [(1, 24, 12, 8), (1, 24, 6, 4),
                                                      (1, 24, 3, 2)]


def test_focus_space_to_depth_layout():
    """Channel groups hold pixels (0, 0), (1, 0), (0, 1), (1, 1) of each 2x2 block."""
    x = torch.arange(2 * 4 * 6, dtype=torch.float32).reshape(1, 2, 4, 6)
    y = space_to_depth(x)
    assert y.shape == (1, 8, 2, 3)
    for group, (dy, dx) in enumerate([(0, 0), (1, 0), (0, 1), (1, 1)]):
        for c in range(2):
            assert torch.equal(y[0, 2 * group + c], x[0, c, dy::2, dx::2])
    with pytest.raises(ValueError, match='even input height and width'):
        MODELS.build(dict(type='CSPDarknet', widen_factor=0.125))(torch.zeros(1, 3, 33, 32))


def test_spp_pools_are_stride_one_max_filters():
    spp = MODELS.build(dict(type='CSPDarknet', widen_factor=0.125,
                            spp_kernal_sizes=(3, 7))).stage4[1]
    assert [(p.kernel_size, p.stride, p.padding) for p in spp.poolings] == [(3, 1, 1), (7, 1, 3)]
    x = torch.zeros(1, 1, 9, 9)
    x[0, 0, 4, 4] = 1.0
    assert spp.poolings[0](x)[0, 0].sum() == 9 and spp.poolings[1](x)[0, 0].sum() == 49


def test_sine_position_encoding_formula():
    """pe[y * w + x, :, 0] = [cos(y / T**(i / P)), sin(y / T**(i / P))], same in x."""
    enc = SinePositionalEncoding(8, spatial_dim=2, temperature=100)
    pe = enc(size=(3, 5))
    assert pe.shape == (15, 8, 2)
    dim_t = torch.tensor([100 ** (i / 4) for i in range(4)], dtype=torch.float64)
    for y, x in [(0, 0), (2, 3), (1, 4)]:
        for axis, pos in ((0, y), (1, x)):
            expect = torch.cat([torch.cos(pos / dim_t), torch.sin(pos / dim_t)])
            torch.testing.assert_close(pe[y * 5 + x, :, axis].double(), expect,
                                       atol=1e-6, rtol=0)
    torch.testing.assert_close(SinePositionalEncoding(8, temperature=100)(size=4)[3],
                               pe[3, :, 1])     # 1D = the x axis of row 0


def test_hybrid_encoder_position_order_and_deploy_cache():
    neck = MODELS.build(dict(NECKS['hybrid-2layers'][0], pe_temperature=10000))
    pe = neck.position_encoding(0, 3, 4)
    assert pe.shape == (1, 12, 16)     # [cos y, sin y, cos x, sin x], 4 each
    torch.testing.assert_close(pe[0, 4 * 2 + 1, [0, 4, 8, 12]],
                               torch.tensor([math.cos(2), math.sin(2), math.cos(1), math.sin(1)]))
    fill_deterministic(neck)
    neck.eval()
    inputs = level_inputs([8, 16], size=16)
    before = neck(inputs)
    neck.switch_to_deploy(dict(input_size=(256, 128)))   # (w, h); level 1 has stride 16
    assert neck.pos_enc_0.shape == (1, 8 * 16, 16)
    torch.testing.assert_close(neck.pos_enc_0, neck.sincos_pos_enc(size=(8, 16))
                               .transpose(-1, -2).reshape(1, 128, 16))
    for a, b in zip(before, neck(inputs)):
        assert torch.equal(a, b)


def test_detr_encoder_layer_is_post_norm_attention_then_ffn():
    torch.manual_seed(0)
    enc = DetrTransformerEncoder(1, ENC).eval()
    layer = enc.layers[0]
    x, pos = torch.randn(2, 5, 16), torch.randn(1, 5, 16)
    attn = layer.self_attn.attn
    q = k = x + pos
    wq, wk, wv = attn.in_proj_weight.chunk(3)
    bq, bk, bv = attn.in_proj_bias.chunk(3)

    def heads(t):
        return t.reshape(2, 5, 4, 4).transpose(1, 2)
    scores = heads(q @ wq.T + bq) @ heads(k @ wk.T + bk).transpose(-1, -2) / 2.0
    mixed = (scores.softmax(-1) @ heads(x @ wv.T + bv)).transpose(1, 2).reshape(2, 5, 16)
    h = layer.norms[0](x + attn.out_proj(mixed))
    ffn = layer.ffn.layers
    expect = layer.norms[1](h + ffn[1](nn.functional.gelu(ffn[0][0](h))))
    torch.testing.assert_close(enc(x, query_pos=pos, key_padding_mask=None), expect,
                               atol=1e-5, rtol=1e-5)


def test_gradient_checkpointing_gives_the_same_gradients():
    torch.manual_seed(0)
    plain = DetrTransformerEncoder(2, ENC)
    ckpt = DetrTransformerEncoder(2, ENC, num_cp=2)
    ckpt.load_state_dict(plain.state_dict())
    x = torch.randn(2, 6, 16)
    plain(x, None, None).square().sum().backward()
    ckpt(x, None, None).square().sum().backward()
    for (n, p), q in zip(plain.named_parameters(), ckpt.parameters()):
        torch.testing.assert_close(p.grad, q.grad, msg=n)


def test_repvgg_switch_to_deploy_is_the_same_function():
    torch.manual_seed(0)
    block = RepVGGBlock(8, 8, without_branch_norm=False, act_cfg=dict(type='SiLU'))
    assert list(block.state_dict())[0] == 'branch_norm.weight'    # MMPose's order
    block.train()
    for _ in range(3):          # real running statistics, not the 0/1 defaults
        block(torch.randn(4, 8, 6, 6) * 2 + 1)
    block.eval()
    x = torch.randn(2, 8, 6, 6)
    with torch.no_grad():
        before = block(x)
        block.switch_to_deploy()
        after = block(x)
    assert list(block.state_dict()) == ['conv_reparam.weight', 'conv_reparam.bias']
    # float32 sums of three branches vs one conv: a few ulps of the output size
    torch.testing.assert_close(after, before, atol=1e-5 * before.abs().max().item(), rtol=0)


def test_cspnext_pafpn_out_channels_uses_mmdetections_layout():
    neck = MODELS.build(dict(type='CSPNeXtPAFPN', in_channels=[8, 16], out_channels=4,
                             out_indices=(0, 1), num_csp_blocks=1))
    assert 'out_convs.1.conv.weight' in neck.state_dict()
    outs = neck(level_inputs([8, 16]))
    assert [tuple(o.shape) for o in outs] == [(1, 4, 8, 8), (1, 4, 4, 4)]


def test_csp_darknet_frozen_stages_and_norm_eval():
    model = MODELS.build(dict(type='CSPDarknet', widen_factor=0.125, deepen_factor=0.33,
                              frozen_stages=1, norm_eval=True))
    model.train()
    assert all(not p.requires_grad for p in (*model.stem.parameters(),
                                             *model.stage1.parameters()))
    assert all(p.requires_grad for p in model.stage2.parameters())
    assert not any(m.training for m in model.modules() if isinstance(m, nn.BatchNorm2d))


def test_bad_arguments_are_named():
    with pytest.raises(KeyError, match='P7'):
        MODELS.build(dict(type='CSPDarknet', arch='P7'))
    with pytest.raises(ValueError, match='out_indices'):
        MODELS.build(dict(type='CSPDarknet', out_indices=(5,)))
    with pytest.raises(ValueError, match='use_encoder_idx'):
        MODELS.build(dict(NECKS['hybrid-2layers'][0], use_encoder_idx=[2]))
    attention = MultiheadAttention(16, 4, dropout_layer=dict(type='DropPath', drop_prob=0.1))
    assert type(attention.dropout_layer).__name__ == 'DropPath'
    assert attention.dropout_layer.drop_prob == 0.1
    with pytest.raises(KeyError, match='DropBlock'):
        MultiheadAttention(16, 4, dropout_layer=dict(type='DropBlock', drop_prob=0.1))
    with pytest.raises(NotImplementedError, match='padding_mode'):
        RepVGGBlock(4, 4, padding_mode='reflect')
    with pytest.raises(ValueError, match='num_outs'):
        MODELS.build(dict(type='ChannelMapper', in_channels=[8, 16], out_channels=8, num_outs=1))
    with pytest.raises(ValueError, match='built for 3 levels'):
        MODELS.build(NECKS['hybrid'][0])(level_inputs([8, 16]))
