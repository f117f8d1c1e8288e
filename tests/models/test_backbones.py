"""Backbones: every registered one runs; keys, shapes and outputs equal MMPose's.

The numbers in KEY_FINGERPRINTS and GOLDEN were produced by MMPose 1.3.2
(mmdet 3.3 for CSPNeXt) from the same configs; posekit's backbones also loaded
those reference state_dicts with strict=True and gave bit-identical outputs.
"""
import copy
import hashlib
import math

import pytest
import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

from posekit.models import backbones
from posekit.registry import MODELS

HRNET_W32 = dict(
    stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK', num_blocks=(4,), num_channels=(64,)),
    stage2=dict(num_modules=1, num_branches=2, block='BASIC', num_blocks=(4, 4), num_channels=(32, 64)),
    stage3=dict(num_modules=4, num_branches=3, block='BASIC', num_blocks=(4, 4, 4),
                num_channels=(32, 64, 128)),
    stage4=dict(num_modules=3, num_branches=4, block='BASIC', num_blocks=(4, 4, 4, 4),
                num_channels=(32, 64, 128, 256)))
HRNETV2_W18 = dict(
    stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK', num_blocks=(4,), num_channels=(64,)),
    stage2=dict(num_modules=1, num_branches=2, block='BASIC', num_blocks=(4, 4), num_channels=(18, 36)),
    stage3=dict(num_modules=4, num_branches=3, block='BASIC', num_blocks=(4, 4, 4),
                num_channels=(18, 36, 72)),
    stage4=dict(num_modules=3, num_branches=4, block='BASIC', num_blocks=(4, 4, 4, 4),
                num_channels=(18, 36, 72, 144), multiscale_output=True),
    upsample=dict(mode='bilinear', align_corners=False))
TINY_HRNET = dict(
    stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK', num_blocks=(1,), num_channels=(8,)),
    stage2=dict(num_modules=1, num_branches=2, block='BASIC', num_blocks=(1, 1), num_channels=(4, 8)),
    stage3=dict(num_modules=1, num_branches=3, block='BASIC', num_blocks=(1, 1, 1), num_channels=(4, 8, 16)),
    stage4=dict(num_modules=1, num_branches=4, block='BASIC', num_blocks=(1, 1, 1, 1),
                num_channels=(4, 8, 16, 32), multiscale_output=True),
    upsample=dict(mode='bilinear', align_corners=False))


def rtmpose(deepen, widen):
    return dict(type='mmdet.CSPNeXt', arch='P5', expand_ratio=0.5, deepen_factor=deepen,
                widen_factor=widen, out_indices=(4,), channel_attention=True,
                norm_cfg=dict(type='BN'), act_cfg=dict(type='SiLU'))


# One small config per registered backbone: a new backbone must add one.
SMALL = {
    'ResNet': (dict(type='ResNet', depth=18, base_channels=8, stem_channels=8,
                    out_indices=(0, 1, 2, 3)),
               [(8, 16, 16), (16, 8, 8), (32, 4, 4), (64, 2, 2)]),
    'ResNetV1d': (dict(type='ResNetV1d', depth=50, base_channels=4, stem_channels=8,
                       out_indices=(1, 3)), [(32, 8, 8), (128, 2, 2)]),
    'HRNet': (dict(type='HRNet', extra=TINY_HRNET),
              [(4, 16, 16), (8, 8, 8), (16, 4, 4), (32, 2, 2)]),
    'MobileNetV2': (dict(type='MobileNetV2', widen_factor=0.25, out_indices=(0, 2, 7)),
                    [(8, 32, 32), (8, 8, 8), (1280, 2, 2)]),
    'CSPNeXt': (dict(type='CSPNeXt', deepen_factor=0.167, widen_factor=0.125,
                     out_indices=(0, 1, 2, 3, 4)),
                [(8, 32, 32), (16, 16, 16), (32, 8, 8), (64, 4, 4), (128, 2, 2)]),
    'CSPDarknet': (dict(type='CSPDarknet', deepen_factor=0.33, widen_factor=0.125,
                        out_indices=(0, 1, 2, 3, 4)),
                   [(8, 32, 32), (16, 16, 16), (32, 8, 8), (64, 4, 4), (128, 2, 2)]),
    # (N, K * 2, T) keypoint sequences: see INPUT_SHAPES
    'TCN': (dict(type='TCN', in_channels=6, stem_channels=8, kernel_sizes=(3, 3, 3)),
            [(8, 19), (8, 1)]),
    # (N, T, K, C) keypoint clips -> (N, T, K, feat_size), one tensor
    'DSTFormer': (dict(type='DSTFormer', in_channels=3, feat_size=16, depth=2, num_heads=2,
                       num_keypoints=5, seq_len=8), [(4, 5, 16)]),
}
# backbones that do not read (2, 3, 64, 64) images
INPUT_SHAPES = {'TCN': (2, 6, 27), 'DSTFormer': (2, 4, 5, 3)}
# backbones that return one tensor, not a tuple (as in MMPose)
RETURNS_TENSOR = {'DSTFormer'}


