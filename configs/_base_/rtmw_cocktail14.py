# RTMW-m (RTMPose for whole bodies; Jiang et al., 2024) on Cocktail14:
# 14 public datasets with body, face or hand keypoints, each converted to
# COCO-WholeBody's 133 keypoints, 192x256 (w x h) crops. CSPNeXt-m with a
# PAFPN neck (strides 16 and 32) and the RTMW head; the backbone starts
# from DWPose's distilled RTMPose-m. 8 GPUs x 1024 crops, 270 epochs.
# Children change the model size (and the crop, rebuilding what uses it).
_base_ = ['default_runtime.py']

num_keypoints = 133
input_size = (192, 256)  # (w, h)

# ---------------------------------------------------------------- schedule
max_epochs = 270
stage2_num_epochs = 10
base_lr = 5e-4
train_batch_size = 1024
val_batch_size = 32
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
auto_scale_lr = dict(base_batch_size=8192)

# --------------------------------------------------------- codec and model
# 2 bins per pixel; label sigma (x, y) in bins
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
        type='CSPNeXt',
        arch='P5',
        expand_ratio=0.5,
        deepen_factor=0.67,
        widen_factor=0.75,
        channel_attention=True,
        norm_cfg=dict(type='BN'),
        act_cfg=dict(type='SiLU'),
        # the backbone of DWPose's RTMPose-m (distilled on COCO + UBody)
        init_cfg=dict(
            type='Pretrained',
            prefix='backbone.',
            checkpoint='https://download.openmmlab.com/mmpose/v1/projects/'
            'rtmposev1/rtmpose-m_simcc-ucoco_dw-ucoco_270e-256x192-c8b76419_'
            '20230728.pth')),
    neck=dict(
        type='CSPNeXtPAFPN',
        in_channels=[192, 384, 768],  # strides 8, 16, 32
        out_channels=None,  # keep each level's width
        out_indices=(1, 2),  # strides 16 and 32 go to the head
        num_csp_blocks=2,
        expand_ratio=0.5,
        norm_cfg=dict(type='SyncBN'),
        act_cfg=dict(type='SiLU', inplace=True)),
    head=dict(
        type='RTMWHead',
        in_channels=768,
        out_channels=num_keypoints,
        input_size=input_size,
        in_featuremap_size=tuple([s // 32 for s in input_size]),
        simcc_split_ratio=codec['simcc_split_ratio'],
        final_layer_kernel_size=7,
        gau_cfg=dict(hidden_dims=256, s=128, expansion_factor=2,
                     dropout_rate=0., drop_path=0., act_fn='SiLU',
                     use_rel_bias=False, pos_enc=False),
        # sharper labels (beta 10) than predictions (beta 1); the 68 face
        # keypoints (23-90) count half
        loss=dict(type='KLDiscretLoss', use_target_weight=True, beta=1.,
                  label_softmax=True, label_beta=10.,
                  mask=list(range(23, 91)), mask_weight=0.5),
        decoder=codec),
    test_cfg=dict(flip_test=True))

# -------------------------------------------------------------- pipelines
backend_args = dict(backend='local')
blurs = [dict(type='Blur', p=0.1), dict(type='MedianBlur', p=0.1)]


def _train_pipeline(stage2):
    """Stage 2 (last epochs): no box shift, no colour changes, no dropout."""
    shift = dict(shift_factor=0.) if stage2 else {}
    colour = [] if stage2 else [dict(type='PhotometricDistortion')]
    dropout = [] if stage2 else [dict(
        type='CoarseDropout', max_holes=1, max_height=0.4, max_width=0.4,
        min_holes=1, min_height=0.2, min_width=0.2, p=0.5)]
    return [
        dict(type='LoadImage', backend_args=backend_args),
        dict(type='GetBBoxCenterScale'),
        dict(type='RandomFlip', direction='horizontal'),
        dict(type='RandomHalfBody'),
        dict(type='RandomBBoxTransform', **shift, scale_factor=[0.5, 1.5],
             rotate_factor=90),
        dict(type='TopdownAffine', input_size=codec['input_size']),
        *colour,
        dict(type='Albumentation',
             transforms=[dict(b) for b in blurs] + dropout),
        dict(type='GenerateTarget', encoder=codec,
             use_dataset_keypoint_weights=True),
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
# face and hand datasets hold only the part: enlarge its box (faces also
# by 1.25 first) so that the crop resembles a whole-body one
face_pipeline = [
    dict(type='LoadImage', backend_args=backend_args),
    dict(type='GetBBoxCenterScale', padding=1.25),
    dict(type='RandomBBoxTransform', shift_factor=0., scale_factor=[1.5, 2.0],
         rotate_factor=0),
]
hand_pipeline = [dict(face_pipeline[0]), dict(type='GetBBoxCenterScale'),
                 dict(face_pipeline[2])]

# ------------------------- keypoint conversions to COCO-WholeBody's 133
# (COCO body: 5/6 shoulders, 7/8 elbows, 9/10 wrists, 11/12 hips, 13/14
# knees, 15/16 ankles, left first; 17-22 feet, 23-90 face, 91-132 hands)
# AIC: right arm, left arm, right leg, left leg (3 joints each)
aic_coco133 = [(3 * limb + j, first + 2 * j)
               for limb, first in enumerate((6, 5, 12, 11)) for j in range(3)]
crowdpose_coco133 = [(i, 5 + i) for i in range(12)]
mpii_coco133 = list(zip((0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15),
                        (16, 14, 12, 11, 13, 15, 10, 8, 6, 5, 7, 9)))
jhmdb_coco133 = list(zip(range(3, 15),
                         (6, 5, 12, 11, 8, 7, 14, 13, 10, 9, 16, 15)))
# Halpe: COCO's 17, head/neck/hip (17-19, dropped), feet, then face+hands
halpe_coco133 = ([(i, i) for i in range(17)]
                 + list(zip(range(20, 26), (17, 20, 18, 21, 19, 22)))
                 + [(i, i - 3) for i in range(26, 136)])
posetrack_coco133 = [(i, i) for i in range(17) if i not in (1, 2)]
humanart_coco133 = [(i, i) for i in range(17)] + [(17, 99), (18, 120),
                                                  (19, 17), (20, 20)]
# faces: 68-point layout (300W) and the denser WFLW (98) and LaPa (106):
# jaw (every other point), brows, nose, eyes (6 of 8 points), mouth
mapping_300w_coco133 = [(i, 23 + i) for i in range(68)]
jaw_brows = ([(2 * i, 23 + i) for i in range(17)]
              + [(33 + i, 40 + i) for i in range(5)]
              + [(42 + i, 45 + i) for i in range(5)])


def _eyes(right, left):
    """The six 68-layout eye points from 8-point eyes starting at right/left."""
    return [(start + o, first + k) for start, first in ((right, 59), (left, 65))
            for k, o in enumerate((0, 1, 3, 4, 5, 7))]


wflw_coco133 = (jaw_brows + [(51 + i, 50 + i) for i in range(9)]
                + _eyes(60, 68) + [(76 + i, 71 + i) for i in range(20)])
lapa_coco133 = (jaw_brows + [(51 + i, 50 + i) for i in range(4)]
                + [(58 + i, 54 + i) for i in range(5)] + _eyes(66, 75)
                + [(84 + i, 71 + i) for i in range(20)])
cofw_coco133 = [(0, 40), (2, 44), (4, 42), (1, 49), (3, 45), (6, 47), (8, 59),
                (10, 62), (9, 68), (11, 65), (18, 54), (19, 58), (20, 53),
                (21, 56), (22, 71), (23, 77), (24, 74), (25, 85), (26, 89),
                (27, 80), (28, 31)]
# InterHand2.6M: per hand, each finger tip-first (4 points), wrist last
interhand_left = [(21 + 4 * f + j, 95 + 4 * f - j)
                  for f in range(5) for j in range(4)] + [(41, 91)]
interhand_right = [(i - 21, j + 21) for i, j in interhand_left]
interhand_coco133 = interhand_right + interhand_left

# ------------------------------------------------------------------ data
dataset_type = 'CocoWholeBodyDataset'
data_mode = 'topdown'
data_root = 'data/'
wholebody_meta = dict(from_file='configs/_base_/datasets/coco_wholebody.py')


def _part(type, ann_file, img, mapping=None, crop=(), **extra):
    convert = [] if mapping is None else [dict(
        type='KeypointConverter', num_keypoints=num_keypoints,
        mapping=mapping)]
    return dict(type=type, data_root=data_root, data_mode=data_mode,
                ann_file=ann_file, data_prefix=dict(img=img),
                pipeline=convert + list(crop), **extra)


def _combined(datasets, metainfo=wholebody_meta):
    return dict(type='CombinedDataset', metainfo=metainfo, datasets=datasets,
                pipeline=[], test_mode=False)


ubody_scenes = [
    'Magic_show', 'Entertainment', 'ConductMusic', 'Online_class', 'TalkShow',
    'Speech', 'Fitness', 'Interview', 'Olympic', 'TVShow', 'Singing',
    'SignLanguage', 'Movie', 'LiveVlog', 'VideoConference']
# every 10th video frame of each UBody scene
dataset_ubody = _combined(
    [_part('UBody2dDataset', f'Ubody/annotations/{scene}/train_annotations.json',
           'pose/UBody/images/', sample_interval=10)
     for scene in ubody_scenes],
    metainfo=dict(from_file='configs/_base_/datasets/ubody2d.py'))
dataset_wb = _combined([
    _part(dataset_type, 'coco/annotations/coco_wholebody_train_v1.0.json',
          'detection/coco/train2017/'),
    _part('HalpeDataset', 'halpe/annotations/halpe_train_v1.json',
          'pose/Halpe/hico_20160224_det/images/train2015', halpe_coco133),
    dataset_ubody])
dataset_body = _combined([
    _part('AicDataset', 'aic/annotations/aic_train.json',
          'pose/ai_challenge/ai_challenger_keypoint_train_20170902/'
          'keypoint_train_images_20170902/', aic_coco133),
    _part('CrowdPoseDataset',
          'crowdpose/annotations/mmpose_crowdpose_trainval.json',
          'pose/CrowdPose/images/', crowdpose_coco133),
    _part('MpiiDataset', 'mpii/annotations/mpii_train.json',
          'pose/MPI/images/', mpii_coco133),
    _part('JhmdbDataset', 'jhmdb/annotations/Sub1_train.json', 'pose/JHMDB/',
          jhmdb_coco133),
    _part('PoseTrack18Dataset', 'posetrack18/annotations/posetrack18_train.json',
          'pose/PoseChallenge2018/', posetrack_coco133),
    _part('HumanArt21Dataset', 'HumanArt/annotations/training_humanart.json',
          'pose/', humanart_coco133, filter_cfg=dict(scenes=['real_human'])),
])
dataset_face = _combined([
    _part('WFLWDataset', 'wflw/annotations/face_landmarks_wflw_train.json',
          'pose/WFLW/images/', wflw_coco133, face_pipeline),
    _part('Face300WDataset', '300w/annotations/face_landmarks_300w_train.json',
          'pose/300w/images/', mapping_300w_coco133, face_pipeline),
    _part('COFWDataset', 'cofw/annotations/cofw_train.json',
          'pose/COFW/images/', cofw_coco133, face_pipeline),
    _part('LapaDataset', 'LaPa/annotations/lapa_trainval.json', 'pose/LaPa/',
          lapa_coco133, face_pipeline),
])
interhand_ann = 'interhand26m/annotations/all/InterHand2.6M_train_'
dataset_hand = _combined([_part(
    'InterHand2DDoubleDataset', interhand_ann + 'data.json',
    'interhand2.6m/images/train/', interhand_coco133, hand_pipeline,
    camera_param_file=interhand_ann + 'camera.json',
    joint_file=interhand_ann + 'joint_3d.json', sample_interval=10)])
train_datasets = [dataset_wb, dataset_body, dataset_face, dataset_hand]

train_dataloader = dict(
    batch_size=train_batch_size,
    num_workers=4,
    pin_memory=False,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='CombinedDataset', metainfo=wholebody_meta,
                 datasets=train_datasets, pipeline=train_pipeline,
                 test_mode=False))
# validated and tested on COCO-WholeBody val2017 with detected person boxes
val_dataloader = dict(
    batch_size=val_batch_size,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type='CocoWholeBodyDataset',
        ann_file='data/coco/annotations/coco_wholebody_val_v1.0.json',
        data_prefix=dict(img='data/detection/coco/val2017/'),
        pipeline=val_pipeline,
        bbox_file='data/coco/person_detection_results/'
        'COCO_val2017_detections_AP_H_56_person.json',
        test_mode=True))
test_dataloader = val_dataloader

# ------------------------------------------------------------------ hooks
default_hooks = dict(checkpoint=dict(
    save_best='coco-wholebody/AP', rule='greater', max_keep_ckpts=1))
custom_hooks = [
    dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.0002,
         update_buffers=True, priority=49),
    dict(type='mmdet.PipelineSwitchHook',
         switch_epoch=max_epochs - stage2_num_epochs,
         switch_pipeline=train_pipeline_stage2),
]
val_evaluator = dict(
    type='CocoWholeBodyMetric',
    ann_file='data/coco/annotations/coco_wholebody_val_v1.0.json')
test_evaluator = val_evaluator
