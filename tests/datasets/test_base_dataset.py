"""BaseDataset: MMEngine's contract (paths, serialization, lazy init, indices, refetch)."""
import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from posekit.datasets import BaseDataset, CocoDataset
from posekit.datasets.transforms import Compose

FIXTURES = Path(__file__).parents[1] / 'data' / 'fixtures'
COCO = dict(data_root=str(FIXTURES), ann_file='coco/test_coco.json',
            data_prefix=dict(img='coco/'))


@pytest.fixture
def generic(tmp_path):
    """An annotation file in MMEngine's generic format."""
    ann = dict(metainfo=dict(classes=['a', 'b'], from_file_only=3),
               data_list=[dict(img='x.jpg', label=1), dict(img='sub/y.jpg', label=0),
                          dict(img='z.jpg', label=1)])
    (tmp_path / 'ann.json').write_text(json.dumps(ann))
    return tmp_path


def test_generic_format_joins_data_root_and_prefix(generic):
    ds = BaseDataset(ann_file='ann.json', data_root=str(generic),
                     data_prefix=dict(img='imgs'), metainfo=dict(classes=['c']))
    assert ds.ann_file == str(generic / 'ann.json')
    assert len(ds) == 3
    info = ds.get_data_info(1)
    assert info == dict(img=str(generic / 'imgs' / 'sub' / 'y.jpg'), label=0, sample_idx=1)
    # the metainfo argument wins over the file's; the file fills the rest
    assert ds.metainfo == dict(classes=['c'], from_file_only=3)
    assert ds.get_data_info(-1)['sample_idx'] == 2


def test_absolute_paths_are_not_joined(generic):
    ds = BaseDataset(ann_file=str(generic / 'ann.json'), data_root='/elsewhere',
                     data_prefix=dict(img='/abs/imgs'))
    assert ds.ann_file == str(generic / 'ann.json')
    assert ds.get_data_info(0)['img'] == '/abs/imgs/x.jpg'


def test_missing_ann_file_names_the_full_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / 'nope' / 'ann.json')):
        BaseDataset(ann_file='nope/ann.json', data_root=str(tmp_path))
    with pytest.raises(FileNotFoundError, match='coco/missing.json'):
        CocoDataset(data_root=str(FIXTURES), ann_file='coco/missing.json')


def test_malformed_files_name_the_file(tmp_path):
    (tmp_path / 'bad.json').write_text('{"data_list": [')
    with pytest.raises(ValueError, match='bad.json'):
        BaseDataset(ann_file=str(tmp_path / 'bad.json'))
    (tmp_path / 'nokeys.json').write_text('{"data_list": []}')
    with pytest.raises(ValueError, match='nokeys.json.*metainfo'):
        BaseDataset(ann_file=str(tmp_path / 'nokeys.json'))
    (tmp_path / 'noprefix.json').write_text('{"metainfo": {}, "data_list": [{"label": 1}]}')
    with pytest.raises(ValueError, match="noprefix.json has no 'img' key"):
        BaseDataset(ann_file=str(tmp_path / 'noprefix.json'))


def _all_infos(ds):
    return [ds.get_data_info(i) for i in range(len(ds))]


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], np.ndarray):
            assert a[key].dtype == b[key].dtype
            np.testing.assert_array_equal(a[key], b[key])
        else:
            assert a[key] == b[key], key


def test_serialize_on_and_off_give_equal_items():
    packed = CocoDataset(**COCO, serialize_data=True)
    plain = CocoDataset(**COCO, serialize_data=False)
    assert packed.data_list == [] and len(plain.data_list) == 12
    assert packed.data_bytes.dtype == np.uint8 and packed.data_address.dtype == np.int64
    assert packed.data_address.shape == (12,)
    assert packed.data_address[-1] == packed.data_bytes.size
    for a, b in zip(_all_infos(packed), _all_infos(plain), strict=True):
        _assert_same(a, b)


@pytest.mark.parametrize('serialize', [True, False])
def test_get_data_info_is_a_fresh_copy(serialize):
    ds = CocoDataset(**COCO, serialize_data=serialize)
    info = ds.get_data_info(0)
    info['keypoints'][:] = -1
    info['flip_indices'].append(99)
    info['new'] = 1
    again = ds.get_data_info(0)
    np.testing.assert_array_equal(again['keypoints'][0, 0], [367, 81])
    assert again['flip_indices'][-1] == 15 and 'new' not in again


