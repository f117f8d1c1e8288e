# DWPose stage 2 (two_dis=True), tiny: teacher and student are the same
# 64-channel model; the teacher holds the stage-1 student's weights (the
# tests set teacher_pretrained to a local file) and only the student's head
# trains, on the teacher's features, with the logit loss alone.

_base_ = ['dwpose_tiny_dis_coco_fixture.py']

model = dict(
    two_dis=True,
    teacher_pretrained=None,  # the tests point it at a stage-1 student checkpoint
    teacher_cfg='tests/data/configs/td_rtmcc_cspnext-tinier_coco_fixture.py',
    distill_cfg=[
        dict(methods=[dict(type='KDLoss', name='loss_logit', use_this=True,
                           weight=1)]),
    ],
    train_cfg=dict(max_epochs=2, val_interval=1))
