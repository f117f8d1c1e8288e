# ViTPose-B simple (Xu et al., NeurIPS 2022) on COCO: posekit's "vitpose-b".
# MMPose's release reports 75.7 AP on val2017 (detected boxes).
_base_ = ['../../../_base_/vitpose_coco.py']
