# RTMO (Lu et al., CVPR 2024), one-stage multi-person pose estimation, on
# Body7 at 640x640: the "l" model, the base of
# configs/body_2d_keypoint/rtmo/body7/. CSPDarknet (YOLOX) backbone, hybrid
# transformer encoder neck, RTMO head (dynamic coordinate classifier,
# SimOTA assignment). Trained on the union of COCO, AIC, CrowdPose, MPII,
# JHMDB, Halpe and PoseTrack18 mapped onto COCO's 17 keypoints; the last 20
# epochs on COCO alone without mosaic. Children change the model size.
_base_ = ['default_runtime.py']

# ---------------------------------------------------------------- schedule
# 600 epochs, validated every 20 (every epoch over the last 20)
train_cfg = dict(max_epochs=600, val_interval=20, dynamic_intervals=[(580, 1)])
auto_scale_lr = dict(base_batch_size=256)
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=40, max_keep_ckpts=3))
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='ForceDefaultOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=0.004, weight_decay=0.05),
    paramwise_cfg=dict(
        norm_decay_mult=0,
        bias_decay_mult=0,
        bypass_duplicate=True,
        force_default_settings=True,
        # the transformer encoder learns 20x slower
        custom_keys=dict({'neck.encoder': dict(lr_mult=0.05)})),
    clip_grad=dict(max_norm=0.1, norm_type=2))
param_scheduler = [
    dict(type='QuadraticWarmupLR', by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=0.0002, begin=5, T_max=280,
         end=280, by_epoch=True, convert_to_iter_based=True),
    # a restart at epoch 280: the lr jumps from 2e-4 to 5e-4 ...
    dict(type='ConstantLR', by_epoch=True, factor=2.5, begin=280, end=281),
    # ... and decays again until the COCO-only stage, kept constant there
    dict(type='CosineAnnealingLR', eta_min=0.0002, begin=281, T_max=300,
         end=580, by_epoch=True, convert_to_iter_based=True),
    dict(type='ConstantLR', by_epoch=True, factor=1, begin=580, end=600),
]

# -------------------------------------------------------------- pipelines
input_size = (640, 640)
metafile = 'configs/_base_/datasets/coco.py'
codec = dict(type='YOLOXPoseAnnotationProcessor', input_size=input_size)

# stage 1: mosaic of 4 images, perspective jitter, mixup
train_pipeline_stage1 = [
    dict(type='LoadImage', backend_args=None),
    dict(type='Mosaic', img_scale=(640, 640), pad_val=114.0,
         pre_transform=[dict(type='LoadImage', backend_args=None)]),
    dict(type='BottomupRandomAffine', input_size=(640, 640),
         shift_factor=0.1, rotate_factor=10, scale_factor=(0.75, 1.0),
         pad_val=114, distribution='uniform', transform_mode='perspective',
         bbox_keep_corner=False, clip_border=True),
    dict(type='YOLOXMixUp', img_scale=(640, 640), ratio_range=(0.8, 1.6),
         pad_val=114.0,
         pre_transform=[dict(type='LoadImage', backend_args=None)]),
    dict(type='YOLOXHSVRandomAug'),
    dict(type='RandomFlip'),
    dict(type='FilterAnnotations', by_kpt=True, by_box=True, keep_empty=False),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
# stage 2 (last 20 epochs, COCO only): the image resized, long side 640
train_pipeline_stage2 = [
    dict(type='LoadImage'),
    dict(type='BottomupRandomAffine', input_size=(640, 640),
         scale_type='long', pad_val=(114, 114, 114), bbox_keep_corner=False,
         clip_border=True),
    dict(type='YOLOXHSVRandomAug'),
    dict(type='RandomFlip'),
    dict(type='BottomupGetHeatmapMask', get_invalid=True),
    dict(type='FilterAnnotations', by_kpt=True, by_box=True, keep_empty=False),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='BottomupResize', input_size=input_size,
         pad_val=(114, 114, 114)),
    dict(type='PackPoseInputs',
         meta_keys=('id', 'img_id', 'img_path', 'ori_shape', 'img_shape',
                    'input_size', 'input_center', 'input_scale')),
]

