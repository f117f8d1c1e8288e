"""Layer builders and ConvModule: MMCV's names, arguments and init.

Key names and init values here were checked against mmcv 2.1 (seeded builds
of ConvModule / DepthwiseSeparableConvModule give bit-identical state_dicts).
"""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from posekit.models.utils import (ConvModule, DepthwiseSeparableConvModule,
                                  build_activation_layer, build_conv_layer,
                                  build_norm_layer, build_upsample_layer)


@pytest.mark.parametrize('cfg, cls, name', [
    (dict(type='BN'), nn.BatchNorm2d, 'bn'),
    (dict(type='BN1d'), nn.BatchNorm1d, 'bn'),
    (dict(type='BN2d'), nn.BatchNorm2d, 'bn'),
    (dict(type='BN3d'), nn.BatchNorm3d, 'bn'),
    (dict(type='SyncBN'), nn.SyncBatchNorm, 'bn'),
    (dict(type='GN', num_groups=2), nn.GroupNorm, 'gn'),
    (dict(type='LN'), nn.LayerNorm, 'ln'),
    (dict(type='IN'), nn.InstanceNorm2d, 'in'),
    (dict(type='IN1d'), nn.InstanceNorm1d, 'in'),
    (dict(type='mmcv.BN'), nn.BatchNorm2d, 'bn'),
    (dict(type=nn.BatchNorm2d), nn.BatchNorm2d, 'bn'),
])
def test_build_norm_layer_types_and_names(cfg, cls, name):
    got_name, layer = build_norm_layer(cfg, 8)
    assert got_name == name and type(layer) is cls
    got_name, _ = build_norm_layer(cfg, 8, postfix=3)
    assert got_name == name + '3'


def test_build_norm_layer_arguments():
    _, bn = build_norm_layer(dict(type='BN', momentum=0.03, eps=0.001), 4)
    assert (bn.momentum, bn.eps, bn.num_features) == (0.03, 0.001, 4)
    _, bn = build_norm_layer(dict(type='BN'), 4)
    assert bn.eps == 1e-5
    _, gn = build_norm_layer(dict(type='GN', num_groups=2, eps=1e-6), 8)
    assert (gn.num_groups, gn.num_channels, gn.eps) == (2, 8, 1e-6)
    _, frozen = build_norm_layer(dict(type='BN', requires_grad=False), 4)
    assert not any(p.requires_grad for p in frozen.parameters())
    cfg = dict(type='BN', requires_grad=False)
    build_norm_layer(cfg, 4)
    assert cfg == dict(type='BN', requires_grad=False)  # not mutated


def test_build_norm_layer_errors():
    with pytest.raises(KeyError, match="'XN'.*BN.*GN.*SyncBN"):
        build_norm_layer(dict(type='XN'), 4)
    with pytest.raises(KeyError, match='num_groups'):
        build_norm_layer(dict(type='GN'), 4)
    with pytest.raises(KeyError, match='type'):
        build_norm_layer(dict(eps=1.0), 4)


def test_activations_values():
    x = torch.linspace(-6, 6, 49)
    expect = {
        'ReLU': x.clamp(min=0), 'ReLU6': x.clamp(0, 6), 'Sigmoid': torch.sigmoid(x),
        'Tanh': torch.tanh(x), 'SiLU': x * torch.sigmoid(x), 'Swish': x * torch.sigmoid(x),
        'GELU': F.gelu(x), 'ELU': F.elu(x), 'LeakyReLU': F.leaky_relu(x, 0.01),
        'HSigmoid': ((x + 3) / 6).clamp(0, 1), 'HSwish': x * (x + 3).clamp(0, 6) / 6,
        'Clamp': x.clamp(-1, 1), 'Clip': x.clamp(-1, 1),
        'PReLU': torch.where(x > 0, x, 0.25 * x),
    }
    for name, y in expect.items():
        layer = build_activation_layer(dict(type=name))
        torch.testing.assert_close(layer(x.clone()), y, msg=name)
    # Swish has no parameters and HSigmoid/Clamp take MMCV's arguments.
    assert not list(build_activation_layer(dict(type='Swish')).parameters())
    hs = build_activation_layer(dict(type='HSigmoid', bias=1.0, divisor=2.0))
    torch.testing.assert_close(hs(x), ((x + 1) / 2).clamp(0, 1))
    clamp = build_activation_layer(dict(type='Clamp', min=0, max=2))
    torch.testing.assert_close(clamp(x), x.clamp(0, 2))
    assert build_activation_layer(dict(type='ReLU', inplace=True)).inplace
    assert build_activation_layer(dict(type='LeakyReLU', negative_slope=0.2)).negative_slope == 0.2
    with pytest.raises(KeyError, match="'Mish'.*ReLU"):
        build_activation_layer(dict(type='Mish'))


