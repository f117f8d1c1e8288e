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

from posekit.hub import DownloadError
from posekit.models import backbones
from posekit.models.utils.fuse import fold_batchnorm
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


def hrformer(channels, heads, window=7, mlp=4, blocks=2, modules=(1, 4, 2), stem_blocks=2,
             multiscale=False, **extra):
    """MMPose's HRFormer layout: stage 1 Bottlenecks, stages 2-4 HRFormer blocks."""
    def stage(n):
        return dict(num_modules=modules[n - 2], num_branches=n, block='HRFORMERBLOCK',
                    num_blocks=(blocks,) * n, num_channels=channels[:n], num_heads=heads[:n],
                    mlp_ratios=(mlp,) * n, window_sizes=(window,) * n)
    extra.setdefault('drop_path_rate', 0.0)
    return dict(type='HRFormer', extra=dict(
        stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK', num_blocks=(stem_blocks,),
                    num_channels=(64,)),
        stage2=stage(2), stage3=stage(3), stage4=dict(stage(4), multiscale_output=multiscale),
        **extra))


# 64x64 inputs give 16x16 at branch 0: windows of 3 pad every branch, masked
TINY_HRFORMER = hrformer((4, 8, 16, 32), (1, 1, 2, 2), window=3, mlp=2, blocks=1, modules=(1, 1, 1),
                         stem_blocks=1, multiscale=True, with_pad_mask=True)


def tiny_litehrnet(module_type, with_head):
    return dict(type='LiteHRNet', extra=dict(
        stem=dict(stem_channels=8, out_channels=8, expand_ratio=1), num_stages=2,
        stages_spec=dict(num_modules=(1, 1), num_branches=(2, 3), num_blocks=(1, 1),
                         module_type=(module_type,) * 2, with_fuse=(True, True),
                         reduce_ratios=(2, 2), num_channels=((8, 16), (8, 16, 32))),
        with_head=with_head))


def litehrnet(num_modules):   # MMPose's Lite-HRNet-18 (2, 4, 2) and -30 (3, 8, 3)
    return dict(type='LiteHRNet', in_channels=3, extra=dict(
        stem=dict(stem_channels=32, out_channels=32, expand_ratio=1), num_stages=3,
        stages_spec=dict(num_modules=num_modules, num_branches=(2, 3, 4), num_blocks=(2, 2, 2),
                         module_type=('LITE',) * 3, with_fuse=(True,) * 3, reduce_ratios=(8, 8, 8),
                         num_channels=((40, 80), (40, 80, 160), (40, 80, 160, 320))),
        with_head=True))


def rtmpose(deepen, widen):
    return dict(type='mmdet.CSPNeXt', arch='P5', expand_ratio=0.5, deepen_factor=deepen,
                widen_factor=widen, out_indices=(4,), channel_attention=True,
                norm_cfg=dict(type='BN'), act_cfg=dict(type='SiLU'))


VIT_TINY = dict(embed_dims=16, num_layers=2, num_heads=2, feedforward_channels=32)
VITPOSE = dict(img_size=(256, 192), patch_size=16, qkv_bias=True, with_cls_token=False,
               out_type='featmap', patch_cfg=dict(padding=2))


