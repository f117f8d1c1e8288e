# A tiny RTMPose-style model (CSPNeXt backbone, RTMCCHead with its gated
# attention unit) for fast tests, in MMPose 1.x's config format, with the
# data of td_hm_res50_coco_fixture.py (the COCO fixture of the test suite).
# Random weights: the tests check export and inference, not accuracy.

_base_ = ['td_hm_res50_coco_fixture.py']

# codec: 64x64 input, 2 SimCC bins per pixel -> 128 x bins, 128 y bins
codec = dict(
    type='SimCCLabel', input_size=(64, 64), sigma=(2.0, 2.0),
    simcc_split_ratio=2.0, normalize=False, use_dark=False)

model = dict(
    _delete_=True,
    type='TopdownPoseEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        _scope_='mmdet',
        type='CSPNeXt',
        arch='P5',
        expand_ratio=0.5,
        deepen_factor=0.33,
        widen_factor=0.125,  # 1/8 of CSPNeXt-l: 128 channels at stride 32
        out_indices=(4, ),
        channel_attention=True,
        norm_cfg=dict(type='SyncBN'),  # init_model makes it BatchNorm
        act_cfg=dict(type='SiLU')),
    head=dict(
        type='RTMCCHead',
        in_channels=128,
        out_channels=17,
        input_size=codec['input_size'],
        in_featuremap_size=(2, 2),  # 64 / 32
        simcc_split_ratio=codec['simcc_split_ratio'],
        final_layer_kernel_size=7,
        gau_cfg=dict(
            hidden_dims=32,
            s=16,
            expansion_factor=2,
            dropout_rate=0.,
            drop_path=0.,
            act_fn='SiLU',
            use_rel_bias=True,  # RTMPose's configs say False; covers more ops
            pos_enc=False),
        loss=dict(type='KLDiscretLoss', use_target_weight=True, beta=10.,
                  label_softmax=True),
        decoder=codec),
    test_cfg=dict(flip_test=True))

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
