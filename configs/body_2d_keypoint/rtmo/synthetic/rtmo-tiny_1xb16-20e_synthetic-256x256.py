# A small RTMO trained from scratch on the bundled synthetic data (one-stage:
# boxes and keypoints of every person from one network, no detector).
# Make the data first (it is not shipped):
#     posekit make-synthetic data/synthetic-1k --num-images 1000
# MMPose's rtmo-t layout at two thirds of its width, on whole 256x256 images.
_base_ = ['../../../_base_/default_runtime.py']

# ---------------------------------------------------------------- schedule
max_epochs = 20
train_cfg = dict(max_epochs=max_epochs, val_interval=10)
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='ForceDefaultOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0, bias_decay_mult=0,
                       bypass_duplicate=True, force_default_settings=True,
                       custom_keys=dict({'neck.encoder': dict(lr_mult=0.05)})),
    clip_grad=dict(max_norm=0.1, norm_type=2))
param_scheduler = [
    dict(type='QuadraticWarmupLR', by_epoch=True, begin=0, end=2,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=2e-5, begin=2, T_max=max_epochs - 2,
         end=max_epochs, by_epoch=True, convert_to_iter_based=True),
]
auto_scale_lr = dict(base_batch_size=16)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),  # one line per epoch
    checkpoint=dict(type='CheckpointHook', interval=10, save_best='coco/AP',
                    rule='greater', max_keep_ckpts=1))
randomness = dict(seed=0)

# ------------------------------------------------------------------ codec
input_size = (256, 256)
metafile = 'configs/_base_/datasets/coco.py'
codec = dict(type='YOLOXPoseAnnotationProcessor', input_size=input_size)

# ------------------------------------------------------------------ model
widen_factor = 0.25
deepen_factor = 0.33
model = dict(
    type='BottomupPoseEstimator',
    init_cfg=dict(type='Kaiming', layer='Conv2d', a=2.23606797749979,
                  distribution='uniform', mode='fan_in',
                  nonlinearity='leaky_relu'),
    data_preprocessor=dict(
        type='PoseDataPreprocessor', pad_size_divisor=32,
        mean=[0, 0, 0], std=[1, 1, 1]),
    backbone=dict(
        type='CSPDarknet', deepen_factor=deepen_factor,
        widen_factor=widen_factor, out_indices=(2, 3, 4),
        spp_kernal_sizes=(5, 9, 13),
        norm_cfg=dict(type='BN', momentum=0.03, eps=0.001),
        act_cfg=dict(type='Swish')),
    neck=dict(
        type='HybridEncoder',
        in_channels=[64, 128, 256],
        deepen_factor=deepen_factor,
        widen_factor=widen_factor,
        hidden_dim=128,
        output_indices=[1, 2],
        encoder_cfg=dict(
            self_attn_cfg=dict(embed_dims=128, num_heads=4, dropout=0.0),
            ffn_cfg=dict(embed_dims=128, feedforward_channels=512,
                         ffn_drop=0.0, act_cfg=dict(type='GELU'))),
        projector=dict(type='ChannelMapper', in_channels=[128, 128],
                       kernel_size=1, out_channels=128, act_cfg=None,
                       norm_cfg=dict(type='BN'), num_outs=2)),
    head=dict(
        type='RTMOHead',
        num_keypoints=17,
        featmap_strides=(16, 32),
        head_module_cfg=dict(
            num_classes=1, in_channels=128, cls_feat_channels=128,
            channels_per_group=36, pose_vec_channels=128,
            # the module splits its input: half to classification, half to
            # pose, each in_channels * widen_factor = 64 channels
            widen_factor=0.5,
            stacked_convs=2, norm_cfg=dict(type='BN', momentum=0.03, eps=0.001),
            act_cfg=dict(type='Swish')),
        assigner=dict(type='SimOTAAssigner', dynamic_k_indicator='oks',
                      oks_calculator=dict(type='PoseOKS', metainfo=metafile),
                      use_keypoints_for_center=True),
        prior_generator=dict(type='MlvlPointGenerator',
                             centralize_points=True, strides=[16, 32]),
        dcc_cfg=dict(
            in_channels=128, feat_channels=64, num_bins=(192, 256),
            spe_channels=64,
            gau_cfg=dict(s=64, expansion_factor=2, dropout_rate=0.0,
                         drop_path=0.0, act_fn='SiLU', pos_enc='add')),
        overlaps_power=0.5,
        loss_cls=dict(type='VariFocalLoss', reduction='sum',
                      use_target_weight=True, loss_weight=1.0),
        loss_bbox=dict(type='IoULoss', mode='square', eps=1e-16,
                       reduction='sum', loss_weight=5.0),
        loss_oks=dict(type='OKSLoss', reduction='none', metainfo=metafile,
                      loss_weight=30.0),
        loss_vis=dict(type='BCELoss', use_target_weight=True,
                      reduction='mean', loss_weight=1.0),
        loss_mle=dict(type='MLECCLoss', use_target_weight=True,
                      loss_weight=1.0),
        loss_bbox_aux=dict(type='L1Loss', reduction='sum', loss_weight=1.0)),
    test_cfg=dict(input_size=input_size, score_thr=0.1, nms_thr=0.65))

