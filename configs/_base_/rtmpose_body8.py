# RTMPose on Body8, the base of configs/body_2d_keypoint/rtmpose/body8/:
# the "m" model at 192x256 (w x h), trained on the union of seven
# datasets (COCO, AIC, CrowdPose, MPII, JHMDB, Halpe, PoseTrack18) mapped
# onto COCO's 17 keypoints. Its children change the model size, the crop
# size or the augmentation; everything else is shared.
_base_ = ['default_runtime.py']

# ---------------------------------------------------------------- schedule
max_epochs = 420
stage2_num_epochs = 20  # the last 20 epochs use train_pipeline_stage2
base_lr = 4e-3

train_cfg = dict(max_epochs=max_epochs, val_interval=10)
randomness = dict(seed=21)

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=base_lr, weight_decay=0.05),
    # no weight decay on norm layers and biases
    paramwise_cfg=dict(
        norm_decay_mult=0, bias_decay_mult=0, bypass_duplicate=True))
param_scheduler = [
    # warm-up over the first 1000 iterations, from lr * 1e-5
    dict(type='LinearLR', start_factor=1.0e-5, by_epoch=False, begin=0,
         end=1000),
    # cosine decay to 5% of the lr over the second half, per iteration
    dict(type='CosineAnnealingLR', eta_min=base_lr * 0.05,
         begin=max_epochs // 2, end=max_epochs, T_max=max_epochs // 2,
         by_epoch=True, convert_to_iter_based=True),
]
# lr above is for 8 x 256 = 2048 crops per step, tuned at 1024
auto_scale_lr = dict(base_batch_size=1024)

# ------------------------------------------------------------------ codec
# 192x256 (w x h) crop, 2 bins per pixel; label sigma (x, y) in bins
codec = dict(
    type='SimCCLabel',
    input_size=(192, 256),
    sigma=(4.9, 5.66),
    simcc_split_ratio=2.0,
    normalize=False,
    use_dark=False)

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
        _scope_='mmdet',  # MMDetection's CSPNeXt in MMPose; posekit's own
        type='CSPNeXt',
        arch='P5',
        expand_ratio=0.5,
        deepen_factor=0.67,  # the "m" size: 2/3 of the blocks ...
        widen_factor=0.75,  # ... and 3/4 of the channels of CSPNeXt-l
        out_indices=(4, ),  # the stride-32 stage only
        channel_attention=True,
        norm_cfg=dict(type='SyncBN'),
        act_cfg=dict(type='SiLU'),
        # a CSPNeXt-m pose-pretrained on Body7 (UDP heatmaps, 210 epochs)
        init_cfg=dict(
            type='Pretrained',
            prefix='backbone.',
            checkpoint='https://download.openmmlab.com/mmpose/v1/projects/'
            'rtmposev1/cspnext-m_udp-body7_210e-256x192-e0c9327b_20230504.pth'
        )),
    head=dict(
        type='RTMCCHead',
        in_channels=768,  # 1024 * widen_factor
        out_channels=17,  # COCO keypoints
        input_size=codec['input_size'],
        # stride 32: (192 / 32, 256 / 32) = (6, 8)
        in_featuremap_size=tuple([s // 32 for s in codec['input_size']]),
        simcc_split_ratio=codec['simcc_split_ratio'],
        final_layer_kernel_size=7,
        gau_cfg=dict(
            hidden_dims=256,
            s=128,
            expansion_factor=2,
            dropout_rate=0.,
            drop_path=0.,
            act_fn='SiLU',
            use_rel_bias=False,
            pos_enc=False),
        loss=dict(
            type='KLDiscretLoss',
            use_target_weight=True,
            beta=10.,  # temperature of the predicted distributions
            label_softmax=True),
        decoder=codec),
    test_cfg=dict(flip_test=True))

# ---------------------------------------------------------------- pipelines
backend_args = dict(backend='local')
# one rectangle of 20-40% of the crop's sides is blanked, with probability p
dropout = dict(type='CoarseDropout', max_holes=1, max_height=0.4,
               max_width=0.4, min_holes=1, min_height=0.2, min_width=0.2)

# stage 1: strong augmentation
train_pipeline = [
    dict(type='LoadImage', backend_args=backend_args),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomHalfBody'),
    dict(type='RandomBBoxTransform', scale_factor=[0.5, 1.5],
         rotate_factor=90),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='mmdet.YOLOXHSVRandomAug'),
    dict(type='PhotometricDistortion'),
    dict(type='Albumentation', transforms=[
        dict(type='Blur', p=0.1),
        dict(type='MedianBlur', p=0.1),
        dict(dropout, p=1.0)]),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
# stage 2 (last epochs): no box shift, no photometric distortion, dropout
# on half of the crops
train_pipeline_stage2 = [
    dict(type='LoadImage', backend_args=backend_args),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomHalfBody'),
    dict(type='RandomBBoxTransform', shift_factor=0., scale_factor=[0.5, 1.5],
         rotate_factor=90),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='mmdet.YOLOXHSVRandomAug'),
    dict(type='Albumentation', transforms=[
        dict(type='Blur', p=0.1),
        dict(type='MedianBlur', p=0.1),
        dict(dropout, p=0.5)]),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='LoadImage', backend_args=backend_args),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs'),
]

# ------------------------------------------------------------------- data
dataset_type = 'CocoDataset'
data_mode = 'topdown'
data_root = 'data/'

