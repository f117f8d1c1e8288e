"""Hooks (registered in ``HOOKS``): what MMPose 1.x configs name in
``default_hooks`` and ``custom_hooks``."""
from .badcase_hook import BadCaseAnalysisHook
from .checkpoint_hook import CheckpointHook
from .ema_hook import (BaseAveragedModel, EMAHook, ExpMomentumEMA,
                       ExponentialMovingAverage)
from .hook import PRIORITIES, Hook, get_priority
from .logger_hook import LoggerHook
from .mode_switch_hooks import RTMOModeSwitchHook, YOLOXPoseModeSwitchHook
from .runtime_hooks import (DistSamplerSeedHook, EmptyCacheHook, IterTimerHook,
                            ParamSchedulerHook, PipelineSwitchHook,
                            SyncBuffersHook, SyncNormHook)
from .visualization_hook import PoseVisualizationHook

__all__ = [
    'BadCaseAnalysisHook', 'BaseAveragedModel', 'CheckpointHook',
    'DistSamplerSeedHook', 'EMAHook', 'EmptyCacheHook', 'ExpMomentumEMA',
    'ExponentialMovingAverage', 'Hook', 'IterTimerHook', 'LoggerHook',
    'PRIORITIES', 'ParamSchedulerHook', 'PipelineSwitchHook',
    'PoseVisualizationHook', 'RTMOModeSwitchHook', 'SyncBuffersHook', 'SyncNormHook',
    'YOLOXPoseModeSwitchHook', 'get_priority'
]
