# A tiny RTMO (MMPose's rtmo-s layout at a quarter of its width and 256x256
# inputs) for the one-stage export tests: inference only, never trained.
input_size = (256, 256)
metafile = 'configs/_base_/datasets/coco.py'
widen_factor = 0.125
deepen_factor = 0.33

model = dict(
    type='BottomupPoseEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor', pad_size_divisor=32,
        mean=[0, 0, 0], std=[1, 1, 1]),
    backbone=dict(
        type='CSPDarknet', deepen_factor=deepen_factor,
        widen_factor=widen_factor, out_indices=(2, 3, 4),
        spp_kernal_sizes=(5, 9, 13),
        norm_cfg=dict(type='BN', momentum=0.03, eps=0.001),
        act_cfg=dict(type='Swish')),
    neck=dict(
        type='HybridEncoder',
        in_channels=[32, 64, 128],  # 256, 512, 1024 x widen_factor
        deepen_factor=deepen_factor,
        widen_factor=0.5,
        hidden_dim=32,
        output_indices=[1, 2],
        encoder_cfg=dict(
            self_attn_cfg=dict(embed_dims=32, num_heads=2, dropout=0.0),
            ffn_cfg=dict(embed_dims=32, feedforward_channels=64,
                         ffn_drop=0.0, act_cfg=dict(type='GELU'))),
        projector=dict(type='ChannelMapper', in_channels=[32, 32],
                       kernel_size=1, out_channels=64, act_cfg=None,
                       norm_cfg=dict(type='BN'), num_outs=2)),
    head=dict(
        type='RTMOHead',
        num_keypoints=17,
        featmap_strides=(16, 32),
        head_module_cfg=dict(
            num_classes=1, in_channels=64, cls_feat_channels=64,
            channels_per_group=8, num_groups=4, pose_vec_channels=32,
            widen_factor=0.5, stacked_convs=2,
            norm_cfg=dict(type='BN', momentum=0.03, eps=0.001),
            act_cfg=dict(type='Swish')),
        prior_generator=dict(type='MlvlPointGenerator',
                             centralize_points=True, strides=[16, 32]),
        dcc_cfg=dict(
            in_channels=32, feat_channels=16, num_bins=(48, 64),
            spe_channels=16,
            gau_cfg=dict(s=16, expansion_factor=2, dropout_rate=0.0,
                         drop_path=0.0, act_fn='SiLU', pos_enc='add')),
        bbox_padding=1.25),
    test_cfg=dict(input_size=input_size, score_thr=0.1, nms_thr=0.65))

val_pipeline = [
    dict(type='LoadImage'),
    dict(type='BottomupResize', input_size=input_size, pad_val=(114, 114, 114)),
    dict(type='PackPoseInputs',
         meta_keys=('id', 'img_id', 'img_path', 'ori_shape', 'img_shape',
                    'input_size', 'input_center', 'input_scale')),
]
val_dataloader = dict(
    batch_size=1,
    dataset=dict(type='CocoDataset', data_root='tests/data/fixtures/coco/',
                 data_mode='bottomup', ann_file='test_coco.json',
                 data_prefix=dict(img=''), test_mode=True,
                 pipeline=val_pipeline))
test_dataloader = val_dataloader
