# RTMPose-l (Jiang et al., 2023) on Body8, 192x256 (w x h) crops: the
# Body8 RTMPose-m recipe with the full-size CSPNeXt-l backbone.
_base_ = ['../../../_base_/rtmpose_body8.py']

model = dict(
    backbone=dict(
        deepen_factor=1., widen_factor=1.,
        # only the pretrained file changes (merged into the base's)
        init_cfg=dict(checkpoint='https://download.openmmlab.com/mmpose/v1/'
                      'projects/rtmposev1/cspnext-l_udp-body7_210e-256x192-5e9558ef_20230504.pth')),
    head=dict(in_channels=1024))
