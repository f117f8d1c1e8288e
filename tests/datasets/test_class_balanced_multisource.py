"""ClassBalancedDataset and MultiSourceSampler; expected values from MMEngine 0.10 / MMPose 1.3.2."""
from pathlib import Path

import pytest

from posekit.datasets import BaseDataset, ClassBalancedDataset, MultiSourceSampler
from posekit.registry import DATA_SAMPLERS, DATASETS

FIXTURES = Path(__file__).parents[1] / 'data' / 'fixtures'
# RTMPose's AIC -> COCO mapping (configs/body_2d_keypoint/rtmpose/coco/*aic-coco*)
AIC_COCO = [(0, 6), (1, 8), (2, 10), (3, 5), (4, 7), (5, 9), (6, 12), (7, 14),
            (8, 16), (9, 11), (10, 13), (11, 15)]


class ToyCats(BaseDataset):
    """8 samples; category 0 in 6 of them, 1 in 2, 2 in 1, sample 6 has none."""

    CATS = [[0], [0, 1], [0], [2], [0], [0, 1], [], [0]]

    def load_data_list(self):
        return [dict(i=i) for i in range(len(self.CATS))]

    def get_cat_ids(self, idx):
        return self.CATS[idx]


def test_class_balanced_repeat_factors_and_indices():
    ds = ClassBalancedDataset(ToyCats(ann_file='', serialize_data=False), oversample_thr=0.5)
    # f = {0: 6/8, 1: 2/8, 2: 1/8}; r(c) = max(1, sqrt(0.5 / f)) = 1, sqrt(2), 2
    assert ds.repeat_factors == pytest.approx([1, 2 ** 0.5, 1, 2, 1, 2 ** 0.5, 1, 1])
    assert ds.repeat_indices == [0, 1, 1, 2, 3, 3, 4, 5, 5, 6, 7]
    assert len(ds) == 11
    assert ds.get_data_info(2)['i'] == 1 and ds.get_data_info(-1)['i'] == 7
    assert ds.get_cat_ids(4) == [2]
    with pytest.raises(IndexError):
        ds.get_data_info(11)
    with pytest.raises(NotImplementedError, match='wrapped'):
        ds.get_subset_([0])


def test_class_balanced_needs_get_cat_ids():
    coco = dict(type='CocoDataset', data_root=str(FIXTURES), ann_file='coco/test_coco.json',
                data_prefix=dict(img='coco/'))
    with pytest.raises(TypeError, match='get_cat_ids'):
        DATASETS.build(dict(type='ClassBalancedDataset', dataset=coco, oversample_thr=0.1))


def combined(**kwargs):
    return DATASETS.build(dict(
        type='CombinedDataset', metainfo=dict(from_file='configs/_base_/datasets/coco.py'),
        datasets=[
            dict(type='CocoDataset', data_root=str(FIXTURES), ann_file='coco/test_coco.json',
                 data_prefix=dict(img='coco/'), pipeline=[]),
            dict(type='AicDataset', data_root=str(FIXTURES), ann_file='aic/test_aic.json',
                 data_prefix=dict(img='aic/'),
                 pipeline=[dict(type='KeypointConverter', num_keypoints=17, mapping=AIC_COCO)])],
        pipeline=[], **kwargs))


# (sampler args, num_per_source, first epoch, first 8 of the second epoch); lens [12, 9]
MULTI_SOURCE = [
    (dict(batch_size=4, source_ratio=[1, 1], seed=21), [2, 2],
     [9, 6, 12, 20, 8, 4, 18, 19, 3, 11, 17, 16, 2, 5, 13, 14, 1, 7, 15, 12, 0, 10, 15, 13],
     [9, 0, 18, 14, 4, 3, 17, 16]),
    (dict(batch_size=5, source_ratio=[2, 1], seed=3), [4, 1],
     [10, 9, 1, 6, 16, 4, 11, 3, 7, 13, 2, 0, 8, 5, 17, 3, 2, 11, 0, 18, 9, 1, 6, 7, 12],
     [8, 4, 5, 10, 14, 3, 11, 4]),
    (dict(batch_size=8, source_ratio=[1, 3], seed=0, shuffle=False), [2, 6],
     [0, 1, 12, 13, 14, 15, 16, 17, 2, 3, 18, 19, 20, 12, 13, 14, 4, 5, 15, 16, 17, 18, 19, 20],
     [6, 7, 12, 13, 14, 15, 16, 17]),
    (dict(batch_size=4, source_ratio=[1, 1], seed=21, round_up=False), [2, 2],
     [9, 6, 12, 20, 8, 4, 18, 19, 3, 11, 17, 16, 2, 5, 13, 14, 1, 7, 15, 12],
     [0, 10, 15, 13, 9, 0, 18, 14]),
]


@pytest.mark.parametrize('args,per_source,epoch0,epoch1', MULTI_SOURCE)
def test_multi_source_sampler_stream_matches_mmpose(args, per_source, epoch0, epoch1):
    sampler = DATA_SAMPLERS.build(dict(type='MultiSourceSampler', **args),
                                  default_args=dict(dataset=combined()))
    assert sampler.num_per_source == per_source and len(sampler) == 21
    assert list(sampler) == epoch0
    assert list(sampler)[:8] == epoch1  # the streams go on, they do not restart


def test_multi_source_sampler_with_resampled_lengths():
    sampler = MultiSourceSampler(combined(sample_ratio_factor=[0.5, 2.0]), batch_size=6,
                                 source_ratio=[1, 2], seed=7)
    # offsets come from the combined lengths [6, 18], the streams cover [12, 9]
    assert sampler.num_per_source == [2, 4] and len(sampler) == 24
    assert list(sampler) == [3, 4, 6, 11, 14, 7, 0, 5, 13, 8, 9, 12, 7, 9, 10, 10, 8, 11,
                             11, 6, 6, 13, 12, 14]


def test_multi_source_sampler_rejects_bad_arguments():
    ds = combined()
    with pytest.raises(TypeError, match='CombinedDataset'):
        MultiSourceSampler(list(range(5)), batch_size=4, source_ratio=[1])
    with pytest.raises(ValueError, match='batch_size'):
        MultiSourceSampler(ds, batch_size=0, source_ratio=[1, 1])
    with pytest.raises(ValueError, match='2 sub-datasets'):
        MultiSourceSampler(ds, batch_size=4, source_ratio=[1, 1, 1])
