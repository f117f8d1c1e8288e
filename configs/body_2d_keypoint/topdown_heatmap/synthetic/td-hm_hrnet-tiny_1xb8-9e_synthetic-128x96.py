# The quick-start model: a tiny HRNet trained from scratch on the bundled
# synthetic data, on a CPU, in minutes (tools/quickstart.sh runs it).
# HRNet keeps a stride-4 branch all the way (16 channels here), which places
# keypoints more precisely than a stride-32 backbone plus deconvolutions at
# the same cost: on this data, 15 epochs of this net beat 30 epochs of a
# half-width ResNet-18 with three deconvolutions (COCO AP 0.76 vs 0.59).
# Make the data first (it is not shipped):
#     posekit make-synthetic data/synthetic-1k --num-images 1000
# 800 training images hold 1830 figures: 229 steps of 8 crops per epoch.
#
# Sized for a short CPU budget (9 epochs, COCO AP ~0.87 on the held-out
# split): at the same cost, small batches and a lighter net beat more
# epochs, and the figures' own random angles and sizes make geometric
# augmentation unnecessary for so short a schedule. Measured (one seed; the
# compute relative to this config's 20-epoch predecessor, which had batch
# 32, two HRNet modules in stage 3, two blocks per branch everywhere,
# rotation and scale augmentation, and reached AP 0.882):
#     batch 16, 10 epochs, rotation + scale                  50%  AP 0.837
#     batch 16, 10 epochs, scale 0.85-1.15 only              50%  AP 0.861
#     batch 16, 7 epochs, flip only                          35%  AP 0.826
#     one module in stage 3, one block per branch in stage 4,
#       batch 16, 10 epochs, flip only                       37%  AP 0.850
#     same, batch 8                                          37%  AP 0.862
#     same, input 64x96 (heatmaps 16x24)                     19%  AP 0.777
# and with DARK decoding (below) and one block per branch everywhere
# (this net), batch 8, flip only (float32 | bfloat16 autocast):
#     10 epochs                                              31%  AP 0.870 | 0.875
#     9 epochs (this)                                        28%  AP 0.867
#     8 epochs                                               25%  AP 0.855
# DARK decoding adds 0.013-0.02 AP to each of these 9-10-epoch models.
_base_ = ['../../../_base_/default_runtime.py']

# ---------------------------------------------------------------- schedule
max_epochs = 9
# validation once, at the end (posekit test repeats it on the same split)
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
# fused: one kernel for all parameters (torch >= 2.4), 5-10% of a step here
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1.4e-3, fused=True))
param_scheduler = [
    # linear warm-up over the first 100 iterations, from lr * 0.01
    dict(type='LinearLR', begin=0, end=100, start_factor=0.01, by_epoch=False),
    # cosine decay to lr / 100 over epochs 2-9, stepped every iteration
    dict(type='CosineAnnealingLR', begin=2, end=max_epochs, T_max=max_epochs - 2,
         eta_min=1.4e-5, by_epoch=True, convert_to_iter_based=True),
]
auto_scale_lr = dict(base_batch_size=8)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=229),  # one line per epoch
    checkpoint=dict(type='CheckpointHook', interval=max_epochs, save_best='coco/AP',
                    rule='greater', max_keep_ckpts=1))
randomness = dict(seed=0)

# ------------------------------------------------------------------ codec
# 96x128 (w x h) crop -> 24x32 heatmaps (stride 4). DARK (unbiased=True):
# each target Gaussian centred at the sub-pixel keypoint, and decoding
# refines the maximum by a Newton step on the log of the heatmap blurred
# with a kernel that matches sigma: 0.3 * ((7 - 1) / 2 - 1) + 0.8 = 1.4
codec = dict(type='MSRAHeatmap', input_size=(96, 128), heatmap_size=(24, 32),
             sigma=1.5, unbiased=True, blur_kernel_size=7)

# ------------------------------------------------------------------ model
model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        type='HRNet',
        in_channels=3,
        # HRNet-W32's layout at half the width and less depth: branches of
        # 16, 32, 64 and 128 channels at strides 4, 8, 16 and 32; one module
        # in stage 3 (W32: four), one block per branch (W32: four)
        extra=dict(
            stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK',
                        num_blocks=(1, ), num_channels=(16, )),
            stage2=dict(num_modules=1, num_branches=2, block='BASIC',
                        num_blocks=(1, 1), num_channels=(16, 32)),
            stage3=dict(num_modules=1, num_branches=3, block='BASIC',
                        num_blocks=(1, 1, 1), num_channels=(16, 32, 64)),
            stage4=dict(num_modules=1, num_branches=4, block='BASIC',
                        num_blocks=(1, 1, 1, 1),
                        num_channels=(16, 32, 64, 128))),
        init_cfg=None),  # from scratch
    head=dict(
        type='HeatmapHead',
        in_channels=16,  # the stride-4 branch
        out_channels=17,  # COCO's keypoints
        deconv_out_channels=None,  # already at the heatmap stride
        loss=dict(type='KeypointMSELoss', use_target_weight=True),
        # DARK's Newton step can jump far off on the flat heatmaps of a
        # barely trained model (e.g. POSEKIT_QUICKSTART_EPOCHS=1)
        decoder=codec),
    test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=True))

# ------------------------------------------------------------------- data
dataset_type = 'CocoDataset'
data_mode = 'topdown'
data_root = 'data/synthetic-1k/'

# Flips only (see the top): the figures are drawn at random angles and
# sizes already, and 9 epochs have no time for harder samples.
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
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

# Data loading runs in the training process: a sample takes ~2 ms, and on
# two cores worker processes would only compete with the network for them.
train_dataloader = dict(
    batch_size=8,
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
    batch_size=32,
    num_workers=0,
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

# COCO keypoint AP (OKS) and PCK@0.05 (distance < 5% of the box's longer side)
val_evaluator = [
    dict(type='CocoMetric', ann_file=data_root + 'annotations/val.json'),
    dict(type='PCKAccuracy', thr=0.05),
]
test_evaluator = val_evaluator