# One small config per registered backbone: a new backbone must add one.
SMALL = {
    'HRFormer': (TINY_HRFORMER, [(4, 16, 16), (8, 8, 8), (16, 4, 4), (32, 2, 2)]),
    'ResNet': (dict(type='ResNet', depth=18, base_channels=8, stem_channels=8,
                    out_indices=(0, 1, 2, 3)),
               [(8, 16, 16), (16, 8, 8), (32, 4, 4), (64, 2, 2)]),
    'ResNetV1d': (dict(type='ResNetV1d', depth=50, base_channels=4, stem_channels=8,
                       out_indices=(1, 3)), [(32, 8, 8), (128, 2, 2)]),
    'SEResNet': (dict(type='SEResNet', depth=50, base_channels=4, stem_channels=8, se_ratio=4,
                      out_indices=(1, 3)), [(32, 8, 8), (128, 2, 2)]),
    'ResNeXt': (dict(type='ResNeXt', depth=50, base_channels=8, stem_channels=8, groups=4,
                     width_per_group=2, out_indices=(0, 3)), [(32, 16, 16), (256, 2, 2)]),
    # SCConv pools by 4: a last stage at stride 16 keeps its maps >= 4x4
    'SCNet': (dict(type='SCNet', depth=50, base_channels=8, stem_channels=8, strides=(1, 2, 2, 1),
                   out_indices=(0, 3)), [(32, 16, 16), (256, 4, 4)]),
    'ResNeSt': (dict(type='ResNeSt', depth=50, base_channels=4, stem_channels=8, groups=2,
                     width_per_group=2, out_indices=(1, 3)), [(32, 8, 8), (128, 2, 2)]),
    'HRNet': (dict(type='HRNet', extra=TINY_HRNET),
              [(4, 16, 16), (8, 8, 8), (16, 4, 4), (32, 2, 2)]),
    'LiteHRNet': (tiny_litehrnet('LITE', True), [(8, 16, 16)]),
    'MobileNetV2': (dict(type='MobileNetV2', widen_factor=0.25, out_indices=(0, 2, 7)),
                    [(8, 32, 32), (8, 8, 8), (1280, 2, 2)]),
    'CSPNeXt': (dict(type='CSPNeXt', deepen_factor=0.167, widen_factor=0.125,
                     out_indices=(0, 1, 2, 3, 4)),
                [(8, 32, 32), (16, 16, 16), (32, 8, 8), (64, 4, 4), (128, 2, 2)]),
    'CSPDarknet': (dict(type='CSPDarknet', deepen_factor=0.33, widen_factor=0.125,
                        out_indices=(0, 1, 2, 3, 4)),
                   [(8, 32, 32), (16, 16, 16), (32, 8, 8), (64, 4, 4), (128, 2, 2)]),
    'SwinTransformer': (dict(type='SwinTransformer', embed_dims=8, depths=(2, 2, 2, 2),
                             num_heads=(1, 1, 2, 2), window_size=3),
                        [(8, 16, 16), (16, 8, 8), (32, 4, 4), (64, 2, 2)]),
    'ShuffleNetV2': (dict(type='ShuffleNetV2', widen_factor=0.5, out_indices=(0, 1, 2, 3)),
                     [(48, 8, 8), (96, 4, 4), (192, 2, 2), (1024, 2, 2)]),
    'ShuffleNetV1': (dict(type='ShuffleNetV1', groups=2, widen_factor=0.25, out_indices=(0, 1, 2)),
                     [(48, 8, 8), (104, 4, 4), (200, 2, 2)]),
    'VGG': (dict(type='VGG', depth=11, num_stages=3, dilations=(1, 1, 1), norm_cfg=dict(type='BN'),
                 out_indices=(0, 1, 2)), [(64, 32, 32), (128, 16, 16), (256, 8, 8)]),
    'AlexNet': (dict(type='AlexNet'), [(256, 1, 1)]),
    'ViPNAS_MobileNetV3': (dict(type='ViPNAS_MobileNetV3', wid=(8, 8, 16, 16), expan=(None, 1, 2, 3),
                                  dep=(None, 1, 2, 1), ks=(3, 3, 5, 3), group=(None, 8, 4, 48),
                                  att=(None, True, False, True), stride=(2, 1, 2, 2),
                                  act=('HSwish', 'ReLU', 'ReLU', 'HSwish')),
                           [(16, 8, 8)]),
    'ViPNAS_ResNet': (dict(type='ViPNAS_ResNet', depth=50, wid=(8, 8, 16, 16, 32),
                           expan=(None, 2, 1, 2, 1), dep=(None, 1, 2, 1, 1), ks=(5, 3, 5, 3, 5),
                           group=(None, 4, 4, 8, 4), att=(None, True, False, True, False),
                           out_indices=(0, 1, 2, 3)),
                      [(16, 16, 16), (16, 8, 8), (32, 4, 4), (32, 2, 2)]),
    # stage_channels[0] != 256 runs only in posekit (MMPose's stem is fixed at 256)
    'HourglassNet': (dict(type='HourglassNet', downsample_times=2, num_stacks=2,
                          stage_channels=(8, 8, 16), stage_blocks=(1, 1, 2), feat_channel=8),
                     [(8, 16, 16), (8, 16, 16)]),
    'CPM': (dict(type='CPM', in_channels=3, out_channels=4, feat_channels=8, middle_channels=4,
                 num_stages=2), [(4, 4, 4), (4, 4, 4)]),
    'PyramidVisionTransformer': (dict(type='PyramidVisionTransformer', embed_dims=4,
                                      num_layers=(1, 1, 1, 1), num_heads=(1, 2, 2, 4)),
                                 [(4, 16, 16), (8, 8, 8), (8, 4, 4), (16, 2, 2)]),
    'PyramidVisionTransformerV2': (dict(type='PyramidVisionTransformerV2', embed_dims=4,
                                        num_layers=(1, 1, 1, 1), num_heads=(1, 2, 2, 4)),
                                   [(4, 16, 16), (8, 8, 8), (8, 4, 4), (16, 2, 2)]),
    # MSPN/RSN: a list per stage of unit maps, coarsest first (flattened, see NESTED)
    'MSPN': (dict(type='MSPN', unit_channels=8, num_stages=2, num_units=2, num_blocks=[1, 1]),
             [(8, 8, 8), (8, 16, 16)] * 2),
    'RSN': (dict(type='RSN', unit_channels=8, num_stages=2, num_units=2, num_blocks=[1, 2],
                 num_steps=2, expand_times=4), [(8, 8, 8), (8, 16, 16)] * 2),
    # ViTPose's backbone: patch tokens of each out index as a (16, 4, 4) map
    'VisionTransformer': (dict(type='mmpretrain.VisionTransformer', arch=VIT_TINY, img_size=64,
                               with_cls_token=False, out_type='featmap',
                               patch_cfg=dict(padding=2), out_indices=(0, 1)),
                          [(16, 4, 4), (16, 4, 4)]),
    # (N, K * 2, T) keypoint sequences: see INPUT_SHAPES
    'TCN': (dict(type='TCN', in_channels=6, stem_channels=8, kernel_sizes=(3, 3, 3)),
            [(8, 19), (8, 1)]),
    # (N, T, K, C) keypoint clips -> (N, T, K, feat_size), one tensor
    'DSTFormer': (dict(type='DSTFormer', in_channels=3, feat_size=16, depth=2, num_heads=2,
                       num_keypoints=5, seq_len=8), [(4, 5, 16)]),
}
# backbones that do not read (2, 3, 64, 64) images
INPUT_SHAPES = {'TCN': (2, 6, 27), 'DSTFormer': (2, 4, 5, 3)}
INPUT_SHAPES['CPM'] = (2, 3, 32, 32)   # its fixed 128-512 channel 9x9 convs are slow
# backbones that return one tensor, not a tuple (as in MMPose)
RETURNS_TENSOR = {'DSTFormer'}
# backbones that return a list (stages) of lists (units), as in MMPose
NESTED = {'MSPN', 'RSN'}


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
    if name in NESTED:
        out = tuple(f for stage in out for f in stage)
    assert isinstance(out, tuple)
    assert [tuple(o.shape[1:]) for o in out] == shapes
    assert all(o.shape[0] == 2 and torch.isfinite(o).all() for o in out)
    sum(o.mean() for o in out).backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def flat_outputs(name, out):
    if name in RETURNS_TENSOR:
        out = (out, )
    if name in NESTED:
        out = tuple(f for stage in out for f in stage)
    return out


@pytest.mark.parametrize('name', sorted(SMALL))
def test_batchnorm_folding_keeps_the_outputs(name):
    """Folding every BatchNorm into its convolution changes no output beyond
    float32 rounding (BatchNorms given real statistics first)."""
    cfg, _ = SMALL[name]
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(cfg))
    model.init_weights()
    x = torch.randn(INPUT_SHAPES.get(name, (2, 3, 64, 64)))
    for m in model.modules():   # running statistics of real batches
        if isinstance(m, _BatchNorm):
            m.momentum = None
    model.train()
    with torch.no_grad():
        model(x * 2 + 0.5)
    model.eval()
    with torch.no_grad():
        want = flat_outputs(name, model(x))
    num_bn = sum(isinstance(m, _BatchNorm) for m in model.modules())
    folded = fold_batchnorm(model, lambda: model(x[:1]))
    assert sum(isinstance(m, _BatchNorm) for m in model.modules()) == num_bn - folded
    if name in ('ResNet', 'HRNet', 'CSPNeXt', 'MobileNetV2'):  # conv-BN nets: all fold
        assert folded == num_bn > 0
    with torch.no_grad():
        got = flat_outputs(name, model(x))
    for a, b in zip(got, want):
        # float32 re-association of the folded products: relative to the scale
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4 * float(b.abs().max()))


def key_fingerprint(model):
    text = '\n'.join(f'{k}:{tuple(v.shape)}' for k, v in model.state_dict().items())
    return hashlib.sha1(text.encode()).hexdigest()[:16]


