# RTMW-m on Cocktail14, 192x256 (w x h) crops: posekit's default RTMW
# (see the base file for the recipe). MMPose's release reports 58.2
# whole-body AP on COCO-WholeBody val2017 (detected person boxes).
_base_ = ['../../../_base_/rtmw_cocktail14.py']
