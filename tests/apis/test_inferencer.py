"""PoseInferencer and ``posekit infer`` on real images and a video made here.

The model is the conftest's constant-heatmap model: every keypoint of a box
lands on the top-left corner of the box's crop, with the scores the last
layer sets. So every expected coordinate follows from the boxes.
"""
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from posekit.apis import PoseInferencer, inference_bottomup
from posekit.cli import main

ROOT = Path(__file__).resolve().parents[2]
COCO = ROOT / 'tests/data/fixtures/coco'
IMAGE = COCO / '000000197388.jpg'  # 640x392
# two people of the image, xyxy
BOXES = np.array([[139.41, 102.25, 361.80, 343.82],
                  [287.17, 61.52, 362.05, 227.13]], np.float32)


@pytest.fixture
def inferencer(constant_model):
    return PoseInferencer(constant_model.config, constant_model.checkpoint, device='cpu')


def _detections(boxes, scores, image_id=197388, category=1):
    return [dict(image_id=image_id, category_id=category, score=float(s),
                 bbox=[float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])])
            for b, s in zip(boxes, scores)]


def _check_instances(instances, boxes, constant_model):
    assert len(instances) == len(boxes)
    for inst, box in zip(instances, boxes):
        np.testing.assert_allclose(inst['keypoints'],
                                   np.tile(constant_model.crop_corner(box), (17, 1)),
                                   atol=1e-3)
        np.testing.assert_allclose(inst['keypoint_scores'], constant_model.flip_scores,
                                   atol=1e-6)
        np.testing.assert_allclose(inst['bbox'], box, atol=1e-3)


def test_bbox_file_threshold_and_nms(inferencer, constant_model, tmp_path):
    dets = _detections(BOXES, [0.9, 0.8])
    dets += _detections(BOXES[:1] + 2, [0.7])   # overlaps the first: NMS drops it
    dets += _detections(BOXES[1:] + 100, [0.2])  # under bbox_thr=0.3
    dets += _detections(BOXES, [0.9, 0.9], image_id=1)  # another image
    path = tmp_path / 'dets.json'
    path.write_text(json.dumps(dets))
    out = tmp_path / 'preds'
    results = list(inferencer(str(IMAGE), bboxes=path, pred_out_dir=str(out)))
    assert len(results) == 1 and results[0]['name'] == IMAGE.name
    written = json.loads((out / '000000197388.json').read_text())
    assert written == results[0]['predictions']
    _check_instances(written, BOXES, constant_model)
    assert [inst['bbox_score'] for inst in written] == pytest.approx([0.9, 0.8])


def test_coco_annotation_file_gives_the_annotated_boxes(inferencer, constant_model):
    ann = json.loads((COCO / 'test_coco.json').read_text())
    image = next(im for im in ann['images'] if im['file_name'] == IMAGE.name)
    boxes = [a['bbox'] for a in ann['annotations'] if a['image_id'] == image['id']]
    boxes = np.array(boxes, np.float32)
    boxes[:, 2:] += boxes[:, :2]
    [result] = inferencer(str(IMAGE), bboxes=COCO / 'test_coco.json', nms_thr=1)
    _check_instances(result['predictions'], boxes, constant_model)


def test_folder_glob_and_array_run_on_the_whole_image(inferencer, constant_model, tmp_path):
    folder = tmp_path / 'images'
    folder.mkdir()
    names = ['000000197388.jpg', '000000196141.jpg']
    for name in names:
        shutil.copy(COCO / name, folder / name)
    (folder / 'notes.txt').write_text('not an image')
    by_folder = list(inferencer(str(folder)))
    by_glob = list(inferencer(str(folder / '*.jpg')))
    assert [r['name'] for r in by_folder] == sorted(names)
    assert by_folder == by_glob
    for result in by_folder:
        h, w = cv2.imread(str(folder / result['name'])).shape[:2]
        _check_instances(result['predictions'], [np.array([0, 0, w, h], np.float32)],
                         constant_model)
    [from_array] = inferencer(cv2.imread(str(IMAGE)))
    assert from_array['name'] == '00000000.jpg'
    _check_instances(from_array['predictions'], [np.array([0, 0, 640, 392], np.float32)],
                     constant_model)