def registered_backbones():
    return sorted(name for name in MODELS.keys()
                  if MODELS.get(name).__module__.startswith('posekit.models.backbones'))


def test_every_backbone_has_a_small_config():
    assert set(registered_backbones()) == set(SMALL)
    assert set(backbones.__all__) - {'BaseBackbone'} == set(SMALL)


@pytest.mark.parametrize('name', sorted(SMALL))
def test_forward_shapes(name):
    cfg, shapes = SMALL[name]
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(cfg))
    model.init_weights()
    out = model(torch.randn(INPUT_SHAPES.get(name, (2, 3, 64, 64))))
    if name in RETURNS_TENSOR:
        out = (out, )
    assert isinstance(out, tuple)
    assert [tuple(o.shape[1:]) for o in out] == shapes
    assert all(o.shape[0] == 2 and torch.isfinite(o).all() for o in out)
    sum(o.mean() for o in out).backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def key_fingerprint(model):
    text = '\n'.join(f'{k}:{tuple(v.shape)}' for k, v in model.state_dict().items())
    return hashlib.sha1(text.encode()).hexdigest()[:16]


# name: (config, number of state_dict keys, parameters, sha1 of "key:shape"
# lines in order, a few keys and shapes) -- all read from MMPose's models.
REFERENCE = {
    'td-hm_res50': (dict(type='ResNet', depth=50), 318, 23508032, 'e2a250518221a0a3',
                    {'conv1.weight': (64, 3, 7, 7), 'layer1.0.downsample.0.weight': (256, 64, 1, 1),
                     'layer3.5.conv2.weight': (256, 256, 3, 3), 'layer4.2.bn3.bias': (2048,)}),
    'td-hm_hrnet-w32': (dict(type='HRNet', in_channels=3, extra=HRNET_W32), 1752, 28535552,
                        'db4d212162b16a79',
                        {'transition1.0.0.weight': (32, 256, 3, 3),
                         'transition1.1.0.0.weight': (64, 256, 3, 3),
                         'stage4.2.fuse_layers.0.3.0.weight': (32, 256, 1, 1),
                         'stage3.3.fuse_layers.2.0.1.0.weight': (128, 32, 3, 3)}),
    'td-hm_mobilenetv2': (dict(type='MobileNetV2', widen_factor=1.0, out_indices=(7,)), 312,
                          2223872, '0e135f672e23dd8b',
                          {'layer1.0.conv.0.conv.weight': (32, 1, 3, 3),
                           'layer2.0.conv.0.conv.weight': (96, 16, 1, 1),
                           'conv2.conv.weight': (1280, 320, 1, 1)}),
    'rtmpose-t': (rtmpose(0.167, 0.375), 206, 2348700, '16da4a2cc6bf8aa6',
                  {'stem.0.conv.weight': (12, 3, 3, 3), 'stage4.1.conv2.conv.weight': (384, 768, 1, 1),
                   'stage1.1.blocks.0.conv2.depthwise_conv.conv.weight': (24, 1, 5, 5)}),
    'rtmpose-s': (rtmpose(0.33, 0.5), 242, 4378320, 'f20eaf75b4c4f680', {}),
    'rtmpose-m': (rtmpose(0.67, 0.75), 350, 12279432, '55c92f07b15ba677',
                  {'stage3.1.blocks.3.conv1.conv.weight': (192, 192, 3, 3),
                   'stage4.2.final_conv.bn.running_mean': (768,)}),
    'rtmpose-l': (rtmpose(1.0, 1.0), 458, 26138912, 'e63b76b596005e74',
                  {'stage4.2.attention.fc.weight': (1024, 1024, 1, 1)}),
    'td-hm_resnetv1d50': (dict(type='ResNetV1d', depth=50), 330, 23527264, 'f4444b915402c095',
                          {'stem.0.conv.weight': (32, 3, 3, 3),
                           'layer2.0.downsample.1.weight': (512, 256, 1, 1)}),
    'td-hm_hrnetv2-w18_wflw': (dict(type='HRNet', in_channels=3, extra=HRNETV2_W18), 1830,
                               9562260, '72cdeb73a4656a73',
                               {'stage4.2.fuse_layers.3.0.2.0.weight': (144, 18, 3, 3),
                                'stage4.2.fuse_layers.1.3.0.weight': (36, 144, 1, 1)}),
    'resnet18-caffe-avgdown': (dict(type='ResNet', depth=18, style='caffe', avg_down=True,
                                    out_indices=(0, 1, 2, 3)), 120, 11176512,
                               'a3b2b587dae7a7f0', {}),
    'resnet34-gn-deepstem': (dict(type='ResNet', depth=34, deep_stem=True, stem_channels=32,
                                  base_channels=32, norm_cfg=dict(type='GN', num_groups=8)),
                             114, 5330480, 'd4276dd3df396cf6', {'layer1.0.gn2.weight': (32,)}),
    'mobilenetv2-w1.5': (dict(type='MobileNetV2', widen_factor=1.5), 312, 4937152,
                         '8985d1aadb064c3f', {}),
    'cspnext-P6-dw': (dict(type='mmdet.CSPNeXt', arch='P6', deepen_factor=0.33, widen_factor=0.25,
                           use_depthwise=True, out_indices=(0, 1, 2, 3, 4, 5)), 358, 722600,
                      '9ad7728066000132', {'stage5.0.depthwise_conv.conv.weight': (192, 1, 3, 3)}),
    'yolox-s': (dict(type='CSPDarknet', deepen_factor=0.33, widen_factor=0.5), 210, 4212672,
                'a6a4c935c13adad0', {'stem.conv.conv.weight': (32, 12, 3, 3),
                                     'stage4.1.conv2.conv.weight': (512, 1024, 1, 1)}),
    'yolox-l': (dict(type='CSPDarknet'), 402, 27075968, '91c269f1755c44d1',
                {'stage3.1.blocks.8.conv2.bn.running_var': (256,)}),
    'cspdarknet-P6-dw': (dict(type='CSPDarknet', arch='P6', deepen_factor=0.33, widen_factor=0.25,
                              use_depthwise=True, out_indices=(0, 1, 2, 3, 4, 5)), 330, 597792,
                         '024a9a88d29f41cf', {}),
}


