"""CombinedDataset, ConcatDataset, RepeatDataset; values checked against MMPose 1.3.2."""
from pathlib import Path

import numpy as np
import pytest

from posekit.datasets import CocoDataset, ConcatDataset, RepeatDataset
from posekit.registry import DATASETS

FIXTURES = Path(__file__).parents[1] / 'data' / 'fixtures'
COCO = dict(type='CocoDataset', data_root=str(FIXTURES), ann_file='coco/test_coco.json',
            data_prefix=dict(img='coco/'))
# RTMPose's AIC -> COCO mapping (configs/body_2d_keypoint/rtmpose/coco/*aic-coco*)
AIC_COCO = [(0, 6), (1, 8), (2, 10), (3, 5), (4, 7), (5, 9), (6, 12), (7, 14),
            (8, 16), (9, 11), (10, 13), (11, 15)]
AIC = dict(type='AicDataset', data_root=str(FIXTURES), ann_file='aic/test_aic.json',
           data_prefix=dict(img='aic/'),
           pipeline=[dict(type='KeypointConverter', num_keypoints=17, mapping=AIC_COCO)])
COCO_META = dict(from_file='configs/_base_/datasets/coco.py')
COCO_FLIP = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]


def combined(**kwargs):
    return DATASETS.build(dict(type='CombinedDataset', metainfo=COCO_META,
                               datasets=[dict(COCO, pipeline=[]), AIC], pipeline=[], **kwargs))


def test_combined_aic_coco_runs_sub_pipelines_then_uses_combined_metainfo():
    ds = combined()
    assert len(ds) == 21 and ds.lens == [12, 9]
    assert ds.metainfo['dataset_name'] == 'coco'
    coco_item = ds[0]
    assert coco_item['id'] == 442619 and coco_item['keypoints'].shape == (1, 17, 2)
    item = ds[12]  # the first AIC sample, converted to COCO's layout
    assert item['id'] == 4 and item['img_id'] == 1
    aic_image = '054d9ce9201beffc76e5ff2169d2af2f027002ca.jpg'
    assert item['img_path'] == str(FIXTURES / 'aic' / aic_image)
    expected = np.zeros((17, 2))
    expected[5:13] = [[406, 197], [313, 201], [431, 286], [312, 313], [459, 269],
                      [320, 424], [416, 441], [375, 447]]
    np.testing.assert_array_equal(item['keypoints'][0], expected)
    vis = item['keypoints_visible'][0]
    assert vis.shape == (17, 2)
    np.testing.assert_array_equal(vis[:, 0], [0] * 5 + [1] * 8 + [0] * 4)
    # AIC has no face keypoints: weight 0 there, 1 wherever the mapping writes
    np.testing.assert_array_equal(vis[:, 1], [0] * 5 + [1] * 12)
    # the combined layout's metainfo replaces the sub-dataset's ...
    assert item['flip_indices'] == COCO_FLIP and item['upper_body_ids'] == list(range(11))
    assert item['dataset_keypoint_weights'][9] == pytest.approx(1.5)
    # ... except dataset_name (and skeleton_links), as in MMPose
    assert item['dataset_name'] == 'aic'
    assert item['dataset'] is ds


def test_combined_sample_ratio_factor_resamples_lengths():
    np.random.seed(0)
    ds = combined(sample_ratio_factor=[0.5, 2.0])
    assert ds.lens == [6, 18] and len(ds) == 24
    coco_ids = {CocoDataset(**{k: v for k, v in COCO.items() if k != 'type'}).get_data_info(i)['id']
                for i in range(12)}
    assert {ds[i]['id'] for i in range(6)} <= coco_ids
    for i in range(6, 24):  # each AIC sample is drawn about twice
        assert ds[i]['dataset_name'] == 'aic'


def test_combined_argument_errors():
    with pytest.raises(ValueError, match='sample_ratio_factor has 1 values for 2 datasets'):
        combined(sample_ratio_factor=[1.0])
    with pytest.raises(ValueError, match='must be >= 0'):
        combined(sample_ratio_factor=[1.0, -1.0])
    with pytest.raises(TypeError, match=r"\['indices'\] have no effect"):
        combined(indices=3)
    with pytest.raises(IndexError, match='index 21 is out of range'):
        combined()[21]


def test_combined_refetches_and_lazy_init():
    calls = []
    ds = DATASETS.build(dict(type='CombinedDataset', metainfo=COCO_META,
                             datasets=[dict(AIC, lazy_init=True)],
                             pipeline=[lambda r: calls.append(1) if len(calls) < 2 else r],
                             lazy_init=True))
    assert not ds.datasets[0]._fully_initialized
    np.random.seed(0)
    assert ds[0]['keypoints'].shape == (1, 17, 2) and len(calls) == 2
    test = DATASETS.build(dict(type='CombinedDataset', metainfo=COCO_META, datasets=[AIC],
                               pipeline=[lambda r: None], test_mode=True))
    with pytest.raises(RuntimeError, match='sample 3 in test mode'):
        test[3]


def test_repeat_dataset():
    ds = DATASETS.build(dict(type='RepeatDataset', dataset=COCO, times=3))
    base = ds.dataset
    assert len(ds) == 36 and ds.metainfo['dataset_name'] == 'coco'
    assert ds.get_data_info(13)['id'] == base.get_data_info(1)['id'] == 198196
    assert ds[35]['id'] == 543117 and ds[-1]['id'] == 543117
    with pytest.raises(IndexError):
        ds[36]
    lazy = RepeatDataset(dict(COCO, lazy_init=True), times=2, lazy_init=True)
    assert not lazy.dataset._fully_initialized and len(lazy) == 24


def test_concat_dataset():
    topdown = DATASETS.build(COCO)
    ds = ConcatDataset([topdown, dict(COCO, data_mode='bottomup')])
    assert len(ds) == 16 and ds.cumulative_sizes == [12, 16]
    assert ds.get_data_info(11)['id'] == 543117
    assert ds.get_data_info(12)['id'] == [442619]  # first bottom-up image
    assert ds[-1]['img_id'] == 197388 and ds[15]['img_id'] == 197388
    with pytest.raises(IndexError):
        ds[16]
    with pytest.raises(ValueError, match="metainfo 'dataset_name' of dataset #2 differs"):
        ConcatDataset([COCO, dict(AIC, pipeline=[])])
    mixed = ConcatDataset([COCO, dict(AIC, pipeline=[])], ignore_keys=[
        'dataset_name', 'num_keypoints', 'keypoint_id2name', 'keypoint_name2id',
        'upper_body_ids', 'lower_body_ids', 'flip_indices', 'flip_pairs',
        'keypoint_colors', 'num_skeleton_links', 'skeleton_links',
        'skeleton_link_colors', 'dataset_keypoint_weights', 'sigmas', 'CLASSES'])
    assert len(mixed) == 21 and mixed.metainfo['dataset_name'] == 'coco'
    with pytest.raises(TypeError, match='expected a dataset or a dataset config'):
        ConcatDataset([[1, 2]])