def test_detector_callable_and_categories(constant_model):
    seen = []

    def detector(image):
        seen.append(image.shape)
        rows = np.zeros((3, 6), np.float32)
        rows[:2, :4], rows[:2, 4], rows[:2, 5] = BOXES, [0.95, 0.9], 0
        rows[2] = [10, 10, 100, 100, 0.99, 5]  # another category
        return rows

    inferencer = PoseInferencer(constant_model.config, constant_model.checkpoint,
                                device='cpu', det_model=detector, det_cat_ids=0)
    [result] = inferencer(str(IMAGE), return_datasamples=True)
    assert seen == [(392, 640, 3)]
    np.testing.assert_allclose(result['predictions'].pred_instances.bboxes, BOXES, atol=1e-3)
    np.testing.assert_allclose(result['predictions'].pred_instances.bbox_scores, [0.95, 0.9])


def test_video_through_the_cli(constant_model, tmp_path, capsys):
    video = tmp_path / 'clip.mp4'
    frame = cv2.resize(cv2.imread(str(IMAGE)), (320, 196))
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*'mp4v'), 10, (320, 196))
    for shift in range(3):
        writer.write(np.roll(frame, 8 * shift, axis=1))
    writer.release()
    vis, preds = tmp_path / 'vis', tmp_path / 'preds'
    code = main(['infer', str(video), '--pose2d', constant_model.config,
                 '--pose2d-weights', constant_model.checkpoint, '--device', 'cpu',
                 '--vis-out-dir', str(vis), '--pred-out-dir', str(preds)])
    assert code == 0
    assert '3 frame(s), 3 instance(s)' in capsys.readouterr().out
    records = json.loads((preds / 'clip.json').read_text())
    assert [r['frame_id'] for r in records] == [0, 1, 2]
    for record in records:
        _check_instances(record['instances'], [np.array([0, 0, 320, 196], np.float32)],
                         constant_model)
    cap = cv2.VideoCapture(str(vis / 'clip.mp4'))
    frames = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(image)
    assert len(frames) == 3 and frames[0].shape == (196, 320, 3)


def test_pictures_are_drawn_where_the_keypoints_are(inferencer, constant_model, tmp_path):
    vis, dets = tmp_path / 'vis', tmp_path / 'dets.json'
    dets.write_text(json.dumps(_detections(BOXES[:1], [1.0])))
    [result] = inferencer(str(IMAGE), bboxes=dets, vis_out_dir=str(vis), return_vis=True,
                          radius=4, kpt_thr=0.0)
    picture = cv2.imread(str(vis / IMAGE.name))
    original = cv2.imread(str(IMAGE))
    assert picture.shape == original.shape
    # the file is OpenCV's JPEG (default quality) of the returned picture
    returned = cv2.cvtColor(result['visualization'], cv2.COLOR_RGB2BGR)
    np.testing.assert_array_equal(
        picture, cv2.imdecode(cv2.imencode('.jpg', returned)[1], cv2.IMREAD_COLOR))
    returned = returned.astype(int)
    x, y = np.round(constant_model.crop_corner(BOXES[0])).astype(int)
    changed = np.abs(returned - original.astype(int)).sum(-1) > 0
    # all keypoints sit at the crop corner: a disc of radius 4 there, nothing far away
    assert changed[y - 2:y + 3, x - 2:x + 3].all()
    assert not changed[300:, 500:].any()


