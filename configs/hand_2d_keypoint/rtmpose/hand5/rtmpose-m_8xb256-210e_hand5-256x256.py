# RTMPose-m on Hand5 (COCO-WholeBody hands, OneHand10K, FreiHAND, RHD and
# Halpe hands; 21 keypoints), 256x256 crops: posekit's "hand" model. 8 GPUs
# x 256 crops, 210 epochs, any rotation, no half-body crops.
_base_ = ['../../../_base_/rtmpose_m_topdown.py']

stage2_num_epochs = 10
auto_scale_lr = dict(base_batch_size=256)
# the same CSPNeXt-m file, under MMPose's older "rtmpose/" folder
model = dict(
    backbone=dict(init_cfg=dict(
        checkpoint='https://download.openmmlab.com/mmpose/v1/projects/'
        'rtmpose/cspnext-m_udp-aic-coco_210e-256x192-f2f7d6f6_20230130.pth')),
    head=dict(out_channels=21))


def _train_pipeline(scale_factor, blur_p, dropout_p, shift_factor=None):
    """Hands: rotations up to 180 degrees; flipping after the box jitter."""
    shift = {} if shift_factor is None else dict(shift_factor=shift_factor)
    return [
        dict(type='LoadImage', backend_args=backend_args),
        dict(type='GetBBoxCenterScale'),
        dict(type='RandomBBoxTransform', **shift, scale_factor=scale_factor,
             rotate_factor=180),
        dict(type='RandomFlip', direction='horizontal'),
        dict(type='TopdownAffine', input_size=codec['input_size']),
        dict(type='mmdet.YOLOXHSVRandomAug'),
        dict(type='Albumentation', transforms=[
            dict(type='Blur', p=blur_p), dict(type='MedianBlur', p=blur_p),
            dict(dropout, p=dropout_p)]),
        dict(type='GenerateTarget', encoder=codec),
        dict(type='PackPoseInputs'),
    ]


train_pipeline = _train_pipeline([0.5, 1.5], 0.1, 1.0)
train_pipeline_stage2 = _train_pipeline([0.75, 1.25], 0.2, 0.5,
                                        shift_factor=0.)

data_root = 'data/'
# RHD orders each finger tip-first; COCO-WholeBody's order is base-first
rhd_to_coco = [(0, 0)] + [(4 * f + 1 + i, 4 * f + 4 - i)
                          for f in range(5) for i in range(4)]


def _part(type, ann_file, img):
    convert = [dict(type='KeypointConverter', num_keypoints=21,
                    mapping=rhd_to_coco)] if type == 'Rhd2DDataset' else []
    return dict(type=type, data_root=data_root, data_mode=data_mode,
                ann_file=ann_file, data_prefix=dict(img=img), pipeline=convert)


hand_meta = dict(from_file='configs/_base_/datasets/coco_wholebody_hand.py')
train_dataloader = dict(
    batch_size=256,
    dataset=dict(
        type='CombinedDataset',
        metainfo=hand_meta,
        datasets=[
            _part('CocoWholeBodyHandDataset',
                  'coco/annotations/coco_wholebody_train_v1.0.json',
                  'detection/coco/train2017/'),
            _part('OneHand10KDataset',
                  'onehand10k/annotations/onehand10k_train.json',
                  'pose/OneHand10K/'),
            _part('FreiHandDataset', 'freihand/annotations/freihand_train.json',
                  'pose/FreiHand/'),
            _part('Rhd2DDataset', 'rhd/annotations/rhd_train.json', 'pose/RHD/'),
            _part('HalpeHandDataset', 'halpe/annotations/halpe_train_v1.json',
                  'pose/Halpe/hico_20160224_det/images/train2015/'),
        ],
        pipeline=train_pipeline,
        test_mode=False))
# validated and tested on the five test sets together
test_dataloader = dict(
    dataset=dict(
        type='CombinedDataset',
        metainfo=hand_meta,
        datasets=[
            _part('CocoWholeBodyHandDataset',
                  'coco/annotations/coco_wholebody_val_v1.0.json',
                  'detection/coco/val2017/'),
            _part('OneHand10KDataset',
                  'onehand10k/annotations/onehand10k_test.json',
                  'pose/OneHand10K/'),
            _part('FreiHandDataset', 'freihand/annotations/freihand_test.json',
                  'pose/FreiHand/'),
            _part('Rhd2DDataset', 'rhd/annotations/rhd_test.json', 'pose/RHD/'),
            _part('HalpeHandDataset', 'halpe/annotations/halpe_val_v1.json',
                  'detection/coco/val2017/'),
        ],
        pipeline=val_pipeline,
        test_mode=True))
val_dataloader = test_dataloader

default_hooks = dict(checkpoint=dict(save_best='AUC'))
custom_hooks = [
    custom_hooks[0],  # EMA
    dict(custom_hooks[1], switch_epoch=max_epochs - stage2_num_epochs,
         switch_pipeline=train_pipeline_stage2),
]
val_evaluator = [dict(type='PCKAccuracy', thr=0.2), dict(type='AUC'),
                 dict(type='EPE')]
test_evaluator = val_evaluator