# name: (config, number of state_dict keys, parameters, sha1 of "key:shape"
# lines in order, a few keys and shapes) -- all read from MMPose's models.
REFERENCE = {
    'td-hm_hrformer-small': (hrformer((32, 64, 128, 256), (1, 2, 4, 8), drop_path_rate=0.1), 1898,
                             7746218, 'd3db9647f2ad48e1',
                             {'stage4.1.branches.3.1.attn.attn.relative_position_bias_table': (169, 8),
                              'stage3.2.fuse_layers.2.0.1.2.weight': (128, 32, 1, 1),
                              'stage2.0.branches.1.0.ffn.dw3x3.weight': (256, 1, 3, 3),
                              'stage4.1.fuse_layers.0.3.0.weight': (32, 256, 1, 1)}),
    'hrformer-small-norpe': (hrformer((32, 64, 128, 256), (1, 2, 4, 8), with_rpe=False), 1810,
                             7725600, 'e260c52f0d1709f6', {}),
    'td-hm_res50': (dict(type='ResNet', depth=50), 318, 23508032, 'e2a250518221a0a3',
                    {'conv1.weight': (64, 3, 7, 7), 'layer1.0.downsample.0.weight': (256, 64, 1, 1),
                     'layer3.5.conv2.weight': (256, 256, 3, 3), 'layer4.2.bn3.bias': (2048,)}),
    'td-hm_litehrnet-18': (litehrnet((2, 4, 2)), 1416, 1130072, '58e300965c8f9d29',
                           {'stem.branch1.1.conv.weight': (16, 16, 1, 1),
                            'transition0.0.2.weight': (40, 32, 1, 1),
                            'stage1.0.layers.1.cross_resolution_weighting.conv1.conv.weight':
                                (17, 140, 1, 1),
                            'stage2.1.fuse_layers.3.0.2.3.weight': (320,),
                            'head_layer.projects.0.pointwise_conv.conv.weight': (160, 320, 1, 1)}),
    'td-hm_litehrnet-30': (litehrnet((3, 8, 3)), 2358, 1763020, '009ebff9708ffc89',
                           {'stage0.0.layers.0.spatial_weighting.1.conv1.conv.bias': (10,),
                            'transition2.3.0.0.weight': (160, 1, 3, 3)}),
    'litehrnet-tiny-naive': (tiny_litehrnet('NAIVE', False), 234, 5836, '5282423d252a0595', {}),
    'litehrnet-tiny-lite': (tiny_litehrnet('LITE', True), 254, 7534, '0ba09cd1b21e5528', {}),
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
    'td-hm_seresnet50': (dict(type='SEResNet', depth=50), 382, 26039024, '5311d9354cd8c0c5',
                         {'layer4.2.se_layer.conv1.conv.bias': (128,),
                          'layer1.0.se_layer.conv2.conv.weight': (256, 16, 1, 1)}),
    'td-hm_resnext101': (dict(type='ResNeXt', depth=101), 624, 42128704, '9f9fb3f2037fcb99',
                         {'layer1.0.conv2.weight': (128, 4, 3, 3),
                          'layer4.2.conv1.weight': (1024, 2048, 1, 1)}),
    'td-hm_scnet50': (dict(type='SCNet', depth=50), 702, 23515584, 'b03bf4d1bf3085ff',
                      {'layer1.0.k1.0.weight': (32, 32, 3, 3),
                       'layer3.0.scconv.k3.1.running_mean': (128,),
                       'layer2.0.conv3.weight': (512, 128, 1, 1)}),
    'td-hm_resnest50': (dict(type='ResNeSt', depth=50), 474, 25434240, '8d512406e0f1ba52',
                        {'layer1.0.conv2.conv.weight': (128, 32, 3, 3),
                         'layer1.0.conv2.fc1.weight': (32, 64, 1, 1),
                         'layer4.0.conv2.bn0.weight': (1024,)}),
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
    'td-hm_swin-t': (dict(type='SwinTransformer', embed_dims=96, depths=[2, 2, 6, 2],
                          num_heads=[3, 6, 12, 24], drop_path_rate=0.2, out_indices=(3,),
                          convert_weights=True), 183, 27519354, 'b80285226efd17e3',
                     {'stages.2.blocks.5.attn.w_msa.relative_position_index': (49, 49),
                      'stages.2.downsample.reduction.weight': (768, 1536),
                      'stages.3.blocks.1.ffn.layers.0.0.weight': (3072, 768), 'norm3.weight': (768,)}),
    'td-hm_swin-b-384': (dict(type='SwinTransformer', embed_dims=128, depths=[2, 2, 18, 2],
                              num_heads=[4, 8, 16, 32], window_size=12, out_indices=(3,)), 351,
                         86878584, '5814973cb96c2e25',
                         {'stages.0.blocks.0.attn.w_msa.relative_position_bias_table': (529, 4)}),
    'swin-abs-pos': (dict(type='SwinTransformer', embed_dims=16, depths=(1, 1), num_heads=(1, 2),
                          strides=(4, 2), pretrain_img_size=64, use_abs_pos_embed=True,
                          patch_norm=False, out_indices=(0, 1)), 36, 23515, '58f4bdf48d57ef45', {}),
    'td-hm_shufflenetv2': (dict(type='ShuffleNetV2', widen_factor=1.0), 336, 1253604,
                           '197b5151d1d9b1fc', {'layers.1.3.branch2.2.conv.weight': (116, 116, 1, 1),
                                                'layers.3.bn.running_var': (1024,)}),
    'shufflenetv2-w2.0': (dict(type='ShuffleNetV2', widen_factor=2.0, out_indices=(0, 1, 2, 3)),
                          336, 5344996, 'a5de2052df60928c', {}),
    'td-hm_shufflenetv1': (dict(type='ShuffleNetV1', groups=3), 294, 904728, '2717cb5624900a16',
                           {'layers.2.3.g_conv_1x1_expand.bn.running_var': (960,)}),
    'shufflenetv1-g1-w0.5': (dict(type='ShuffleNetV1', groups=1, widen_factor=0.5,
                                  out_indices=(0, 1, 2)), 294, 245484, 'c8d0bcadc0fc57d0',
                             {'conv1.conv.weight': (12, 3, 3, 3)}),
    'td-hm_vgg16-bn': (dict(type='VGG', depth=16, norm_cfg=dict(type='BN')), 91, 14723136,
                       'b2218e7b454d9741', {'features.16.bn.running_var': (512,)}),
    'vgg11-cls': (dict(type='VGG', depth=11, num_classes=10), 22, 128807306, '9eb4f9fa4b63115c',
                  {'features.8.conv.bias': (512,), 'classifier.6.weight': (10, 4096)}),
    'td-hm_alexnet': (dict(type='AlexNet', num_classes=-1), 10, 2469696, 'c4d7971d0530994c',
                      {'features.10.weight': (256, 256, 3, 3)}),
    'alexnet-cls': (dict(type='AlexNet', num_classes=10), 16, 57044810, 'bbd9986fc7f4065a', {}),
    'td-hm_vipnas-mbv3': (dict(type='ViPNAS_MobileNetV3'), 446, 5884348, '048a7233823c0802',
                          {'layer11.linear_conv.bn.running_mean': (80,),
                           'layer21.linear_conv.bn.running_var': (160,)}),
    'td-hm_vipnas-res50': (dict(type='ViPNAS_ResNet', depth=50), 502, 7154419, '2de109e57795277e',
                           {'conv1.weight': (48, 3, 7, 7), 'layer3.0.conv2.weight': (304, 19, 5, 5),
                            'layer1.0.attention.conv_mask.weight': (1, 80, 1, 1),
                            'layer4.2.attention.channel_add_conv.1.weight': (38, 1, 1)}),
    'td-hm_hourglass52': (dict(type='HourglassNet', num_stacks=1), 492, 94843520, '2aff8df0068d90a6',
                          {'stem.1.0.downsample.0.weight': (256, 128, 1, 1), 'inters.0.conv1.weight':
                           (256, 256, 3, 3), 'hourglass_modules.0.low2.low2.low2.low2.low3.1.downsample'
                           '.1.running_mean': (384,)}),
    'hourglass104': (dict(type='HourglassNet'), 960, 187700352, 'ce5ad0b637027c2f',
                     {'hourglass_modules.1.low2.low2.low2.low2.low1.0.conv2.weight': (512, 512, 3, 3),
                      'remap_convs.0.conv.weight': (256, 256, 1, 1)}),
    'td-hm_cpm': (dict(type='CPM', in_channels=3, out_channels=17, feat_channels=128, num_stages=6),
                  216, 31304166, '3339de69de944baf',
                  {'stem.9.conv.bias': (17,), 'cpm_stages.2.model.2.bn.running_var': (128,),
                   'middle_conv.2.0.conv.weight': (32, 128, 5, 5)}),
    'td-hm_pvt-s': (dict(type='PyramidVisionTransformer', num_layers=[3, 4, 6, 3]), 264, 23970816,
                    '29ecfa164b2910cf',
                    {'layers.0.1.0.pos_embed': (1, 3136, 64), 'layers.3.1.0.pos_embed': (1, 49, 512),
                     'layers.2.1.3.attn.attn.in_proj_weight': (960, 320),
                     'layers.0.1.1.attn.sr.weight': (64, 64, 8, 8),
                     'layers.3.1.1.ffn.layers.3.weight': (512, 2048, 1, 1)}),
    'td-hm_mspn50': (dict(type='MSPN', unit_channels=256, num_stages=1, num_units=4,
                          num_blocks=[3, 4, 6, 3]), 360, 24691264, '751c98175dcd9633',
                     {'top.top.0.conv.weight': (64, 3, 7, 7),
                      'multi_stage_mspn.0.downsample.layer2.2.conv3.weight': (512, 128, 1, 1),
                      'multi_stage_mspn.0.downsample.layer3.1.conv3.weight': (1024, 256, 1, 1)}),
    'td-hm_rsn18': (dict(type='RSN', unit_channels=256, num_stages=1, num_units=4,
                         num_blocks=[2, 2, 2, 2], num_steps=4), 642, 8723936, '7b1e2e9c71938357',
                    {'multi_stage_rsn.0.downsample.layer2.0.conv_bn_relu2_4_3.bn.running_var': (26,),
                     'multi_stage_rsn.0.downsample.layer3.0.conv_bn_relu2_2_1.bn.running_mean': (52,),
                     'multi_stage_rsn.0.upsample.up4.up_conv.conv.weight': (256, 256, 1, 1)}),
    'td-hm_pvtv2-b2': (dict(type='PyramidVisionTransformerV2', embed_dims=64, num_layers=[3, 4, 6, 3]),
                       300, 24849856, '61fd5bd70dc8814f',
                       {'layers.1.1.0.ffn.layers.1.weight': (1024, 1, 3, 3), 'layers.3.2.weight': (512,),
                        'layers.3.1.2.ffn.layers.4.weight': (512, 2048, 1, 1),
                        'layers.0.0.projection.weight': (64, 3, 7, 7)}),
    # mmpretrain 1.2.0's VisionTransformer (the type MMPose's ViTPose configs name)
    'td-hm_ViTPose-small': (dict(type='mmpretrain.VisionTransformer', arch=dict(
        embed_dims=384, num_layers=12, num_heads=12, feedforward_channels=1536),
        drop_path_rate=0.1, **VITPOSE), 149, 21663360, '1086c1331a7eddbe',
        {'pos_embed': (1, 192, 384), 'patch_embed.projection.weight': (384, 3, 16, 16),
         'layers.0.attn.qkv.weight': (1152, 384), 'ln1.bias': (384,)}),
    'td-hm_ViTPose-huge': (dict(type='mmpretrain.VisionTransformer', arch='huge',
                                drop_path_rate=0.55, **VITPOSE), 389, 630910720,
                           '538c346cd556505d', {'layers.0.attn.qkv.weight': (3840, 1280)}),
    'vit-cls-avg-prenorm': (dict(type='VisionTransformer', arch='deit-tiny', img_size=32,
                                 out_type='avg_featmap', layer_scale_init_value=0.1,
                                 pre_norm=True, out_indices=(0, -1)), 177, 5492736,
                            'eeaec6efd5a61350', {'cls_token': (1, 1, 192), 'pos_embed': (1, 5, 192),
                                                 'ln2.bias': (192,)}),
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
    'hrformer': TINY_HRFORMER,
    'hrformer-norpe': hrformer((4, 8, 16, 16), (2, 2, 2, 4), window=5, mlp=1, blocks=2, modules=(1, 2, 1),
                               stem_blocks=1, with_rpe=False),
    'resnet18': dict(type='ResNet', depth=18, base_channels=8, stem_channels=8, out_indices=(0, 1, 2, 3)),
    'resnet50-caffe': dict(type='ResNet', depth=50, base_channels=4, stem_channels=8, style='caffe'),
    'resnetv1d50': dict(type='ResNetV1d', depth=50, base_channels=4, stem_channels=8),
    'seresnet50': dict(type='SEResNet', depth=50, base_channels=4, stem_channels=8, se_ratio=4),
    'resnext50': dict(type='ResNeXt', depth=50, base_channels=8, stem_channels=8, groups=4,
                      width_per_group=2, out_indices=(0, 3)),
    'resnext50-caffe': dict(type='ResNeXt', depth=50, base_channels=8, stem_channels=8, groups=2,
                            width_per_group=8, style='caffe', avg_down=True, deep_stem=True),
    'scnet50': dict(type='SCNet', depth=50, base_channels=8, stem_channels=8, strides=(1, 2, 2, 1),
                    out_indices=(0, 3)),
    'resnest50-g2': dict(type='ResNeSt', depth=50, base_channels=4, stem_channels=8, groups=2,
                         width_per_group=2),
    'resnest50-caffe-r1': dict(type='ResNeSt', depth=50, base_channels=4, stem_channels=8, radix=1,
                               style='caffe', out_indices=(1, 3)),
    'resnest50-noavd-r4': dict(type='ResNeSt', depth=50, base_channels=4, stem_channels=8, radix=4,
                               avg_down_stride=False, reduction_factor=2),
    'hrnet': dict(type='HRNet', extra=TINY_HRNET),
    'litehrnet': tiny_litehrnet('LITE', True),
    'litehrnet-naive': tiny_litehrnet('NAIVE', False),
    'mobilenetv2': dict(type='MobileNetV2', widen_factor=0.25, out_indices=(2, 7)),
    'cspnext': dict(type='mmdet.CSPNeXt', deepen_factor=0.167, widen_factor=0.125),
    'cspnext-p6-dw': dict(type='mmdet.CSPNeXt', arch='P6', deepen_factor=0.167, widen_factor=0.125,
                          use_depthwise=True, out_indices=(5,)),
    'cspdarknet': dict(type='CSPDarknet', deepen_factor=0.33, widen_factor=0.125,
                       out_indices=(1, 2, 3, 4)),
    'cspdarknet-p6-dw': dict(type='CSPDarknet', arch='P6', deepen_factor=0.33, widen_factor=0.125,
                             use_depthwise=True, out_indices=(5,), spp_kernal_sizes=(3, 5)),
    'swin': dict(type='SwinTransformer', embed_dims=8, depths=(2, 2, 2, 2), num_heads=(1, 1, 2, 2),
                 window_size=3),
    'swin-abs-qkscale': dict(type='SwinTransformer', embed_dims=8, depths=(1, 3), num_heads=(2, 2),
                             strides=(4, 2), window_size=5, pretrain_img_size=64,
                             use_abs_pos_embed=True, qk_scale=0.3, qkv_bias=False, mlp_ratio=2,
                             out_indices=(1,)),
    'shufflenetv2': dict(type='ShuffleNetV2', widen_factor=0.5, out_indices=(0, 3)),
    'shufflenetv1': dict(type='ShuffleNetV1', groups=2, widen_factor=0.25, out_indices=(0, 2)),
    'vgg11-bn': dict(type='VGG', depth=11, norm_cfg=dict(type='BN'), num_stages=4,
                     dilations=(1, 1, 2, 1), out_indices=(1, 3), with_last_pool=False),
    'alexnet': dict(type='AlexNet'),
    'vipnas-mbv3': dict(type='ViPNAS_MobileNetV3', wid=(8, 8, 16, 16), expan=(None, 1, 2, 3),
                    dep=(None, 1, 2, 1), ks=(3, 3, 5, 3), group=(None, 8, 4, 48),
                    att=(None, True, False, True), stride=(2, 1, 2, 2),
                    act=('HSwish', 'ReLU', 'ReLU', 'HSwish')),
    'hourglass': dict(type='HourglassNet', downsample_times=2, num_stacks=2,
                      stage_channels=(256, 16, 16), stage_blocks=(1, 1, 1), feat_channel=8),
    'cpm': dict(type='CPM', in_channels=3, out_channels=4, feat_channels=8, middle_channels=4,
                num_stages=2),
    'pvt': dict(type='PyramidVisionTransformer', embed_dims=4, num_layers=(1, 2, 1, 1),
                num_heads=(1, 2, 2, 4), pretrain_img_size=32, qkv_bias=False, out_indices=(0, 3)),
    'pvtv2': dict(type='PyramidVisionTransformerV2', embed_dims=4, num_layers=(1, 1, 2, 1),
                  num_heads=(1, 2, 2, 4), mlp_ratios=(2, 2, 2, 2), sr_ratios=(4, 2, 2, 1),
                  out_indices=(1, 2, 3)),
    'vit-featmap': dict(type='VisionTransformer', arch=VIT_TINY, img_size=64, patch_size=16,
                        with_cls_token=False, out_type='featmap', patch_cfg=dict(padding=2),
                        out_indices=(0, 1)),
    # pos_embed made for 4x4 patches, bicubic-resized to the input's 8x8
    'vit-cls-avg-interp': dict(type='VisionTransformer', arch=VIT_TINY, img_size=32, patch_size=8,
                               qkv_bias=False, out_type='avg_featmap', layer_scale_init_value=0.5,
                               pre_norm=True),
    'vit-raw-noln': dict(type='VisionTransformer', arch=VIT_TINY, img_size=48, patch_size=16,
                         out_type='raw', final_norm=False, interpolate_mode='bilinear'),
}
GOLDEN_INDICES = (0, 7, 101, 555)
# MMPose's outputs for fill_deterministic weights and golden_input(), eval mode:
# per output (shape, mean, std, values at GOLDEN_INDICES of the flat tensor).
GOLDEN = {
    'hrformer': [((1, 4, 16, 16), 6.3284352, 14.6093725, (0.0, 0.0, 0.0, 57.2486191)), ((1, 8, 8, 8), 35.8996682, 33.3272687, (14.387146, 15.249692, 47.4114151, 0.0)), ((1, 16, 4, 4), 85.4908543, 138.1818246, (13.8358774, 266.1557007, 0.0, 0.0)), ((1, 32, 2, 2), 23.9065565, 29.403174, (1.2451782, 73.5616302, 71.8517914, 0.0))],  # noqa: E501
    'hrformer-norpe': [((1, 4, 16, 16), 113.2610451, 93.5850571, (162.7235413, 192.9078369, 202.475296, 220.5411224))],  # noqa: E501
    'resnet18': [((1, 8, 16, 16), 0.365608, 0.3446475, (0.5810215, 0.8393577, 0.2324578, 0.7264543)), ((1, 16, 8, 8), 5.0992038, 6.7998879, (3.8344364, 8.2206583, 0.0, 0.0)), ((1, 32, 4, 4), 89.5345405, 133.9135769, (0.0, 185.5430298, 337.8242493, 0.0274319)), ((1, 64, 2, 2), 139.1195966, 257.2621384, (0.0, 9.413887, 0.0, 0.0))],  # noqa: E501
    'resnet50-caffe': [((1, 128, 2, 2), 30472.9683831, 43126.1935503, (0.0, 19912.8066406, 0.0, 53665.859375))],  # noqa: E501
    'resnetv1d50': [((1, 128, 2, 2), 640426.6860771, 819562.4382576, (0.0, 1283456.75, 0.0, 2840739.5))],  # noqa: E501
    'seresnet50': [((1, 128, 2, 2), 2146.7912914, 3342.4435991, (7234.9169922, 0.0, 3414.8701172, 0.0))],  # noqa: E501
    'resnext50': [((1, 32, 16, 16), 1.5653708, 2.1341531, (0.0, 0.0, 0.0, 0.0)), ((1, 256, 2, 2), 5933333.570693, 7850964.2211546, (3003583.75, 0.0, 15511480.0, 37738732.0))],  # noqa: E501
    'resnext50-caffe': [((1, 256, 2, 2), 230154646.5149536, 314444231.3139008, (35003916.0, 0.0, 422731072.0, 542276800.0))],  # noqa: E501
    'scnet50': [((1, 32, 16, 16), 1.8729004, 2.0181917, (5.8284411, 8.486721, 5.5312171, 5.90868)), ((1, 256, 4, 4), 6794117532.926025, 8473773322.993615, (13076136960.0, 13422177280.0, 0.0, 23416432640.0))],  # noqa: E501
    'resnest50-g2': [((1, 128, 2, 2), 14906801.8281555, 17345169.7287557, (0.0, 24291062.0, 0.0, 22899982.0))],  # noqa: E501
    'resnest50-caffe-r1': [((1, 32, 8, 8), 23.6052754, 20.6462809, (12.1353569, 5.3958902, 0.0, 43.5906219)), ((1, 128, 2, 2), 6136.279419, 6933.3354371, (0.0, 13036.9199219, 0.0, 12177.4375))],  # noqa: E501
    'resnest50-noavd-r4': [((1, 128, 2, 2), 41055.6022307, 60682.5038211, (0.0, 0.0, 0.0, 0.0))],  # noqa: E501
    'litehrnet': [((1, 8, 16, 16), 384.2966794, 651.9222695, (28.3185978, 1257.8674316, 0.0, 0.0))],
    'litehrnet-naive': [((1, 8, 16, 16), 277.7202138, 241.9219804, (33.2122307, 45.326004, 108.9087296, 179.0075378))],  # noqa: E501
    'hrnet': [((1, 4, 16, 16), 30.789689, 151.1862817, (68.020752, 0.0, 0.0, 0.0)), ((1, 8, 8, 8), 557.5739439, 836.7962086, (0.0, 0.0, 134.8134003, 0.0)), ((1, 16, 4, 4), 1705.9922904, 2085.600417, (1699.9445801, 2858.0615234, 0.0, 2818.4528809)), ((1, 32, 2, 2), 6443.5594629, 8912.58222, (0.0, 0.0, 0.0, 32979.2578125))],  # noqa: E501
    'mobilenetv2': [((1, 8, 8, 8), -2.596616, 8.1192563, (-1.2840548, 2.0063207, -12.883707, -8.6392651)), ((1, 1280, 2, 2), 1.0362171, 1.4105205, (0.0, 0.7271898, 5.5725689, 0.524528))],  # noqa: E501
    'cspnext': [((1, 32, 8, 8), 0.016013, 0.1029774, (0.0479786, 0.0479566, 0.0401336, 0.250601)), ((1, 64, 4, 4), 0.0293431, 0.1641231, (0.0455749, 0.0452925, -0.1713568, 0.124918)), ((1, 128, 2, 2), 0.0425269, 0.2064146, (0.119478, -0.1538406, -0.1272606, -0.0316991))],  # noqa: E501
    'cspnext-p6-dw': [((1, 128, 1, 1), 28.3581981, 37.8401084, (-0.0, -1.28e-05, 57.0064545, -0.0))],
    'cspdarknet': [((1, 16, 16, 16), -0.012277, 0.1505641, (0.2086322, 0.154587, -0.0953989, -0.1905957)), ((1, 32, 8, 8), 0.0277711, 0.1912753, (0.0283669, 0.0305737, -0.0612567, 0.422026)), ((1, 64, 4, 4), 0.0291199, 0.1763277, (0.4655652, 0.491697, -0.1370464, 0.5031053)), ((1, 128, 2, 2), 0.1203104, 0.3894401, (0.147578, -0.106329, -0.0959266, 0.8369866))],  # noqa: E501
    'cspdarknet-p6-dw': [((1, 128, 1, 1), 20112.575379, 26761.1328434, (1335.8823242, -0.0, 35925.78125, 55173.359375))],  # noqa: E501
    'swin': [((1, 8, 16, 16), 0.0606219, 1.0653152, (0.5377594, 0.2996724, 1.0622221, 0.0106578)), ((1, 16, 8, 8), 0.0261759, 1.0512803, (-1.2170949, 0.9277769, 1.5341094, -0.9634907)), ((1, 32, 4, 4), 0.0023768, 1.0136719, (-1.1357234, -1.382905, 0.9630908, 0.8831679)), ((1, 64, 2, 2), 0.0086422, 1.0261955, (-0.3382801, 1.0439339, 1.9674497, 1.4051822))],  # noqa: E501
    'swin-abs-qkscale': [((1, 16, 8, 8), 0.0094398, 1.0456567, (0.1550751, 0.9885613, 0.7501157, 1.4131531))],  # noqa: E501
    'shufflenetv2': [((1, 48, 8, 8), 106.9121752, 168.4171945, (0.0, 0.0, 252.819931, 24.620121)), ((1, 1024, 2, 2), 31.6820591, 45.5378086, (6.4617686, 0.0, 81.3108749, 0.0))],  # noqa: E501
    'shufflenetv1': [((1, 48, 8, 8), 579.2835929, 829.6000531, (0.0, 0.0, 833.2628784, 0.0)), ((1, 200, 2, 2), 720.2772558, 820.1116738, (747.9372559, 1131.7165527, 2002.4437256, 0.0))],  # noqa: E501
    'vgg11-bn': [((1, 128, 16, 16), 2.3735196, 2.353543, (1.7898319, 4.4576001, 6.305624, 0.7324712)), ((1, 512, 8, 8), 0.0790431, 0.1172603, (0.0, 0.0, 0.0560741, 0.4363944))],  # noqa: E501
    'alexnet': [((1, 256, 1, 1), 0.0339172, 0.0402263, (0.0451016, 0.0, 0.0695862, 0.0))],
    'vipnas-mbv3': [((1, 16, 8, 8), -0.8528144, 14.6510393, (-3.1619186, 0.5689177, -12.5330486, -13.4028683))],  # noqa: E501
    'hourglass': [((1, 8, 16, 16), 716.540019, 1130.1972231, (539.2802124, 1077.2214355, 3816.5102539, 0.0)), ((1, 8, 16, 16), 58103302.5717773, 90735090.87787, (0.0, 0.0, 0.0, 0.0))],  # noqa: E501
    'cpm': [((1, 4, 8, 8), 2.3883495, 1.8619604, (1.672766, 1.672169, 4.53897, 1.6722045)), ((1, 4, 8, 8), 0.2150641, 1.5477447, (-0.0447462, -0.2428499, -0.0511697, -0.4812999))],  # noqa: E501
    'pvt': [((1, 4, 16, 16), -0.0027082, 1.0218417, (-0.9244102, 0.5858401, 1.6718944, -0.6322575)), ((1, 16, 2, 2), -0.2456316, 10.865402, (11.3384533, -10.6351309, 1.6832819, -13.8731966))],  # noqa: E501
    'pvtv2': [((1, 8, 8, 8), 0.016129, 0.9502269, (1.8971616, 0.7221724, 0.8513727, -0.3425908)), ((1, 8, 4, 4), 0.0256178, 1.131841, (1.3682417, 1.855572, -0.6014717, 0.6023485)), ((1, 16, 2, 2), 0.0058706, 0.9933978, (-1.1195308, -0.1287393, -1.3507992, 0.2983828))],  # noqa: E501
    'vit-featmap': [((1, 16, 4, 4), 0.4340331, 13.8360678, (-0.441926, -11.337965, 22.8546505, -8.6276541)), ((1, 16, 4, 4), -0.0475023, 1.0064555, (1.5335227, -2.0202591, 1.224414, -1.8310978))],  # noqa: E501
    'vit-cls-avg-interp': [((1, 16), 0.0637723, 1.1043966, (1.026732, -0.8589802, -0.6121222, 0.575218))],  # noqa: E501
    'vit-raw-noln': [((1, 17, 16), -0.1875501, 15.2886108, (11.0623722, -11.8471661, 8.2470512, -20.8003159))],  # noqa: E501
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


@pytest.mark.parametrize('name', ['SEResNet', 'ResNeXt', 'SCNet', 'ResNeSt'])
def test_resnet_family_options(name):
    """with_cp gives the same gradients, zero_init_residual zeroes each new
    block's last norm, frozen_stages freezes the stem and stage 1."""
    torch.manual_seed(0)
    cfg = SMALL[name][0]
    plain = MODELS.build(cfg)
    plain.init_weights()
    assert all(torch.all(block.bn3.weight == 0) for block in plain.layer2)
    ckpt = MODELS.build(dict(cfg, with_cp=True))
    ckpt.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 64, 64, requires_grad=True)
    a, b = sum(o.sum() for o in plain(x)), sum(o.sum() for o in ckpt(x))
    torch.testing.assert_close(a, b)
    a.backward()
    b.backward()
    for (n, p), q in zip(plain.named_parameters(), ckpt.parameters()):
        torch.testing.assert_close(p.grad, q.grad, msg=n)
    frozen = MODELS.build(dict(cfg, frozen_stages=1)).train()
    assert grads(frozen.layer1) == {False} and bn_modes(frozen.layer1) == {False}
    assert grads(frozen.layer2) == {True}


