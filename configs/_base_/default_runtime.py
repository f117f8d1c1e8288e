# Runtime settings shared by every training config. Each key is read by the
# engine; the values match MMPose 1.x so its configs that inherit this file
# (also as 'mmpose::_base_/default_runtime.py') behave the same.
default_scope = 'mmpose'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),  # data and iteration time
    logger=dict(type='LoggerHook', interval=50),  # log every 50 iterations
    param_scheduler=dict(type='ParamSchedulerHook'),  # steps the LR schedules
    checkpoint=dict(type='CheckpointHook', interval=10),  # every 10 epochs
    sampler_seed=dict(type='DistSamplerSeedHook'),  # reshuffle each epoch
    visualization=dict(type='PoseVisualizationHook', enable=False),
    badcase=dict(type='BadCaseAnalysisHook', enable=False, out_dir='badcase',
                 metric_type='loss', badcase_thr=5),
)

# BN running statistics are synchronised across processes after each epoch.
custom_hooks = [dict(type='SyncBuffersHook')]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='PoseLocalVisualizer', vis_backends=vis_backends,
                  name='visualizer')

log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True,
                     num_digits=6)
log_level = 'INFO'
load_from = None  # a checkpoint to start from (weights only)
resume = False  # True: continue from the latest checkpoint in work_dir

backend_args = dict(backend='local')  # images are read from local files

train_cfg = dict(by_epoch=True)
val_cfg = dict()
test_cfg = dict()
