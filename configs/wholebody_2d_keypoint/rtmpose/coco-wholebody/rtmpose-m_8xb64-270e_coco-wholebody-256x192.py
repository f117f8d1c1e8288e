# RTMPose-m on COCO-WholeBody (133 keypoints: body, feet, face, hands),
# 192x256 (w x h) crops: posekit's "wholebody" model (MMPose's first with
# that alias). 8 GPUs x 64 crops, 270 epochs. MMPose's release reports
# 58.2 whole-body AP on val2017 (detected person boxes).
_base_ = ['../../../_base_/rtmpose_m_topdown.py']

max_epochs = 270
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    param_scheduler[0],
    dict(param_scheduler[1], begin=max_epochs // 2, end=max_epochs,
         T_max=max_epochs // 2),
]

codec = dict(codec, input_size=(192, 256), sigma=(4.9, 5.66))
model = dict(head=dict(
    out_channels=133,
    input_size=codec['input_size'],
    in_featuremap_size=(6, 8),  # (192 / 32, 256 / 32)
    decoder=codec))


def _resized(pipeline):
    """``pipeline`` with the crop and the codec of this config."""
    new = {'TopdownAffine': dict(input_size=codec['input_size']),
           'GenerateTarget': dict(encoder=codec)}
    return [dict(t, **new.get(t['type'], {})) for t in pipeline]


train_pipeline = _resized(train_pipeline)
train_pipeline_stage2 = _resized(train_pipeline_stage2)
val_pipeline = _resized(val_pipeline)

dataset_type = 'CocoWholeBodyDataset'
data_root = 'data/coco/'
train_dataloader = dict(dataset=dict(
    type=dataset_type, data_root=data_root, data_mode=data_mode,
    ann_file='annotations/coco_wholebody_train_v1.0.json',
    data_prefix=dict(img='train2017/'), pipeline=train_pipeline))
# validated and tested on val2017 with detected person boxes (56 AP)
val_dataloader = dict(dataset=dict(
    type=dataset_type, data_root=data_root, data_mode=data_mode,
    ann_file='annotations/coco_wholebody_val_v1.0.json',
    data_prefix=dict(img='val2017/'),
    bbox_file='data/coco/person_detection_results/'
    'COCO_val2017_detections_AP_H_56_person.json',
    pipeline=val_pipeline))
test_dataloader = val_dataloader

default_hooks = dict(checkpoint=dict(save_best='coco-wholebody/AP'))
custom_hooks = [
    custom_hooks[0],  # EMA
    dict(custom_hooks[1], switch_epoch=max_epochs - stage2_num_epochs,
         switch_pipeline=train_pipeline_stage2),
]
val_evaluator = dict(
    type='CocoWholeBodyMetric',
    ann_file=data_root + 'annotations/coco_wholebody_val_v1.0.json')
test_evaluator = val_evaluator