@pytest.mark.parametrize('name', sorted(REFERENCE))
def test_state_dict_matches_mmpose(name):
    cfg, num_keys, num_params, fingerprint, shapes = REFERENCE[name]
    model = MODELS.build(dict(cfg, init_cfg=None))
    sd = model.state_dict()
    assert len(sd) == num_keys
    assert sum(p.numel() for p in model.parameters()) == num_params
    for key, shape in shapes.items():
        assert tuple(sd[key].shape) == shape, key
    assert key_fingerprint(model) == fingerprint


def fill_deterministic(model):
    """Weights from a formula (no RNG), the same on every machine."""
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


def golden_input():
    n = 3 * 64 * 64
    return torch.sin(torch.arange(n, dtype=torch.float64) * 0.013).reshape(1, 3, 64, 64).float()


GOLDEN_CFGS = {
    'resnet18': dict(type='ResNet', depth=18, base_channels=8, stem_channels=8, out_indices=(0, 1, 2, 3)),
    'resnet50-caffe': dict(type='ResNet', depth=50, base_channels=4, stem_channels=8, style='caffe'),
    'resnetv1d50': dict(type='ResNetV1d', depth=50, base_channels=4, stem_channels=8),
    'hrnet': dict(type='HRNet', extra=TINY_HRNET),
    'mobilenetv2': dict(type='MobileNetV2', widen_factor=0.25, out_indices=(2, 7)),
    'cspnext': dict(type='mmdet.CSPNeXt', deepen_factor=0.167, widen_factor=0.125),
    'cspnext-p6-dw': dict(type='mmdet.CSPNeXt', arch='P6', deepen_factor=0.167, widen_factor=0.125,
                          use_depthwise=True, out_indices=(5,)),
    'cspdarknet': dict(type='CSPDarknet', deepen_factor=0.33, widen_factor=0.125,
                       out_indices=(1, 2, 3, 4)),
    'cspdarknet-p6-dw': dict(type='CSPDarknet', arch='P6', deepen_factor=0.33, widen_factor=0.125,
                             use_depthwise=True, out_indices=(5,), spp_kernal_sizes=(3, 5)),
}
GOLDEN_INDICES = (0, 7, 101, 555)
# MMPose's outputs for fill_deterministic weights and golden_input(), eval mode:
# per output (shape, mean, std, values at GOLDEN_INDICES of the flat tensor).
GOLDEN = {
    'resnet18': [((1, 8, 16, 16), 0.365608, 0.3446475, (0.5810215, 0.8393577, 0.2324578, 0.7264543)), ((1, 16, 8, 8), 5.0992038, 6.7998879, (3.8344364, 8.2206583, 0.0, 0.0)), ((1, 32, 4, 4), 89.5345405, 133.9135769, (0.0, 185.5430298, 337.8242493, 0.0274319)), ((1, 64, 2, 2), 139.1195966, 257.2621384, (0.0, 9.413887, 0.0, 0.0))],  # noqa: E501
    'resnet50-caffe': [((1, 128, 2, 2), 30472.9683831, 43126.1935503, (0.0, 19912.8066406, 0.0, 53665.859375))],  # noqa: E501
    'resnetv1d50': [((1, 128, 2, 2), 640426.6860771, 819562.4382576, (0.0, 1283456.75, 0.0, 2840739.5))],  # noqa: E501
    'hrnet': [((1, 4, 16, 16), 30.789689, 151.1862817, (68.020752, 0.0, 0.0, 0.0)), ((1, 8, 8, 8), 557.5739439, 836.7962086, (0.0, 0.0, 134.8134003, 0.0)), ((1, 16, 4, 4), 1705.9922904, 2085.600417, (1699.9445801, 2858.0615234, 0.0, 2818.4528809)), ((1, 32, 2, 2), 6443.5594629, 8912.58222, (0.0, 0.0, 0.0, 32979.2578125))],  # noqa: E501
    'mobilenetv2': [((1, 8, 8, 8), -2.596616, 8.1192563, (-1.2840548, 2.0063207, -12.883707, -8.6392651)), ((1, 1280, 2, 2), 1.0362171, 1.4105205, (0.0, 0.7271898, 5.5725689, 0.524528))],  # noqa: E501
    'cspnext': [((1, 32, 8, 8), 0.016013, 0.1029774, (0.0479786, 0.0479566, 0.0401336, 0.250601)), ((1, 64, 4, 4), 0.0293431, 0.1641231, (0.0455749, 0.0452925, -0.1713568, 0.124918)), ((1, 128, 2, 2), 0.0425269, 0.2064146, (0.119478, -0.1538406, -0.1272606, -0.0316991))],  # noqa: E501
    'cspnext-p6-dw': [((1, 128, 1, 1), 28.3581981, 37.8401084, (-0.0, -1.28e-05, 57.0064545, -0.0))],
    'cspdarknet': [((1, 16, 16, 16), -0.012277, 0.1505641, (0.2086322, 0.154587, -0.0953989, -0.1905957)), ((1, 32, 8, 8), 0.0277711, 0.1912753, (0.0283669, 0.0305737, -0.0612567, 0.422026)), ((1, 64, 4, 4), 0.0291199, 0.1763277, (0.4655652, 0.491697, -0.1370464, 0.5031053)), ((1, 128, 2, 2), 0.1203104, 0.3894401, (0.147578, -0.106329, -0.0959266, 0.8369866))],  # noqa: E501
    'cspdarknet-p6-dw': [((1, 128, 1, 1), 20112.575379, 26761.1328434, (1335.8823242, -0.0, 35925.78125, 55173.359375))],  # noqa: E501
}


