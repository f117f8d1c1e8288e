# RTMPose-m on Face6 (LaPa, COCO-WholeBody faces, WFLW, 300W, COFW and
# Halpe faces, all converted to LaPa's 106 landmarks), 256x256 crops:
# posekit's "face" model. 8 GPUs x 256 crops, 120 epochs, ImageNet-pretrained
# backbone, gradient clipping, validation on LaPa after every epoch and a
# final test on the six test sets together (NME, lower is better).
_base_ = ['../../../_base_/rtmpose_m_topdown.py']

max_epochs = 120
stage2_num_epochs = 10
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
optim_wrapper = dict(clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [
    param_scheduler[0],
    # cosine from epoch 30 down to 0.5% of the base rate
    dict(param_scheduler[1], eta_min=base_lr * 0.005, begin=30,
         end=max_epochs, T_max=max_epochs - 30),
]

model = dict(
    backbone=dict(init_cfg=dict(
        # CSPNeXt-m classification weights (ImageNet-1k, RSB A1 recipe)
        checkpoint='https://download.openmmlab.com/mmdetection/v3.0/rtmdet/'
        'cspnext_rsb_pretrain/cspnext-m_8xb256-rsb-a1-600e_in1k-ecb3bbd9.pth')),
    head=dict(out_channels=106))


def _face(pipeline, blur_p):
    """The base pipeline with face settings: scale jitter 0.5-1.5 and up to
    80 degrees in both stages, blur probability ``blur_p``, and targets
    weighted by the dataset's per-keypoint weights."""
    new = []
    for t in pipeline:
        if t['type'] == 'RandomBBoxTransform':
            t = dict(t, scale_factor=[0.5, 1.5], rotate_factor=80)
        elif t['type'] == 'Albumentation':
            blur, median, drop = t['transforms']
            t = dict(t, transforms=[dict(blur, p=blur_p),
                                    dict(median, p=blur_p), drop])
        elif t['type'] == 'GenerateTarget':
            t = dict(t, use_dataset_keypoint_weights=True)
        new.append(t)
    return new


train_pipeline = _face(train_pipeline, 0.2)
train_pipeline_stage2 = _face(train_pipeline_stage2, 0.1)

# ------------------------------------------ keypoint conversions to LaPa's
# 68-point faces (COCO-WholeBody, 300W): jaw on every other LaPa point,
# brows, nose, eye corners (the two lids' middle points average two of the
# 68), mouth.
kpt_68_to_106 = (
    [(i, 2 * i) for i in range(17)]
    + [(17 + i, 33 + i) for i in range(5)] + [(22 + i, 42 + i) for i in range(5)]
    + [(27 + i, 51 + i) for i in range(4)] + [(31 + i, 58 + i) for i in range(5)]
    + [(36, 66), (39, 70), ((37, 38), 68), ((40, 41), 72)]
    + [(42, 75), (45, 79), ((43, 44), 77), ((46, 47), 81)]
    + [(48 + i, 84 + i) for i in range(20)])


def _shifted(mapping, offset):
    """``mapping`` with every source index (or index pair) moved by offset."""
    def move(src):
        return tuple(s + offset for s in src) if isinstance(src, tuple) \
            else src + offset
    return [(move(src), dst) for src, dst in mapping]


# Halpe's 133 keypoints hold the 68 face points from index 26 on
mapping_halpe = _shifted(kpt_68_to_106, 26)
# WFLW's 98: the first 55 coincide, then nose, eyes, mouth and pupils
mapping_wflw = (
    [(i, i) for i in range(55)] + [(55 + i, 58 + i) for i in range(5)]
    + [(60 + i, 66 + i) for i in range(8)] + [(68 + i, 75 + i) for i in range(8)]
    + [(76 + i, 84 + i) for i in range(20)] + [(96, 104), (97, 105)])
# COFW's 29 (brows, eyes, nose, mouth, chin) have no regular pattern
mapping_cofw = [
    (0, 33), (2, 38), (4, 35), (5, 40), (1, 46), (3, 50), (6, 44), (7, 48),
    (8, 60), (10, 64), (12, 62), (13, 66), (9, 72), (11, 68), (14, 70),
    (15, 74), (18, 57), (19, 63), (20, 54), (21, 60), (22, 84), (23, 90),
    (24, 87), (25, 98), (26, 102), (27, 93), (28, 16)]

# ------------------------------------------------------------------ data
dataset_type = 'LapaDataset'
data_root = 'data/'
# (dataset type, mapping to LaPa or None, train ann/img, test ann/img)
PARTS = [
    ('LapaDataset', None, 'LaPa/annotations/lapa_trainval.json', 'pose/LaPa/',
     'LaPa/annotations/lapa_test.json', 'pose/LaPa/'),
    ('CocoWholeBodyFaceDataset', kpt_68_to_106,
     'coco/annotations/coco_wholebody_train_v1.0.json',
     'detection/coco/train2017/',
     'coco/annotations/coco_wholebody_val_v1.0.json', 'detection/coco/val2017/'),
    ('WFLWDataset', mapping_wflw,
     'wflw/annotations/face_landmarks_wflw_train.json', 'pose/WFLW/images/',
     'wflw/annotations/face_landmarks_wflw_test.json', 'pose/WFLW/images/'),
    ('Face300WDataset', kpt_68_to_106,
     '300w/annotations/face_landmarks_300w_train.json', 'pose/300w/images/',
     '300w/annotations/face_landmarks_300w_test.json', 'pose/300w/images/'),
    ('COFWDataset', mapping_cofw, 'cofw/annotations/cofw_train.json',
     'pose/COFW/images/', 'cofw/annotations/cofw_test.json',
     'pose/COFW/images/'),
    ('HalpeDataset', mapping_halpe, 'halpe/annotations/halpe_train_133kpt.json',
     'pose/Halpe/hico_20160224_det/images/train2015/',
     'halpe/annotations/halpe_val_v1.json', 'detection/coco/val2017/'),
]


def _part(type, mapping, ann_file, img):
    convert = [] if mapping is None else [
        dict(type='KeypointConverter', num_keypoints=106, mapping=mapping)]
    return dict(type=type, data_root=data_root, data_mode=data_mode,
                ann_file=ann_file, data_prefix=dict(img=img), pipeline=convert)


face_meta = dict(from_file='configs/_base_/datasets/lapa.py')
train_dataloader = dict(
    batch_size=256,
    dataset=dict(
        type='CombinedDataset', metainfo=face_meta,
        datasets=[_part(*p[:4]) for p in PARTS],
        pipeline=train_pipeline, test_mode=False))
# validated on LaPa alone after every epoch
val_dataloader = dict(dataset=dict(
    type=dataset_type, data_root=data_root, data_mode=data_mode,
    ann_file='LaPa/annotations/lapa_test.json',
    data_prefix=dict(img='pose/LaPa/')))
# tested on the six test sets together
test_dataloader = dict(dataset=dict(
    type='CombinedDataset', metainfo=face_meta,
    datasets=[_part(*p[:2], *p[4:]) for p in PARTS],
    pipeline=val_pipeline, test_mode=True))

default_hooks = dict(checkpoint=dict(save_best='NME', rule='less', interval=1))
custom_hooks = [
    custom_hooks[0],  # EMA
    dict(custom_hooks[1], switch_epoch=max_epochs - stage2_num_epochs,
         switch_pipeline=train_pipeline_stage2),
]
# normalised by the distance between two keypoints: LaPa's 66 and 79 (eye corners)
val_evaluator = dict(type='NME', norm_mode='keypoint_distance')
test_evaluator = val_evaluator
