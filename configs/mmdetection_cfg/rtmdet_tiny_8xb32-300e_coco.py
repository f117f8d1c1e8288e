# RTMDet-tiny, the 80 COCO classes (person is class 0), 640x640 input.
# INFERENCE ONLY: posekit runs this detector but does not train it (no losses,
# assigner or training schedule here; model(..., mode='loss') raises).
# Values are those of MMDetection 3.3.0's resolved
# rtmdet/rtmdet_tiny_8xb32-300e_coco.py (MMPose's
# demo/mmdetection_cfg/rtmdet_tiny_8xb32-300e_coco.py adds nothing to it).
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
    # deepen 0.167 / widen 0.375: stage widths 24, 48, 96, 192, 384 (P5 arch)
    backbone=dict(type='CSPNeXt', arch='P5', expand_ratio=0.5, deepen_factor=0.167,
                  widen_factor=0.375, channel_attention=True, norm_cfg=norm_cfg,
                  act_cfg=act_cfg),
    neck=dict(type='CSPNeXtPAFPN', in_channels=[96, 192, 384], out_channels=96,
              num_csp_blocks=1, expand_ratio=0.5, norm_cfg=norm_cfg, act_cfg=act_cfg),
    bbox_head=dict(
        type='RTMDetSepBNHead', num_classes=80, in_channels=96, feat_channels=96,
        stacked_convs=2, share_conv=True, pred_kernel_size=1, exp_on_reg=False,
        with_objectness=False, norm_cfg=norm_cfg, act_cfg=act_cfg,
        anchor_generator=dict(type='MlvlPointGenerator', offset=0, strides=[8, 16, 32]),
        bbox_coder=dict(type='DistancePointBBoxCoder')),
    test_cfg=dict(nms_pre=30000, min_bbox_size=0, score_thr=0.001,
                  nms=dict(type='nms', iou_threshold=0.65), max_per_img=300))

# keep-ratio resize into 640x640, then pad bottom/right with gray 114
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='Resize', scale=input_size, keep_ratio=True),
    dict(type='Pad', size=input_size, pad_val=dict(img=(114, 114, 114))),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
test_dataloader = dict(
    batch_size=5, num_workers=10,
    dataset=dict(type='CocoDataset', data_root='data/coco/',
                 ann_file='annotations/instances_val2017.json',
                 data_prefix=dict(img='val2017/'), test_mode=True, pipeline=test_pipeline))
test_evaluator = dict(type='CocoMetric', metric='bbox',
                      ann_file='data/coco/annotations/instances_val2017.json')
