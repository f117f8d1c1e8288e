# RTMPose-m (Jiang et al., 2023) on Body8 with Halpe's 26 keypoints (COCO's
# 17 plus head, neck, hip centre and six foot points), 192x256 (w x h)
# crops: posekit's "body26" model. The seven training sets are mapped onto
# Halpe-26; 8 GPUs x 512 crops, AdamW, 700 epochs (the last 30 with milder
# augmentation), EMA, gradient clipping. Starts from the Body7 RTMPose-m.
_base_ = ['../../../_base_/default_runtime.py']

num_keypoints = 26
input_size = (192, 256)  # (w, h)

# ---------------------------------------------------------------- schedule
max_epochs = 700
stage2_num_epochs = 30
base_lr = 4e-3
train_cfg = dict(max_epochs=max_epochs, val_interval=10)
randomness = dict(seed=21)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=base_lr, weight_decay=0.05),
    clip_grad=dict(max_norm=35, norm_type=2),
    # no weight decay on norm layers and biases
    paramwise_cfg=dict(
        norm_decay_mult=0, bias_decay_mult=0, bypass_duplicate=True))
param_scheduler = [
    # warm-up over 1000 iterations, then cosine to 5% over the second half
    dict(type='LinearLR', start_factor=1.0e-5, by_epoch=False, begin=0,
         end=1000),
    dict(type='CosineAnnealingLR', eta_min=base_lr * 0.05,
         begin=max_epochs // 2, end=max_epochs, T_max=max_epochs // 2,
         by_epoch=True, convert_to_iter_based=True),
]
auto_scale_lr = dict(base_batch_size=1024)

# --------------------------------------------------------- codec and model
codec = dict(type='SimCCLabel', input_size=input_size, sigma=(4.9, 5.66),
             simcc_split_ratio=2.0, normalize=False, use_dark=False)
