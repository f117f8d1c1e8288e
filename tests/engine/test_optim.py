"""Optimizers, optimizer wrappers, param groups and lr scaling.

(Param groups, accumulation and clipping were also compared, value for
value, with MMEngine 0.10.7 / MMPose 1.3.2 constructors on the configs of
RTMPose, RTMO and ViTPose, outside this test suite.)
"""
import io
import warnings

import pytest
import torch
from torch import nn

from posekit.engine.optim import (AmpOptimWrapper, OptimWrapper,
                                  auto_scale_lr, build_optim_wrapper)
from posekit.engine.schedulers import build_param_schedulers
from posekit.registry import OPTIM_WRAPPERS, OPTIMIZERS, RegistryError


class Net(nn.Module):
    """conv + BN + depthwise conv in a backbone, a shared linear, a head."""

    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential()
        self.backbone.conv = nn.Conv2d(3, 4, 3)
        self.backbone.bn = nn.BatchNorm2d(4)
        self.backbone.dw = nn.Conv2d(4, 4, 3, groups=4)
        self.backbone.layer2 = nn.Linear(4, 4)
        self.head = nn.Linear(4, 2)


def groups_by_name(wrapper, model):
    """{parameter name: its group (without 'params')}."""
    names = {id(p): n for n, p in model.named_parameters()}
    return {names[id(p)]: {k: v for k, v in g.items() if k != 'params'}
            for g in wrapper.optimizer.param_groups for p in g['params']}


def seeded_linear():
    torch.manual_seed(0)
    return nn.Linear(3, 2)


# -- registry ------------------------------------------------------------------


@pytest.mark.parametrize('name', OPTIMIZERS.keys())
def test_every_torch_optimizer_is_registered_and_steps(name):
    model = nn.Linear(3, 2, bias=False)  # 2-D only, which Muon requires
    wrapper = build_optim_wrapper(model, dict(optimizer=dict(type=name)))
    assert type(wrapper.optimizer).__name__ == name.replace('Torch', '')
    if name in ('LBFGS', 'SparseAdam'):  # need a closure / sparse gradients
        return
    before = model.weight.detach().clone()
    wrapper.update_params(model(torch.ones(4, 3)).square().mean())
    assert not torch.equal(before, model.weight)


def test_registered_names():
    assert {'Adam', 'AdamW', 'SGD', 'RMSprop', 'TorchAdafactor'} <= set(
        OPTIMIZERS.keys())
    assert OPTIM_WRAPPERS.keys() == ['AmpOptimWrapper', 'OptimWrapper']


# -- paramwise_cfg ---------------------------------------------------------------


def test_norm_and_bias_decay_mults():
    model = Net()
    wrapper = build_optim_wrapper(model, dict(
        optimizer=dict(type='AdamW', lr=4e-3, weight_decay=0.05),
        paramwise_cfg=dict(norm_decay_mult=0, bias_decay_mult=0.5,
                           dwconv_decay_mult=0.1)))
    groups = groups_by_name(wrapper, model)
    assert len(wrapper.optimizer.param_groups) == len(groups) == 10  # one each
    assert groups['backbone.conv.weight']['weight_decay'] == 0.05  # no rule
    assert groups['backbone.bn.weight']['weight_decay'] == 0      # 0.05 * 0
    assert groups['backbone.bn.bias']['weight_decay'] == 0        # norm first
    assert groups['backbone.conv.bias']['weight_decay'] == 0.025  # 0.05 * 0.5
    assert groups['backbone.dw.bias']['weight_decay'] == 0.025    # bias first
    assert groups['backbone.dw.weight']['weight_decay'] == pytest.approx(0.005)
    assert all(g['lr'] == 4e-3 for g in groups.values())
    assert wrapper.get_lr() == {'base_lr': [4e-3], 'lr': [4e-3] * 10}
    assert wrapper.optimizer.param_groups[0]['weight_decay'] == 0.05


