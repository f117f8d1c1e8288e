# VideoPose3D (Pavllo et al., CVPR 2019) on Human3.6M: a temporal
# convolutional network lifting 243 frames of 17 2D keypoints, detected by
# a CPN fine-tuned on Human3.6M, to the 3D pose of the centre frame.
# Supervised, 8 GPUs x 128 clips, Adam, 200 epochs.
_base_ = ['../../../_base_/default_runtime.py']

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='Pose3dLocalVisualizer', vis_backends=vis_backends,
                  name='visualizer')

train_cfg = dict(max_epochs=200, val_interval=10)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-4))
param_scheduler = [dict(type='ExponentialLR', gamma=0.98, end=200, by_epoch=True)]
auto_scale_lr = dict(base_batch_size=1024)
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', save_best='MPJPE', rule='less',
                    max_keep_ckpts=1),
    logger=dict(type='LoggerHook', interval=20))

# targets relative to the pelvis (keypoint 0), which is kept
codec = dict(type='VideoPoseLifting', num_keypoints=17, zero_center=True,
             root_index=0, remove_root=False)
model = dict(
    type='PoseLifter',
    backbone=dict(
        type='TCN',
        in_channels=2 * 17,  # (x, y) of 17 keypoints per frame
        stem_channels=1024,
        num_blocks=4,
        # receptive field 3^5 = 243 frames; strided convs while training
        kernel_sizes=(3, 3, 3, 3, 3),
        dropout=0.25,
        use_stride_conv=True),
    head=dict(type='TemporalRegressionHead', in_channels=1024, num_joints=17,
              loss=dict(type='MPJPELoss'), decoder=codec))

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

dataset_type = 'Human36mDataset'
data_root = 'data/h36m/'


def _h36m(split, **kwargs):
    """243-frame clips centred on each frame, CPN detections as input."""
    return dict(
        type=dataset_type,
        ann_file=f'annotation_body3d/fps50/h36m_{split}.npz',
        seq_len=243,
        causal=False,
        pad_video_seq=True,
        keypoint_2d_src='detection',
        keypoint_2d_det_file=f'joint_2d_det_files/cpn_ft_h36m_dbb_{split}.npy',
        camera_param_file='annotation_body3d/cameras.pkl',
        data_root=data_root,
        data_prefix=dict(img='images/'),
        **kwargs)


train_dataloader = dict(
    batch_size=128,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=_h36m('train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=128,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=_h36m('test', pipeline=val_pipeline, test_mode=True))
test_dataloader = val_dataloader

val_evaluator = [dict(type='MPJPE', mode='mpjpe'),
                 dict(type='MPJPE', mode='p-mpjpe')]
test_evaluator = val_evaluator
