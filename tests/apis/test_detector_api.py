"""init_detector / inference_detector and an RTMDet config as the top-down
detector, on a real photo (coco 000000040083.jpg: 500 x 333, 3 people).

The expected boxes are computed here from the model's raw outputs
(``mode='tensor'``) with numpy: prior points ``(j * s, i * s)``, sigmoid
scores above ``score_thr``, the best ``nms_pre`` per level, box = point
-/+ distances clamped to the padded 320 x 320 input, divided by the
resize's scale factor, then greedy per-class NMS and ``max_per_img``.
"""
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from posekit.apis import inference_detector, init_detector
from posekit.apis.detector import MMDetDetector
from posekit.apis.model_detector import load_detector
from posekit.models.detectors.det_pipeline import pad, resize

ROOT = Path(__file__).resolve().parents[2]
IMAGE = ROOT / 'tests/data/fixtures/coco/000000040083.jpg'
SILU = dict(type='SiLU', inplace=True)
CONFIG = f"""
model = dict(
    type='RTMDet',
    data_preprocessor=dict(type='DetDataPreprocessor', mean=[103.53, 116.28, 123.675],
                           std=[57.375, 57.12, 58.395], bgr_to_rgb=False, batch_augments=None),
    backbone=dict(type='CSPNeXt', arch='P5', expand_ratio=0.5, deepen_factor=0.167,
                  widen_factor=0.125, channel_attention=True, norm_cfg=dict(type='SyncBN'),
                  act_cfg={SILU!r}),
    neck=dict(type='CSPNeXtPAFPN', in_channels=[32, 64, 128], out_channels=32,
              num_csp_blocks=1, expand_ratio=0.5, norm_cfg=dict(type='SyncBN'),
              act_cfg={SILU!r}),
    bbox_head=dict(type='RTMDetSepBNHead', num_classes=2, in_channels=32, stacked_convs=2,
                   feat_channels=32, with_objectness=False, exp_on_reg=True, share_conv=True,
                   pred_kernel_size=1, norm_cfg=dict(type='SyncBN'), act_cfg={SILU!r},
                   anchor_generator=dict(type='MlvlPointGenerator', offset=0,
                                         strides=[8, 16, 32]),
                   bbox_coder=dict(type='DistancePointBBoxCoder'),
                   loss_cls=dict(type='QualityFocalLoss', use_sigmoid=True, beta=2.0)),
    test_cfg=dict(nms_pre=40, min_bbox_size=0, score_thr=0.49,
                  nms=dict(type='nms', iou_threshold=0.3), max_per_img=20))
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='Resize', scale=(320, 320), keep_ratio=True),
    dict(type='Pad', size=(320, 320), pad_val=dict(img=(114, 114, 114))),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                                          'scale_factor')),
]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
"""


@pytest.fixture(scope='module')
def config_file(tmp_path_factory):
    path = tmp_path_factory.mktemp('det') / 'rtmdet_tiny_test.py'
    path.write_text(CONFIG)
    return path


@pytest.fixture(scope='module')
def model(config_file):
    torch.manual_seed(0)
    return init_detector(config_file)


def test_keep_ratio_resize_and_pad_follow_mmdet():
    """500 x 333 into (320, 320): r = min(320 / 500, 320 / 333) = 0.64 ->
    (int(320 + 0.5), int(213.12 + 0.5)) = (320, 213)."""
    img = cv2.imread(str(IMAGE))
    out, factor = resize(img, (320, 320), keep_ratio=True)
    assert out.shape == (213, 320, 3) and factor == (0.64, 213 / 333)
    padded = pad(out, size=(320, 320), pad_val=dict(img=(114, 114, 114)))
    assert padded.shape == (320, 320, 3) and (padded[213:] == 114).all()
    assert (padded[:213] == out).all()
    assert pad(out, size_divisor=32).shape == (224, 320, 3)
    assert pad(out, pad_to_square=True).shape == (320, 320, 3)


def numpy_nms(boxes, scores, thr):
    order, keep = list(np.argsort(-scores, kind='stable')), []
    while order:
        best, order = order[0], order[1:]
        keep.append(best)
        lt = np.maximum(boxes[best, :2], boxes[order, :2])
        rb = np.minimum(boxes[best, 2:], boxes[order, 2:])
        inter = np.prod(np.clip(rb - lt, 0, None), axis=1)
        area = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
        iou = inter / (area[best] + area[order] - inter)
        order = [o for o, v in zip(order, iou) if not v > thr]
    return np.array(keep, dtype=np.int64)


def expected_detections(model, img):
    resized, (sx, sy) = resize(img, (320, 320), keep_ratio=True)
    padded = pad(resized, size=(320, 320), pad_val=114).astype(np.float32)
    x = (padded - np.array([103.53, 116.28, 123.675], np.float32)) / np.array(
        [57.375, 57.12, 58.395], np.float32)
    with torch.no_grad():
        cls, reg = model(torch.from_numpy(x.transpose(2, 0, 1))[None], None, mode='tensor')
    boxes, scores, labels = [], [], []
    for c, r, s in zip(cls, reg, (8, 16, 32)):
        h, w = c.shape[-2:]
        ii, jj = np.meshgrid(np.arange(h), np.arange(w), indexing='ij')
        points = np.stack([jj.ravel() * s, ii.ravel() * s], 1).astype(np.float32)
        prob = 1 / (1 + np.exp(-c[0].numpy().reshape(2, -1).T))
        dist = r[0].numpy().reshape(4, -1).T
        cell, lab = np.nonzero(prob > 0.49)
        best = np.argsort(-prob[cell, lab], kind='stable')[:40]
        cell, lab = cell[best], lab[best]
        box = np.concatenate([points[cell] - dist[cell, :2], points[cell] + dist[cell, 2:]], 1)
        boxes.append(np.clip(box, 0, 320) / np.array([sx, sy, sx, sy]))
        scores.append(prob[cell, lab])
        labels.append(lab)
    boxes, scores, labels = map(np.concatenate, (boxes, scores, labels))
    shifted = boxes + (labels * (boxes.max() + 1))[:, None]
    keep = numpy_nms(shifted, scores, 0.3)
    return boxes[keep[:20]], scores[keep[:20]], labels[keep[:20]], (len(scores), len(keep))