def test_metainfo_is_a_deep_copy():
    ds = CocoDataset(**COCO)
    meta = ds.metainfo
    meta['flip_indices'][0] = 5
    meta['sigmas'][:] = 0
    assert ds.metainfo['flip_indices'][0] == 0
    assert ds.metainfo['sigmas'][0] == pytest.approx(0.026)


@pytest.mark.parametrize('indices, ids', [
    (2, [442619, 198196]),
    (-1, [543117]),
    ([3, 0, 7], [460541, 442619, 437295]),
    ([], []),
])
def test_indices(indices, ids):
    ds = CocoDataset(**COCO, indices=indices)
    assert [info['id'] for info in _all_infos(ds)] == ids


def test_lazy_init_loads_on_first_use():
    ds = CocoDataset(**COCO, lazy_init=True)
    assert not ds._fully_initialized and ds.data_address.size == 0
    assert ds.metainfo['num_keypoints'] == 17  # metainfo needs no annotations
    assert len(ds) == 12 and ds._fully_initialized
    ds = CocoDataset(**COCO, lazy_init=True)
    assert ds[3]['id'] == 460541
    ds = CocoDataset(**COCO, lazy_init=True)
    ds.full_init()
    assert ds.get_data_info(11)['id'] == 543117


def test_index_out_of_range():
    ds = CocoDataset(**COCO)
    with pytest.raises(IndexError, match='index 12 is out of range.*12 samples'):
        ds.get_data_info(12)
    assert ds.get_data_info(-12)['sample_idx'] == 0


class FailFirst:
    """A pipeline step returning None for the first ``n`` calls."""

    def __init__(self, n):
        self.n, self.calls = n, 0

    def __call__(self, results):
        self.calls += 1
        return None if self.calls <= self.n else results


def test_training_refetches_another_index_when_pipeline_returns_none():
    step = FailFirst(3)
    ds = CocoDataset(**COCO, pipeline=[step])
    np.random.seed(0)
    out = ds[0]
    assert step.calls == 4 and out['id'] in {info['id'] for info in _all_infos(ds)}
    assert out['dataset'] is ds  # set by prepare_data for mixing transforms


def test_refetch_gives_up_after_max_refetch():
    step = FailFirst(10 ** 9)
    ds = CocoDataset(**COCO, pipeline=[step], max_refetch=5)
    with pytest.raises(RuntimeError,
                       match=r'CocoDataset.*sample 2 and for 5 random.*max_refetch=5'):
        ds[2]
    assert step.calls == 6


def test_test_mode_raises_at_once_naming_the_index():
    step = FailFirst(1)
    ds = CocoDataset(**COCO, pipeline=[step], test_mode=True)
    with pytest.raises(RuntimeError, match='CocoDataset.*sample 4 in test mode'):
        ds[4]
    assert step.calls == 1


def test_pipeline_from_config_dicts_and_callables():
    ds = CocoDataset(**COCO, pipeline=[
        dict(type='KeypointConverter', num_keypoints=2, mapping=[(1, 0), (2, 1)]),
        lambda r: dict(r, tag='done')])
    out = ds[0]
    np.testing.assert_array_equal(out['keypoints'], [[[374, 73], [360, 75]]])
    assert out['tag'] == 'done'
    with pytest.raises(TypeError, match='transform #0'):
        Compose([3])


def test_get_subset_keeps_metainfo_and_chosen_items():
    for serialize in (True, False):
        ds = CocoDataset(**COCO, serialize_data=serialize)
        sub = ds.get_subset([2, 0])
        assert len(sub) == 2 and len(ds) == 12
        assert [sub.get_data_info(i)['id'] for i in range(2)] == [230195, 442619]
        ds.get_subset_(-2)
        assert [info['id'] for info in _all_infos(ds)] == [533949, 543117]


def test_dataset_pickles_for_worker_processes():
    ds = CocoDataset(**COCO, pipeline=[dict(type='KeypointConverter', num_keypoints=1,
                                            mapping=[(0, 0)])])
    clone = pickle.loads(pickle.dumps(ds))
    np.testing.assert_array_equal(clone[5]['keypoints'], ds[5]['keypoints'])


def test_dataloader_workers_read_the_serialized_buffer():
    from torch.utils.data import DataLoader
    ds = CocoDataset(**COCO)
    loader = DataLoader(ds, batch_size=5, num_workers=2, collate_fn=list)
    ids = [item['id'] for batch in loader for item in batch]
    assert ids == [ds.get_data_info(i)['id'] for i in range(12)]