# ------------------------------------------------------------------- data
data_mode = 'bottomup'
data_root = 'data/'

# (source index, COCO index) of the keypoints each dataset shares with COCO
aic_coco = list(zip(range(12), [6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15]))
crowdpose_coco = [(i, i + 5) for i in range(12)]
mpii_coco = list(zip([0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15],
                     [16, 14, 12, 11, 13, 15, 10, 8, 6, 5, 7, 9]))
jhmdb_coco = list(zip(range(3, 15), [6, 5, 12, 11, 8, 7, 14, 13, 10, 9, 16, 15]))
halpe_coco = [(i, i) for i in range(17)]
posetrack_coco = [(i, i) for i in [0] + list(range(3, 17))]  # no ears


def _part(type, ann_file, img, mapping):
    """One dataset of the union, its keypoints converted to COCO's."""
    return dict(type=type, data_root=data_root, data_mode=data_mode,
                ann_file=ann_file, data_prefix=dict(img=img),
                pipeline=[dict(type='KeypointConverter', num_keypoints=17,
                               mapping=mapping)])


# also the whole training set of the last 20 epochs
dataset_coco = _part('CocoDataset',
                     'coco/annotations/person_keypoints_train2017.json',
                     'coco/train2017/', [(i, i) for i in range(17)])
train_dataset = dict(
    type='CombinedDataset',
    metainfo=dict(from_file=metafile),
    datasets=[
        dataset_coco,
        _part('AicDataset', 'aic/annotations/aic_train.json',
              'pose/ai_challenge/ai_challenger_keypoint_train_20170902/'
              'keypoint_train_images_20170902/', aic_coco),
        _part('CrowdPoseDataset',
              'crowdpose/annotations/mmpose_crowdpose_trainval.json',
              'pose/CrowdPose/images/', crowdpose_coco),
        _part('MpiiDataset', 'mpii/annotations/mpii_train.json',
              'pose/MPI/images/', mpii_coco),
        _part('JhmdbDataset', 'jhmdb/annotations/Sub1_train.json',
              'pose/JHMDB/', jhmdb_coco),
        _part('HalpeDataset', 'halpe/annotations/halpe_train_v1.json',
              'pose/Halpe/hico_20160224_det/images/train2015', halpe_coco),
        _part('PoseTrack18Dataset',
              'posetrack18/annotations/posetrack18_train.json',
              'pose/PoseChallenge2018/', posetrack_coco),
    ],
    # each source's share of an epoch, relative to its size
    sample_ratio_factor=[1, 0.3, 0.5, 0.3, 0.3, 0.4, 0.3],
    test_mode=False,
    pipeline=train_pipeline_stage1)
train_dataloader = dict(
    batch_size=16,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=train_dataset)
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    pin_memory=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type='CocoDataset',
        data_root=data_root,
        data_mode=data_mode,
        ann_file='coco/annotations/person_keypoints_val2017.json',
        data_prefix=dict(img='coco/val2017/'),
        test_mode=True,
        pipeline=val_pipeline))
test_dataloader = val_dataloader
# one-stage: instances are ranked by their box score, no keypoint NMS
val_evaluator = dict(
    type='CocoMetric',
    ann_file=data_root + 'coco/annotations/person_keypoints_val2017.json',
    score_mode='bbox',
    nms_mode='none')
test_evaluator = val_evaluator