def test_resnet_family_invalid_arguments():
    with pytest.raises(KeyError, match='depth 18'):
        MODELS.build(dict(type='SEResNet', depth=18))
    with pytest.raises(KeyError, match='depth 152'):
        MODELS.build(dict(type='SCNet', depth=152))
    with pytest.raises(ValueError, match='dilation must be 1'):
        MODELS.build(dict(SMALL['SCNet'][0], dilations=(1, 1, 2, 1)))
    from posekit.models.backbones.resnext import ResNeXtBottleneck
    with pytest.raises(ValueError, match='not a multiple of base_channels'):
        ResNeXtBottleneck(64, 96, base_channels=64)
    with pytest.raises(ValueError, match='radix'):
        MODELS.build(dict(SMALL['ResNeSt'][0], radix=0))
    with pytest.raises(ValueError, match='style'):
        MODELS.build(dict(SMALL['SCNet'][0], style='tf'))


def bn_modes(module):
    return {m.training for m in module.modules() if isinstance(m, _BatchNorm)}


def grads(module):
    return {p.requires_grad for p in module.parameters()}


@pytest.mark.parametrize('name', ['ResNet', 'CSPNeXt'])
def test_efficient_conv_bn_eval_keeps_outputs_and_gradients(name):
    """With frozen BatchNorms (norm_eval) each conv + BN runs as one conv
    with folded weights: outputs and gradients equal up to float32 rounding
    (relative 1e-5), the state_dict unchanged; BatchNorms in training mode
    run as before, bit for bit."""
    from posekit.models.utils.fuse import efficient_conv_bn_eval
    cfg, _ = SMALL[name]
    torch.manual_seed(0)
    plain = MODELS.build(dict(copy.deepcopy(cfg), norm_eval=True))
    for m in plain.modules():   # statistics that matter
        if isinstance(m, _BatchNorm):
            m.running_mean.normal_(0, 0.2)
            m.running_var.uniform_(0.5, 2.0)
    fused = copy.deepcopy(plain)
    pairs = efficient_conv_bn_eval(fused)
    assert pairs == sum(isinstance(m, _BatchNorm) for m in plain.modules()) > 0
    assert list(fused.state_dict()) == list(plain.state_dict())
    x = torch.randn(2, 3, 64, 64)
    for norm_eval, tolerance in ((True, 1e-5), (False, 0)):
        plain.norm_eval = fused.norm_eval = norm_eval
        plain.train(), fused.train()
        outputs = [flat_outputs(name, model(x)) for model in (plain, fused)]
        for want, got in zip(*outputs):
            assert (got - want).abs().max() <= tolerance * want.abs().max()
        for model, out in zip((plain, fused), outputs):
            model.zero_grad()
            sum(o.square().sum() for o in out).backward()
        for p, q in zip(plain.parameters(), fused.parameters()):
            assert (q.grad - p.grad).abs().max() <= 10 * tolerance * p.grad.abs().max() + 1e-12


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


