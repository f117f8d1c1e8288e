"""posekit.engine.schedulers: learning-rate and momentum schedules.

Importing this package registers every scheduler in
``posekit.registry.PARAM_SCHEDULERS`` under MMEngine's / MMPose's names.
How a training loop drives them: :mod:`posekit.engine.schedulers.builder`.
"""
from .base import INF, ParamScheduler
from .builder import (build_param_schedulers, step_epoch_schedulers,
                      step_iter_schedulers)
from .named import (ConstantLR, ConstantMomentum, CosineAnnealingLR,
                    CosineAnnealingMomentum, CosineRestartLR,
                    CosineRestartMomentum, ExponentialLR, ExponentialMomentum,
                    LinearLR, LinearMomentum, MultiStepLR, MultiStepMomentum,
                    OneCycleLR, PolyLR, PolyMomentum, QuadraticWarmupLR,
                    QuadraticWarmupMomentum, ReduceOnPlateauLR,
                    ReduceOnPlateauMomentum, StepLR, StepMomentum)
from .param_schedulers import (ConstantParamScheduler,
                               CosineAnnealingParamScheduler,
                               CosineRestartParamScheduler,
                               ExponentialParamScheduler, LinearParamScheduler,
                               MultiStepParamScheduler, OneCycleParamScheduler,
                               PolyParamScheduler,
                               QuadraticWarmupParamScheduler,
                               ReduceOnPlateauParamScheduler, StepParamScheduler)

__all__ = [
    'INF', 'ParamScheduler', 'build_param_schedulers', 'step_epoch_schedulers',
    'step_iter_schedulers',
    'ConstantParamScheduler', 'CosineAnnealingParamScheduler',
    'CosineRestartParamScheduler', 'ExponentialParamScheduler',
    'LinearParamScheduler', 'MultiStepParamScheduler',
    'OneCycleParamScheduler', 'PolyParamScheduler',
    'QuadraticWarmupParamScheduler', 'ReduceOnPlateauParamScheduler',
    'StepParamScheduler',
    'ConstantLR', 'CosineAnnealingLR', 'CosineRestartLR', 'ExponentialLR',
    'LinearLR', 'MultiStepLR', 'OneCycleLR', 'PolyLR', 'QuadraticWarmupLR',
    'ReduceOnPlateauLR', 'StepLR',
    'ConstantMomentum', 'CosineAnnealingMomentum', 'CosineRestartMomentum',
    'ExponentialMomentum', 'LinearMomentum', 'MultiStepMomentum',
    'PolyMomentum', 'QuadraticWarmupMomentum', 'ReduceOnPlateauMomentum',
    'StepMomentum',
]