@pytest.mark.parametrize('name', sorted(GOLDEN))
def test_outputs_match_mmpose(name):
    """MMPose's float32 outputs equal ours up to float32 rounding.

    Both are float32 evaluations of the same function, so each differs
    from the exact value by float32 rounding noise of similar size; its
    size on this machine's kernels is measured against a float64 run (the
    exact value to float32's eye). MMPose's numbers may sit on the other
    side of the exact value, and another CPU orders sums otherwise: the
    bound allows ten times this machine's noise.
    """
    model = MODELS.build(dict(GOLDEN_CFGS[name], init_cfg=None))
    fill_deterministic(model)
    model.eval()
    with torch.no_grad():
        outs = model(golden_input())
        exact = model.double()(golden_input().double())
    assert len(outs) == len(GOLDEN[name])
    for out, ref, (shape, mean, std, values) in zip(outs, exact, GOLDEN[name]):
        flat, ref = out.double().flatten(), ref.flatten()
        noise = (flat - ref).abs().max().item()
        tol = 10 * noise + 1e-6 * std
        assert tuple(out.shape) == shape
        assert ref.mean().item() == pytest.approx(mean, abs=tol)
        assert ref.std().item() == pytest.approx(std, abs=tol)
        got = [ref[i % ref.numel()].item() for i in GOLDEN_INDICES]
        assert got == pytest.approx(list(values), abs=tol)


