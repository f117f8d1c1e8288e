# SimCC (Li et al., ECCV 2022) on COCO person keypoints: ResNet-50 -> 3
# deconvolutions -> per keypoint, two 1-D classifications over x and y bins
# at twice the crop resolution (384 x-bins, 512 y-bins), trained with KL
# divergence against Gaussian labels.
# Schedule: 8 GPUs x 64 crops, Adam, 210 epochs. MMPose's release of this
# recipe reports 72.1 AP on val2017 with detected person boxes.
_base_ = ['../../../_base_/default_runtime.py']

# ---------------------------------------------------------------- schedule
train_cfg = dict(max_epochs=210, val_interval=10)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3))
param_scheduler = [
    # linear warm-up over the first 500 iterations, from lr * 0.001
    dict(type='LinearLR', begin=0, end=500, start_factor=0.001,
         by_epoch=False),
    # x0.1 at epochs 170 and 200
    dict(type='MultiStepLR', milestones=[170, 200], gamma=0.1, by_epoch=True),
]
# lr above is for 8 x 64 = 512 crops per step; scaled when enabled
auto_scale_lr = dict(base_batch_size=512)
default_hooks = dict(checkpoint=dict(save_best='coco/AP', rule='greater'))

# ------------------------------------------------------------------ codec
# 192x256 (w x h) crop, 2 bins per pixel, label Gaussian sigma 6 bins
codec = dict(
    type='SimCCLabel', input_size=(192, 256), sigma=6.0, simcc_split_ratio=2.0)

# ------------------------------------------------------------------ model
model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        # ImageNet statistics, RGB order (images are loaded as BGR)
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        type='ResNet',
        depth=50,
        # ImageNet weights, torchvision's file
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')),
    head=dict(
        type='SimCCHead',
        in_channels=2048,
        out_channels=17,  # COCO keypoints
        input_size=codec['input_size'],
        # stride 32: (192 / 32, 256 / 32) = (6, 8)
        in_featuremap_size=tuple([s // 32 for s in codec['input_size']]),
        simcc_split_ratio=codec['simcc_split_ratio'],
        loss=dict(type='KLDiscretLoss', use_target_weight=True),
        decoder=codec),
    test_cfg=dict(flip_test=True))

# ------------------------------------------------------------------- data
dataset_type = 'CocoDataset'
data_mode = 'topdown'
data_root = 'data/coco/'

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
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='annotations/person_keypoints_train2017.json',
        data_prefix=dict(img='train2017/'),
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
        ann_file='annotations/person_keypoints_val2017.json',
        # person boxes of a detector with 56 AP (the usual COCO protocol)
        bbox_file=data_root + 'person_detection_results/'
        'COCO_val2017_detections_AP_H_56_person.json',
        data_prefix=dict(img='val2017/'),
        test_mode=True,
        pipeline=val_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(
    type='CocoMetric',
    ann_file=data_root + 'annotations/person_keypoints_val2017.json')
test_evaluator = val_evaluator
