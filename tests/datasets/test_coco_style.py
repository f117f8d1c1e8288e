"""BaseCocoStyleDataset on the COCO fixture; expected values checked against MMPose 1.3.2."""
import copy
import json
from pathlib import Path

import numpy as np
import pytest

from posekit.datasets import BaseCocoStyleDataset, CocoDataset
from posekit.registry import DATASETS

FIXTURES = Path(__file__).parents[1] / 'data' / 'fixtures'
COCO = dict(type='CocoDataset', data_root=str(FIXTURES), ann_file='coco/test_coco.json',
            data_prefix=dict(img='coco/'))
DET = str(FIXTURES / 'coco' / 'test_coco_det_AP_H_56.json')
COCO_FLIP = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
TOPDOWN_IDS = [442619, 198196, 230195, 460541, 488308, 1717641, 1724673, 437295,
               467657, 531914, 533949, 543117]


def build(**kwargs):
    return DATASETS.build(dict(COCO, **kwargs))


def test_topdown_instance_fields():
    ds = build()
    assert len(ds) == 12
    assert [ds.get_data_info(i)['id'] for i in range(12)] == TOPDOWN_IDS
    info = ds.get_data_info(0)
    assert info['img_id'] == 785
    assert info['img_path'] == str(FIXTURES / 'coco' / '000000000785.jpg')
    assert info['bbox'].dtype == np.float32 and info['bbox'].shape == (1, 4)
    # COCO xywh [280.79, 44.73, 218.7, 346.68] -> xyxy
    np.testing.assert_allclose(info['bbox'], [[280.79, 44.73, 499.49, 391.41]], rtol=1e-6)
    np.testing.assert_array_equal(info['bbox_score'], np.ones(1, np.float32))
    assert info['keypoints'].dtype == np.float32 and info['keypoints'].shape == (1, 17, 2)
    np.testing.assert_array_equal(info['keypoints'][0, [0, 16]], [[367, 81], [396, 341]])
    assert info['keypoints_visible'].dtype == np.float32
    np.testing.assert_array_equal(info['keypoints_visible'], np.ones((1, 17)))
    assert info['num_keypoints'] == 17
    assert info['area'].shape == () and info['area'] == pytest.approx(27789.111)
    assert info['iscrowd'] == 0 and info['category_id'] == np.array(1)
    assert len(info['segmentation']) == 1
    assert info['raw_ann_info']['id'] == 442619
    assert info['raw_ann_info'] is not info['segmentation']
    # metainfo fields the pipeline needs
    assert info['dataset_name'] == 'coco' and info['flip_indices'] == COCO_FLIP
    assert info['upper_body_ids'] == list(range(11))
    assert info['lower_body_ids'] == list(range(11, 17))
    assert info['flip_pairs'][:2] == [(2, 1), (1, 2)]
    assert info['skeleton_links'][0] == (15, 13)
    np.testing.assert_allclose(info['dataset_keypoint_weights'][[0, 7, 9]], [1.0, 1.2, 1.5])
    assert info['sample_idx'] == 0
    assert ds.metainfo['CLASSES'][0]['name'] == 'person'


def test_topdown_last_instance_of_crowded_image():
    info = build().get_data_info(11)
    assert info['img_id'] == 197388
    np.testing.assert_allclose(info['bbox'], [[0.5, 43.74, 90.6, 263.83]], rtol=1e-6)
    np.testing.assert_array_equal(info['keypoints'][0, 0], [36, 79])
    assert info['keypoints_visible'].sum() == 13 and info['num_keypoints'] == 13


def test_bottomup_stacks_instances_per_image():
    ds = build(data_mode='bottomup')
    assert len(ds) == 4
    info = ds.get_data_info(1)
    assert info['img_id'] == 40083
    # all 3 annotations are kept, the one with no keypoint too ...
    assert info['id'] == [198196, 230195, 1202706]
    assert info['num_keypoints'] == [14, 15, 0]
    assert info['bbox'].shape == (3, 4) and info['keypoints'].shape == (3, 17, 2)
    assert info['keypoints_visible'].shape == (3, 17) and info['bbox_score'].shape == (3,)
    assert info['area'].shape == (3,) and info['area'].dtype == np.float32
    np.testing.assert_array_equal(info['category_id'], [1, 1, 1])
    assert info['iscrowd'] == [0, 0, 0] and len(info['raw_ann_info']) == 3
    # ... and its segmentation is listed for masking out
    assert len(info['invalid_segs']) == 1
    last = ds.get_data_info(3)
    np.testing.assert_allclose(last['bbox'][0], [139.41, 102.25, 361.8, 343.82], rtol=1e-6)
    assert last['num_keypoints'] == [16, 16, 15, 16, 13] and last['invalid_segs'] == []


