# InterNet (Moon et al., ECCV 2020) on InterHand2.6M: posekit's "hand3d"
# model. From one 256x256 crop of one or two hands, a ResNet-50 predicts
# 3D heatmaps of 2 x 21 keypoints (64^3 voxels), the right-to-left root
# depth and the handedness. 4 GPUs x 16 crops, Adam, 20 epochs.
_base_ = ['../../../_base_/default_runtime.py']

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='Pose3dLocalVisualizer', vis_backends=vis_backends,
                  name='visualizer')

train_cfg = dict(max_epochs=20, val_interval=1)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=0.0002))
param_scheduler = [
    dict(type='MultiStepLR', begin=0, end=20, milestones=[15, 17], gamma=0.1,
         by_epoch=True)
]
auto_scale_lr = dict(base_batch_size=128)
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=1, save_best='MPJPE_all',
                    rule='less', max_keep_ckpts=1),
    logger=dict(type='LoggerHook', interval=20))

# 64 x 64 x 64 keypoint heatmaps; 64 bins of root depth; depth in mm
# clipped at max_bound
codec = dict(type='Hand3DHeatmap', image_size=[256, 256],
             root_heatmap_size=64, heatmap_size=[64, 64, 64], sigma=2.5,
             max_bound=255, depth_size=64)
model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        mean=[123.675, 116.28, 103.53],  # ImageNet, RGB
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        type='ResNet',
        depth=50,
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')),
    head=dict(
        type='InternetHead',
        keypoint_head_cfg=dict(
            in_channels=2048,
            out_channels=21 * 64,  # 21 keypoints x 64 depth bins per hand
            depth_size=codec['depth_size'],
            deconv_out_channels=(256, 256, 256),
            deconv_kernel_sizes=(4, 4, 4)),
        root_head_cfg=dict(in_channels=2048,
                           heatmap_size=codec['root_heatmap_size'],
                           hidden_dims=(512, )),
        hand_type_head_cfg=dict(in_channels=2048, num_labels=2,
                                hidden_dims=(512, )),
        decoder=codec),
    test_cfg=dict(flip_test=False))

meta_keys = ('id', 'img_id', 'img_path', 'rotation', 'img_shape', 'focal',
             'principal_pt', 'input_size', 'input_center', 'input_scale',
             'hand_type', 'hand_type_valid', 'flip', 'flip_indices',
             'abs_depth')
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='HandRandomFlip', prob=0.5),  # also swaps left and right
    dict(type='RandomBBoxTransform', rotate_factor=90.0),
    dict(type='TopdownAffine', input_size=codec['image_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs', meta_keys=meta_keys),
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['image_size']),
    dict(type='PackPoseInputs', meta_keys=meta_keys),
]

dataset_type = 'InterHand3DDataset'
data_mode = 'topdown'
data_root = 'data/interhand2.6m/'


def _interhand(annot, split, **kwargs):
    """InterHand2.6M ``split`` ('all' or 'machine_annot' annotations)."""
    prefix = f'annotations/{annot}/InterHand2.6M_{split}'
    return dict(type=dataset_type, ann_file=f'{prefix}_data.json',
                camera_param_file=f'{prefix}_camera.json',
                joint_file=f'{prefix}_joint_3d.json',
                use_gt_root_depth=True, rootnet_result_file=None,
                data_mode=data_mode, data_root=data_root,
                data_prefix=dict(img=f'images/{split}/'), **kwargs)


loader = dict(batch_size=16, num_workers=1, persistent_workers=True,
              drop_last=False)
test_sampler = dict(type='DefaultSampler', shuffle=False, round_up=False)
train_dataloader = dict(
    loader, sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=_interhand('all', 'train', pipeline=train_pipeline))
val_dataloader = dict(
    loader, sampler=test_sampler,
    dataset=_interhand('machine_annot', 'val', pipeline=val_pipeline,
                       test_mode=True))
test_dataloader = dict(
    loader, sampler=test_sampler,
    dataset=_interhand('all', 'test', pipeline=val_pipeline, test_mode=True))

val_evaluator = [
    dict(type='InterHandMetric', modes=['MPJPE', 'MRRPE', 'HandednessAcc'])
]
test_evaluator = val_evaluator