def test_hrformer_frozen_stages_and_errors():
    model = MODELS.build(dict(TINY_HRFORMER, frozen_stages=2, norm_eval=True))
    model.train()
    for part in (model.conv1, model.layer1, model.transition1, model.stage2, model.transition2):
        assert grads(part) == {False}
    assert grads(model.stage3) == {True} and bn_modes(model) == {False}
    bad = copy.deepcopy(TINY_HRFORMER)
    bad['extra']['stage3']['block'] = 'BASIC'
    with pytest.raises(ValueError, match='stage3.block'):
        MODELS.build(bad)
    bad = copy.deepcopy(TINY_HRFORMER)
    bad['extra']['stage2']['num_heads'] = (1,)
    with pytest.raises(ValueError, match='num_heads'):
        MODELS.build(bad)


def test_hrnet_frozen_stages():
    model = MODELS.build(dict(SMALL['HRNet'][0], frozen_stages=2))
    model.train()
    for part in (model.conv1, model.conv2, model.layer1, model.transition1, model.stage2,
                 model.transition2):
        assert grads(part) == {False}
    assert bn_modes(model.stage2) == {False}
    assert grads(model.stage3) == {True} and bn_modes(model.stage3) == {True}


def test_litehrnet_with_cp_norm_eval_and_errors():
    for cfg in (tiny_litehrnet('LITE', True), tiny_litehrnet('NAIVE', False)):
        torch.manual_seed(0)
        plain, ckpt = MODELS.build(cfg), MODELS.build(dict(cfg, with_cp=True))
        ckpt.load_state_dict(plain.state_dict())
        x = torch.randn(1, 3, 64, 64, requires_grad=True)
        a, b = plain(x)[0].sum(), ckpt(x)[0].sum()
        torch.testing.assert_close(a, b)
        a.backward()
        b.backward()
        for (n, p), q in zip(plain.named_parameters(), ckpt.parameters()):
            torch.testing.assert_close(p.grad, q.grad, msg=n)
    model = MODELS.build(dict(tiny_litehrnet('LITE', True), norm_eval=True))
    assert bn_modes(model.train()) == {False}
    bad = tiny_litehrnet('LITE', True)
    bad['extra']['stages_spec']['module_type'] = ('LITE', 'FAST')
    with pytest.raises(ValueError, match='module_type'):
        MODELS.build(bad)
    bad = tiny_litehrnet('LITE', True)
    bad['extra']['upsample'] = dict(mode='bilinear')
    with pytest.raises(KeyError, match='upsample'):
        MODELS.build(bad)
    bad = tiny_litehrnet('NAIVE', True)
    bad['extra']['stages_spec']['num_channels'] = ((8, 16), (8, 16))
    with pytest.raises(ValueError, match='num_branches'):
        MODELS.build(bad)


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


