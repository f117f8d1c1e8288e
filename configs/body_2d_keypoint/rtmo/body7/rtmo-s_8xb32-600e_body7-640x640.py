# RTMO-s on Body7 at 640x640: a 1/3-deep, half-wide network (YOLOX-s
# backbone), 8 GPUs x 32 images. Differs from RTMO-l beyond the size: box
# centres from the keypoints in SimOTA, a 100x larger MLE loss weight, no
# jitter in the last stage, and the epoch-280 switch keeps the overlap
# power and the classification weight. MMPose reports 67.7 AP on COCO val.
_base_ = ['../../../_base_/rtmo_body7.py']

widen_factor = 0.5
deepen_factor = 0.33
model = dict(
    backbone=dict(
        deepen_factor=deepen_factor,
        widen_factor=widen_factor,
        init_cfg=dict(checkpoint='https://download.openmmlab.com/mmdetection/'
                      'v2.0/yolox/yolox_s_8x8_300e_coco/yolox_s_8x8_300e_coco_'
                      '20211121_095711-4592a793.pth')),
    neck=dict(
        in_channels=[128, 256, 512],  # [256, 512, 1024] * widen_factor
        deepen_factor=deepen_factor,
        widen_factor=widen_factor,
        projector=dict(out_channels=256)),
    head=dict(
        head_module_cfg=dict(pose_vec_channels=256,
                             widen_factor=widen_factor),
        assigner=dict(use_keypoints_for_center=True),
        dcc_cfg=dict(in_channels=256),
        loss_mle=dict(loss_weight=1.0)))

# the last stage resizes only: no shift, rotation or scale jitter
train_pipeline_stage2 = [
    dict(t, shift_prob=0, rotate_prob=0, scale_prob=0)
    if t['type'] == 'BottomupRandomAffine' else t
    for t in train_pipeline_stage2]
train_dataloader = dict(batch_size=32)
custom_hooks = [
    dict(custom_hooks[0], new_train_pipeline=train_pipeline_stage2),
    dict(custom_hooks[1], epoch_attributes={
        280: {
            'proxy_target_cc': True,
            'loss_mle.loss_weight': 5.0,
            'loss_oks.loss_weight': 10.0
        },
    }),
    *custom_hooks[2:],
]
