codec = dict(type='MSRAHeatmap', input_size=(192, 256), heatmap_size=(48, 64), sigma=2)
model = dict(
    type='TopdownPoseEstimator',
    backbone=dict(type='ResNet', depth=50, out_indices=(3, )),
    head=dict(type='HeatmapHead', in_channels=2048, out_channels=17,
              deconv_out_channels=(256, 256, 256)),
    test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=True))
train_pipeline = [dict(type='LoadImage'), dict(type='RandomFlip', prob=0.5)]
param_scheduler = [dict(type='LinearLR', end=500), dict(type='MultiStepLR', milestones=[170, 200])]
