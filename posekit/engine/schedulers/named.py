"""The names configs use: each schedule bound to the learning rate or momentum.

``dict(type='LinearLR', start_factor=0.001, begin=0, end=500, by_epoch=False)``
is :class:`LinearParamScheduler` with ``param_name='lr'``. Momentum variants
schedule ``momentum`` (SGD, RMSprop) or ``betas[0]`` (Adam family).
"""
from __future__ import annotations


from posekit.registry import PARAM_SCHEDULERS

from .param_schedulers import (ConstantParamScheduler,
                               CosineAnnealingParamScheduler,
                               CosineRestartParamScheduler,
                               ExponentialParamScheduler, LinearParamScheduler,
                               MultiStepParamScheduler, OneCycleParamScheduler,
                               PolyParamScheduler,
                               QuadraticWarmupParamScheduler,
                               ReduceOnPlateauParamScheduler, StepParamScheduler)

# Learning rate -------------------------------------------------------------


@PARAM_SCHEDULERS.register_module()
class StepLR(StepParamScheduler):
    fixed_param_name = 'lr'


@PARAM_SCHEDULERS.register_module()
class MultiStepLR(MultiStepParamScheduler):
    fixed_param_name = 'lr'


@PARAM_SCHEDULERS.register_module()
class ConstantLR(ConstantParamScheduler):
    fixed_param_name = 'lr'


@PARAM_SCHEDULERS.register_module()
class ExponentialLR(ExponentialParamScheduler):
    fixed_param_name = 'lr'


@PARAM_SCHEDULERS.register_module()
class LinearLR(LinearParamScheduler):
    fixed_param_name = 'lr'


@PARAM_SCHEDULERS.register_module()
class PolyLR(PolyParamScheduler):
    fixed_param_name = 'lr'


@PARAM_SCHEDULERS.register_module()
class CosineAnnealingLR(CosineAnnealingParamScheduler):
    fixed_param_name = 'lr'


@PARAM_SCHEDULERS.register_module()
class CosineRestartLR(CosineRestartParamScheduler):
    fixed_param_name = 'lr'


@PARAM_SCHEDULERS.register_module()
class QuadraticWarmupLR(QuadraticWarmupParamScheduler):
    fixed_param_name = 'lr'


@PARAM_SCHEDULERS.register_module()
class OneCycleLR(OneCycleParamScheduler):
    fixed_param_name = 'lr'


# Momentum ------------------------------------------------------------------


@PARAM_SCHEDULERS.register_module()
class StepMomentum(StepParamScheduler):
    fixed_param_name = 'momentum'


@PARAM_SCHEDULERS.register_module()
class MultiStepMomentum(MultiStepParamScheduler):
    fixed_param_name = 'momentum'


@PARAM_SCHEDULERS.register_module()
class ConstantMomentum(ConstantParamScheduler):
    fixed_param_name = 'momentum'


@PARAM_SCHEDULERS.register_module()
class ExponentialMomentum(ExponentialParamScheduler):
    fixed_param_name = 'momentum'


@PARAM_SCHEDULERS.register_module()
class LinearMomentum(LinearParamScheduler):
    fixed_param_name = 'momentum'


@PARAM_SCHEDULERS.register_module()
class PolyMomentum(PolyParamScheduler):
    fixed_param_name = 'momentum'


@PARAM_SCHEDULERS.register_module()
class CosineAnnealingMomentum(CosineAnnealingParamScheduler):
    fixed_param_name = 'momentum'


@PARAM_SCHEDULERS.register_module()
class CosineRestartMomentum(CosineRestartParamScheduler):
    fixed_param_name = 'momentum'


@PARAM_SCHEDULERS.register_module()
class QuadraticWarmupMomentum(QuadraticWarmupParamScheduler):
    fixed_param_name = 'momentum'


# Metric-driven --------------------------------------------------------------


@PARAM_SCHEDULERS.register_module()
class ReduceOnPlateauLR(ReduceOnPlateauParamScheduler):
    fixed_param_name = 'lr'


@PARAM_SCHEDULERS.register_module()
class ReduceOnPlateauMomentum(ReduceOnPlateauParamScheduler):
    fixed_param_name = 'momentum'
