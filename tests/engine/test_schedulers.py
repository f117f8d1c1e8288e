"""Parameter schedulers: lr values against hand arithmetic, resume, registry.

Conventions of every test: ``lrs[i]`` is the lr that iteration ``i`` trains
with (read before the optimizer steps), and the loop steps iteration-based
schedulers after each iteration and epoch-based ones after each epoch.
(The whole-schedule sequences were also checked equal, float for float, to
MMEngine 0.10.7 / MMPose 1.3.2 for all 32 distinct ``param_scheduler`` lists
of MMPose's configs, outside this test suite.)
"""
import io
import math

import pytest
import torch

from posekit.config import Config, shipped_configs_dir
from posekit.engine.optim import OptimWrapper, build_optim_wrapper
from posekit.engine.schedulers import (INF, CosineAnnealingLR, LinearLR,
                                       LinearMomentum, MultiStepLR,
                                       build_param_schedulers,
                                       step_epoch_schedulers,
                                       step_iter_schedulers)
from posekit.registry import PARAM_SCHEDULERS, RegistryError


def make_wrapper(lrs=(0.1,), opt=torch.optim.SGD, **kwargs):
    """An OptimWrapper with one group per lr in ``lrs``."""
    torch.manual_seed(0)
    layers = [torch.nn.Linear(2, 2) for _ in lrs]
    groups = [{'params': layer.parameters(), 'lr': lr}
              for layer, lr in zip(layers, lrs)]
    return OptimWrapper(opt(groups, lr=lrs[0], **kwargs))


def run(wrapper, schedulers, epochs, epoch_length, key='lr', start_epoch=0):
    """The value of ``key`` (of group 0) used at every iteration."""
    values = []
    for _ in range(start_epoch, epochs):
        for _ in range(epoch_length):
            values.append(wrapper.optimizer.param_groups[0][key])
            wrapper.step()
            step_iter_schedulers(schedulers)
        step_epoch_schedulers(schedulers)
    return values


MMPOSE_DEFAULT = [  # configs/_base_ style of MMPose's td-hm configs
    dict(type='LinearLR', begin=0, end=500, start_factor=0.001, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=210, milestones=[170, 200],
         gamma=0.1, by_epoch=True)]


def test_warmup_then_multistep_matches_hand_arithmetic():
    base, n = 5e-4, 100  # 100 iterations per epoch: warm-up ends in epoch 5
    wrapper = make_wrapper((base,), torch.optim.Adam)
    scheds = build_param_schedulers(wrapper, MMPOSE_DEFAULT, n, max_epochs=210)
    lrs = run(wrapper, scheds, 210, n)
    assert len(lrs) == 21000
    # warm-up: factor goes linearly from 0.001 (iter 0) to 1 (iter 499)
    for i in (0, 1, 250, 499):
        assert lrs[i] == pytest.approx(base * (0.001 + 0.999 * i / 499), rel=1e-9)
    assert lrs[0] == pytest.approx(5e-7)  # 5e-4 * 0.001
    assert lrs[500] == lrs[16999] == pytest.approx(base)
    # epoch 170 starts at iteration 17000: x0.1; epoch 200 at 20000: x0.01
    assert lrs[17000] == pytest.approx(5e-5) and lrs[19999] == pytest.approx(5e-5)
    assert lrs[20000] == pytest.approx(5e-6) and lrs[-1] == pytest.approx(5e-6)
    assert wrapper.get_lr() == {'lr': [pytest.approx(5e-6)]}