def test_custom_keys_longest_match_wins():
    model = Net()
    wrapper = build_optim_wrapper(model, dict(
        optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4),
        paramwise_cfg=dict(
            custom_keys={'backbone': dict(lr_mult=0.1),
                         'backbone.layer2': dict(lr_mult=0.5, decay_mult=0.),
                         'head.bias': dict(momentum=0.5),
                         'head.weigh': dict(lr_mult=3.)},
            bias_lr_mult=2.0)))
    groups = groups_by_name(wrapper, model)
    assert groups['backbone.conv.weight']['lr'] == pytest.approx(0.01)  # 0.1*0.1
    # a custom key overrides the type rules: no bias_lr_mult here
    assert groups['backbone.conv.bias']['lr'] == pytest.approx(0.01)
    assert groups['backbone.layer2.weight']['lr'] == 0.05  # longer key: 0.1*0.5
    assert groups['backbone.layer2.weight']['weight_decay'] == 0.
    assert groups['head.weight']['lr'] == pytest.approx(0.3)
    assert groups['head.bias']['momentum'] == 0.5  # any optimizer option
    assert groups['head.bias']['lr'] == 0.1  # lr_mult 1 by default, no bias rule
    assert groups['backbone.dw.weight']['momentum'] == 0.9
    # equal length keys: the alphabetically first wins ('bb' before 'bc')
    model = nn.Sequential()
    model.bbc = nn.Linear(1, 1)
    wrapper = build_optim_wrapper(model, dict(
        optimizer=dict(type='SGD', lr=1.0),
        paramwise_cfg=dict(custom_keys={'bc': dict(lr_mult=3.),
                                        'bb': dict(lr_mult=2.)})))
    assert [g['lr'] for g in wrapper.optimizer.param_groups] == [2., 2.]


def test_shared_and_frozen_parameters():
    model = Net()
    model.neck = nn.Sequential(model.head)  # the same module, other parent
    model.backbone.conv.requires_grad_(False)
    cfg = dict(optimizer=dict(type='SGD', lr=0.1, weight_decay=1e-4),
               paramwise_cfg=dict(norm_decay_mult=0.))
    with pytest.raises(ValueError, match='more than one parameter group'):
        build_optim_wrapper(model, cfg)
    cfg['paramwise_cfg']['bypass_duplicate'] = True
    wrapper = build_optim_wrapper(model, cfg)
    params = [p for g in wrapper.optimizer.param_groups for p in g['params']]
    assert len(params) == 10 - 2  # no duplicates, no frozen conv
    # RTMO's constructor keeps frozen parameters and, with
    # force_default_settings, applies the norm rule after a custom key
    cfg.update(constructor='ForceDefaultOptimWrapperConstructor')
    cfg['paramwise_cfg'].update(force_default_settings=True,
                                custom_keys={'backbone': dict(lr_mult=0.5)})
    wrapper = build_optim_wrapper(model, cfg)
    groups = groups_by_name(wrapper, model)
    assert len(groups) == 10 and groups['backbone.conv.weight']['lr'] == 0.1
    assert groups['backbone.bn.weight']['lr'] == 0.05
    assert groups['backbone.bn.weight']['weight_decay'] == 0.


class TinyViT(nn.Module):
    def __init__(self, depth=2):
        super().__init__()
        self.backbone = nn.Module()
        self.backbone.pos_embed = nn.Parameter(torch.zeros(1, 4, 8))
        self.backbone.patch_embed = nn.Conv2d(3, 8, 2)
        self.backbone.layers = nn.ModuleList(nn.Linear(8, 8) for _ in range(depth))
        self.head = nn.Linear(8, 2)


def test_layer_decay_constructor_of_vitpose():
    model = TinyViT(depth=2)
    with pytest.warns(UserWarning, match='ignores paramwise_cfg keys'):
        wrapper = build_optim_wrapper(model, dict(
            constructor='LayerDecayOptimWrapperConstructor',
            optimizer=dict(type='AdamW', lr=1.0, weight_decay=0.1),
            paramwise_cfg=dict(num_layers=2, layer_decay_rate=0.5,
                               custom_keys={'bias': dict(decay_multi=0.)})))
    # L = 2 + 2 = 4 layers; lr = 0.5 ** (L - 1 - id)
    groups = {g['group_name']: (g['lr'], g['weight_decay'], g['param_names'])
              for g in wrapper.optimizer.param_groups}
    assert groups == {
        'layer_0_no_decay': (0.125, 0., ['backbone.pos_embed',
                                         'backbone.patch_embed.bias']),
        'layer_0_decay': (0.125, 0.1, ['backbone.patch_embed.weight']),
        'layer_1_decay': (0.25, 0.1, ['backbone.layers.0.weight']),
        'layer_1_no_decay': (0.25, 0., ['backbone.layers.0.bias']),
        'layer_2_decay': (0.5, 0.1, ['backbone.layers.1.weight']),
        'layer_2_no_decay': (0.5, 0., ['backbone.layers.1.bias']),
        'layer_3_decay': (1.0, 0.1, ['head.weight']),
        'layer_3_no_decay': (1.0, 0., ['head.bias'])}


