# RTMDet-m person detector (COCO + Objects365 people), the detector MMPose's
# inferencer pairs with body models ('human').
# INFERENCE ONLY: posekit runs this detector but does not train it (no losses,
# assigner or training schedule here; model(..., mode='loss') raises).
# Values are those of MMDetection 3.3.0's resolved
# rtmdet/rtmdet_m_8xb32-300e_coco.py as MMPose's demo overrides it
# (demo/mmdetection_cfg/rtmdet_m_640-8xb32_coco-person.py): one class.
# Weights: posekit.apis.zoo model_info('human')['detector']['weights'].
input_size = (640, 640)  # (w, h) of the network input
act_cfg = dict(type='SiLU', inplace=True)
norm_cfg = dict(type='SyncBN')  # plain BatchNorm at inference

model = dict(
    type='RTMDet',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[103.53, 116.28, 123.675],  # BGR order: the image stays BGR
        std=[57.375, 57.12, 58.395],
        bgr_to_rgb=False,
        batch_augments=None),
    # deepen 0.67 / widen 0.75: stage widths 96, 192, 384, 768 (P5 arch)
    backbone=dict(type='CSPNeXt', arch='P5', expand_ratio=0.5, deepen_factor=0.67,
                  widen_factor=0.75, channel_attention=True, norm_cfg=norm_cfg,
                  act_cfg=act_cfg),
    neck=dict(type='CSPNeXtPAFPN', in_channels=[192, 384, 768], out_channels=192,
              num_csp_blocks=2, expand_ratio=0.5, norm_cfg=norm_cfg, act_cfg=act_cfg),
    bbox_head=dict(
        type='RTMDetSepBNHead', num_classes=1, in_channels=192, feat_channels=192,
        stacked_convs=2, share_conv=True, pred_kernel_size=1, exp_on_reg=True,
        with_objectness=False, norm_cfg=norm_cfg, act_cfg=act_cfg,
        anchor_generator=dict(type='MlvlPointGenerator', offset=0, strides=[8, 16, 32]),
        bbox_coder=dict(type='DistancePointBBoxCoder')),
    test_cfg=dict(nms_pre=1000, min_bbox_size=0, score_thr=0.05,
                  nms=dict(type='nms', iou_threshold=0.6), max_per_img=100))

# keep-ratio resize into 640x640, then pad bottom/right with gray 114
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='Resize', scale=input_size, keep_ratio=True),
    dict(type='Pad', size=input_size, pad_val=dict(img=(114, 114, 114))),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
test_dataloader = dict(
    batch_size=5, num_workers=10,
    dataset=dict(type='CocoDataset', data_root='data/coco/',
                 ann_file='annotations/instances_val2017.json',
                 data_prefix=dict(img='val2017/'), metainfo=dict(classes=('person', )),
                 test_mode=True, pipeline=test_pipeline))
test_evaluator = dict(type='CocoMetric', metric='bbox',
                      ann_file='data/coco/annotations/instances_val2017.json')