def test_cosine_with_eta_min_ratio_converted_to_iterations():
    # 10 epochs of 4 iterations: T_max = 40 iterations, floor 5% of each group
    wrapper = make_wrapper((0.1, 0.01))
    scheds = build_param_schedulers(wrapper, [dict(
        type='CosineAnnealingLR', eta_min_ratio=0.05, begin=0, end=10,
        by_epoch=True, convert_to_iter_based=True)], epoch_length=4)
    assert scheds[0].T_max == 40 and not scheds[0].by_epoch
    lrs, lrs_group1 = [], []
    for _ in range(12 * 4):  # two epochs past the end: the lr stays
        lrs.append(wrapper.optimizer.param_groups[0]['lr'])
        lrs_group1.append(wrapper.optimizer.param_groups[1]['lr'])
        step_iter_schedulers(scheds)

    def cosine(base, t):
        floor = 0.05 * base
        return floor + (base - floor) * (1 + math.cos(math.pi * t / 40)) / 2

    for t in (0, 1, 10, 20, 30, 39):
        assert lrs[t] == pytest.approx(cosine(0.1, t), rel=1e-9)
        assert lrs_group1[t] == pytest.approx(cosine(0.01, t), rel=1e-9)
    assert lrs[20] == pytest.approx((0.1 + 0.005) / 2)  # half way: mean of ends
    assert lrs[40:] == [lrs[39]] * 8  # outside [begin, end): unchanged