# (source index, COCO index) of the keypoints each dataset shares with COCO
aic_coco = list(zip(range(12), [6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15]))
crowdpose_coco = [(i, i + 5) for i in range(12)]
mpii_coco = list(zip([0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15],
                     [16, 14, 12, 11, 13, 15, 10, 8, 6, 5, 7, 9]))
jhmdb_coco = list(zip(range(3, 15), [6, 5, 12, 11, 8, 7, 14, 13, 10, 9, 16, 15]))
halpe_coco = [(i, i) for i in range(17)]
ochuman_coco = [(i, i) for i in range(17)]
posetrack_coco = [(i, i) for i in [0] + list(range(3, 17))]  # no ears


def _part(type, ann_file, img, mapping=None):
    """One dataset of the union; its keypoints converted to COCO's."""
    convert = [dict(type='KeypointConverter', num_keypoints=17,
                    mapping=mapping)] if mapping else []
    return dict(type=type, data_root=data_root, data_mode=data_mode,
                ann_file=ann_file, data_prefix=dict(img=img), pipeline=convert)


aic_train_img = ('pose/ai_challenge/ai_challenger_keypoint_train_20170902/'
                 'keypoint_train_images_20170902/')
aic_val_img = ('pose/ai_challenge/ai_challenger_keypoint_validation_20170911/'
               'keypoint_validation_images_20170911/')
train_datasets = [
    _part(dataset_type, 'coco/annotations/person_keypoints_train2017.json',
          'detection/coco/train2017/'),
    _part('AicDataset', 'aic/annotations/aic_train.json', aic_train_img,
          aic_coco),
    _part('CrowdPoseDataset',
          'crowdpose/annotations/mmpose_crowdpose_trainval.json',
          'pose/CrowdPose/images/', crowdpose_coco),
    _part('MpiiDataset', 'mpii/annotations/mpii_train.json',
          'pose/MPI/images/', mpii_coco),
    _part('JhmdbDataset', 'jhmdb/annotations/Sub1_train.json',
          'pose/JHMDB/', jhmdb_coco),
    _part('HalpeDataset', 'halpe/annotations/halpe_train_v1.json',
          'pose/Halpe/hico_20160224_det/images/train2015', halpe_coco),
    _part('PoseTrack18Dataset', 'posetrack18/annotations/posetrack18_train.json',
          'pose/PoseChallenge2018/', posetrack_coco),
]
test_datasets = [
    _part(dataset_type, 'coco/annotations/person_keypoints_val2017.json',
          'detection/coco/val2017/'),
    _part('AicDataset', 'aic/annotations/aic_val.json', aic_val_img, aic_coco),
    _part('CrowdPoseDataset', 'crowdpose/annotations/mmpose_crowdpose_test.json',
          'pose/CrowdPose/images/', crowdpose_coco),
    _part('MpiiDataset', 'mpii/annotations/mpii_val.json', 'pose/MPI/images/',
          mpii_coco),
    _part('JhmdbDataset', 'jhmdb/annotations/Sub1_test.json', 'pose/JHMDB/',
          jhmdb_coco),
    _part('HalpeDataset', 'halpe/annotations/halpe_val_v1.json',
          'detection/coco/val2017/', halpe_coco),
    _part('OCHumanDataset', 'ochuman/annotations/'
          'ochuman_coco_format_val_range_0.00_1.00.json',
          'pose/OCHuman/images/', ochuman_coco),
    _part('PoseTrack18Dataset', 'posetrack18/annotations/posetrack18_val.json',
          'pose/PoseChallenge2018/', posetrack_coco),
]

train_dataloader = dict(
    batch_size=256,
    num_workers=10,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='CombinedDataset',
        metainfo=dict(from_file='configs/_base_/datasets/coco.py'),
        datasets=train_datasets,
        pipeline=train_pipeline,
        test_mode=False))
# validated on COCO val2017 with detected person boxes (a 56 AP detector)
val_dataloader = dict(
    batch_size=64,
    num_workers=10,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='coco/annotations/person_keypoints_val2017.json',
        bbox_file=f'{data_root}coco/person_detection_results/'
        'COCO_val2017_detections_AP_H_56_person.json',
        data_prefix=dict(img='detection/coco/val2017/'),
        test_mode=True,
        pipeline=val_pipeline))
# tested on the eight validation sets together, on ground-truth boxes
test_dataloader = dict(
    val_dataloader,
    dataset=dict(
        type='CombinedDataset',
        metainfo=dict(from_file='configs/_base_/datasets/coco.py'),
        datasets=test_datasets,
        pipeline=val_pipeline,
        test_mode=True))

# ------------------------------------------------------------------ hooks
default_hooks = dict(
    checkpoint=dict(save_best='coco/AP', rule='greater', max_keep_ckpts=1))
custom_hooks = [
    # exponential moving average of the weights (and BN statistics)
    dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.0002,
         update_buffers=True, priority=49),
    dict(type='mmdet.PipelineSwitchHook',
         switch_epoch=max_epochs - stage2_num_epochs,
         switch_pipeline=train_pipeline_stage2),
]

val_evaluator = dict(
    type='CocoMetric',
    ann_file=data_root + 'coco/annotations/person_keypoints_val2017.json')
# the union has no common AP protocol: PCK@0.1, AUC and end-point error
test_evaluator = [dict(type='PCKAccuracy', thr=0.1), dict(type='AUC'),
                  dict(type='EPE')]