def test_config_errors():
    model = Net()
    adam = dict(type='Adam', lr=1e-3, weight_decay=1e-4)
    with pytest.raises(KeyError, match="did you mean 'norm_decay_mult'"):
        build_optim_wrapper(model, dict(optimizer=adam,
                                        paramwise_cfg=dict(norm_decay=0.)))
    with pytest.raises(KeyError, match="did you mean 'decay_mult'"):
        build_optim_wrapper(model, dict(optimizer=adam, paramwise_cfg=dict(
            custom_keys={'bias': dict(decay_multi=0.)})))
    with pytest.raises(ValueError, match='weight_decay'):
        build_optim_wrapper(model, dict(optimizer=dict(type='Adam', lr=1e-3),
                                        paramwise_cfg=dict(bias_decay_mult=0.)))
    with pytest.raises(ValueError, match='constructor'):
        build_optim_wrapper(model, dict(optimizer=adam, constructor='Mine'))
    with pytest.raises(TypeError, match='OptimWrapper.*accumulate_counts'):
        build_optim_wrapper(model, dict(optimizer=adam, accumulate_counts=2))
    with pytest.raises(KeyError, match='optimizer'):
        build_optim_wrapper(model, dict(type='OptimWrapper'))
    with pytest.raises(RegistryError, match="'AdamW'"):
        build_optim_wrapper(model, dict(optimizer=dict(type='AdamWW')))
    with pytest.raises(TypeError, match="takes \\['max_norm'"):
        OptimWrapper(torch.optim.SGD(model.parameters(), lr=1.),
                     clip_grad=dict(max_nrm=1.))
    with pytest.raises(ValueError, match="'norm' or 'value'"):
        OptimWrapper(torch.optim.SGD(model.parameters(), lr=1.),
                     clip_grad=dict(type='l2', max_norm=1.))


# -- update, accumulation, clipping --------------------------------------------


# The accumulation tests compare sums taken in another order; they run in
# float64, where reordering 12 terms of size ~1 changes a result by ~1e-15,
# so 1e-12 holds on any kernel (float32 would need ~1e-6, kernel-dependent).
def seeded_linear64():
    return seeded_linear().double()


def test_gradient_accumulation_equals_one_big_batch():
    torch.manual_seed(0)
    x, y = torch.randn(12, 3).double(), torch.randn(12, 2).double()

    def loss_of(model, xb, yb):
        return (model(xb) - yb).square().mean()

    big = seeded_linear64()
    OptimWrapper(torch.optim.SGD(big.parameters(), lr=0.5)).update_params(
        loss_of(big, x, y))

    small = seeded_linear64()
    wrapper = OptimWrapper(torch.optim.SGD(small.parameters(), lr=0.5),
                           accumulative_counts=3)
    start = small.weight.detach().clone()
    for i in range(3):
        wrapper.update_params(loss_of(small, x[4 * i:4 * i + 4], y[4 * i:4 * i + 4]))
        if i < 2:  # no step before the window is complete
            assert torch.equal(small.weight, start) and not wrapper.should_update()
    torch.testing.assert_close(small.weight, big.weight, rtol=0, atol=1e-12)
    torch.testing.assert_close(small.bias, big.bias, rtol=0, atol=1e-12)
    assert small.weight.grad is None or not small.weight.grad.any()


def test_last_incomplete_window_divides_by_the_remainder():
    torch.manual_seed(0)
    x, y = torch.randn(10, 3).double(), torch.randn(10, 2).double()
    ref = seeded_linear64()
    opt = torch.optim.SGD(ref.parameters(), lr=0.5)
    # 5 batches of 2 with windows of 3: steps on batches 0-2, then 3-4
    for lo, hi in ((0, 6), (6, 10)):
        opt.zero_grad()
        (ref(x[lo:hi]) - y[lo:hi]).square().mean().backward()
        opt.step()

    model = seeded_linear64()
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.5),
                           accumulative_counts=3)
    wrapper.initialize_count_status(model, init_counts=0, max_counts=5)
    for i in range(5):
        wrapper.update_params((model(x[2 * i:2 * i + 2]) - y[2 * i:2 * i + 2])
                              .square().mean())
    assert wrapper.inner_count == 5
    torch.testing.assert_close(model.weight, ref.weight, rtol=0, atol=1e-12)
    # a loss of 1 is divided by 3 in full windows and by 2 in the last one
    wrapper.initialize_count_status(model, 0, 5)
    assert float(wrapper.scale_loss(torch.tensor(1.))) == pytest.approx(1 / 3)
    wrapper.initialize_count_status(model, 3, 5)
    assert float(wrapper.scale_loss(torch.tensor(1.))) == 0.5


