# VideoPose3D (TCN over 27 frames, supervised) trained from scratch on the
# bundled synthetic motion-capture data, on a CPU, in minutes
# (tools/quickstart.sh lift runs it). Make the data first (not shipped):
#     posekit make-synthetic data/synthetic-mocap --mocap
# MMPose's h36m 27-frame TCN (video-pose-lift_tcn-27frm-supv_8xb128-160e_h36m)
# at a quarter of its width (256 channels instead of 1024), with the same
# codec, loss, pipelines and evaluators. The data has H3.6M's file names,
# so MMPose's H3.6M lifting configs read it with data_root changed only.
# 5 train subjects x 10 videos x 4 cameras x 150 frames = 30000 samples
# (one per frame, padded at the video ends): 469 steps of 64 per epoch.
#
# Measured on the val split (S9 S11, 12000 frames), float32, one CPU thread
# (OMP_NUM_THREADS=1; the 2-core machine was shared), seed 0:
#     this config, 12 epochs, gamma 0.75    3.5 min   MPJPE 45.9 mm  P-MPJPE 33.4 mm
#     8 epochs, gamma 0.7                   2.3 min*  MPJPE 48.3 mm  P-MPJPE 35.2 mm
#     1 epoch                               0.5 min   MPJPE 97.5 mm  P-MPJPE 77.8 mm
#     512 channels: no better per epoch than 256 at twice the time (not kept)
# (* CPU time; its wall time was longer on the shared machine.) MPJPE and
# P-MPJPE print in metres (the data's unit).
_base_ = ['../../../_base_/default_runtime.py']

# 3D skeletons drawn beside the 2D input (PoseVisualizationHook, tests)
visualizer = dict(type='Pose3dLocalVisualizer', name='visualizer')

# ---------------------------------------------------------------- schedule
max_epochs = 12
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3))
param_scheduler = [
    dict(type='ExponentialLR', gamma=0.75, end=max_epochs, by_epoch=True)
]
auto_scale_lr = dict(base_batch_size=64)
randomness = dict(seed=0)
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=max_epochs,
                    save_best='MPJPE', rule='less', max_keep_ckpts=1),
    logger=dict(type='LoggerHook', interval=100),
)

# ------------------------------------------------------------------ codec
# 2D pixels -> (p - (w/2, h/2)) / (w/2); target: camera-space joints in
# metres relative to the pelvis (joint 0)
codec = dict(type='VideoPoseLifting', num_keypoints=17, zero_center=True,
             root_index=0, remove_root=False)

# ------------------------------------------------------------------ model
# 27 frames = 3 x 3 x 3: three stride-3 convolutions reduce them to one
model = dict(
    type='PoseLifter',
    backbone=dict(
        type='TCN',
        in_channels=2 * 17,
        stem_channels=256,
        num_blocks=2,
        kernel_sizes=(3, 3, 3),
        dropout=0.25,
        use_stride_conv=True,
    ),
    head=dict(
        type='TemporalRegressionHead',
        in_channels=256,
        num_joints=17,
        loss=dict(type='MPJPELoss'),
        decoder=codec,
    ))

# ------------------------------------------------------------------ data
dataset_type = 'Human36mDataset'
data_root = 'data/synthetic-mocap/'
meta_keys = ('id', 'category_id', 'target_img_path', 'flip_indices',
             'target_root')
train_pipeline = [
    dict(type='RandomFlipAroundRoot', keypoints_flip_cfg=dict(),
         target_flip_cfg=dict()),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs', meta_keys=meta_keys),
]
val_pipeline = [
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs', meta_keys=meta_keys),
]
dataset = dict(
    type=dataset_type,
    seq_len=27,
    causal=False,
    pad_video_seq=True,
    camera_param_file='annotation_body3d/cameras.pkl',
    data_root=data_root,
    data_prefix=dict(img='images/'),   # no images: the names carry the videos
)
train_dataloader = dict(
    batch_size=64,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(ann_file='annotation_body3d/fps50/h36m_train.npz',
                 pipeline=train_pipeline, **dataset),
)
val_dataloader = dict(
    batch_size=256,
    num_workers=0,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(ann_file='annotation_body3d/fps50/h36m_test.npz',
                 pipeline=val_pipeline, test_mode=True, **dataset),
)
test_dataloader = val_dataloader

val_evaluator = [
    dict(type='MPJPE', mode='mpjpe'),
    dict(type='MPJPE', mode='p-mpjpe'),
]
test_evaluator = val_evaluator
