"""Degenerate boxes are dropped with a warning and change nothing for the others.

The model has seeded random weights (conftest ``random_model``): its
keypoints depend on the crop's pixels, so equal predictions mean the good
boxes ran exactly as they would have alone.
"""
import json
import math
from pathlib import Path

import numpy as np
import pytest

from posekit.apis import PoseInferencer, inference_topdown, init_model
from posekit.apis.boxes import DegenerateBoxWarning, box_problems

ROOT = Path(__file__).resolve().parents[2]
IMAGE = ROOT / 'tests/data/fixtures/coco/000000197388.jpg'  # 640x392
GOOD = [[139.41, 102.25, 361.80, 343.82], [287.17, 61.52, 362.05, 227.13]]  # xyxy


def _same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x['keypoints'] == y['keypoints']
        assert x['keypoint_scores'] == y['keypoint_scores']
        assert x['bbox'] == y['bbox']


def test_box_problems_names_each_kind():
    boxes = np.array([[10, 10, 60, 90], [10, 10, 10, 90], [10, 10, 60, 5],
                      [700, 10, 750, 90], [-50, -50, 0, 10], [np.nan, 10, 60, 90],
                      [0, 0, np.inf, 90], [630, 380, 700, 500]], np.float32)
    scores = np.array([0.9, 1, 1, 1, 1, 1, 1, np.nan])
    assert box_problems(boxes, (392, 640), scores) == [
        None, 'zero or negative size', 'zero or negative size',
        'entirely outside the 640x392 image', 'entirely outside the 640x392 image',
        'NaN or infinite coordinate', 'NaN or infinite coordinate', 'NaN or infinite score']


def test_box_file_good_box_and_three_degenerate_ones(random_model, tmp_path):
    """The issue's case: [10, 10, 50, 80], then zero size, outside, a NaN x."""
    inferencer = PoseInferencer(random_model.config, random_model.checkpoint, device='cpu')
    dets = [dict(image_id=197388, category_id=1, score=0.9, bbox=box)
            for box in ([10, 10, 50, 80], [100, 100, 0, 0], [700, 500, 50, 50],
                        [math.nan, 10, 50, 80])]
    (tmp_path / 'all.json').write_text(json.dumps(dets))
    (tmp_path / 'good.json').write_text(json.dumps(dets[:1]))
    with pytest.warns(DegenerateBoxWarning) as record:
        result, = inferencer(str(IMAGE), bboxes=tmp_path / 'all.json')
    assert [str(w.message) for w in record] == [
        f'{tmp_path / "all.json"}: image_id 197388: dropped 3 of 4 box(es) that can '
        'give no pose: entry #1 [100.0, 100.0, 100.0, 100.0]: zero or negative size; '
        'entry #2 [700.0, 500.0, 750.0, 550.0]: entirely outside the 640x392 image; '
        'entry #3 [nan, 10.0, nan, 90.0]: NaN or infinite coordinate']
    alone, = inferencer(str(IMAGE), bboxes=tmp_path / 'good.json')
    assert len(result['predictions']) == 1
    assert result['predictions'][0]['bbox'] == [10.0, 10.0, 60.0, 90.0]
    _same(result['predictions'], alone['predictions'])


def test_inference_topdown_drops_them_keeping_the_order(random_model):
    model = init_model(random_model.config, random_model.checkpoint)
    boxes = np.array([[np.nan, 1, 50, 50], GOOD[0], [5, 5, 5, 50], GOOD[1],
                      [-90, 10, -10, 90]])
    with pytest.warns(DegenerateBoxWarning) as record:
        samples = inference_topdown(model, str(IMAGE), boxes)
    assert str(record[0].message) == (
        'inference_topdown: dropped 3 of 5 box(es) that can give no pose: '
        'box #0 [nan, 1.0, 50.0, 50.0]: NaN or infinite coordinate; '
        'box #2 [5.0, 5.0, 5.0, 50.0]: zero or negative size; '
        'box #4 [-90.0, 10.0, -10.0, 90.0]: entirely outside the 640x392 image')
    expected = inference_topdown(model, str(IMAGE), np.array(GOOD, np.float64))
    assert len(samples) == 2
    for got, want in zip(samples, expected):
        for key in ('keypoints', 'keypoint_scores', 'bboxes'):
            np.testing.assert_array_equal(got.pred_instances[key], want.pred_instances[key])
    np.testing.assert_array_equal(samples[1].pred_instances.bboxes, [GOOD[1]])
    with pytest.warns(DegenerateBoxWarning, match='dropped 1 of 1'):
        assert inference_topdown(model, str(IMAGE), [[0, 0, 0, 0]]) == []


def test_detector_output_is_checked_too(random_model):
    good = np.array([GOOD[0] + [0.9]], np.float32)
    bad = np.array([[np.nan, 1, 50, 50, 0.95], [300, 300, 200, 200, 0.9],
                    GOOD[1] + [np.nan]], np.float32)
    with_bad = PoseInferencer(random_model.config, random_model.checkpoint, device='cpu',
                              det_model=lambda image: np.concatenate([bad[:1], good, bad[1:]]))
    with pytest.warns(DegenerateBoxWarning, match=r'the detector \(image 000000197388.jpg\): '
                                                  r'dropped 3 of 4 box\(es\).*box #0 .*NaN or '
                                                  r'infinite coordinate; box #2 .*zero or '
                                                  r'negative size; box #3 .*infinite score'):
        result, = with_bad(str(IMAGE))
    only_good = PoseInferencer(random_model.config, random_model.checkpoint, device='cpu',
                               det_model=lambda image: good)
    alone, = only_good(str(IMAGE))
    _same(result['predictions'], alone['predictions'])
    assert len(alone['predictions']) == 1
