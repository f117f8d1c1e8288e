# RTMPose-m (Jiang et al., 2023) on Body8, 192x256 (w x h) crops: posekit's
# "human" / "body" model. CSPNeXt-m backbone, RTMCC head (SimCC, 2 bins per
# pixel). Schedule: 8 GPUs x 256 crops, AdamW, 420 epochs, EMA.
# MMPose's release reports 76.7 AP on COCO val2017 (detected boxes).
_base_ = ['../../../_base_/rtmpose_body8.py']