def test_build_conv_layer():
    assert type(build_conv_layer(None, 3, 4, 3)) is nn.Conv2d
    for name, cls in [('Conv', nn.Conv2d), ('Conv1d', nn.Conv1d), ('Conv2d', nn.Conv2d),
                      ('Conv3d', nn.Conv3d), ('deconv', nn.ConvTranspose2d)]:
        assert type(build_conv_layer(dict(type=name), 3, 4, 3)) is cls
    conv = build_conv_layer(dict(type='Conv2d', dilation=2), 3, 4, kernel_size=3,
                            stride=2, bias=False)
    assert conv.dilation == (2, 2) and conv.stride == (2, 2) and conv.bias is None
    with pytest.raises(KeyError, match="'DCN'.*Conv2d"):
        build_conv_layer(dict(type='DCN'), 3, 4, 3)


def test_build_upsample_layer():
    x = torch.arange(16.).reshape(1, 1, 4, 4)
    up = build_upsample_layer(dict(type='nearest', scale_factor=2))
    assert isinstance(up, nn.Upsample) and up.mode == 'nearest'
    torch.testing.assert_close(up(x), F.interpolate(x, scale_factor=2, mode='nearest'))
    up = build_upsample_layer(dict(type='bilinear', scale_factor=2, align_corners=False))
    assert up.mode == 'bilinear' and up(x).shape == (1, 1, 8, 8)
    deconv = build_upsample_layer(dict(type='deconv'), 1, 3, kernel_size=4, stride=2,
                                  padding=1, output_padding=0, bias=False)
    assert isinstance(deconv, nn.ConvTranspose2d) and deconv(x).shape == (1, 3, 8, 8)
    ps = build_upsample_layer(dict(type='pixel_shuffle', scale_factor=2, upsample_kernel=3), 1, 5)
    assert list(dict(ps.named_parameters())) == ['upsample_conv.weight', 'upsample_conv.bias']
    assert ps(x).shape == (1, 5, 8, 8)
    with pytest.raises(KeyError, match="'carafe'.*bilinear"):
        build_upsample_layer(dict(type='carafe'))


def test_conv_module_names_and_bias():
    m = ConvModule(3, 8, 3, padding=1, norm_cfg=dict(type='BN'))
    assert list(m.state_dict()) == ['conv.weight', 'bn.weight', 'bn.bias', 'bn.running_mean',
                                    'bn.running_var', 'bn.num_batches_tracked']
    assert isinstance(m.activate, nn.ReLU) and m.activate.inplace
    assert m.norm is m.bn
    m = ConvModule(3, 8, 1, act_cfg=None)      # bias='auto' without norm: bias
    assert list(m.state_dict()) == ['conv.weight', 'conv.bias'] and not hasattr(m, 'activate')
    m = ConvModule(4, 8, 3, norm_cfg=dict(type='GN', num_groups=2), bias=True)
    assert list(m.state_dict()) == ['conv.weight', 'conv.bias', 'gn.weight', 'gn.bias']
    m = ConvModule(4, 8, 3, norm_cfg=dict(type='BN'), order=('norm', 'act', 'conv'))
    assert m.bn.num_features == 4              # norm before conv sees the input
    m = ConvModule(3, 8, 1, act_cfg=dict(type='Sigmoid'), inplace=True)
    assert isinstance(m.activate, nn.Sigmoid)  # no inplace argument passed
    m = ConvModule(3, 8, 1, act_cfg=dict(type='ReLU', inplace=False))
    assert not m.activate.inplace