def test_rtmpose_schedule_of_the_shipped_config():
    cfg = Config.fromfile(str(shipped_configs_dir() / 'body_2d_keypoint/rtmpose/'
                              'coco/rtmpose-s_8xb256-420e_coco-256x192.py'))
    n, epochs = 50, cfg.train_cfg.max_epochs  # 420 epochs, lr 4e-3
    wrapper = make_wrapper((4e-3,), torch.optim.AdamW)
    scheds = build_param_schedulers(wrapper, cfg.param_scheduler, n,
                                    max_epochs=epochs)
    lrs = run(wrapper, scheds, epochs, n)
    base, floor, start, T = 4e-3, 2e-4, 210 * n, 210 * n
    assert lrs[0] == pytest.approx(base * 1e-5)
    assert lrs[999] == lrs[start] == pytest.approx(base)
    for t in (1, T // 2, T - 1):
        expected = floor + (base - floor) * (1 + math.cos(math.pi * t / T)) / 2
        assert lrs[start + t] == pytest.approx(expected, rel=1e-9)


def test_quadratic_warmup_then_constant_factor_like_rtmo():
    # RTMO: quadratic warm-up over 5 epochs, then x2.5 for good at epoch 7
    wrapper = make_wrapper((0.004,), torch.optim.AdamW)
    scheds = build_param_schedulers(wrapper, [
        dict(type='QuadraticWarmupLR', by_epoch=True, begin=0, end=5,
             convert_to_iter_based=True),
        dict(type='ConstantLR', by_epoch=True, factor=2.5, begin=7, end=8)],
        epoch_length=2, max_epochs=10)
    lrs = run(wrapper, scheds, 10, 2)
    for t in range(10):  # lr = base * ((t + 1) / T)**2, T = 10 iterations
        assert lrs[t] == pytest.approx(0.004 * ((t + 1) / 10)**2, rel=1e-9)
    assert lrs[10:14] == [pytest.approx(0.004)] * 4
    assert lrs[14:] == [pytest.approx(0.01)] * 6  # end=begin+1: never undone


@pytest.mark.parametrize('cfg, expected', [
    # StepLR: x0.5 every 2 epochs
    (dict(type='StepLR', step_size=2, gamma=0.5), [1, 1, .5, .5, .25, .25]),
    # ExponentialLR: x0.9 every epoch
    (dict(type='ExponentialLR', gamma=0.9), [1, .9, .81, .729, .6561, .59049]),
    # PolyLR power 1 over 5 epochs (end - begin - 1 = 4 steps to 0)
    (dict(type='PolyLR', power=1., eta_min=0., end=5), [1, .75, .5, .25, 0, 0]),
    # ConstantLR: x1/2 for end - begin - 1 = 2 epochs, then back
    (dict(type='ConstantLR', factor=0.5, end=3), [.5, .5, 1, 1, 1, 1]),
    # LinearLR by epoch from 0.25 to 1 in end - begin - 1 = 3 steps
    (dict(type='LinearLR', start_factor=0.25, end=4), [.25, .5, .75, 1, 1, 1]),
    # MultiStepLR with a milestone listed twice: x0.1**2 at epoch 4
    (dict(type='MultiStepLR', milestones=[2, 4, 4], gamma=0.1),
     [1, 1, .1, .1, .001, .001]),
])
def test_epoch_schedules(cfg, expected):
    wrapper = make_wrapper((1.0,))
    scheds = build_param_schedulers(wrapper, cfg)
    assert run(wrapper, scheds, 6, 1) == pytest.approx(expected, abs=1e-12)


def test_one_cycle_lr():
    wrapper = make_wrapper((1.0,))
    scheds = build_param_schedulers(wrapper, dict(
        type='OneCycleLR', eta_max=1.0, total_steps=11, pct_start=0.2,
        anneal_strategy='linear', div_factor=4., final_div_factor=25.,
        by_epoch=False))
    lrs = run(wrapper, scheds, 1, 11)
    # up from 1/4 to 1 over steps 0..1.2, then down to 0.25/25 = 0.01 at 10
    assert lrs[0] == pytest.approx(0.25)
    assert lrs[1] == pytest.approx(0.25 + 0.75 / 1.2)
    assert lrs[10] == pytest.approx(0.01)
    assert lrs[6] == pytest.approx(1 + (0.01 - 1) * (6 - 1.2) / (10 - 1.2))


def test_momentum_schedulers_update_momentum_or_betas():
    adam = make_wrapper((0.1,), torch.optim.Adam, betas=(0.9, 0.999))
    LinearMomentum(adam, start_factor=0.5, end=3, by_epoch=False)
    group = adam.optimizer.param_groups[0]
    assert group['betas'] == (pytest.approx(0.45), 0.999)
    assert adam.get_momentum() == {'momentum': [pytest.approx(0.45)]}
    sgd = make_wrapper((0.1,), torch.optim.SGD, momentum=0.9)
    sched = build_param_schedulers(sgd, dict(type='CosineAnnealingMomentum',
                                             T_max=2, eta_min=0.5))[0]
    sched.step(), sched.step()
    assert sgd.get_momentum() == {'momentum': [pytest.approx(0.5)]}


def test_default_end_and_by_epoch_bookkeeping():
    wrapper = make_wrapper()
    scheds = build_param_schedulers(wrapper, [
        dict(type='MultiStepLR', milestones=[3]),
        dict(type='LinearLR', by_epoch=False)], max_epochs=7, max_iters=70)
    assert (scheds[0].end, scheds[1].end) == (7, 70)
    no_end = build_param_schedulers(wrapper, dict(type='StepLR', step_size=1))
    assert no_end[0].end == INF
    assert build_param_schedulers(wrapper, None) == []
    # the second scheduler starts from the lr the config asked for
    assert scheds[1].base_values == [0.1]


def test_resume_continues_the_same_sequence():
    def fresh():
        wrapper = make_wrapper((5e-4, 5e-5), torch.optim.AdamW)
        return wrapper, build_param_schedulers(
            wrapper, MMPOSE_DEFAULT, 7, max_epochs=210)

    wrapper, scheds = fresh()
    full = run(wrapper, scheds, 210, 7)
    wrapper, scheds = fresh()
    first = run(wrapper, scheds, 171, 7)
    buffer = io.BytesIO()
    torch.save({'optimizer': wrapper.state_dict(),
                'param_schedulers': [s.state_dict() for s in scheds]}, buffer)
    buffer.seek(0)
    ckpt = torch.load(buffer, weights_only=True)
    wrapper, scheds = fresh()  # building steps the schedulers once again...
    wrapper.load_state_dict(ckpt['optimizer'])  # ...which loading undoes
    for sched, state in zip(scheds, ckpt['param_schedulers']):
        sched.load_state_dict(state)
    assert first + run(wrapper, scheds, 210, 7, start_epoch=171) == full


def test_errors():
    wrapper = make_wrapper()
    with pytest.raises(ValueError, match='end must be larger than begin'):
        LinearLR(wrapper, begin=5, end=5)
    with pytest.raises(TypeError, match='takes no param_name'):
        MultiStepLR(wrapper, 'momentum', milestones=[1])
    with pytest.raises(ValueError, match='by_epoch=True'):
        build_param_schedulers(wrapper, dict(
            type='CosineAnnealingLR', by_epoch=False, convert_to_iter_based=True), 10)
    with pytest.raises(ValueError, match='epoch_length'):
        build_param_schedulers(wrapper, dict(
            type='CosineAnnealingLR', T_max=3, convert_to_iter_based=True))
    with pytest.raises(ValueError, match='start_factor'):
        LinearLR(wrapper, start_factor=2.)
    with pytest.raises(ValueError, match='not both'):
        CosineAnnealingLR(wrapper, eta_min=0., eta_min_ratio=0.1)
    with pytest.raises(ValueError, match='by_epoch must be True'):
        build_param_schedulers(wrapper, dict(type='ReduceOnPlateauLR', monitor='PCK',
                                             convert_to_iter_based=True), 10)
    with pytest.raises(ValueError, match='factor must be < 1'):
        build_param_schedulers(wrapper, dict(type='ReduceOnPlateauLR', factor=1.0))
    with pytest.raises(ValueError, match="rule must be 'less' or 'greater'"):
        build_param_schedulers(wrapper, dict(type='ReduceOnPlateauLR', rule='max'))
    with pytest.raises(RegistryError, match='MultiStepLR'):
        build_param_schedulers(wrapper, dict(type='MultiStepLr', milestones=[1]))
    with pytest.raises(ValueError, match='neither momentum nor betas'):
        LinearMomentum(make_wrapper(opt=torch.optim.Adagrad))
    # a scope prefix, as in MMPose configs, resolves to posekit's type
    assert isinstance(build_param_schedulers(
        wrapper, dict(type='mmengine.LinearLR', end=3))[0], LinearLR)


# Arguments a type cannot do without, by schedule family.
REQUIRED = {'Step': dict(step_size=2), 'MultiStep': dict(milestones=[2]),
            'Exponential': dict(gamma=0.9), 'QuadraticWarmup': dict(end=4),
            'CosineRestart': dict(periods=[3, 3], restart_weights=[1, .5],
                                  eta_min=0.),
            'OneCycle': dict(eta_max=0.2, total_steps=12)}
SCHEDULERS = [name for name in PARAM_SCHEDULERS.keys()
              if not name.startswith('ReduceOnPlateau')]   # metric-driven: below


@pytest.mark.parametrize('name', SCHEDULERS)
def test_every_registered_scheduler_steps_and_saves(name):
    family = name.replace('ParamScheduler', '').replace('LR', '').replace(
        'Momentum', '')
    cfg = dict(type=name, **REQUIRED.get(family, {}))
    if name.endswith('ParamScheduler'):
        cfg['param_name'] = 'lr'
    key = 'momentum' if name.endswith('Momentum') else 'lr'
    wrapper = make_wrapper((0.1, 0.05), torch.optim.SGD, momentum=0.9)
    values = [wrapper.optimizer.param_groups[0][key]]
    sched = build_param_schedulers(wrapper, cfg)[0]
    for _ in range(10):
        sched.step()
        values.append(wrapper.optimizer.param_groups[0][key])
    assert all(math.isfinite(v) and v >= 0 for v in values)
    assert len(set(values)) > 1, f'{name} never changed {key}'
    assert sched.get_last_value()[0] == values[-1]
    # the state is plain data: it survives a weights_only checkpoint
    buffer = io.BytesIO()
    torch.save(sched.state_dict(), buffer)
    buffer.seek(0)
    assert torch.load(buffer, weights_only=True) == sched.state_dict()


@pytest.mark.parametrize('path', sorted(
    str(p) for p in shipped_configs_dir().rglob('*.py')
    if 'param_scheduler' in p.read_text() and '_base_' not in p.parts))
def test_shipped_configs_build_optimizer_and_schedule(path):
    cfg = Config.fromfile(path)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    epochs = cfg.train_cfg.max_epochs
    # iterations per epoch: enough for a 1000-iteration warm-up to end
    # before a decay that starts at a later epoch (short schedules, or an
    # early decay such as face6's at epoch 30, get more)
    begins = [s.get('begin', 0) for s in cfg.param_scheduler
              if s.get('by_epoch', True) and s.get('begin', 0) > 0]
    n = max(20, -(-2000 // epochs), *(-(-1000 // b) + 1 for b in begins))
    scheds = build_param_schedulers(wrapper, cfg.param_scheduler, n,
                                    max_epochs=epochs, max_iters=n * epochs)
    lrs = run(wrapper, scheds, epochs, n)
    base = cfg.optim_wrapper.optimizer.lr
    # a warm-up that ends inside a later decay never quite reaches the base lr
    assert 0.9 * base <= max(lrs) <= base * (1 + 1e-6)
    assert 0 < min(lrs) < max(lrs)


def test_converted_schedulers_check_their_values_with_the_config_path():
    """convert_to_iter_based builds without Registry.build; its values are
    checked alike and the error names where they sit in the config."""
    from posekit.errors import ConfigTypeError
    from posekit.registry import config_path
    wrapper = make_wrapper()
    cfg = [dict(type='LinearLR', end=5, by_epoch=False),
           dict(type='CosineAnnealingLR', T_max='x', by_epoch=True,
                convert_to_iter_based=True)]
    with config_path(cfg, 'param_scheduler'), pytest.raises(ConfigTypeError) as info:
        build_param_schedulers(wrapper, cfg, epoch_length=4, max_epochs=3)
    assert str(info.value).startswith("param_scheduler[1].T_max: 'x' is a str, expected")


RTMO_S = [  # param_scheduler of MMPose's rtmo-s_8xb32-600e_coco-640x640.py
    dict(type='QuadraticWarmupLR', by_epoch=True, begin=0, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=0.0002, begin=5, T_max=280, end=280,
         by_epoch=True, convert_to_iter_based=True),
    dict(type='ConstantLR', by_epoch=True, factor=2.5, begin=280, end=281),
    dict(type='CosineAnnealingLR', eta_min=0.0002, begin=281, T_max=300, end=580,
         by_epoch=True, convert_to_iter_based=True),
    dict(type='ConstantLR', by_epoch=True, factor=1, begin=580, end=600)]


def test_rtmo_s_schedule_shape():
    """RTMO-s over 600 epochs of L = 4 iterations, AdamW lr 0.004, and a
    second group at lr_mult 0.05 (``neck.encoder``: 0.0002, the cosine floor).

    - iterations [0, 20): quadratic warm-up, ``base * ((i + 1) / 20)**2``;
    - [20, 1120): cosine from the base to 2e-4 over T_max = 280 * L = 1120
      iterations, cut at its end: iteration 1119 is still above the floor;
    - epoch 280 (iterations 1120-1123): the epoch-based ConstantLR multiplies
      the last value by 2.5 after epoch 279 and never divides it back;
    - [1124, 2320): a second cosine from that value v1 (it chains from the
      current value, not the base) to 2e-4 over T_max = 1200 iterations;
    - [2320, 2400): ConstantLR(factor=1) keeps the last value.
    The whole sequence (both groups, every iteration) is equal, float for
    float, to MMEngine 0.10.7's with MMPose 1.3.2's schedulers for this and
    the other RTMO / YOLOX-Pose configs (checked outside the suite).
    """
    base, floor, L = 0.004, 0.0002, 4
    wrapper = make_wrapper((base, base * 0.05), torch.optim.AdamW)
    scheds = build_param_schedulers(wrapper, RTMO_S, L, max_epochs=600)
    lrs = []
    for _ in range(600):
        for _ in range(L):
            lrs.append([g['lr'] for g in wrapper.optimizer.param_groups])
            step_iter_schedulers(scheds)
        step_epoch_schedulers(scheds)
    assert len(lrs) == 2400

    def cosine(top, t, t_max):
        return floor + (top - floor) * (1 + math.cos(math.pi * t / t_max)) / 2

    for i in (0, 1, 10, 19):
        assert lrs[i][0] == pytest.approx(base * ((i + 1) / 20)**2, rel=1e-9)
        assert lrs[i][1] == pytest.approx(base * 0.05 * ((i + 1) / 20)**2, rel=1e-9)
    for i in (20, 21, 500, 1119):
        assert lrs[i] == [pytest.approx(cosine(base, i - 20, 1120), rel=1e-9),
                          pytest.approx(floor, rel=1e-9)]
    last = cosine(base, 1099, 1120)
    assert last > floor * 1.01  # cut before the floor
    v1 = [2.5 * last, 2.5 * floor]
    for i in (1120, 1123, 1124):
        assert lrs[i] == pytest.approx(v1, rel=1e-9)
    for i in (1125, 1700, 2319):
        assert lrs[i] == pytest.approx([cosine(v, i - 1124, 1200) for v in v1], rel=1e-9)
    end = [cosine(v, 1195, 1200) for v in v1]
    assert lrs[2320] == lrs[2399] == pytest.approx(end, rel=1e-9)


# ReduceOnPlateau: validation metrics, after every epoch; PyTorch's
# ReduceLROnPlateau (the same rules) is the reference
PLATEAU_METRICS = [1.0, 0.9, 0.91, 0.9, 0.95, 0.85, 0.86, 0.87, 0.849, 0.9, 0.9, 0.9]


@pytest.mark.parametrize('options', [
    dict(rule='less', patience=1),
    dict(rule='less', patience=0, threshold=0.05, threshold_rule='abs', cooldown=2),
    dict(rule='greater', patience=1, factor=0.5, min_value=0.02),
    dict(rule='greater', patience=2, threshold=0.1, threshold_rule='rel'),
])
def test_reduce_on_plateau_follows_pytorchs_rules(options):
    wrapper = make_wrapper((0.1, 0.05))
    sched = build_param_schedulers(wrapper, dict(type='ReduceOnPlateauLR', monitor='PCK',
                                                 **options))[0]
    torch_options = dict(mode={'less': 'min', 'greater': 'max'}[options['rule']],
                         patience=options['patience'], factor=options.get('factor', 0.1),
                         threshold=options.get('threshold', 1e-4),
                         threshold_mode=options.get('threshold_rule', 'rel'),
                         cooldown=options.get('cooldown', 0),
                         min_lr=options.get('min_value', 0.))
    reference = make_wrapper((0.1, 0.05)).optimizer
    torch_sched = torch.optim.lr_scheduler.ReduceLROnPlateau(reference, **torch_options)
    ours, theirs = [], []
    for value in PLATEAU_METRICS:
        step_epoch_schedulers([sched])   # a training epoch: counted only
        sched.step({'PCK': value, 'AUC': 0.5})
        torch_sched.step(value)
        ours.append([g['lr'] for g in wrapper.optimizer.param_groups])
        theirs.append([g['lr'] for g in reference.param_groups])
    assert ours == theirs
    assert len({lr for lr, _ in ours}) > 1   # it did reduce


def test_reduce_on_plateau_window_counts_training_epochs():
    """begin=2: the validations after epochs 1 and 2 are not judged; the
    window counts epochs, not validations (one every 2 epochs here)."""
    wrapper = make_wrapper()
    sched = build_param_schedulers(wrapper, dict(
        type='ReduceOnPlateauLR', monitor='loss', patience=0, begin=2))[0]
    lrs = []
    for epoch in range(1, 9):
        step_epoch_schedulers([sched])
        if epoch % 2 == 0:
            sched.step({'loss': 1.0})   # never better than the first judged
        lrs.append(wrapper.optimizer.param_groups[0]['lr'])
    # judged after epochs 2 (sets the best), 4, 6, 8 (worse: x0.1 each)
    assert lrs == pytest.approx([0.1, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001, 0.0001])
    with pytest.raises(KeyError, match="monitor 'loss' is not among the validation metrics "
                                       "\\['PCK'\\]"):
        sched.step({'PCK': 1.0})


def test_reduce_on_plateau_momentum_of_adam_is_beta1():
    wrapper = make_wrapper(opt=torch.optim.Adam, betas=(0.9, 0.999))
    sched = build_param_schedulers(wrapper, dict(
        type='ReduceOnPlateauMomentum', monitor='loss', patience=0, factor=0.5))[0]
    for value in (1.0, 2.0):
        step_epoch_schedulers([sched])
        sched.step({'loss': value})
    assert wrapper.optimizer.param_groups[0]['betas'] == (0.45, 0.999)
    # the state is plain data: it survives a weights_only checkpoint
    buffer = io.BytesIO()
    torch.save(sched.state_dict(), buffer)
    buffer.seek(0)
    assert torch.load(buffer, weights_only=True) == sched.state_dict()