@pytest.mark.parametrize('name', ['ResNet', 'HRNet', 'HRFormer', 'MobileNetV2'])
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


def test_pretrained_prefix_into_a_backbone(tmp_path, monkeypatch):
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
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    monkeypatch.setenv('POSEKIT_OFFLINE', '1')  # not cached: says where to put it
    with pytest.raises(DownloadError, match='POSEKIT_OFFLINE.*cspnext-s.pth'):
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


def test_hourglass_and_cpm_arguments():
    """Bad arguments name themselves; norm_cfg reaches every hourglass level
    (MMPose builds those with BN whatever norm_cfg says)."""
    small = SMALL['HourglassNet'][0]
    with pytest.raises(ValueError, match='num_stacks'):
        MODELS.build(dict(small, num_stacks=0))
    with pytest.raises(ValueError, match='stage_blocks'):
        MODELS.build(dict(small, stage_blocks=(1, 1)))
    with pytest.raises(ValueError, match='downsample_times=3'):
        MODELS.build(dict(small, downsample_times=3))
    gn = MODELS.build(dict(small, norm_cfg=dict(type='GN', num_groups=4)))
    assert not any(isinstance(m, _BatchNorm) for m in gn.modules())
    assert gn.hourglass_modules[0].low2.low3[0].gn1.num_groups == 4
    out = gn(torch.randn(1, 3, 72, 72))      # sizes that do not halve evenly also run
    assert [tuple(o.shape) for o in out] == [(1, 8, 18, 18)] * 2
    with pytest.raises(ValueError, match='in_channels=3'):
        MODELS.build(dict(SMALL['CPM'][0], in_channels=4))
    with pytest.raises(ValueError, match='num_stages'):
        MODELS.build(dict(SMALL['CPM'][0], num_stages=0))