def test_conv_module_forward_and_init():
    torch.manual_seed(0)
    m = ConvModule(4, 64, 3, padding=1, norm_cfg=dict(type='BN'),
                   act_cfg=dict(type='LeakyReLU', negative_slope=0.2))
    # Kaiming normal, fan_out, leaky_relu with the act's slope; BN 1 / 0.
    fan_out = 64 * 9
    std = (2 / (1 + 0.2 ** 2)) ** 0.5 / fan_out ** 0.5
    assert m.conv.weight.std().item() == pytest.approx(std, rel=0.1)
    assert torch.all(m.bn.weight == 1) and torch.all(m.bn.bias == 0)
    m.eval()
    x = torch.randn(2, 4, 5, 5)
    ref = F.leaky_relu(m.bn(m.conv(x)), 0.2)
    torch.testing.assert_close(m(x), ref)
    torch.testing.assert_close(m(x, activate=False), m.bn(m.conv(x)))
    torch.testing.assert_close(m(x, norm=False, activate=False), m.conv(x))


def test_conv_module_explicit_padding():
    torch.manual_seed(0)
    m = ConvModule(3, 4, 3, padding=1, padding_mode='reflect', act_cfg=None)
    assert isinstance(m.padding_layer, nn.ReflectionPad2d) and m.conv.padding == (0, 0)
    x = torch.randn(1, 3, 6, 6)
    torch.testing.assert_close(m(x), m.conv(F.pad(x, (1, 1, 1, 1), mode='reflect')))
    with pytest.raises(KeyError, match='padding_mode'):
        ConvModule(3, 4, 3, padding_mode='mirror')
    with pytest.raises(ValueError, match='order'):
        ConvModule(3, 4, 3, order=('conv', 'act'))


def test_depthwise_separable_conv_module():
    m = DepthwiseSeparableConvModule(4, 8, 3, padding=1, norm_cfg=dict(type='BN'),
                                     act_cfg=dict(type='SiLU'), dw_act_cfg=None)
    keys = list(m.state_dict())
    assert keys[0] == 'depthwise_conv.conv.weight' and 'pointwise_conv.bn.weight' in keys
    assert m.depthwise_conv.conv.groups == 4 and m.depthwise_conv.conv.weight.shape == (4, 1, 3, 3)
    assert m.pointwise_conv.conv.weight.shape == (8, 4, 1, 1)
    assert not hasattr(m.depthwise_conv, 'activate')
    assert isinstance(m.pointwise_conv.activate, nn.SiLU)
    assert m(torch.randn(1, 4, 6, 6)).shape == (1, 8, 6, 6)
    with pytest.raises(TypeError, match='groups'):
        DepthwiseSeparableConvModule(4, 8, 3, groups=2)


def test_build_dropout_kinds():
    from posekit.models.utils.transformer import build_dropout
    assert isinstance(build_dropout(None), nn.Identity)
    drop = build_dropout(dict(type='Dropout', drop_prob=0.25))
    assert isinstance(drop, nn.Dropout) and drop.p == 0.25
    path = build_dropout(dict(type='DropPath', drop_prob=0.5))
    x = torch.ones(64, 3, 2)
    path.eval()
    assert torch.equal(path(x), x)
    path.train()
    torch.manual_seed(0)
    y = path(x)
    # a sample's whole branch is dropped or kept and scaled by 1 / (1 - p)
    per_sample = y.reshape(64, -1)
    assert set(per_sample.unique().tolist()) <= {0.0, 2.0}
    assert torch.all(per_sample.min(1).values == per_sample.max(1).values)
    assert 0 < int((per_sample[:, 0] == 0).sum()) < 64
    assert build_dropout(dict(type='DropPath')).drop_prob == 0.1   # MMCV's default
    with pytest.raises(KeyError, match='DropBlock'):
        build_dropout(dict(type='DropBlock'))
