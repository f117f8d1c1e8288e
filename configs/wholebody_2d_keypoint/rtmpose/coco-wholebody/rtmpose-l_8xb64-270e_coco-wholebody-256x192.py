# RTMPose-l on COCO-WholeBody (133 keypoints), 192x256 (w x h) crops: the
# RTMPose-m whole-body recipe with the full-size CSPNeXt-l backbone
# (pose-pretrained on AIC + COCO); DWPose's distilled RTMPose-l students
# share this architecture. 8 GPUs x 64 crops, 270 epochs.
_base_ = ['./rtmpose-m_8xb64-270e_coco-wholebody-256x192.py']

model = dict(
    backbone=dict(
        deepen_factor=1., widen_factor=1.,
        init_cfg=dict(checkpoint='https://download.openmmlab.com/mmpose/v1/'
                      'projects/rtmposev1/cspnext-l_udp-aic-coco_210e-256x192-'
                      '273b7631_20230130.pth')),
    head=dict(in_channels=1024))  # 1024 * widen_factor