model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        mean=[123.675, 116.28, 103.53],  # ImageNet, RGB
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        _scope_='mmdet',
        type='CSPNeXt',
        arch='P5',
        expand_ratio=0.5,
        deepen_factor=0.67,
        widen_factor=0.75,
        out_indices=(4, ),
        channel_attention=True,
        norm_cfg=dict(type='SyncBN'),
        act_cfg=dict(type='SiLU'),
        # the backbone of RTMPose-m trained on Body7 (SimCC, 420 epochs)
        init_cfg=dict(
            type='Pretrained',
            prefix='backbone.',
            checkpoint='https://download.openmmlab.com/mmpose/v1/projects/'
            'rtmposev1/rtmpose-m_simcc-body7_pt-body7_420e-256x192-e48f03d0'
            '_20230504.pth')),
    head=dict(
        type='RTMCCHead',
        in_channels=768,  # 1024 * widen_factor
        out_channels=num_keypoints,
        input_size=input_size,
        in_featuremap_size=tuple([s // 32 for s in input_size]),  # (6, 8)
        simcc_split_ratio=codec['simcc_split_ratio'],
        final_layer_kernel_size=7,
        gau_cfg=dict(hidden_dims=256, s=128, expansion_factor=2,
                     dropout_rate=0., drop_path=0., act_fn='SiLU',
                     use_rel_bias=False, pos_enc=False),
        loss=dict(type='KLDiscretLoss', use_target_weight=True, beta=10.,
                  label_softmax=True),
        decoder=codec),
    test_cfg=dict(flip_test=True))

# -------------------------------------------------------------- pipelines
backend_args = dict(backend='local')


def _dropout(p):
    """Blank one rectangle of 20-40% of the crop's sides with probability p."""
    return dict(type='CoarseDropout', max_holes=1, max_height=0.4,
                max_width=0.4, min_holes=1, min_height=0.2, min_width=0.2,
                p=p)


def _train_pipeline(stage2):
    """Stage 2 keeps the box centre, drops PhotometricDistortion, p=0.5."""
    jitter = dict(shift_factor=0.) if stage2 else {}
    photometric = [] if stage2 else [dict(type='PhotometricDistortion')]
    return [
        dict(type='LoadImage', backend_args=backend_args),
        dict(type='GetBBoxCenterScale'),
        dict(type='RandomFlip', direction='horizontal'),
        dict(type='RandomHalfBody'),
        dict(type='RandomBBoxTransform', **jitter, scale_factor=[0.5, 1.5],
             rotate_factor=90),
        dict(type='TopdownAffine', input_size=codec['input_size']),
        *photometric,
        dict(type='Albumentation', transforms=[
            dict(type='Blur', p=0.1), dict(type='MedianBlur', p=0.1),
            _dropout(0.5 if stage2 else 1.0)]),
        dict(type='GenerateTarget', encoder=codec),
        dict(type='PackPoseInputs'),
    ]


train_pipeline = _train_pipeline(stage2=False)
train_pipeline_stage2 = _train_pipeline(stage2=True)
val_pipeline = [
    dict(type='LoadImage', backend_args=backend_args),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs'),
]

# ------------------------------------------------------------------- data
dataset_type = 'CocoWholeBodyDataset'
data_mode = 'topdown'
data_root = 'data/'

# (source index, Halpe-26 index) of the keypoints shared with Halpe-26
coco_halpe26 = [(i, i) for i in range(17)] + [  # COCO-WholeBody's feet
    (17, 20), (18, 22), (19, 24), (20, 21), (21, 23), (22, 25)]
aic_halpe26 = list(zip(range(14), [6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15,
                                   17, 18]))
crowdpose_halpe26 = [(i, i + 5) for i in range(14)]
mpii_halpe26 = list(zip([0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13, 14, 15],
                        [16, 14, 12, 11, 13, 15, 18, 17, 10, 8, 6, 5, 7, 9]))
jhmdb_halpe26 = list(zip([0] + list(range(2, 15)),
                         [18, 17, 6, 5, 12, 11, 8, 7, 14, 13, 10, 9, 16, 15]))
halpe_halpe26 = [(i, i) for i in range(26)]
ochuman_halpe26 = [(i, i) for i in range(17)]
posetrack_halpe26 = [(0, 0), (2, 17)] + [(i, i) for i in range(3, 17)]


def _part(type, ann_file, img, mapping):
    """One dataset of the union, its keypoints converted to Halpe-26's."""
    return dict(type=type, data_root=data_root, data_mode=data_mode,
                ann_file=ann_file, data_prefix=dict(img=img),
                pipeline=[dict(type='KeypointConverter',
                               num_keypoints=num_keypoints, mapping=mapping)])


aic_img = 'pose/ai_challenge/ai_challenger_keypoint'
train_datasets = [
    _part(dataset_type, 'coco/annotations/coco_wholebody_train_v1.0.json',
          'detection/coco/train2017/', coco_halpe26),
    _part('AicDataset', 'aic/annotations/aic_train.json',
          f'{aic_img}_train_20170902/keypoint_train_images_20170902/',
          aic_halpe26),
    _part('CrowdPoseDataset',
          'crowdpose/annotations/mmpose_crowdpose_trainval.json',
          'pose/CrowdPose/images/', crowdpose_halpe26),
    _part('MpiiDataset', 'mpii/annotations/mpii_train.json',
          'pose/MPI/images/', mpii_halpe26),
    _part('JhmdbDataset', 'jhmdb/annotations/Sub1_train.json', 'pose/JHMDB/',
          jhmdb_halpe26),
    _part('HalpeDataset', 'halpe/annotations/halpe_train_v1.json',
          'pose/Halpe/hico_20160224_det/images/train2015', halpe_halpe26),
    _part('PoseTrack18Dataset',
          'posetrack18/annotations/posetrack18_train.json',
          'pose/PoseChallenge2018/', posetrack_halpe26),
]
val_datasets = [
    _part(dataset_type, 'coco/annotations/coco_wholebody_val_v1.0.json',
          'detection/coco/val2017/', coco_halpe26),
    _part('AicDataset', 'aic/annotations/aic_val.json',
          f'{aic_img}_validation_20170911/keypoint_validation_images_20170911/',
          aic_halpe26),
    _part('CrowdPoseDataset', 'crowdpose/annotations/mmpose_crowdpose_test.json',
          'pose/CrowdPose/images/', crowdpose_halpe26),
    _part('MpiiDataset', 'mpii/annotations/mpii_val.json', 'pose/MPI/images/',
          mpii_halpe26),
    _part('JhmdbDataset', 'jhmdb/annotations/Sub1_test.json', 'pose/JHMDB/',
          jhmdb_halpe26),
    _part('HalpeDataset', 'halpe/annotations/halpe_val_v1.json',
          'detection/coco/val2017/', halpe_halpe26),
    _part('OCHumanDataset',
          'ochuman/annotations/ochuman_coco_format_val_range_0.00_1.00.json',
          'pose/OCHuman/images/', ochuman_halpe26),
    _part('PoseTrack18Dataset', 'posetrack18/annotations/posetrack18_val.json',
          'pose/PoseChallenge2018/', posetrack_halpe26),
]
halpe26_meta = dict(from_file='configs/_base_/datasets/halpe26.py')
train_dataloader = dict(
    batch_size=512,
    num_workers=10,
    pin_memory=True,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='CombinedDataset', metainfo=halpe26_meta,
                 datasets=train_datasets, pipeline=train_pipeline,
                 test_mode=False))
# validated and tested on the eight sets together, ground-truth boxes
val_dataloader = dict(
    batch_size=64,
    num_workers=10,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(type='CombinedDataset', metainfo=halpe26_meta,
                 datasets=val_datasets, pipeline=val_pipeline,
                 test_mode=True))
test_dataloader = val_dataloader

# ---------------------------------------------------------- hooks, metrics
default_hooks = dict(
    checkpoint=dict(save_best='AUC', rule='greater', max_keep_ckpts=1))
custom_hooks = [
    dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.0002,
         update_buffers=True, priority=49),
    dict(type='mmdet.PipelineSwitchHook',
         switch_epoch=max_epochs - stage2_num_epochs,
         switch_pipeline=train_pipeline_stage2),
]
# no common AP protocol across the union: PCK@0.1 and AUC
test_evaluator = [dict(type='PCKAccuracy', thr=0.1), dict(type='AUC')]
val_evaluator = test_evaluator
