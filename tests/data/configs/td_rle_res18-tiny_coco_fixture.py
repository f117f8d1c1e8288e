# A tiny RLE regression model (narrow ResNet-18, global average pooling,
# RLEHead) for fast tests, in MMPose 1.x's config format, with the data of
# td_hm_res50_coco_fixture.py (the COCO fixture of the test suite). Random
# weights.

_base_ = ['td_hm_res50_coco_fixture.py']

codec = dict(type='RegressionLabel', input_size=(64, 80))  # (w, h)

model = dict(
    _delete_=True,
    type='TopdownPoseEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(type='ResNet', depth=18, base_channels=16,
                  stem_channels=16),  # stages: 16, 32, 64, 128 channels
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='RLEHead',
        in_channels=128,
        num_joints=17,
        loss=dict(type='RLELoss', use_target_weight=True),
        decoder=codec),
    test_cfg=dict(flip_test=True, shift_coords=True))

# data: the base's COCO fixture loaders, with crops of this input size
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs')
]
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = val_dataloader
train_dataloader = None  # never trained: the base's targets are heatmaps