def test_clip_grad_by_norm_and_by_value():
    param = nn.Parameter(torch.zeros(2))
    wrapper = OptimWrapper(torch.optim.SGD([param], lr=1.0),
                           clip_grad=dict(max_norm=1.0, norm_type=2))
    wrapper.update_params((param * torch.tensor([3., 4.])).sum())  # grad (3, 4)
    assert wrapper.last_grad_norm == pytest.approx(5.0)  # before clipping
    torch.testing.assert_close(param.detach(), torch.tensor([-0.6, -0.8]))
    param = nn.Parameter(torch.zeros(2))
    wrapper = OptimWrapper(torch.optim.SGD([param], lr=1.0),
                           clip_grad=dict(type='value', clip_value=0.5))
    wrapper.update_params((param * torch.tensor([3., -0.25])).sum())
    torch.testing.assert_close(param.detach(), torch.tensor([-0.5, 0.25]))


def test_get_lr_and_get_momentum_formats():
    model = Net()
    sgd = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
    assert sgd.get_lr() == {'lr': [0.1]}
    assert sgd.get_momentum() == {'momentum': [0.9]}
    assert sgd.param_groups is sgd.optimizer.param_groups
    adam = build_optim_wrapper(model, dict(
        optimizer=dict(type='Adam', lr=1e-3, betas=(0.8, 0.99)),
        paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=0.1)})))
    lr = adam.get_lr()
    assert lr['base_lr'] == [1e-3] and lr['lr'][-1] == pytest.approx(1e-4)
    assert adam.get_momentum()['momentum'] == [0.8] * 10
    assert len(adam.param_groups) == 11  # + the base settings
    adagrad = OptimWrapper(torch.optim.Adagrad(model.parameters()))
    assert adagrad.get_momentum() == {'momentum': [0]}


def test_optim_context_skips_ddp_sync_inside_a_window():
    class FakeDDP(nn.Linear):
        synced = []

        def no_sync(self):
            self.synced.append(False)
            return torch.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t)

    model = FakeDDP(2, 2)
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1),
                           accumulative_counts=2)
    for _ in range(4):
        with wrapper.optim_context(model):
            loss = model(torch.ones(1, 2)).sum()
        wrapper.update_params(loss)
    assert FakeDDP.synced == [False, False]  # calls 1 and 3 do not sync


def test_initialize_count_status_warnings():
    wrapper = OptimWrapper(torch.optim.SGD(Net().parameters(), lr=0.1),
                           accumulative_counts=4)
    with pytest.warns(UserWarning) as record:
        wrapper.initialize_count_status(Net(), 6, 100)
    messages = ' '.join(str(w.message) for w in record)
    assert 'not a multiple' in messages and 'BatchNorm' in messages


# -- AMP -------------------------------------------------------------------------


def test_amp_bfloat16_on_cpu_runs_a_step():
    model = Net()
    wrapper = build_optim_wrapper(model, dict(
        type='AmpOptimWrapper', optimizer=dict(type='SGD', lr=0.1),
        clip_grad=dict(max_norm=10.)))
    assert isinstance(wrapper, AmpOptimWrapper)
    assert wrapper.cast_dtype == torch.bfloat16 and wrapper.loss_scaler is None
    before = model.head.weight.detach().clone()
    with wrapper.optim_context(model):
        out = model.head(torch.randn(4, 4))
        assert out.dtype == torch.bfloat16
    wrapper.update_params(out.float().square().mean())
    assert model.head.weight.dtype == torch.float32
    assert not torch.equal(before, model.head.weight)
    assert wrapper.last_grad_norm > 0
    assert 'loss_scaler' not in wrapper.state_dict()