def test_vit_pos_embed_loading_frozen_stages_and_errors():
    model = MODELS.build(copy.deepcopy(SMALL['VisionTransformer'][0]))   # 4x4 grid, no cls
    # a class-token row is dropped; a square grid of another size is resized
    weight = torch.randn(1, 17, 16)
    model.load_state_dict({'pos_embed': weight}, strict=False)
    assert torch.equal(model.pos_embed.data, weight[:, 1:])
    grid = torch.arange(16.).repeat(4, 1)[None]      # 2x2 grid, constant per channel
    model.load_state_dict({'pos_embed': grid}, strict=False)
    assert torch.allclose(model.pos_embed.data, torch.arange(16.).expand(1, 16, 16), atol=1e-5)

    model = MODELS.build(dict(SMALL['VisionTransformer'][0], frozen_stages=2))
    model.train()
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert set(frozen) == {n for n, _ in model.named_parameters()}   # all layers and ln1
    assert not model.layers[1].training and not model.patch_embed.training

    # mmcls 1.0 rc's flag in MMPose's humanart ViTPose-large/huge configs
    old = MODELS.build(dict(type='mmcls.VisionTransformer', arch=VIT_TINY, img_size=64,
                            with_cls_token=False, output_cls_token=False))
    assert old.out_type == 'featmap'
    cfg = SMALL['VisionTransformer'][0]
    for bad, match in [(dict(arch='tiny'), "arch 'tiny'"), (dict(arch=dict(embed_dims=8)), 'lacks'),
                       (dict(out_type='map'), 'out_type'), (dict(out_indices=(2,)), 'out_indices'),
                       (dict(out_type='cls_token'), 'with_cls_token'),
                       (dict(layer_cfgs=[{}] * 3), 'layer_cfgs'),
                       (dict(layer_cfgs=dict(ffn_type='swiglu_fused')), 'ffn_type')]:
        with pytest.raises((ValueError, NotImplementedError), match=match):
            MODELS.build(dict(copy.deepcopy(cfg), **bad))
    with pytest.raises(NotImplementedError, match='output_cls_token'):
        MODELS.build(dict(cfg, output_cls_token=True))


def test_vit_pretrained_pos_embed_is_resized(tmp_path):
    from posekit.models.backbones.vit import resize_pos_embed
    torch.manual_seed(0)
    cfg = SMALL['VisionTransformer'][0]      # 4x4 patch grid
    src = MODELS.build(dict(cfg, img_size=48))   # a 3x3 grid checkpoint
    state = {'backbone.' + k: v for k, v in src.state_dict().items()}
    torch.save({'state_dict': state}, tmp_path / 'ck.pth')
    model = MODELS.build(dict(cfg, init_cfg=dict(type='Pretrained', prefix='backbone.',
                                                 checkpoint=str(tmp_path / 'ck.pth'))))
    model.init_weights()
    assert torch.equal(model.pos_embed, resize_pos_embed(src.pos_embed, (3, 3), (4, 4),
                                                         num_extra_tokens=0))
    assert torch.equal(model.layers[1].ffn.layers[1].weight, src.layers[1].ffn.layers[1].weight)
