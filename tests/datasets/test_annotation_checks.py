"""Invalid annotations are found at load, named, and dropped (or raise when strict).

The files are the real COCO fixture with values broken in a few annotations;
the other annotations must load exactly as from the untouched file.
"""
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from posekit.datasets import CocoDataset, MpiiDataset
from posekit.datasets.annotation_checks import InvalidAnnotation, InvalidAnnotationWarning
from posekit.errors import PosekitError

FIXTURES = Path(__file__).parents[1] / 'data' / 'fixtures'
COCO_JSON = FIXTURES / 'coco' / 'test_coco.json'
PIPELINE = [
    dict(type='LoadImage'), dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=(48, 64)),
    dict(type='GenerateTarget', encoder=dict(type='MSRAHeatmap', input_size=(48, 64),
                                             heatmap_size=(12, 16), sigma=2)),
    dict(type='PackPoseInputs')]


def _coco(tmp_path, breaks: dict, name='broken.json') -> str:
    """The COCO fixture with ``breaks[ann_id](ann)`` applied; returns its path."""
    data = json.loads(COCO_JSON.read_text())
    for ann in data['annotations']:
        if ann['id'] in breaks:
            breaks[ann['id']](ann)
    path = tmp_path / name
    path.write_text(json.dumps(data))  # writes NaN / Infinity, as Python's json reads
    return str(path)


def _set(field, index, value):
    def apply(ann):
        ann[field][index] = value
    return apply


BREAKS = {
    198196: _set('keypoints', 3 * 5, math.nan),          # x of keypoint 5
    460541: _set('bbox', 2, math.inf),                   # infinite width
    488308: _set('keypoints', 3 * 2 + 2, 3),             # visibility flag 3
    1717641: _set('bbox', 3, -20.0),                     # negative height
    437295: lambda ann: ann['keypoints'].extend([1, 1, 2]),  # 18 keypoints
}


def _dataset(ann_file, **kwargs):
    return CocoDataset(ann_file=ann_file, data_prefix=dict(img=str(FIXTURES / 'coco')),
                       **kwargs)


def test_invalid_annotations_are_dropped_with_one_warning_naming_them(tmp_path):
    good = _dataset(str(COCO_JSON))
    path = _coco(tmp_path, BREAKS)
    with pytest.warns(InvalidAnnotationWarning) as record:
        ds = _dataset(path)
    assert len(record) == 1
    assert str(record[0].message) == (
        f'CocoDataset: {path}: dropped 5 of 14 annotations with invalid values: '
        "annotation id 198196 (image 40083) field 'keypoints': non-finite x (nan) "
        'at keypoint 5; '
        "annotation id 460541 (image 196141) field 'bbox': non-finite value in "
        '[x, y, w, h] = [247.76, 74.23, inf, 300.78]; '
        "annotation id 488308 (image 196141) field 'keypoints': visibility flag 3 "
        'at keypoint 2 (expected 0, 1 or 2); and 2 more. '
        'Pass strict_annotations=True to raise instead.')
    assert [m.split(': ')[2] for m in ds.dropped_annotations] == [
        'annotation id 198196 (image 40083) field \'keypoints\'',
        'annotation id 460541 (image 196141) field \'bbox\'',
        'annotation id 488308 (image 196141) field \'keypoints\'',
        'annotation id 1717641 (image 196141) field \'bbox\'',
        'annotation id 437295 (image 197388) field \'keypoints\'']
    assert ds.dropped_annotations[-1].endswith(
        '54 values, expected 17 keypoints x (x, y, v) = 51')
    # the others load exactly as from the untouched file
    kept = {ds.get_data_info(i)['id']: ds.get_data_info(i) for i in range(len(ds))}
    expected = [good.get_data_info(i) for i in range(len(good))]
    expected = [info for info in expected if info['id'] not in BREAKS]
    assert sorted(kept) == sorted(info['id'] for info in expected) and len(kept) == 7
    for info in expected:
        for key, value in info.items():
            if key != 'sample_idx':
                np.testing.assert_equal(kept[info['id']][key], value, err_msg=key)


