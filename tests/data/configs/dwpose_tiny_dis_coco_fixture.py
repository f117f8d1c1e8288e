# DWPose stage-1 distillation in MMPose 1.x's config format, tiny: the
# 128-channel RTMCC model teaches the 64-channel one on the 4-image COCO
# fixture. Teacher and student config paths are relative to the working
# directory (the repository root for the tests), as in MMPose's dwpose
# configs. teacher_pretrained is None: the teacher keeps its random weights
# (MMPose's configs name a checkpoint URL; posekit needs a local file).

_base_ = ['../../../configs/_base_/default_runtime.py',
          'td_rtmcc_cspnext-tiny_coco_fixture.py']

train_cfg = dict(max_epochs=2, val_interval=1)
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
                     clip_grad=dict(max_norm=1., norm_type=2))
param_scheduler = []
default_hooks = dict(logger=dict(type='LoggerHook', interval=1),
                     checkpoint=dict(type='CheckpointHook', interval=1))
custom_hooks = []
randomness = dict(seed=0)

model = dict(
    _delete_=True,
    type='DWPoseDistiller',
    teacher_pretrained=None,
    teacher_cfg='tests/data/configs/td_rtmcc_cspnext-tiny_coco_fixture.py',
    student_cfg='tests/data/configs/td_rtmcc_cspnext-tinier_coco_fixture.py',
    distill_cfg=[
        dict(methods=[dict(type='FeaLoss', name='loss_fea', use_this=True,
                           student_channels=64, teacher_channels=128,
                           alpha_fea=0.00007)]),
        dict(methods=[dict(type='KDLoss', name='loss_logit', use_this=True,
                           weight=0.1)]),
    ],
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True))

# SimCC targets for the 64x64 crops of both models
codec = dict(
    type='SimCCLabel', input_size=(64, 64), sigma=(2.0, 2.0),
    simcc_split_ratio=2.0, normalize=False, use_dark=False)
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
train_dataloader = dict(
    _delete_=True,  # the base has None (it trains no heatmap targets)
    batch_size=2,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='CocoDataset',
        data_root='tests/data/fixtures/coco/',
        data_mode='topdown',
        ann_file='test_coco.json',
        data_prefix=dict(img=''),
        pipeline=train_pipeline))
# val/test: the base's loaders and CocoMetric on the same fixture
