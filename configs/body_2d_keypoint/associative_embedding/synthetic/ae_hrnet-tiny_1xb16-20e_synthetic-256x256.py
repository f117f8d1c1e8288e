# The bottom-up quick-start model: Associative Embedding on a tiny HRNet,
# trained from scratch on the bundled synthetic data on a CPU. Every figure
# of a 256x256 image at once: heatmaps find the keypoints, one tag per
# keypoint groups them into people. tools/quickstart.sh bottomup runs it:
# 20 epochs take ~7 minutes on 2 cores of a Xeon with AMX (bfloat16), COCO
# AP 0.278 (AP .5 0.773, AR 0.382) on the 200 held-out images. It finds the
# small and mid-sized figures; the largest ones (up to 90% of the image)
# are often missed: the stride-4 branch of this tiny net sees too little of
# them. (Heatmaps at stride 2, a deconvolution more, gave AP 0.04 in the
# same time: the tags learn later.)
# Make the data first (it is not shipped):
#     posekit make-synthetic data/synthetic-1k --num-images 1000
# 800 training images: 50 steps of 16 images per epoch.
_base_ = ['../../../_base_/default_runtime.py']

# ---------------------------------------------------------------- schedule
max_epochs = 20
train_cfg = dict(max_epochs=max_epochs, val_interval=10)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=2e-3))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=50, start_factor=0.01, by_epoch=False),
    dict(type='CosineAnnealingLR', begin=3, end=max_epochs, T_max=max_epochs - 3,
         eta_min=2e-5, by_epoch=True, convert_to_iter_based=True),
]
auto_scale_lr = dict(base_batch_size=16)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),  # one line per epoch
    checkpoint=dict(type='CheckpointHook', interval=10, save_best='coco/AP',
                    rule='greater', max_keep_ckpts=1))
randomness = dict(seed=0)

# ------------------------------------------------------------------ codec
# 256x256 input -> 64x64 heatmaps and tag maps (stride 4). Decoding groups
# the keypoints torso first (MMPose's COCO order), at most 10 people.
codec = dict(
    type='AssociativeEmbedding',
    input_size=(256, 256),
    heatmap_size=(64, 64),
    sigma=2,
    decode_topk=20,
    decode_center_shift=0.5,
    decode_keypoint_order=[0, 1, 2, 3, 4, 5, 6, 11, 12, 7, 8, 9, 10, 13, 14,
                           15, 16],
    decode_max_instances=10)

# ------------------------------------------------------------------ model
model = dict(
    type='BottomupPoseEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=32),
    backbone=dict(
        type='HRNet',
        in_channels=3,
        # the top-down quick-start's tiny HRNet: branches of 16, 32, 64 and
        # 128 channels at strides 4, 8, 16 and 32
        extra=dict(
            stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK',
                        num_blocks=(2, ), num_channels=(16, )),
            stage2=dict(num_modules=1, num_branches=2, block='BASIC',
                        num_blocks=(2, 2), num_channels=(16, 32)),
            stage3=dict(num_modules=2, num_branches=3, block='BASIC',
                        num_blocks=(2, 2, 2), num_channels=(16, 32, 64)),
            stage4=dict(num_modules=1, num_branches=4, block='BASIC',
                        num_blocks=(2, 2, 2, 2),
                        num_channels=(16, 32, 64, 128))),
        init_cfg=None),  # from scratch
    head=dict(
        type='AssociativeEmbeddingHead',
        in_channels=16,  # the stride-4 branch
        num_keypoints=17,
        tag_dim=1,
        tag_per_keypoint=True,
        deconv_out_channels=None,
        keypoint_loss=dict(type='KeypointMSELoss', use_target_weight=True),
        tag_loss=dict(type='AssociativeEmbeddingLoss', loss_weight=0.001),
        # heatmaps are resized to the input size before decoding
        decoder=dict(codec, heatmap_size=codec['input_size'])),
    test_cfg=dict(
        multiscale_test=False,
        flip_test=True,
        shift_heatmap=False,
        restore_heatmap_size=True,
        align_corners=False))

# ------------------------------------------------------------------- data
dataset_type = 'CocoDataset'
data_mode = 'bottomup'
data_root = 'data/synthetic-1k/'

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='BottomupRandomAffine', input_size=codec['input_size'],
         rotate_factor=30, scale_factor=(0.75, 1.25)),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='BottomupGetHeatmapMask'),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='BottomupResize', input_size=codec['input_size'],
         size_factor=32, resize_mode='expand'),
    dict(type='PackPoseInputs',
         meta_keys=('id', 'img_id', 'img_path', 'crowd_index', 'ori_shape',
                    'img_shape', 'input_size', 'input_center', 'input_scale',
                    'flip', 'flip_direction', 'flip_indices', 'raw_ann_info',
                    'skeleton_links')),
]

train_dataloader = dict(
    batch_size=16,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='annotations/train.json',
        data_prefix=dict(img='images/train/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='annotations/val.json',
        data_prefix=dict(img='images/val/'),
        test_mode=True,
        pipeline=val_pipeline))
test_dataloader = val_dataloader

# COCO keypoint AP; instances scored by the grouping's score, no NMS
val_evaluator = dict(type='CocoMetric',
                     ann_file=data_root + 'annotations/val.json',
                     nms_mode='none', score_mode='bbox')
test_evaluator = val_evaluator