def test_strict_annotations_raises_at_the_first_naming_file_and_ids(tmp_path):
    path = _coco(tmp_path, BREAKS)
    with pytest.raises(InvalidAnnotation) as err:
        _dataset(path, strict_annotations=True)
    assert str(err.value) == (
        f"CocoDataset: {path}: annotation id 198196 (image 40083) field 'keypoints': "
        'non-finite x (nan) at keypoint 5')
    assert isinstance(err.value, PosekitError) and isinstance(err.value, ValueError)


def test_bottomup_mode_drops_them_too(tmp_path):
    path = _coco(tmp_path, {198196: BREAKS[198196]})
    with pytest.warns(InvalidAnnotationWarning, match='annotation id 198196 .image 40083'):
        ds = _dataset(path, data_mode='bottomup')
    info = ds.get_data_info(1)
    assert info['img_id'] == 40083 and info['id'] == [230195, 1202706]


def test_no_nan_reaches_the_codec(tmp_path):
    """The issue's symptom: NumPy's 'invalid value encountered in cast' from
    the heatmap codec. With the NaN annotation dropped, a pass over the whole
    training set raises no warning at all."""
    path = _coco(tmp_path, {198196: BREAKS[198196], 1724673: _set('keypoints', 0, math.inf)})
    with pytest.warns(InvalidAnnotationWarning, match='dropped 2 of 14'):
        ds = _dataset(path, pipeline=PIPELINE)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        for i in range(len(ds)):
            sample = ds[i]
            assert torch.isfinite(sample['data_samples'].gt_fields.heatmaps).all()
    assert len(ds) == 10


def test_a_file_with_no_valid_annotation_raises_even_when_not_strict(tmp_path):
    # the usual cause: the metainfo of another dataset (AIC has 14 keypoints)
    with pytest.raises(InvalidAnnotation, match=r'test_coco.json: all 14 annotations are '
                                                r'invalid: annotation id 442619 \(image 785\)'
                                                r'.*metainfo'):
        _dataset(str(COCO_JSON), metainfo=dict(from_file='configs/_base_/datasets/aic.py'))


def test_detection_file_boxes_nan_or_empty_are_dropped(tmp_path):
    dets = [dict(image_id=785, category_id=1, bbox=[280.8, 44.7, 218.7, 346.7], score=0.9),
            dict(image_id=785, category_id=1, bbox=[math.nan, 44.7, 218.7, 346.7], score=0.8),
            dict(image_id=40083, category_id=1, bbox=[10, 10, 0, 50], score=0.7),
            dict(image_id=40083, category_id=1, bbox=[10, 10, 40, 50], score=0.6)]
    (tmp_path / 'dets.json').write_text(json.dumps(dets))
    with pytest.warns(InvalidAnnotationWarning) as record:
        ds = _dataset(str(COCO_JSON), bbox_file=str(tmp_path / 'dets.json'), test_mode=True)
    assert str(record[0].message).startswith(
        f'CocoDataset: {tmp_path / "dets.json"}: dropped 2 of 4 detections with invalid '
        "values: detection #1 (image 785) field 'bbox': non-finite value in [x, y, w, h]")
    assert "detection #2 (image 40083) field 'bbox': zero width or height" in \
        str(record[0].message)
    assert [ds.get_data_info(i)['bbox_score'][0] for i in range(2)] == \
        pytest.approx([0.9, 0.6])
    assert [ds.get_data_info(i)['id'] for i in range(2)] == [0, 1]


def test_mpii_format_checked_after_parsing(tmp_path):
    """MPII's own json (center, scale, joints) goes through the same check."""
    data = json.loads((FIXTURES / 'mpii' / 'test_mpii.json').read_text())
    data[1]['joints'][3][0] = math.nan
    (tmp_path / 'mpii.json').write_text(json.dumps(data))
    with pytest.warns(InvalidAnnotationWarning,
                      match=r"dropped 1 of 5 .*annotation id 1 \(image \d+\) field 'keypoints'"):
        ds = MpiiDataset(ann_file=str(tmp_path / 'mpii.json'))
    assert [ds.get_data_info(i)['id'] for i in range(len(ds))] == [0, 2, 3, 4]
