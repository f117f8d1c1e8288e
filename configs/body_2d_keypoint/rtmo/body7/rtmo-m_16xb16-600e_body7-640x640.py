# RTMO-m on Body7 at 640x640: the RTMO-l recipe with a 2/3-deep, 3/4-wide
# network (YOLOX-m backbone). MMPose's release reports 72.6 AP on COCO val.
_base_ = ['../../../_base_/rtmo_body7.py']

widen_factor = 0.75
deepen_factor = 0.67
model = dict(
    backbone=dict(
        deepen_factor=deepen_factor,
        widen_factor=widen_factor,
        init_cfg=dict(checkpoint='https://download.openmmlab.com/mmpose/v1/'
                      'pretrained_models/yolox_m_8x8_300e_coco_20230829.pth')),
    neck=dict(
        in_channels=[192, 384, 768],  # [256, 512, 1024] * widen_factor
        deepen_factor=deepen_factor,
        widen_factor=widen_factor,
        projector=dict(out_channels=384)),
    head=dict(
        head_module_cfg=dict(pose_vec_channels=384,
                             widen_factor=widen_factor),
        dcc_cfg=dict(in_channels=384)))
