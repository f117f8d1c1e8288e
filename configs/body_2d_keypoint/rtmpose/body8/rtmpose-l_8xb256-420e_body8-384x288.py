# RTMPose-l (Jiang et al., 2023) on Body8 with 288x384 (w x h) crops:
# posekit's "rtmpose-l" model. The Body8 RTMPose-m recipe with CSPNeXt-l,
# the crop 1.5x larger on each side and label sigmas to match.
_base_ = ['../../../_base_/rtmpose_body8.py']

codec = dict(codec, input_size=(288, 384), sigma=(6., 6.93))
model = dict(
    backbone=dict(
        deepen_factor=1., widen_factor=1.,
        # only the pretrained file changes (merged into the base's)
        init_cfg=dict(checkpoint='https://download.openmmlab.com/mmpose/v1/'
                      'projects/rtmposev1/cspnext-l_udp-body7_210e-384x288-b15bc30d_20230504.pth')),
    head=dict(
        in_channels=1024,
        input_size=codec['input_size'],
        in_featuremap_size=(9, 12),  # (288 / 32, 384 / 32)
        decoder=codec))


def _resized(pipeline):
    """``pipeline`` with the crop and the codec of this config."""
    new = {'TopdownAffine': dict(input_size=codec['input_size']),
           'GenerateTarget': dict(encoder=codec)}
    return [dict(t, **new.get(t['type'], {})) for t in pipeline]


train_pipeline = _resized(train_pipeline)
train_pipeline_stage2 = _resized(train_pipeline_stage2)
val_pipeline = _resized(val_pipeline)
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=val_pipeline))
custom_hooks = [custom_hooks[0],  # EMA
                dict(custom_hooks[1], switch_pipeline=train_pipeline_stage2)]
