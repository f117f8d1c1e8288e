# A tiny RTMO model (one-stage: CSPDarknet, HybridEncoder, RTMOHead) for fast
# inference tests, in MMPose 1.x's config format: rtmo-s_8xb32-600e_coco-
# 640x640.py with every width divided by 8 and a 256x256 input, on the COCO
# fixture of the test suite. Random weights unless a test loads some.

_base_ = ['td_hm_res50_coco_fixture.py']

input_size = (256, 256)  # (w, h); divisible by the head's strides 16 and 32
metafile = 'configs/_base_/datasets/coco.py'
widen_factor = 0.5
deepen_factor = 0.33

model = dict(
    _delete_=True,
    type='BottomupPoseEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor', pad_size_divisor=32, mean=[0, 0, 0],
        std=[1, 1, 1]),
    backbone=dict(
        type='CSPDarknet',
        deepen_factor=deepen_factor,
        widen_factor=0.0625,  # 1/8 of rtmo-s: 16, 32, 64 channels at strides 8, 16, 32
        out_indices=(2, 3, 4),
        spp_kernal_sizes=(5, 9, 13),
        norm_cfg=dict(type='BN', momentum=0.03, eps=0.001),
        act_cfg=dict(type='Swish')),
    neck=dict(
        type='HybridEncoder',
        in_channels=[16, 32, 64],
        deepen_factor=deepen_factor,
        widen_factor=widen_factor,
        hidden_dim=32,
        output_indices=[1, 2],
        encoder_cfg=dict(
            self_attn_cfg=dict(embed_dims=32, num_heads=4, dropout=0.0),
            ffn_cfg=dict(embed_dims=32, feedforward_channels=128, ffn_drop=0.0,
                         act_cfg=dict(type='GELU'))),
        projector=dict(
            type='ChannelMapper', in_channels=[32, 32], kernel_size=1,
            out_channels=32, act_cfg=None, norm_cfg=dict(type='BN'), num_outs=2)),
    head=dict(
        type='RTMOHead',
        num_keypoints=17,
        featmap_strides=(16, 32),
        head_module_cfg=dict(
            num_classes=1,
            in_channels=32,
            cls_feat_channels=32,
            channels_per_group=36,
            pose_vec_channels=32,
            widen_factor=widen_factor,
            stacked_convs=2,
            norm_cfg=dict(type='BN', momentum=0.03, eps=0.001),
            act_cfg=dict(type='Swish')),
        assigner=dict(
            type='SimOTAAssigner',
            dynamic_k_indicator='oks',
            oks_calculator=dict(type='PoseOKS', metainfo=metafile),
            use_keypoints_for_center=True),
        prior_generator=dict(
            type='MlvlPointGenerator', centralize_points=True, strides=[16, 32]),
        dcc_cfg=dict(
            in_channels=32,
            feat_channels=16,
            num_bins=(48, 64),
            spe_channels=16,
            gau_cfg=dict(s=16, expansion_factor=2, dropout_rate=0.0,
                         drop_path=0.0, act_fn='SiLU', pos_enc='add')),
        overlaps_power=0.5,
        loss_cls=dict(type='VariFocalLoss', reduction='sum',
                      use_target_weight=True, loss_weight=1.0),
        loss_bbox=dict(type='IoULoss', mode='square', eps=1e-16,
                       reduction='sum', loss_weight=5.0),
        loss_oks=dict(type='OKSLoss', reduction='none', metainfo=metafile,
                      loss_weight=30.0),
        loss_vis=dict(type='BCELoss', use_target_weight=True,
                      reduction='mean', loss_weight=1.0),
        loss_mle=dict(type='MLECCLoss', use_target_weight=True, loss_weight=1.0),
        loss_bbox_aux=dict(type='L1Loss', reduction='sum', loss_weight=1.0)),
    test_cfg=dict(input_size=input_size, score_thr=0.1, nms_thr=0.65))

data_mode = 'bottomup'
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='BottomupResize', input_size=input_size, pad_val=(114, 114, 114)),
    dict(type='PackPoseInputs',
         meta_keys=('id', 'img_id', 'img_path', 'ori_shape', 'img_shape',
                    'input_size', 'input_center', 'input_scale'))
]
val_dataloader = dict(
    batch_size=1,
    dataset=dict(data_mode=data_mode, pipeline=val_pipeline))
test_dataloader = val_dataloader
train_dataloader = None  # never trained here
val_evaluator = dict(score_mode='bbox', nms_mode='none')
test_evaluator = val_evaluator