# ------------------------------------------------------------------- data
dataset_type = 'CocoDataset'
data_mode = 'bottomup'
data_root = 'data/synthetic-1k/'

train_pipeline_stage1 = [
    dict(type='LoadImage'),
    dict(type='BottomupRandomAffine', input_size=input_size,
         shift_factor=0.1, rotate_factor=10, scale_factor=(0.75, 1.0),
         pad_val=114, distribution='uniform', transform_mode='perspective',
         bbox_keep_corner=False, clip_border=True),
    dict(type='YOLOXHSVRandomAug'),
    dict(type='RandomFlip'),
    dict(type='FilterAnnotations', by_kpt=True, by_box=True, keep_empty=False),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
# the last epochs: no geometric augmentation
train_pipeline_stage2 = [
    dict(type='LoadImage'),
    dict(type='BottomupRandomAffine', input_size=input_size, shift_prob=0,
         rotate_prob=0, scale_prob=0, scale_type='long',
         pad_val=(114, 114, 114), bbox_keep_corner=False, clip_border=True),
    dict(type='YOLOXHSVRandomAug'),
    dict(type='RandomFlip'),
    dict(type='BottomupGetHeatmapMask', get_invalid=True),
    dict(type='FilterAnnotations', by_kpt=True, by_box=True, keep_empty=False),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='BottomupResize', input_size=input_size, pad_val=(114, 114, 114)),
    dict(type='PackPoseInputs',
         meta_keys=('id', 'img_id', 'img_path', 'ori_shape', 'img_shape',
                    'input_size', 'input_center', 'input_scale')),
]

train_dataloader = dict(
    batch_size=16,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type, data_root=data_root, data_mode=data_mode,
        ann_file='annotations/train.json',
        data_prefix=dict(img='images/train/'),
        pipeline=train_pipeline_stage1))
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type=dataset_type, data_root=data_root, data_mode=data_mode,
        ann_file='annotations/val.json',
        data_prefix=dict(img='images/val/'),
        test_mode=True,
        pipeline=val_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(type='CocoMetric',
                     ann_file=data_root + 'annotations/val.json',
                     score_mode='bbox', nms_mode='none')
test_evaluator = val_evaluator

# ------------------------------------------------------------------ hooks
custom_hooks = [
    dict(type='YOLOXPoseModeSwitchHook', num_last_epochs=3,
         new_train_pipeline=train_pipeline_stage2, priority=48),
    dict(type='RTMOModeSwitchHook',
         epoch_attributes={
             12: {'proxy_target_cc': True, 'loss_mle.loss_weight': 5.0,
                  'loss_oks.loss_weight': 10.0}},
         priority=48),
    dict(type='SyncNormHook', priority=48),
    dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.0002,
         update_buffers=True, strict_load=False, priority=49),
]