def _write(tmp_path, images, annotations, name='ann.json'):
    data = dict(images=images, annotations=annotations,
                categories=[dict(id=1, name='person')])
    (tmp_path / name).write_text(json.dumps(data))
    return str(tmp_path / name)


def _ann(ann_id, image_id=1, bbox=(10, 20, 30, 40), num=17, **extra):
    kpts = [0] * 51
    kpts[:3] = [15, 25, 2]
    return dict(id=ann_id, image_id=image_id, category_id=1, bbox=list(bbox),
                keypoints=kpts[:3 * num] if num <= 17 else kpts + [1, 1, 1] * (num - 17),
                num_keypoints=1, **extra)


IMAGES = [dict(id=1, file_name='a.jpg', width=100, height=80),
          dict(id=2, file_name='b.jpg', width=100, height=80)]


def test_bottomup_test_mode_keeps_images_without_instances(tmp_path):
    ann = _write(tmp_path, IMAGES, [_ann(1)])
    train = CocoDataset(ann_file=ann, data_mode='bottomup')
    test = CocoDataset(ann_file=ann, data_mode='bottomup', test_mode=True)
    assert len(train) == 1 and len(test) == 2
    empty = test.get_data_info(1)
    assert (empty['img_id'], empty['img_path'], empty['id'], empty['raw_ann_info']) == \
        (2, 'b.jpg', [], None)


def test_boxes_are_clipped_and_bad_instances_dropped(tmp_path):
    anns = [_ann(1, bbox=(-5, 70, 200, 50)),      # clipped to [0, 70, 99, 79]
            _ann(2, bbox=(10, 10, 0, 10)),        # zero width: dropped
            _ann(3, iscrowd=1),                   # crowd: dropped
            dict(_ann(4), num_keypoints=0),       # no keypoints: dropped
            {k: v for k, v in _ann(5).items() if k != 'bbox'}]  # no box: skipped
    ds = CocoDataset(ann_file=_write(tmp_path, IMAGES, anns))
    assert len(ds) == 1
    info = ds.get_data_info(0)
    np.testing.assert_array_equal(info['bbox'], [[0, 70, 99, 79]])
    # no 'area' in the json: 0.53 x clipped box area, at least 1
    assert info['area'] == pytest.approx(0.53 * 99 * 9)
    assert info['iscrowd'] is False  # filled in like the COCO API does
    bu = CocoDataset(ann_file=_write(tmp_path, IMAGES, anns), data_mode='bottomup')
    assert bu.get_data_info(0)['id'] == [1, 2, 3, 4]


def test_wrong_keypoint_count_names_file_and_annotation(tmp_path):
    ann = _write(tmp_path, IMAGES, [_ann(1), _ann(77, num=18)])
    with pytest.raises(ValueError, match=r"ann.json: annotation id 77 .*'keypoints': "
                                         r'54 values, expected 17 keypoints'):
        CocoDataset(ann_file=ann, strict_annotations=True)
    # by default it is dropped with a warning (tests/datasets/test_annotation_checks.py)
    with pytest.warns(UserWarning, match=r'dropped 1 of 2 annotations.*annotation id 77 '):
        assert len(CocoDataset(ann_file=ann)) == 1
    bad = _ann(78)
    bad['keypoints'] = 'oops'
    with pytest.raises(ValueError, match="annotation id 78.*'keypoints'"):
        CocoDataset(ann_file=_write(tmp_path, IMAGES, [bad]))
    no_id = _ann(79)
    del no_id['id']
    with pytest.raises(ValueError, match="ann.json: an annotation has no 'id'"):
        CocoDataset(ann_file=_write(tmp_path, IMAGES, [no_id]))


