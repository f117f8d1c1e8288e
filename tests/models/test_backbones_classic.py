"""ShuffleNetV1/V2, VGG, AlexNet, ViPNAS_MobileNetV3: options beyond the shared
tests in test_backbones.py (frozen stages, norm_eval, checkpointing, MMPose's
init quirks, bad arguments)."""
import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from posekit.models.backbones.shufflenet_v2 import channel_shuffle
from posekit.registry import MODELS

from .test_backbones import SMALL


def bn_modes(module):
    return {m.training for m in module.modules() if isinstance(m, _BatchNorm)}


def grads(module):
    return {p.requires_grad for p in module.parameters()}


def test_channel_shuffle_interleaves_groups():
    x = torch.arange(6.).reshape(1, 6, 1, 1)
    assert channel_shuffle(x, 2).flatten().tolist() == [0, 3, 1, 4, 2, 5]
    assert channel_shuffle(x, 3).flatten().tolist() == [0, 2, 4, 1, 3, 5]
    with pytest.raises(ValueError, match='4 groups'):
        channel_shuffle(x, 4)


@pytest.mark.parametrize('name', ['ShuffleNetV1', 'ShuffleNetV2'])
def test_shufflenet_frozen_stages_and_norm_eval(name):
    model = MODELS.build(dict(SMALL[name][0], frozen_stages=2))
    model.train()
    assert grads(model.conv1) == {False} and model.conv1.training   # as MMPose
    assert grads(model.layers[:2]) == {False} and bn_modes(model.layers[:2]) == {False}
    assert grads(model.layers[2]) == {True} and bn_modes(model.layers[2]) == {True}
    model = MODELS.build(dict(SMALL[name][0], norm_eval=True))
    assert bn_modes(model.train()) == {False} and grads(model) == {True}
    with pytest.raises(ValueError, match='frozen_stages'):
        MODELS.build(dict(SMALL[name][0], frozen_stages=4))
    with pytest.raises(ValueError, match='out_indices'):
        MODELS.build(dict(SMALL[name][0], out_indices=(4,)))


def test_vgg_and_vipnas_frozen_stages():
    vgg = MODELS.build(dict(SMALL['VGG'][0], frozen_stages=1))
    vgg.train()
    assert grads(vgg.features[:2]) == {False} and bn_modes(vgg.features[:2]) == {False}
    assert grads(vgg.features[2:]) == {True} and bn_modes(vgg.features[2:]) == {True}
    vip = MODELS.build(dict(SMALL['ViPNAS_MobileNetV3'][0], frozen_stages=2))
    vip.train()
    assert grads(vip.conv1) == {False} and vip.conv1.training
    assert grads(vip.layer2) == {False} and bn_modes(vip.layer2) == {False}
    assert grads(vip.layer3) == {True} and bn_modes(vip.layer3) == {True}


@pytest.mark.parametrize('name', ['ShuffleNetV1', 'ShuffleNetV2', 'ViPNAS_MobileNetV3'])
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


def test_shufflenet_init_redraws_non_stem_convs():
    """MMPose's ShuffleNets draw non-stem convs from N(0, 1 / fan-in per
    group) after init_cfg. The stem, a direct child ConvModule, re-inits
    itself (Kaiming fan_out, BN bias 0) as in MMEngine; deeper BNs get the
    init_cfg's bias 1e-4. The numbers are MMPose's, same seed."""
    torch.manual_seed(0)
    model = MODELS.build(dict(type='ShuffleNetV2', widen_factor=1.0))
    model.init_weights()
    assert model.conv1.conv.weight.std().item() == pytest.approx(0.0961226373910904, rel=1e-6)
    assert torch.all(model.conv1.bn.bias == 0)
    assert torch.all(model.layers[0][0].branch1[0].bn.bias == 1e-4)
    w = model.layers[1][1].branch2[0].conv.weight     # (116, 116, 1, 1): std 1 / 116
    assert w.std().item() == pytest.approx(0.008527126163244247, rel=1e-6)
    assert model.layers[3].conv.weight.std().item() == pytest.approx(0.0021532466635107994, rel=1e-6)
    torch.manual_seed(0)
    vip = MODELS.build(dict(type='ViPNAS_MobileNetV3'))
    vip.init_weights()                                 # Normal(std=0.001) convs below the stem
    # stem: its own Kaiming, std sqrt(2 / (16 * 3 * 3)) (fan_out)
    assert vip.conv1.conv.weight.std().item() == pytest.approx((2 / 144) ** 0.5, rel=0.1)
    assert vip.layer2.expand_conv.conv.weight.std().item() == pytest.approx(0.001, rel=0.1)


def test_classifiers_and_variants():
    torch.manual_seed(0)
    vgg = MODELS.build(dict(type='VGG', depth=11, num_stages=2, dilations=(1, 2), out_indices=(0, 1),
                            with_last_pool=False, ceil_mode=True))
    outs = vgg(torch.randn(1, 3, 15, 15))
    assert [tuple(o.shape[1:]) for o in outs] == [(64, 8, 8), (128, 8, 8)]
    alex = MODELS.build(dict(type='AlexNet', num_classes=3)).eval()
    assert alex(torch.randn(1, 3, 224, 224))[0].shape == (1, 3)
    with pytest.raises(ValueError, match='224x224'):
        alex(torch.randn(1, 3, 64, 64))


def test_invalid_arguments():
    with pytest.raises(ValueError, match='widen_factor'):
        MODELS.build(dict(type='ShuffleNetV2', widen_factor=0.75))
    with pytest.raises(ValueError, match='groups'):
        MODELS.build(dict(type='ShuffleNetV1', groups=5))
    with pytest.raises(KeyError, match='depth 12'):
        MODELS.build(dict(type='VGG', depth=12))
    with pytest.raises(ValueError, match='dilations'):
        MODELS.build(dict(type='VGG', depth=11, num_stages=3))
    with pytest.raises(ValueError, match='frozen_stages'):
        MODELS.build(dict(type='VGG', depth=11, frozen_stages=6))
    with pytest.raises(ValueError, match='lengths'):
        MODELS.build(dict(type='ViPNAS_MobileNetV3', wid=(16, 16)))