def test_inference_detector_gives_the_boxes_decoded_by_hand(model):
    img = cv2.imread(str(IMAGE))
    boxes, scores, labels, (candidates, after_nms) = expected_detections(model, img)
    assert candidates > after_nms > 20 == len(boxes)  # NMS and the cap both act
    det = inference_detector(model, str(IMAGE))
    assert det['bboxes'].dtype == np.float32 and det['bboxes'].shape == (len(boxes), 4)
    # float32 sums over 3x3x32 convs: 1e-3 px covers any summation order
    np.testing.assert_allclose(det['bboxes'], boxes, atol=1e-3)
    np.testing.assert_allclose(det['scores'], scores, atol=1e-5)
    assert det['labels'].tolist() == labels.tolist()
    same = inference_detector(model, img)  # an array gives the same result
    np.testing.assert_array_equal(same['bboxes'], det['bboxes'])


def test_checkpoint_loads_strictly_and_as_top_down_detector(model, config_file, tmp_path):
    ckpt = tmp_path / 'det.pth'
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    detector = load_detector(str(config_file), str(ckpt))
    assert isinstance(detector, MMDetDetector)
    rows = detector(cv2.imread(str(IMAGE)))
    det = inference_detector(model, str(IMAGE))
    assert rows.shape == (len(det['scores']), 6)
    np.testing.assert_array_equal(rows[:, :4], det['bboxes'])
    np.testing.assert_array_equal(rows[:, 5], det['labels'])
    state = model.state_dict()
    state.pop('bbox_head.rtm_cls.0.bias')
    torch.save(state, ckpt)
    with pytest.raises(RuntimeError, match='rtm_cls.0.bias'):
        init_detector(config_file, ckpt)


def test_a_pose_config_is_not_a_detector(tmp_path):
    path = tmp_path / 'pose.py'
    path.write_text("model = dict(type='TopdownPoseEstimator', backbone=dict(type='ResNet'))\n")
    with pytest.raises(ValueError, match='TopdownPoseEstimator'):
        init_detector(path)


def test_unsupported_pipeline_steps_are_named():
    from posekit.models.detectors.det_pipeline import pipeline_steps, run_pipeline
    cfg = dict(test_pipeline=[dict(type='LoadImageFromFile'), dict(type='RandomFlip')])
    with pytest.raises(ValueError, match="'RandomFlip' is not supported"):
        pipeline_steps(cfg)
    img = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="interpolation='bilinear'"):
        run_pipeline([dict(type='Resize', scale=(4, 4), interpolation='nearest')], img)
    with pytest.raises(ValueError, match='larger than the pad size'):
        run_pipeline([dict(type='Pad', size=(4, 4))], img)


def test_generate_bbox_file_writes_a_configs_bbox_file(config_file, model, tmp_path, capsys):
    """``posekit generate-bbox-file``: the test set's images once each, the
    detector's boxes of the asked categories above --score-thr after NMS,
    in COCO's detection-results format; a config reads it as bbox_file."""
    import json

    from posekit.apis.boxes import box_problems, nms
    from posekit.cli import main
    from posekit.config import Config
    from posekit.registry import DATASETS
    weights = tmp_path / 'det.pth'
    torch.save(dict(state_dict=model.state_dict()), weights)
    pose_config = ROOT / 'tests/data/configs/td_hm_res50_coco_fixture.py'
    out = tmp_path / 'boxes.json'
    assert main(['generate-bbox-file', str(config_file), str(weights), str(out),
                 '--pose-config', str(pose_config), '--score-thr', '0.3',
                 '--det-cat-ids', '1']) == 0
    boxes = json.loads(out.read_text())
    assert 'boxes in 4 images' in capsys.readouterr().out
    expected = []
    for image_id in (785, 40083, 196141, 197388):   # the fixture's images
        path = ROOT / f'tests/data/fixtures/coco/{image_id:012d}.jpg'
        found = inference_detector(model, str(path))
        # boxes that can give no pose (outside the image, under a pixel) go
        # first, as for posekit infer
        usable = [p is None for p in box_problems(found['bboxes'], cv2.imread(str(path)).shape,
                                                  found['scores'], min_size=1.)]
        keep = usable & (found['labels'] == 1) & (found['scores'] > 0.3)
        rows = np.concatenate([found['bboxes'][keep], found['scores'][keep, None]], 1)
        rows = rows[nms(rows, 0.65)] if len(rows) > 1 else rows
        expected += [(image_id, *r[:2], *(r[2:4] - r[:2]), r[4]) for r in rows]
    assert len(boxes) == len(expected) > 0
    got = sorted((b['image_id'], *b['bbox'], b['score']) for b in boxes)
    np.testing.assert_allclose(np.array(got), np.array(sorted(expected)), rtol=1e-6, atol=1e-3)
    assert {b['category_id'] for b in boxes} == {1}
    cfg = Config.fromfile(str(pose_config))
    dataset = DATASETS.build(dict(cfg.test_dataloader.dataset.to_dict(), bbox_file=str(out),
                                  pipeline=[]))
    assert len(dataset) == len(boxes)