def bn_modes(module):
    return {m.training for m in module.modules() if isinstance(m, _BatchNorm)}


def grads(module):
    return {p.requires_grad for p in module.parameters()}


def test_resnet_frozen_stages_and_norm_eval():
    model = MODELS.build(dict(SMALL['ResNet'][0], frozen_stages=2))
    model.train()
    for part in (model.conv1, model.bn1, model.layer1, model.layer2):
        assert grads(part) == {False}
    assert bn_modes(model.layer1) == {False} and not model.bn1.training
    assert grads(model.layer3) == {True} and bn_modes(model.layer3) == {True}
    model = MODELS.build(dict(SMALL['ResNet'][0], norm_eval=True))
    model.train()
    assert bn_modes(model) == {False} and grads(model) == {True}
    assert model.layer1[0].conv1.training       # only norms are held in eval
    model = MODELS.build(dict(type='ResNetV1d', depth=18, base_channels=8, stem_channels=8,
                              frozen_stages=0))
    model.train()
    assert grads(model.stem) == {False} and grads(model.layer1) == {True}


def test_hrnet_frozen_stages():
    model = MODELS.build(dict(SMALL['HRNet'][0], frozen_stages=2))
    model.train()
    for part in (model.conv1, model.conv2, model.layer1, model.transition1, model.stage2,
                 model.transition2):
        assert grads(part) == {False}
    assert bn_modes(model.stage2) == {False}
    assert grads(model.stage3) == {True} and bn_modes(model.stage3) == {True}


def test_mobilenetv2_frozen_stages():
    model = MODELS.build(dict(SMALL['MobileNetV2'][0], frozen_stages=1))
    model.train()
    assert grads(model.conv1) == {False} and model.conv1.training   # as MMPose
    assert grads(model.layer1) == {False} and bn_modes(model.layer1) == {False}
    assert grads(model.layer2) == {True}
    with pytest.raises(ValueError, match='frozen_stages'):
        MODELS.build(dict(type='MobileNetV2', frozen_stages=8))


def test_cspnext_frozen_stages_and_norm_eval():
    model = MODELS.build(dict(SMALL['CSPNeXt'][0], frozen_stages=1, norm_eval=True))
    model.train()
    assert grads(model.stem) == {False} and grads(model.stage1) == {False}
    assert grads(model.stage2) == {True}
    assert bn_modes(model) == {False}


@pytest.mark.parametrize('name', ['ResNet', 'HRNet', 'MobileNetV2'])
def test_with_cp_gives_the_same_result(name):
    torch.manual_seed(0)
    plain = MODELS.build(SMALL[name][0])
    ckpt = MODELS.build(dict(SMALL[name][0], with_cp=True))
    ckpt.load_state_dict(plain.state_dict())
    x = torch.randn(1, 3, 64, 64, requires_grad=True)
    a, b = sum(o.sum() for o in plain(x)), sum(o.sum() for o in ckpt(x))
    torch.testing.assert_close(a, b)
    a.backward()
    b.backward()
    for (n, p), q in zip(plain.named_parameters(), ckpt.parameters()):
        torch.testing.assert_close(p.grad, q.grad, msg=n)


def test_default_init_cfgs():
    torch.manual_seed(0)
    resnet = MODELS.build(dict(type='ResNet', depth=50, base_channels=16))
    resnet.init_weights()
    # zero_init_residual (default True): each block's last norm starts at 0
    assert torch.all(resnet.layer1[0].bn3.weight == 0)
    assert torch.all(resnet.layer1[0].bn1.weight == 1)
    w = resnet.layer3[0].conv2.weight      # Kaiming normal, fan_out
    assert w.std().item() == pytest.approx(math.sqrt(2 / (64 * 9)), rel=0.1)
    hrnet = MODELS.build(SMALL['HRNet'][0])
    hrnet.init_weights()                   # Normal(std=0.001) convs
    assert hrnet.stage2[0].branches[0][0].conv1.weight.std().item() < 0.002
    assert torch.all(hrnet.layer1[0].bn3.weight == 1)   # zero_init_residual off
    csp = MODELS.build(SMALL['CSPNeXt'][0])
    csp.init_weights()                     # Kaiming uniform a=sqrt(5), fan_in
    w = csp.stage2[0].conv.weight
    assert w.abs().max().item() <= 1 / math.sqrt(w[0].numel())


