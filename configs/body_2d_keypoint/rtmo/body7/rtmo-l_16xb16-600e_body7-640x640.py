# RTMO-l on Body7 at 640x640: posekit's "rtmo" model (one-stage, no person
# detector). 16 GPUs x 16 images, 600 epochs. MMPose's release reports
# 74.8 AP on COCO val2017.
_base_ = ['../../../_base_/rtmo_body7.py']
