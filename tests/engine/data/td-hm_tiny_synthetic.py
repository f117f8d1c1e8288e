# A tiny top-down heatmap model for the engine tests: ResNet-18 at width 4
# (4, 8, 16, 32 channels), 64x96 crops -> 16x24 heatmaps. It learns nothing
# useful in 2 epochs; it exercises every part of a run in seconds.
_base_ = ['../../../configs/_base_/default_runtime.py']

train_cfg = dict(max_epochs=2, val_interval=1)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=4, start_factor=0.1, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=2, milestones=[1], gamma=0.5,
         by_epoch=True),
]
auto_scale_lr = dict(base_batch_size=8)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=2),
    checkpoint=dict(type='CheckpointHook', interval=1, save_best='coco/AP',
                    rule='greater'))
randomness = dict(seed=3)

codec = dict(type='MSRAHeatmap', input_size=(64, 96), heatmap_size=(16, 24),
             sigma=1)
model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(type='PoseDataPreprocessor',
                           mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(type='ResNet', depth=18, stem_channels=4, base_channels=4,
                  init_cfg=None),
    head=dict(type='HeatmapHead', in_channels=32, out_channels=17,
              deconv_out_channels=(8, 8, 8), deconv_kernel_sizes=(4, 4, 4),
              loss=dict(type='KeypointMSELoss', use_target_weight=True),
              decoder=codec),
    test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=True))

data_root = 'data/synthetic/'  # the tests point it at a generated set
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomHalfBody'),
    dict(type='RandomBBoxTransform'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(
    batch_size=8, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='CocoDataset', data_root=data_root, data_mode='topdown',
                 ann_file='annotations/train.json',
                 data_prefix=dict(img='images/train/'),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8, num_workers=0, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(type='CocoDataset', data_root=data_root, data_mode='topdown',
                 ann_file='annotations/val.json',
                 data_prefix=dict(img='images/val/'), test_mode=True,
                 pipeline=val_pipeline))
test_dataloader = val_dataloader
val_evaluator = [
    dict(type='CocoMetric', ann_file=data_root + 'annotations/val.json'),
    dict(type='PCKAccuracy', thr=0.05),
]
test_evaluator = val_evaluator
