# MotionBERT (Zhu et al., ICCV 2023) fine-tuned on Human3.6M: posekit's
# "human3d" model. Lifts 243-frame clips of 17 2D keypoints (x, y and a
# visibility channel) to 3D with a dual-stream spatio-temporal transformer
# (DSTFormer, 5 layers, 512 channels). The whole model starts from
# MotionBERT's pretrained weights; 8 GPUs x 32 clips, AdamW, 120 epochs.
_base_ = ['../../../_base_/default_runtime.py']

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='Pose3dLocalVisualizer', vis_backends=vis_backends,
                  name='visualizer')

# ---------------------------------------------------------------- schedule
train_cfg = dict(max_epochs=120, val_interval=10)
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=0.0002, weight_decay=0.01))
# lr x0.99 per epoch for the first 60 epochs, constant afterwards
param_scheduler = [dict(type='ExponentialLR', gamma=0.99, end=60, by_epoch=True)]
auto_scale_lr = dict(base_batch_size=512)
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', save_best='MPJPE', rule='less',
                    max_keep_ckpts=1),
    logger=dict(type='LoggerHook', interval=20))

# --------------------------------------------------------- codecs and model
# training targets keep the camera-space root; evaluation is root-relative
train_codec = dict(type='MotionBERTLabel', num_keypoints=17, concat_vis=True,
                   mode='train')
val_codec = dict(type='MotionBERTLabel', num_keypoints=17, concat_vis=True,
                 rootrel=True)
model = dict(
    type='PoseLifter',
    backbone=dict(type='DSTFormer', in_channels=3, feat_size=512, depth=5,
                  num_heads=8, mlp_ratio=2, seq_len=243, att_fuse=True),
    head=dict(type='MotionRegressionHead', in_channels=512, out_channels=3,
              embedding_size=512, loss=dict(type='MPJPEVelocityJointLoss'),
              decoder=val_codec),
    test_cfg=dict(flip_test=True),
    # MotionBERT pretrained on Human3.6M (whole model, not the backbone)
    init_cfg=dict(
        type='Pretrained',
        checkpoint='https://download.openmmlab.com/mmpose/v1/body_3d_keypoint/'
        'pose_lift/h36m/motionbert_pretrain_h36m-29ffebf5_20230719.pth'))

# -------------------------------------------------------------- pipelines
meta_keys = ('id', 'category_id', 'target_img_path', 'flip_indices', 'factor',
             'camera_param')
train_pipeline = [
    dict(type='GenerateTarget', encoder=train_codec),
    # mirror about x = 0 (coordinates are already normalised)
    dict(type='RandomFlipAroundRoot',
         keypoints_flip_cfg=dict(center_mode='static', center_x=0.),
         target_flip_cfg=dict(center_mode='static', center_x=0.),
         flip_label=True),
    dict(type='PackPoseInputs', meta_keys=meta_keys),
]
val_pipeline = [
    dict(type='GenerateTarget', encoder=val_codec),
    dict(type='PackPoseInputs', meta_keys=meta_keys),
]

# ------------------------------------------------------------------- data
dataset_type = 'Human36mDataset'
data_root = 'data/h36m/'
h36m = dict(type=dataset_type, camera_param_file='annotation_body3d/cameras.pkl',
            data_root=data_root, data_prefix=dict(img='images/'))
loader = dict(batch_size=32, prefetch_factor=4, pin_memory=True,
              num_workers=2, persistent_workers=True)
# training clips: 243 frames every 81 frames; testing: back-to-back clips
train_dataloader = dict(
    loader,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(h36m, ann_file='annotation_body3d/fps50/h36m_train.npz',
                 seq_len=1, multiple_target=243, multiple_target_step=81,
                 pipeline=train_pipeline))
val_dataloader = dict(
    loader,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(h36m, ann_file='annotation_body3d/fps50/h36m_test.npz',
                 seq_len=1, seq_step=1, multiple_target=243,
                 pipeline=val_pipeline, test_mode=True))
test_dataloader = val_dataloader

# the five S9 sequences with bad ground truth are left out, as in the paper
skip_list = ['S9_Greet', 'S9_SittingDown', 'S9_Wait_1', 'S9_Greeting',
             'S9_Waiting_1']
val_evaluator = [dict(type='MPJPE', mode='mpjpe', skip_list=skip_list),
                 dict(type='MPJPE', mode='p-mpjpe', skip_list=skip_list)]
test_evaluator = val_evaluator