# ------------------------------------------------------------------ hooks
custom_hooks = [
    dict(type='YOLOXPoseModeSwitchHook', num_last_epochs=20,
         new_train_dataset=dataset_coco,
         new_train_pipeline=train_pipeline_stage2, priority=48),
    # from epoch 280: proxy targets of the DCC head, re-weighted losses
    dict(type='RTMOModeSwitchHook',
         epoch_attributes={
             280: {
                 'proxy_target_cc': True,
                 'overlaps_power': 1.0,
                 'loss_cls.loss_weight': 2.0,
                 'loss_mle.loss_weight': 5.0,
                 'loss_oks.loss_weight': 10.0
             },
         },
         priority=48),
    dict(type='SyncNormHook', priority=48),
    dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.0002,
         update_buffers=True, strict_load=False, priority=49),
]

# ------------------------------------------------------------------ model
widen_factor = 1.0
deepen_factor = 1.0
bn = dict(type='BN', momentum=0.03, eps=0.001)
model = dict(
    type='BottomupPoseEstimator',
    # Kaiming-uniform convolutions, a = sqrt(5)
    init_cfg=dict(type='Kaiming', layer='Conv2d', a=2.23606797749979,
                  distribution='uniform', mode='fan_in',
                  nonlinearity='leaky_relu'),
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        pad_size_divisor=32,
        mean=[0, 0, 0],  # raw 0-255 BGR pixels
        std=[1, 1, 1],
        # multi-scale training: each batch resized to 480-800 (step 32)
        batch_augments=[
            dict(type='BatchSyncRandomResize', random_size_range=(480, 800),
                 size_divisor=32, interval=1),
        ]),
    backbone=dict(
        type='CSPDarknet',
        deepen_factor=deepen_factor,
        widen_factor=widen_factor,
        out_indices=(2, 3, 4),  # strides 8, 16, 32
        spp_kernal_sizes=(5, 9, 13),
        norm_cfg=bn,
        act_cfg=dict(type='Swish'),
        # YOLOX-l trained on COCO detection
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.openmmlab.com/mmdetection/v2.0/'
            'yolox/yolox_l_8x8_300e_coco/yolox_l_8x8_300e_coco'
            '_20211126_140236-d3bd2b23.pth',
            prefix='backbone.')),
    neck=dict(
        type='HybridEncoder',
        in_channels=[256, 512, 1024],  # [256, 512, 1024] * widen_factor
        deepen_factor=deepen_factor,
        widen_factor=widen_factor,
        hidden_dim=256,
        output_indices=[1, 2],  # strides 16 and 32
        encoder_cfg=dict(
            self_attn_cfg=dict(embed_dims=256, num_heads=8, dropout=0.0),
            ffn_cfg=dict(embed_dims=256, feedforward_channels=1024,
                         ffn_drop=0.0, act_cfg=dict(type='GELU'))),
        projector=dict(
            type='ChannelMapper',
            in_channels=[256, 256],
            kernel_size=1,
            out_channels=512,
            act_cfg=None,
            norm_cfg=dict(type='BN'),
            num_outs=2)),
    head=dict(
        type='RTMOHead',
        num_keypoints=17,
        featmap_strides=(16, 32),
        head_module_cfg=dict(
            num_classes=1,
            in_channels=256,
            cls_feat_channels=256,
            channels_per_group=36,
            pose_vec_channels=512,
            widen_factor=widen_factor,
            stacked_convs=2,
            norm_cfg=bn,
            act_cfg=dict(type='Swish')),
        assigner=dict(
            type='SimOTAAssigner',
            dynamic_k_indicator='oks',
            oks_calculator=dict(type='PoseOKS', metainfo=metafile)),
        prior_generator=dict(type='MlvlPointGenerator',
                             centralize_points=True, strides=[16, 32]),
        # dynamic coordinate classifier: 192 x-bins, 256 y-bins
        dcc_cfg=dict(
            in_channels=512,
            feat_channels=128,
            num_bins=(192, 256),
            spe_channels=128,
            gau_cfg=dict(s=128, expansion_factor=2, dropout_rate=0.0,
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
                      loss_weight=1e-2),
        loss_bbox_aux=dict(type='L1Loss', reduction='sum', loss_weight=1.0)),
    test_cfg=dict(input_size=input_size, score_thr=0.1, nms_thr=0.65))
