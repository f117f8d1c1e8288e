# A tiny YOLOX-Pose (MMPose's yoloxpose-s layout at a quarter of its width
# and 256x256 inputs) for the one-stage export tests: inference only.
_base_ = ['onestage_rtmo_tiny_fixture.py']
widen_factor = 0.125

model = dict(
    neck=dict(
        _delete_=True,
        type='YOLOXPAFPN',
        in_channels=[32, 64, 128],
        out_channels=32,
        num_csp_blocks=1,
        use_depthwise=False,
        upsample_cfg=dict(scale_factor=2, mode='nearest'),
        norm_cfg=dict(type='BN', momentum=0.03, eps=0.001),
        act_cfg=dict(type='Swish')),
    head=dict(
        _delete_=True,
        type='YOLOXPoseHead',
        num_keypoints=17,
        featmap_strides=(8, 16, 32),
        head_module_cfg=dict(
            num_classes=1, in_channels=64, feat_channels=64,
            widen_factor=0.5, stacked_convs=2,
            norm_cfg=dict(type='BN', momentum=0.03, eps=0.001),
            act_cfg=dict(type='Swish')),
        prior_generator=dict(type='MlvlPointGenerator', offset=0,
                             strides=[8, 16, 32])),
    test_cfg=dict(_delete_=True, score_thr=0.01, nms_thr=0.65))
