"""One-stage models (RTMO) in PoseInferencer / ``posekit infer``, alone and as
the person detector of a top-down model.

The RTMO model is ``tests/data/configs/rtmo_tiny_coco_fixture.py`` (256x256
input) with seeded random weights, BatchNorm statistics from train-mode
forwards on the test image, and a classifier that scores cells between
about 0.1 and 1 (so thresholds matter). The expected values are what
``inference_bottomup`` / ``inference_topdown`` return for the same image and
boxes: the inferencer must pass them through unchanged, less the boxes that
can hold nobody (``box_problems``). The top-down model is the conftest's
constant-heatmap model, whose keypoints follow from its boxes alone.
"""
import json
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from posekit.apis import (PoseInferencer, inference_bottomup, inference_topdown, init_model,
                          optimize_for_inference)
from posekit.apis.boxes import DegenerateBoxWarning, box_problems
from posekit.cli import main
from posekit.config import Config
from posekit.evaluation.functional.nms import nms
from posekit.registry import MODELS

ROOT = Path(__file__).resolve().parents[2]
RTMO = str(ROOT / 'tests/data/configs/rtmo_tiny_coco_fixture.py')
AE = str(ROOT / 'configs/body_2d_keypoint/associative_embedding/synthetic/'
         'ae_hrnet-tiny_1xb16-20e_synthetic-256x256.py')
COCO = ROOT / 'tests/data/fixtures/coco'
IMAGE = COCO / '000000197388.jpg'  # 640x392
IMAGE2 = COCO / '000000196141.jpg'


def _rtmo_weights(cls_bias: float) -> dict:
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(RTMO).model)
    image = cv2.resize(cv2.imread(str(IMAGE)), (256, 256))
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float()
    model.train()  # BatchNorm statistics of real activations
    with torch.no_grad():
        for _ in range(3):
            model(x, None, mode='tensor')
    state = model.state_dict()
    g = torch.Generator().manual_seed(1)
    for level in (0, 1):
        weight = state[f'head.head_module.out_cls.{level}.weight']
        weight.copy_(torch.randn(weight.shape, generator=g) * 0.1)
        state[f'head.head_module.out_cls.{level}.bias'].fill_(cls_bias)
    return state


@pytest.fixture(scope='module')
def rtmo_ckpt(tmp_path_factory):
    path = tmp_path_factory.mktemp('rtmo') / 'rtmo.pth'
    torch.save(dict(state_dict=_rtmo_weights(-1.0)), path)
    return str(path)


@pytest.fixture(scope='module')
def blind_ckpt(tmp_path_factory):
    """Scores sigmoid(-30) ~ 1e-13 everywhere: nobody is found."""
    path = tmp_path_factory.mktemp('blind') / 'blind.pth'
    torch.save(dict(state_dict=_rtmo_weights(-30.0)), path)
    return str(path)


@pytest.fixture(scope='module')
def rtmo_model(rtmo_ckpt):
    # as PoseInferencer's: BatchNorms folded (float32 rounding differs from
    # the plain model's; test_optimize.py bounds that)
    return optimize_for_inference(init_model(RTMO, rtmo_ckpt))


def _usable(sample, image_hw):
    """inference_bottomup's instances whose boxes can hold somebody."""
    pred = sample.pred_instances
    ok = [p is None for p in box_problems(pred.bboxes, image_hw, pred.bbox_scores, 1.)]
    return pred[np.flatnonzero(ok)]


def _check_equal(instances, pred):
    assert len(instances) == len(pred)
    for inst, kpts, scores, box, score in zip(instances, pred.keypoints,
                                              pred.keypoint_scores, pred.bboxes,
                                              pred.bbox_scores):
        np.testing.assert_allclose(inst['keypoints'], kpts, rtol=0, atol=1e-4)
        np.testing.assert_allclose(inst['keypoint_scores'], scores, rtol=0, atol=1e-6)
        np.testing.assert_allclose(inst['bbox'], box, rtol=0, atol=1e-4)
        assert inst['bbox_score'] == pytest.approx(float(score), abs=1e-6)


