# The student of the tiny distillation tests (dwpose_tiny_*_coco_fixture.py):
# td_rtmcc_cspnext-tiny_coco_fixture.py at half the width, so its last
# feature map has 64 channels where the teacher's has 128 (FeaLoss then
# aligns them with a 1x1 convolution). Random weights.

_base_ = ['td_rtmcc_cspnext-tiny_coco_fixture.py']

model = dict(
    backbone=dict(widen_factor=0.0625),  # 1/16 of CSPNeXt-l: 64 channels at stride 32
    head=dict(in_channels=64))

# the student's own schedule; MMPose's stage-1 distillation configs train
# for the same number of epochs, and the distiller reads it for its loss decay
train_cfg = dict(by_epoch=True, max_epochs=2, val_interval=1)