def test_amp_refuses_float16_on_cpu():
    params = Net().parameters()
    with pytest.raises(ValueError, match='float16 autocast needs a CUDA'):
        AmpOptimWrapper(torch.optim.SGD(params, lr=0.1), dtype='float16')
    with pytest.raises(ValueError, match='dtype must be one of'):
        AmpOptimWrapper(torch.optim.SGD(Net().parameters(), lr=0.1), dtype='fp16')
    with pytest.warns(UserWarning, match='ignored on CPU'):
        AmpOptimWrapper(torch.optim.SGD(Net().parameters(), lr=0.1), loss_scale=512.)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_amp_float16_on_cuda_with_loss_scaler():
    model = Net().cuda()
    wrapper = build_optim_wrapper(model, dict(
        type='AmpOptimWrapper', loss_scale='dynamic',
        optimizer=dict(type='Adam', lr=1e-3), clip_grad=dict(max_norm=1.)))
    assert wrapper.cast_dtype == torch.float16
    before = model.head.weight.detach().clone()
    with wrapper.optim_context(model):
        out = model.head(torch.randn(4, 4, device='cuda'))
        assert out.dtype == torch.float16
    wrapper.update_params(out.float().square().mean())
    assert not torch.equal(before, model.head.weight)
    assert wrapper.last_grad_norm is not None
    state = wrapper.state_dict()
    assert state['loss_scaler']['scale'] == 65536.0
    other = build_optim_wrapper(model, dict(
        type='AmpOptimWrapper', optimizer=dict(type='Adam', lr=1e-3),
        loss_scale=dict(init_scale=8.)))
    other.load_state_dict(state)
    assert other.loss_scaler.get_scale() == 65536.0
    static = AmpOptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1),
                             loss_scale=64.)
    static.update_params(model.head(torch.ones(1, 4, device='cuda')).sum())
    assert static.loss_scaler.get_scale() == 64.0


# -- checkpoints and lr scaling ------------------------------------------------


def test_state_dict_round_trip_resumes_training():
    torch.manual_seed(0)
    data = [torch.randn(4, 3) for _ in range(6)]
    cfg = dict(optimizer=dict(type='AdamW', lr=1e-2, weight_decay=0.1),
               paramwise_cfg=dict(bias_decay_mult=0.))

    def train(model, wrapper, batches):
        for x in batches:
            wrapper.update_params(model(x).square().mean())

    full = seeded_linear()
    train(full, build_optim_wrapper(full, cfg), data)

    model = seeded_linear()
    wrapper = build_optim_wrapper(model, cfg)
    train(model, wrapper, data[:3])
    buffer = io.BytesIO()
    torch.save({'model': model.state_dict(), 'optimizer': wrapper.state_dict()},
               buffer)
    buffer.seek(0)
    ckpt = torch.load(buffer, weights_only=True)
    assert 'base_param_settings' in ckpt['optimizer']
    resumed = nn.Linear(3, 2)
    resumed.load_state_dict(ckpt['model'])
    wrapper = build_optim_wrapper(resumed, cfg)
    wrapper.load_state_dict(ckpt['optimizer'])
    train(resumed, wrapper, data[3:])
    assert torch.equal(resumed.weight, full.weight)
    assert torch.equal(resumed.bias, full.bias)


def test_auto_scale_lr():
    model = Net()
    cfg = dict(optimizer=dict(type='Adam', lr=5e-4),
               paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=0.1)}))
    wrapper = build_optim_wrapper(model, cfg)
    # MMPose configs only declare base_batch_size: scaling is opt-in
    assert auto_scale_lr(dict(base_batch_size=512), 64, wrapper) == 1.0
    assert auto_scale_lr(None, 64, wrapper) == 1.0
    assert wrapper.get_lr()['lr'][0] == 5e-4
    ratio = auto_scale_lr(dict(base_batch_size=512, enable=True), 64, wrapper)
    assert ratio == 0.125  # 64 / 512
    lr = wrapper.get_lr()
    assert lr['base_lr'] == [6.25e-5] and lr['lr'][0] == 6.25e-5
    assert lr['lr'][-1] == pytest.approx(6.25e-6)  # head: x0.1 as well
    build_param_schedulers(wrapper, dict(type='LinearLR', end=5))
    with pytest.raises(RuntimeError, match='before the parameter schedulers'):
        auto_scale_lr(dict(base_batch_size=512, enable=True), 64, wrapper)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        build_optim_wrapper(model, cfg)  # the default constructor is silent