def test_json_equals_inference_bottomup(rtmo_ckpt, rtmo_model, tmp_path):
    inferencer = PoseInferencer(RTMO, rtmo_ckpt, device='cpu')
    out = tmp_path / 'preds'
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        results = list(inferencer([str(IMAGE), str(IMAGE2)], pred_out_dir=str(out)))
    dropped = 0
    for path, result in zip((IMAGE, IMAGE2), results):
        sample = inference_bottomup(rtmo_model, str(path))[0]
        image_hw = cv2.imread(str(path)).shape[:2]
        expected = _usable(sample, image_hw)
        dropped += len(sample.pred_instances) - len(expected)
        written = json.loads((out / (path.stem + '.json')).read_text())
        assert written == result['predictions']
        assert len(written) >= 10  # the config's score_thr 0.1 and nms_thr 0.65
        _check_equal(written, expected)
        assert min(inst['bbox_score'] for inst in written) > 0.1
    # boxes the model put in the padding below the 640x392 image hold nobody
    assert dropped > 0
    assert sum(issubclass(w.category, DegenerateBoxWarning) for w in caught) >= 1


def test_bbox_thr_and_nms_thr_set_the_head(rtmo_ckpt, rtmo_model):
    """As in MMPose, the call's thresholds become the head's score_thr and
    nms_thr; None gives back the config's."""
    inferencer = PoseInferencer(RTMO, rtmo_ckpt, device='cpu')
    [strict] = inferencer(str(IMAGE2), bbox_thr=0.5, nms_thr=0.3)
    other = optimize_for_inference(init_model(
        RTMO, rtmo_ckpt, cfg_options={'model.test_cfg.score_thr': 0.5,
                                      'model.test_cfg.nms_thr': 0.3}))
    image_hw = cv2.imread(str(IMAGE2)).shape[:2]
    expected = _usable(inference_bottomup(other, str(IMAGE2))[0], image_hw)
    _check_equal(strict['predictions'], expected)
    assert 0 < len(expected)
    assert min(expected.bbox_scores) > 0.5
    [default] = inferencer(str(IMAGE2))
    full = _usable(inference_bottomup(rtmo_model, str(IMAGE2))[0], image_hw)
    _check_equal(default['predictions'], full)
    assert len(full) > len(expected)


def test_draw_bbox_draws_the_predicted_boxes(rtmo_ckpt, tmp_path):
    inferencer = PoseInferencer(RTMO, rtmo_ckpt, device='cpu')
    [plain] = inferencer(str(IMAGE2), return_vis=True, kpt_thr=2.0)  # no keypoint drawn
    [boxed] = inferencer(str(IMAGE2), return_vis=True, kpt_thr=2.0, draw_bbox=True,
                         vis_out_dir=str(tmp_path))
    original = cv2.cvtColor(cv2.imread(str(IMAGE2)), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(plain['visualization'], original)
    changed = (boxed['visualization'] != original).any(-1)
    h, w = changed.shape
    for inst in boxed['predictions']:
        x1, y1, x2, y2 = np.round(inst['bbox']).astype(int)
        if 0 <= x1 < x2 < w and 0 <= y1 < y2 < h:  # fully inside: the whole edge shows
            assert changed[y1, x1:x2 + 1].mean() > 0.9
    assert (tmp_path / IMAGE2.name).is_file()


def test_video_frames_are_json_records(rtmo_ckpt, rtmo_model, tmp_path, capsys):
    video = tmp_path / 'clip.mp4'
    frame = cv2.resize(cv2.imread(str(IMAGE)), (320, 196))
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*'mp4v'), 10, (320, 196))
    for shift in range(3):
        writer.write(np.roll(frame, 16 * shift, axis=1))
    writer.release()
    cap = cv2.VideoCapture(str(video))
    frames = []
    ok, image = cap.read()
    while ok:
        frames.append(image)
        ok, image = cap.read()
    assert len(frames) == 3
    vis, preds = tmp_path / 'vis', tmp_path / 'preds'
    code = main(['infer', str(video), '--pose2d', RTMO, '--pose2d-weights', rtmo_ckpt,
                 '--device', 'cpu', '--vis-out-dir', str(vis), '--pred-out-dir', str(preds),
                 '--draw-bbox', '--no-progress'])
    assert code == 0
    records = json.loads((preds / 'clip.json').read_text())
    assert [r['frame_id'] for r in records] == [0, 1, 2]
    total = 0
    for record, image in zip(records, frames):
        sample = inference_bottomup(rtmo_model, image)[0]
        _check_equal(record['instances'], _usable(sample, image.shape[:2]))
        total += len(record['instances'])
    assert f'3 frame(s), {total} instance(s)' in capsys.readouterr().out
    cap = cv2.VideoCapture(str(vis / 'clip.mp4'))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 3


