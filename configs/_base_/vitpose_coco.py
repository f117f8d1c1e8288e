# ViTPose "simple" (Xu et al., NeurIPS 2022) on COCO person keypoints, the
# base of configs/body_2d_keypoint/topdown_heatmap/coco/td-hm_ViTPose-*-simple:
# a plain ViT-B (MAE-pretrained, 16 px patches) whose stride-16 feature map
# is upsampled 4x (bilinear + ReLU) and read out by one 3x3 conv into 17
# UDP heatmaps. Schedule: 8 GPUs x 64 crops, AdamW with layer-wise lr
# decay, 210 epochs. Its children set the ViT size.
_base_ = ['default_runtime.py']

# ---------------------------------------------------------------- schedule
train_cfg = dict(max_epochs=210, val_interval=10)
# MMPose's layer-decay optimiser constructor lives in a module of its own;
# posekit provides it, so this import is a no-op here.
custom_imports = dict(
    imports=['mmpose.engine.optim_wrappers.layer_decay_optim_wrapper'],
    allow_failed_imports=False)
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=5e-4, betas=(0.9, 0.999),
                   weight_decay=0.1),
    # lr of block i (of num_layers) scaled by layer_decay_rate ** (depth - i)
    paramwise_cfg=dict(
        num_layers=12,
        layer_decay_rate=0.75,
        # no decay on biases, embeddings and norms ('decay_multi' is MMPose's
        # spelling, kept so the optimiser groups are the same)
        custom_keys={
            'bias': dict(decay_multi=0.0),
            'pos_embed': dict(decay_mult=0.0),
            'relative_position_bias_table': dict(decay_mult=0.0),
            'norm': dict(decay_mult=0.0),
        }),
    constructor='LayerDecayOptimWrapperConstructor',
    clip_grad=dict(max_norm=1., norm_type=2))
param_scheduler = [
    # linear warm-up over the first 500 iterations, from lr * 0.001
    dict(type='LinearLR', begin=0, end=500, start_factor=0.001,
         by_epoch=False),
    # x0.1 at epochs 170 and 200
    dict(type='MultiStepLR', begin=0, end=210, milestones=[170, 200],
         gamma=0.1, by_epoch=True),
]
# lr above is for 8 x 64 = 512 crops per step; scaled when enabled
auto_scale_lr = dict(base_batch_size=512)
default_hooks = dict(
    checkpoint=dict(save_best='coco/AP', rule='greater', max_keep_ckpts=1))

# ------------------------------------------------------------------ codec
# 192x256 (w x h) crop -> 48x64 heatmaps (stride 4), Gaussian sigma 2 px
codec = dict(
    type='UDPHeatmap', input_size=(192, 256), heatmap_size=(48, 64), sigma=2)

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
        type='mmpretrain.VisionTransformer',
        arch='base',
        img_size=(256, 192),  # (h, w) here, as mmpretrain's ViT takes it
        patch_size=16,
        qkv_bias=True,
        drop_path_rate=0.3,
        with_cls_token=False,
        out_type='featmap',  # (N, C, 256 / 16, 192 / 16) = (N, C, 16, 12)
        patch_cfg=dict(padding=2),
        # MAE self-supervised ImageNet weights
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.openmmlab.com/mmpose/v1/'
            'pretrained_models/mae_pretrain_vit_base_20230913.pth')),
    neck=dict(type='FeatureMapProcessor', scale_factor=4.0, apply_relu=True),
    head=dict(
        type='HeatmapHead',
        in_channels=768,  # ViT-B embedding width
        out_channels=17,  # COCO keypoints
        deconv_out_channels=[],  # the neck already upsampled to stride 4
        deconv_kernel_sizes=[],
        final_layer=dict(kernel_size=3, padding=1),
        loss=dict(type='KeypointMSELoss', use_target_weight=True),
        decoder=codec),
    test_cfg=dict(
        flip_test=True,
        flip_mode='heatmap',
        shift_heatmap=False))  # UDP: mirrored heatmaps are already aligned

# ------------------------------------------------------------------- data
data_root = 'data/coco/'
dataset_type = 'CocoDataset'
data_mode = 'topdown'

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomHalfBody'),
    dict(type='RandomBBoxTransform'),
    dict(type='TopdownAffine', input_size=codec['input_size'], use_udp=True),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size'], use_udp=True),
    dict(type='PackPoseInputs'),
]

train_dataloader = dict(
    batch_size=64,
    num_workers=4,
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
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='annotations/person_keypoints_val2017.json',
        # person boxes of a detector with 56 AP (the usual COCO protocol)
        bbox_file='data/coco/person_detection_results/'
        'COCO_val2017_detections_AP_H_56_person.json',
        data_prefix=dict(img='val2017/'),
        test_mode=True,
        pipeline=val_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(
    type='CocoMetric',
    ann_file=data_root + 'annotations/person_keypoints_val2017.json')
test_evaluator = val_evaluator
