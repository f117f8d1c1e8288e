# RTMW-l on Cocktail14, 192x256 (w x h) crops: the RTMW-m recipe with the
# full-size CSPNeXt-l (starting from DWPose's distilled RTMPose-l) and
# stronger weight decay.
_base_ = ['../../../_base_/rtmw_cocktail14.py']

optim_wrapper = dict(optimizer=dict(weight_decay=0.1))
model = dict(
    backbone=dict(
        deepen_factor=1., widen_factor=1.,
        init_cfg=dict(checkpoint='https://download.openmmlab.com/mmpose/v1/'
                      'projects/rtmposev1/rtmpose-l_simcc-ucoco_dw-ucoco_270e-'
                      '256x192-4d6dfc62_20230728.pth')),
    neck=dict(in_channels=[256, 512, 1024]),
    head=dict(in_channels=1024))