def test_one_stage_model_as_the_person_detector(constant_model, rtmo_ckpt, rtmo_model,
                                                tmp_path):
    """The top-down model gets exactly the detector's boxes above bbox_thr,
    after NMS, best first; its poses are inference_topdown's on them."""
    pred = inference_bottomup(rtmo_model, str(IMAGE2))[0].pred_instances
    rows = np.concatenate([pred.bboxes, pred.bbox_scores[:, None]], 1).astype(np.float32)
    image_hw = cv2.imread(str(IMAGE2)).shape[:2]
    rows = rows[[p is None for p in box_problems(rows[:, :4], image_hw)]]
    rows = rows[rows[:, 4] > 0.5]
    rows = rows[nms(rows, 0.3)]
    assert 1 < len(rows) < len(pred)
    td_model = init_model(constant_model.config, constant_model.checkpoint)
    expected = inference_topdown(td_model, str(IMAGE2), rows[:, :4])

    out = tmp_path / 'preds'
    code = main(['infer', str(IMAGE2), '--pose2d', constant_model.config,
                 '--pose2d-weights', constant_model.checkpoint, '--det-model', RTMO,
                 '--det-weights', rtmo_ckpt, '--bbox-thr', '0.5', '--det-cat-ids', '0',
                 '--device', 'cpu', '--pred-out-dir', str(out), '--no-progress'])
    assert code == 0
    written = json.loads((out / (IMAGE2.stem + '.json')).read_text())
    assert len(written) == len(rows)
    for inst, row, sample in zip(written, rows, expected):
        np.testing.assert_allclose(inst['bbox'], row[:4], rtol=0, atol=1e-4)
        assert inst['bbox_score'] == pytest.approx(float(row[4]), abs=1e-6)
        np.testing.assert_allclose(inst['keypoints'], sample.pred_instances.keypoints[0],
                                   rtol=0, atol=1e-3)
        np.testing.assert_allclose(inst['keypoints'][0], constant_model.crop_corner(row[:4]),
                                   rtol=0, atol=1e-2)

    # RTMO's people are category 0: asking for 1 leaves no box, hence (as in
    # MMPose) one box covering the whole image
    inferencer = PoseInferencer(constant_model.config, constant_model.checkpoint,
                                device='cpu', det_model=RTMO, det_weights=rtmo_ckpt,
                                det_cat_ids=1)
    [result] = inferencer(str(IMAGE2))
    assert [inst['bbox'] for inst in result['predictions']] == [[0, 0, 640, 429]]


def test_no_people_gives_an_empty_result(blind_ckpt, tmp_path, capsys):
    vis, preds = tmp_path / 'vis', tmp_path / 'preds'
    code = main(['infer', str(IMAGE), '--pose2d', RTMO, '--pose2d-weights', blind_ckpt,
                 '--device', 'cpu', '--vis-out-dir', str(vis), '--pred-out-dir', str(preds),
                 '--draw-bbox', '--no-progress'])
    assert code == 0
    assert '1 frame(s), 0 instance(s)' in capsys.readouterr().out
    assert json.loads((preds / (IMAGE.stem + '.json')).read_text()) == []
    assert cv2.imread(str(vis / IMAGE.name)).shape == (392, 640, 3)


