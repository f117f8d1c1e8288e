# A small top-down heatmap model for the bundled synthetic dataset, sized to
# train on a laptop CPU in minutes: a half-width ResNet-18 (32 stem and base
# channels, 256 at the last stage), three 64-channel deconvolutions, 128x96
# crops. Make the data first (it is not shipped):
#     posekit make-synthetic data/synthetic
# 400 training images hold about 900 figures: 29 steps of 32 crops per epoch.
_base_ = ['../../../_base_/default_runtime.py']

# ---------------------------------------------------------------- schedule
train_cfg = dict(max_epochs=30, val_interval=10)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=2e-3))
param_scheduler = [
    # linear warm-up over the first 50 iterations, from lr * 0.01
    dict(type='LinearLR', begin=0, end=50, start_factor=0.01,
         by_epoch=False),
    # x0.1 at epochs 20 and 27
    dict(type='MultiStepLR', begin=0, end=30, milestones=[20, 27],
         gamma=0.1, by_epoch=True),
]
auto_scale_lr = dict(base_batch_size=32)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=10, save_best='coco/AP',
                    rule='greater'))

# ------------------------------------------------------------------ codec
# 96x128 (w x h) crop -> 24x32 heatmaps (stride 4); sigma 1 px is the usual
# sigma 2 of 48x64 heatmaps at half the resolution
codec = dict(
    type='MSRAHeatmap', input_size=(96, 128), heatmap_size=(24, 32), sigma=1)

# ------------------------------------------------------------------ model
model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        type='ResNet',
        depth=18,
        stem_channels=32,
        base_channels=32,  # stages: 32, 64, 128, 256 channels
        init_cfg=None),  # from scratch: no ImageNet weights at this width
    head=dict(
        type='HeatmapHead',
        in_channels=256,
        out_channels=17,  # COCO's keypoints
        deconv_out_channels=(64, 64, 64),  # stride 32 -> 4
        deconv_kernel_sizes=(4, 4, 4),
        loss=dict(type='KeypointMSELoss', use_target_weight=True),
        decoder=codec),
    test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=True))

# ------------------------------------------------------------------- data
dataset_type = 'CocoDataset'
data_mode = 'topdown'
data_root = 'data/synthetic/'

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
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='annotations/train.json',
        data_prefix=dict(img='images/train/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='annotations/val.json',
        data_prefix=dict(img='images/val/'),
        test_mode=True,  # ground-truth boxes
        pipeline=val_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(
    type='CocoMetric', ann_file=data_root + 'annotations/val.json')
test_evaluator = val_evaluator
