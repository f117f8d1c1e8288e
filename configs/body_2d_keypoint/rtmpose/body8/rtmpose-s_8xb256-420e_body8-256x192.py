# RTMPose-s (Jiang et al., 2023) on Body8, 192x256 (w x h) crops: the
# Body8 RTMPose-m recipe with CSPNeXt-s, no weight decay and milder box
# augmentation (a small model underfits with the strong one).
_base_ = ['../../../_base_/rtmpose_body8.py']

optim_wrapper = dict(optimizer=dict(weight_decay=0.))
model = dict(
    backbone=dict(
        deepen_factor=0.33, widen_factor=0.5,
        # only the pretrained file changes (merged into the base's)
        init_cfg=dict(checkpoint='https://download.openmmlab.com/mmpose/v1/'
                      'projects/rtmposev1/cspnext-s_udp-body7_210e-256x192-8c9ccbdb_20230504.pth')),
    head=dict(in_channels=512))  # 1024 * widen_factor

# box jitter: scale x0.6-1.4 and rotation up to 80 degrees (stage 2:
# x0.75-1.25, 60 degrees) instead of x0.5-1.5 and 90
train_pipeline = [
    dict(t, scale_factor=[0.6, 1.4], rotate_factor=80)
    if t['type'] == 'RandomBBoxTransform' else t for t in train_pipeline]
train_pipeline_stage2 = [
    dict(t, scale_factor=[0.75, 1.25], rotate_factor=60)
    if t['type'] == 'RandomBBoxTransform' else t for t in train_pipeline_stage2]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
custom_hooks = [custom_hooks[0],  # EMA
                dict(custom_hooks[1], switch_pipeline=train_pipeline_stage2)]