def test_one_pixel_image_gives_an_empty_result(rtmo_ckpt, constant_model):
    """The model finds dozens of people of about 0.13 px in a 1x1 image (a
    flat 256x256 input): boxes under one pixel are dropped, with a warning."""
    inferencer = PoseInferencer(RTMO, rtmo_ckpt, device='cpu')
    with pytest.warns(DegenerateBoxWarning, match=r'smaller than 1 pixel.*and \d+ more'):
        [result] = inferencer(np.full((1, 1, 3), 128, np.uint8), return_vis=True)
    assert result['predictions'] == []
    assert result['visualization'].shape == (1, 1, 3)
    assert box_problems([[0, 0, 0.5, 3], [0, 0, 1, 1]], (1, 1), min_size=1) == [
        'smaller than 1 pixel(s)', None]
    # as a detector: no box left, so the top-down model gets the whole image
    detecting = PoseInferencer(constant_model.config, constant_model.checkpoint,
                               device='cpu', det_model=RTMO, det_weights=rtmo_ckpt)
    with pytest.warns(DegenerateBoxWarning, match='the detector .*smaller than 1 pixel'):
        [result] = detecting(np.full((1, 1, 3), 128, np.uint8))
    assert [inst['bbox'] for inst in result['predictions']] == [[0, 0, 1, 1]]


@pytest.mark.parametrize('options,message', [
    ({'model.test_cfg.input_size': (250, 250)},
     r'test_cfg.input_size=\(250, 250\) is not a multiple of the head.s stride 16'),
    ({'model.test_cfg.input_size': (264, 264),
      'test_dataloader.dataset.pipeline.1.input_size': (264, 264),
      'test_dataloader.dataset.pipeline.1.size_factor': 8},
     r'input_size=\(264, 264\) is not a multiple of the head.s stride 16'),
    ({'test_dataloader.dataset.pipeline.1.input_size': (240, 240),
      'test_dataloader.dataset.pipeline.1.size_factor': 16},
     r'BottomupResize input_size=\(240, 240\) is not a multiple of the head.s stride 32'),
])
def test_input_size_must_suit_the_strides(rtmo_ckpt, options, message):
    with pytest.raises(ValueError, match=message):
        PoseInferencer(RTMO, rtmo_ckpt, device='cpu', cfg_options=options)
    model = init_model(RTMO, rtmo_ckpt, cfg_options=options)
    with pytest.raises(ValueError, match=message):  # at the first call
        inference_bottomup(model, str(IMAGE))


def test_errors_name_what_is_wrong(constant_model, rtmo_ckpt, tmp_path):
    for config in (constant_model.config, AE):
        with pytest.raises(ValueError, match=f'det_model {config}: .*predicts no person '
                                             'boxes'):
            PoseInferencer(constant_model.config, constant_model.checkpoint, device='cpu',
                           det_model=config)
    with pytest.raises(ValueError, match='det_model: .* is a bottom-up model'):
        PoseInferencer(RTMO, rtmo_ckpt, device='cpu', det_model=RTMO)
    with pytest.raises(ValueError, match='det_cat_ids: .* is a bottom-up model'):
        PoseInferencer(RTMO, rtmo_ckpt, device='cpu', det_cat_ids=0)
    with pytest.raises(ValueError, match='det_weights given without det_model'):
        PoseInferencer(constant_model.config, constant_model.checkpoint, device='cpu',
                       det_weights=rtmo_ckpt)
    with pytest.raises(ValueError, match='det_weights .* go with a det_model config'):
        PoseInferencer(constant_model.config, constant_model.checkpoint, device='cpu',
                       det_model=lambda image: np.zeros((0, 4)), det_weights=rtmo_ckpt)
    inferencer = PoseInferencer(RTMO, rtmo_ckpt, device='cpu')
    with pytest.raises(ValueError, match='draw_heatmap: a one-stage model'):
        list(inferencer(str(IMAGE), draw_heatmap=True))
    boxes = tmp_path / 'boxes.json'
    boxes.write_text('[]')
    with pytest.raises(ValueError, match='finds the people itself'):
        list(inferencer(str(IMAGE), bboxes=boxes))
    ae = PoseInferencer(AE, device='cpu')
    with pytest.raises(ValueError, match='bbox_thr / nms_thr: this bottom-up model'):
        list(ae(str(IMAGE), bbox_thr=0.5))