def test_openpose_skeleton_style(inferencer, constant_model, tmp_path):
    """Every keypoint sits on the crop corner: the last drawn, OpenPose's
    18th (the left ear), colours it; MMPose's style ends with COCO's 17th
    (the right ankle). ``posekit infer --skeleton-style openpose`` writes
    the same picture."""
    from posekit.datasets.metainfo import parse_pose_metainfo
    dets = tmp_path / 'dets.json'
    dets.write_text(json.dumps(_detections(BOXES[:1], [1.0])))
    x, y = np.round(constant_model.crop_corner(BOXES[0])).astype(int)
    pictures = {}
    for style, meta in (('openpose', 'coco_openpose.py'), ('mmpose', 'coco.py')):
        [result] = inferencer(str(IMAGE), bboxes=dets, return_vis=True, radius=4, kpt_thr=0.0,
                              skeleton_style=style)
        colors = parse_pose_metainfo(dict(from_file=f'configs/_base_/datasets/{meta}'))
        pictures[style] = result['visualization']
        np.testing.assert_array_equal(pictures[style][y, x], colors['keypoint_colors'][-1])
    assert main(['infer', str(IMAGE), '--pose2d', constant_model.config, '--pose2d-weights',
                 constant_model.checkpoint, '--bboxes', str(dets), '--radius', '4',
                 '--kpt-thr', '0', '--skeleton-style', 'openpose', '--vis-out-dir',
                 str(tmp_path / 'vis'), '--no-progress']) == 0
    written = cv2.imread(str(tmp_path / 'vis' / IMAGE.name))
    bgr = cv2.cvtColor(pictures['openpose'], cv2.COLOR_RGB2BGR)
    np.testing.assert_array_equal(written, cv2.imdecode(cv2.imencode('.jpg', bgr)[1], 1))


def test_draw_heatmap_stacks_the_overlay(inferencer, constant_model):
    [result] = inferencer(str(IMAGE), draw_heatmap=True, return_vis=True)
    assert result['visualization'].shape == (2 * 392, 640, 3)
    [result] = inferencer(str(IMAGE), return_vis=True, return_datasamples=True)
    assert result['visualization'].shape == (392, 640, 3)
    assert 'pred_fields' not in result['predictions']
    # heatmaps the config asks for stay on when none are drawn
    asked = PoseInferencer(constant_model.config, constant_model.checkpoint, device='cpu',
                           cfg_options={'model.test_cfg.output_heatmaps': True})
    [result] = asked(str(IMAGE), return_datasamples=True)
    assert result['predictions'].pred_fields.heatmaps.shape == (17, 392, 640)


def test_bad_inputs(inferencer, constant_model, tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match='missing.jpg'):
        list(inferencer(str(tmp_path / 'missing.jpg')))
    with pytest.raises(FileNotFoundError, match='no image or video'):
        list(inferencer(str(tmp_path / '*.png')))
    (tmp_path / 'a.txt').write_text('x')
    with pytest.raises(ValueError, match='not an image'):
        list(inferencer(str(tmp_path / 'a.txt')))
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps([{'image_id': 1}]))
    with pytest.raises(ValueError, match='entry 0 needs'):
        list(inferencer(str(IMAGE), bboxes=bad))
    with pytest.raises(ValueError, match="Did you mean 'human'"):
        PoseInferencer('humn')  # not a file nor a zoo name (tests/apis/test_zoo.py)
    with pytest.raises(ValueError, match='backend'):
        PoseInferencer(constant_model.config, constant_model.checkpoint, backend='tensorrt')
    with pytest.raises(ValueError, match='.onnx'):
        PoseInferencer(constant_model.config, backend='onnxruntime')
    with pytest.raises(ValueError, match='mmdet'):
        PoseInferencer(constant_model.config, constant_model.checkpoint,
                       det_model='configs/rtmdet_m.py')
    with pytest.raises(TypeError, match='needs a bottom-up model'):
        inference_bottomup(inferencer.model, str(IMAGE))
    assert main(['infer', str(IMAGE), '--pose2d', constant_model.config]) == 2
    assert 'nothing to write' in capsys.readouterr().err