def test_init_cfg_constant_and_override_on_a_backbone():
    model = MODELS.build(dict(SMALL['ResNet'][0], zero_init_residual=False, init_cfg=dict(
        type='Constant', val=0.5, layer='Conv2d',
        override=dict(type='Constant', name='layer4', val=2))))
    model.init_weights()
    convs = [m for n, m in model.named_modules()
             if isinstance(m, nn.Conv2d) and not n.startswith('layer4')]
    assert convs and all(torch.all(m.weight == 0.5) for m in convs)
    assert all(torch.all(p == 2) for n, p in model.layer4.named_parameters()
               if not n.endswith('bias'))


def test_pretrained_prefix_into_a_backbone(tmp_path):
    torch.manual_seed(0)
    cfg = SMALL['CSPNeXt'][0]
    source = MODELS.build(cfg)
    ckpt = {'meta': {}, 'state_dict': {**{'backbone.' + k: v for k, v in source.state_dict().items()},
                                       'head.fc.weight': torch.zeros(2)}}
    path = tmp_path / 'full.pth'
    torch.save(ckpt, path)
    target = MODELS.build(dict(cfg, init_cfg=dict(type='Pretrained', checkpoint=str(path),
                                                  prefix='backbone.')))
    target.init_weights()
    for k, v in source.state_dict().items():
        assert torch.equal(target.state_dict()[k], v), k
    url = MODELS.build(dict(cfg, init_cfg=dict(
        type='Pretrained', checkpoint='https://download.openmmlab.com/x/cspnext-s.pth')))
    with pytest.raises(ValueError, match='posekit does not download weights'):
        url.init_weights()


def test_invalid_arguments():
    with pytest.raises(KeyError, match='depth 19'):
        MODELS.build(dict(type='ResNet', depth=19))
    with pytest.raises(ValueError, match='out_indices'):
        MODELS.build(dict(type='ResNet', depth=18, out_indices=(4,)))
    with pytest.raises(KeyError, match='P7'):
        MODELS.build(dict(type='CSPNeXt', arch='P7'))
    bad = copy.deepcopy(TINY_HRNET)
    bad['stage2']['num_channels'] = (4,)
    with pytest.raises(ValueError, match='num_channels'):
        MODELS.build(dict(type='HRNet', extra=bad))


def test_syncbn_runs_on_one_cpu_process():
    # RTMPose configs use SyncBN; without a process group it acts as BN.
    bn = MODELS.build(dict(SMALL['CSPNeXt'][0], norm_cfg=dict(type='BN')))
    sync = MODELS.build(dict(SMALL['CSPNeXt'][0], norm_cfg=dict(type='SyncBN')))
    assert isinstance(sync.stem[0].bn, nn.SyncBatchNorm)
    assert key_fingerprint(sync) == key_fingerprint(bn)
    sync.load_state_dict(bn.state_dict())
    x = torch.randn(2, 3, 64, 64)
    assert sync.train() is sync
    torch.testing.assert_close(sync(x)[-1], bn.train()(x)[-1])


def test_basic_block_style_is_accepted_and_ignored_as_in_mmpose():
    """MMPose's BasicBlock stores ``style`` and builds the same block either
    way (only a Bottleneck moves the stride); an unknown style is refused."""
    from posekit.models.backbones.resnet import BasicBlock, Bottleneck
    torch.manual_seed(0)
    blocks = [BasicBlock(4, 4, stride=2, style=s, downsample=nn.AvgPool2d(2)).eval()
              for s in ('pytorch', 'caffe')]
    blocks[1].load_state_dict(blocks[0].state_dict(), strict=True)
    x = torch.randn(1, 4, 8, 8)
    assert torch.equal(blocks[0](x), blocks[1](x))
    assert blocks[0].conv1.stride == (2, 2)
    caffe = Bottleneck(8, 8, stride=2, style='caffe')
    assert (caffe.conv1.stride, caffe.conv2.stride) == ((2, 2), (1, 1))
    for block in (BasicBlock, Bottleneck):
        with pytest.raises(ValueError, match='style must be "pytorch" or "caffe"'):
            block(8, 8, style='tf')
        with pytest.raises(ValueError, match='init_cfg of a single ResNet block'):
            block(8, 8, init_cfg=dict(type='Constant', val=0))
