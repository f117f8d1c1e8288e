# YOLOX-s face detector (COCO-WholeBody faces; the class is named 'person'
# in its metainfo), 640x640 input: the detector MMPose's inferencer pairs
# with face models ('face').
# INFERENCE ONLY: posekit runs this detector but does not train it (no losses,
# assigner, mosaic/mixup pipeline or schedule here; mode='loss' raises).
# Values are those of MMPose's demo/mmdetection_cfg/yolox-s_8xb8-300e_coco-face.py
# (a self-contained MMDetection 3.x config).
# Weights: posekit.apis.zoo model_info('face')['detector']['weights'].
img_scale = (640, 640)  # (w, h)
norm_cfg = dict(type='BN', momentum=0.03, eps=0.001)
act_cfg = dict(type='Swish')

model = dict(
    type='YOLOX',
    # no mean/std: the network takes 0-255 BGR; batches pad to multiples of 32
    data_preprocessor=dict(type='DetDataPreprocessor', pad_size_divisor=32),
    # deepen 0.33 / widen 0.5: outputs of stages 2-4 are 128, 256, 512 wide
    backbone=dict(type='CSPDarknet', deepen_factor=0.33, widen_factor=0.5,
                  out_indices=(2, 3, 4), use_depthwise=False, spp_kernal_sizes=(5, 9, 13),
                  norm_cfg=norm_cfg, act_cfg=act_cfg),
    neck=dict(type='YOLOXPAFPN', in_channels=[128, 256, 512], out_channels=128,
              num_csp_blocks=1, use_depthwise=False,
              upsample_cfg=dict(scale_factor=2, mode='nearest'),
              norm_cfg=norm_cfg, act_cfg=act_cfg),
    bbox_head=dict(type='YOLOXHead', num_classes=1, in_channels=128, feat_channels=128,
                   stacked_convs=2, strides=(8, 16, 32), use_depthwise=False,
                   norm_cfg=norm_cfg, act_cfg=act_cfg),
    test_cfg=dict(score_thr=0.01, nms=dict(type='nms', iou_threshold=0.65)))

# keep-ratio resize into 640x640, then pad bottom/right to a square of the
# longer side with gray 114
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=dict(backend='local')),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='Pad', pad_to_square=True, pad_val=dict(img=(114.0, 114.0, 114.0))),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
test_dataloader = dict(
    batch_size=8, num_workers=4,
    dataset=dict(type='CocoDataset', data_root='data/coco/',
                 ann_file='annotations/coco_face_val.json',
                 data_prefix=dict(img='val2017/'),
                 metainfo=dict(CLASSES=('person', ), PALETTE=(220, 20, 60)),
                 test_mode=True, pipeline=test_pipeline))
test_evaluator = dict(type='CocoMetric', metric='bbox',
                      ann_file='data/coco/annotations/instances_val2017.json')