def test_metainfo_argument_replaces_class_default():
    # AIC's 14-keypoint layout does not fit COCO annotations: caught by id
    with pytest.raises(ValueError, match='annotation id 442619.*expected 14 keypoints'):
        build(metainfo=dict(from_file='configs/_base_/datasets/aic.py'))
    ds = build(metainfo=dict(from_file='configs/_base_/datasets/coco.py'))
    assert ds.metainfo['dataset_name'] == 'coco'
    with pytest.raises(ValueError, match='BaseCocoStyleDataset has no default meta'):
        BaseCocoStyleDataset(ann_file=COCO['ann_file'], data_root=COCO['data_root'])
    ds = DATASETS.build(dict(COCO, type='BaseCocoStyleDataset',
                             metainfo=dict(from_file='configs/_base_/datasets/coco.py')))
    assert len(ds) == 12


def test_detection_results_replace_gt_boxes():
    ds = build(bbox_file=DET, test_mode=True)
    assert len(ds) == 118
    info = ds.get_data_info(0)
    assert info['id'] == 0 and info['img_id'] == 785 and info['img_shape'] == (425, 640)
    np.testing.assert_allclose(info['bbox'], [[277.1183, 45.6997, 502.2096, 379.2599]],
                               rtol=1e-6)
    assert info['bbox'].dtype == np.float32 and info['bbox_score'].shape == (1,)
    np.testing.assert_array_equal(info['keypoints'], np.zeros((1, 17, 2)))
    np.testing.assert_array_equal(info['keypoints_visible'], np.ones((1, 17)))
    assert 'num_keypoints' not in info and 'raw_ann_info' not in info
    assert info['img_path'] == str(FIXTURES / 'coco' / '000000000785.jpg')


@pytest.mark.parametrize('thr, length, last_box', [
    (0.3, 33, [250.7466, 87.1328, 418.1981, 365.4434]),
    (0.9, 14, [440.9, 70.3064, 460.3381, 107.3844]),
])
def test_bbox_score_threshold(thr, length, last_box):
    ds = build(bbox_file=DET, test_mode=True, filter_cfg=dict(bbox_score_thr=thr))
    assert len(ds) == length
    assert all(ds.get_data_info(i)['bbox_score'][0] >= thr for i in range(length))
    np.testing.assert_allclose(ds.get_data_info(length - 1)['bbox'][0], last_box, rtol=1e-5)


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match='bbox_file.*test_mode=True'):
        build(bbox_file=DET)
    with pytest.raises(ValueError, match='bbox_file is only supported in topdown'):
        build(bbox_file=DET, test_mode=True, data_mode='bottomup')
    with pytest.raises(ValueError, match='data_mode must be "topdown" or "bottomup"'):
        build(data_mode='top-down')
    with pytest.raises(ValueError, match="unknown filter_cfg key 'min_score'"):
        build(filter_cfg=dict(min_score=0.3))
    with pytest.raises(ValueError, match='bbox_score_thr is only supported in topdown'):
        build(data_mode='bottomup', filter_cfg=dict(bbox_score_thr=0.3))
    with pytest.raises(TypeError, match='CocoDataset.*unexpected keyword.*box_file'):
        build(box_file=DET)
    with pytest.raises(FileNotFoundError, match='bbox_file not found: /no/such.json'):
        build(bbox_file='/no/such.json', test_mode=True)


def test_filter_keys_mmpose_ignores_warn():
    with pytest.warns(UserWarning, match="'filter_empty_gt' has no effect"):
        ds = build(filter_cfg=dict(filter_empty_gt=False, min_size=32))
    assert len(ds) == 12


def test_sample_interval_keeps_image_ids_divisible_by_it():
    ds = build(sample_interval=5)
    assert len(ds) == 1 and ds.get_data_info(0)['img_id'] == 785


def test_img_path_is_prefix_joined_with_file_name():
    ds = build(data_prefix=dict(img='images/val2017/'))
    assert ds.get_data_info(0)['img_path'] == str(
        FIXTURES / 'images' / 'val2017' / '000000000785.jpg')
    ds = build(data_prefix=dict(img='/data/coco/'))
    assert ds.get_data_info(0)['img_path'] == '/data/coco/000000000785.jpg'


def test_prepare_data_passes_dataset_and_metainfo_to_pipeline():
    seen = []
    ds = build(pipeline=[lambda r: seen.append(copy.copy(r)) or r])
    ds[1]
    assert seen[0]['dataset'] is ds and seen[0]['flip_indices'] == COCO_FLIP
    assert seen[0]['sample_idx'] == 1
