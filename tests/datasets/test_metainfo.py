"""Dataset meta files and ``parse_pose_metainfo``.

Expected values were read off MMPose 1.3.2's ``parse_pose_metainfo`` for the
same datasets; checkpoints trained there rely on this keypoint order.
"""
import textwrap
from pathlib import Path

import numpy as np
import pytest

from posekit.config import Config, shipped_configs_dir
from posekit.datasets.metainfo import (load_metainfo_file, parse_pose_metainfo,
                                       resolve_metainfo_path)

META_DIR = shipped_configs_dir() / '_base_' / 'datasets'
META_FILES = sorted(p.name for p in META_DIR.glob('*.py'))
PARSED_KEYS = ['dataset_name', 'num_keypoints', 'keypoint_id2name',
               'keypoint_name2id', 'upper_body_ids', 'lower_body_ids',
               'flip_indices', 'flip_pairs', 'keypoint_colors',
               'num_skeleton_links', 'skeleton_links', 'skeleton_link_colors',
               'dataset_keypoint_weights', 'sigmas']


def parse(name):
    return parse_pose_metainfo(dict(from_file=f'configs/_base_/datasets/{name}'))


def test_the_datasets_configs_name_are_shipped():
    needed = {'coco', 'coco_wholebody', 'coco_wholebody_face', 'coco_wholebody_hand',
              'mpii', 'mpii_trb', 'crowdpose', 'aic', 'ochuman', 'halpe', 'halpe26',
              'jhmdb', 'posetrack18', 'h36m', 'mhp', 'humanart', 'humanart_aic',
              'humanart21', 'wflw', '300w', '300wlp', 'cofw', 'aflw', 'lapa',
              'onehand10k', 'freihand2d', 'rhd2d', 'panoptic_hand2d', 'interhand2d',
              'interhand3d', 'ap10k', 'animalpose', 'horse10', 'macaque', 'locust',
              'fly', 'zebra', 'atrw', 'ak', 'deepfashion_upper', 'deepfashion_lower',
              'deepfashion_full', 'deepfashion2', 'ubody2d', 'ubody3d', 'exlpose'}
    assert needed <= {name[:-3] for name in META_FILES}
    assert len(META_FILES) == 56  # + halpehand (not in MMPose 1.3.2)


@pytest.mark.parametrize('name', META_FILES)
def test_every_meta_file_parses_consistently(name):
    meta = parse(name)
    num = meta['num_keypoints']
    assert list(meta)[:len(PARSED_KEYS)] == PARSED_KEYS
    assert num > 0 and len(meta['keypoint_id2name']) == num
    assert list(meta['keypoint_id2name']) == list(range(num))
    assert {v: k for k, v in meta['keypoint_id2name'].items()} == meta['keypoint_name2id']
    flip = meta['flip_indices']
    assert len(flip) == num
    assert all(flip[flip[i]] == i for i in range(num))
    assert sorted(meta['flip_pairs']) == sorted((flip[i], i) for i in range(num) if flip[i] != i)
    assert not set(meta['upper_body_ids']) & set(meta['lower_body_ids'])
    assert meta['keypoint_colors'].dtype == np.uint8
    assert meta['keypoint_colors'].shape == (num, 3)
    assert meta['num_skeleton_links'] == len(meta['skeleton_links'])
    assert meta['skeleton_link_colors'].shape == (meta['num_skeleton_links'], 3)
    assert meta['skeleton_link_colors'].dtype == np.uint8
    for a, b in meta['skeleton_links']:
        assert 0 <= a < num and 0 <= b < num
    for key in ('dataset_keypoint_weights', 'sigmas'):
        assert meta[key].dtype == np.float32
        assert meta[key].shape in ((num,), (0,)), key
    assert meta['dataset_keypoint_weights'].shape == (num,)


def test_coco_values():
    meta = parse('coco.py')
    assert meta['dataset_name'] == 'coco'
    assert meta['num_keypoints'] == 17
    assert meta['num_skeleton_links'] == 19
    assert meta['flip_indices'] == [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13,
                                    16, 15]
    assert meta['flip_pairs'][:4] == [(2, 1), (1, 2), (4, 3), (3, 4)]
    assert meta['upper_body_ids'] == list(range(11))
    assert meta['lower_body_ids'] == list(range(11, 17))
    assert meta['keypoint_id2name'][0] == 'nose'
    assert meta['keypoint_name2id']['right_ankle'] == 16
    assert meta['skeleton_links'][:4] == [(15, 13), (13, 11), (16, 14), (14, 12)]
    assert meta['keypoint_colors'][:2].tolist() == [[51, 153, 255], [51, 153, 255]]
    assert meta['skeleton_link_colors'][0].tolist() == [0, 255, 0]
    assert meta['sigmas'][0] == np.float32(0.026)
    np.testing.assert_allclose(
        meta['sigmas'], [0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072,
                         0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089])
    np.testing.assert_allclose(
        meta['dataset_keypoint_weights'],
        [1, 1, 1, 1, 1, 1, 1, 1.2, 1.2, 1.5, 1.5, 1, 1, 1.2, 1.2, 1.5, 1.5])


def test_mpii_values():
    meta = parse('mpii.py')
    assert meta['num_keypoints'] == 16
    assert meta['flip_indices'] == [5, 4, 3, 2, 1, 0, 6, 7, 8, 9, 15, 14, 13, 12, 11, 10]
    assert meta['upper_body_ids'] == [7, 8, 9, 10, 11, 12, 13, 14, 15]
    assert meta['lower_body_ids'] == [0, 1, 2, 3, 4, 5, 6]
    assert list(meta['keypoint_name2id'])[:3] == ['right_ankle', 'right_knee', 'right_hip']
    np.testing.assert_allclose(
        meta['dataset_keypoint_weights'],
        [1.5, 1.2, 1, 1, 1.2, 1.5, 1, 1, 1, 1, 1.5, 1.2, 1, 1, 1.2, 1.5])
    assert meta['sigmas'][0] == np.float32(0.089)


def test_coco_wholebody_values():
    meta = parse('coco_wholebody.py')
    assert meta['num_keypoints'] == 133
    assert meta['num_skeleton_links'] == 65
    assert meta['flip_indices'][:23] == [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14,
                                         13, 16, 15, 20, 21, 22, 17, 18, 19]
    # the two hands (91..111 left, 112..132 right) swap point for point
    assert meta['flip_indices'][91:112] == list(range(112, 133))
    assert meta['lower_body_ids'] == list(range(11, 23))


def test_face_hand_animal_and_3d_values():
    face = parse('300w.py')
    assert face['num_keypoints'] == 68 and face['num_skeleton_links'] == 0
    assert face['flip_indices'][:17] == list(range(16, -1, -1))
    assert face['flip_indices'][36:48] == [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40]
    assert face['sigmas'].shape == (0,)
    assert face['skeleton_link_colors'].shape == (0, 3)

    hand = parse('onehand10k.py')
    assert hand['num_keypoints'] == 21
    assert hand['flip_indices'] == list(range(21)) and hand['flip_pairs'] == []
    assert hand['skeleton_links'][:4] == [(0, 1), (1, 2), (2, 3), (3, 4)]

    animal = parse('ap10k.py')
    assert animal['flip_indices'] == [1, 0, 2, 3, 4, 8, 9, 10, 5, 6, 7, 14, 15, 16, 11,
                                      12, 13]
    assert animal['lower_body_ids'] == [4, 10, 11, 12, 13, 14, 15, 16]
    assert animal['keypoint_id2name'][4] == 'Root of tail'

    h36m = parse('h36m.py')
    assert h36m['flip_indices'] == [0, 4, 5, 6, 1, 2, 3, 7, 8, 9, 10, 14, 15, 16, 11,
                                    12, 13]
    assert h36m['stats_info']['bbox_center'].tolist() == [528.0, 427.0]
    assert h36m['stats_info']['bbox_scale'].dtype == np.float32

    aic = parse('aic.py')
    assert aic['flip_indices'] == [3, 4, 5, 0, 1, 2, 9, 10, 11, 6, 7, 8, 12, 13]


def test_deviations_from_mmpose_files():
    # MMPose's coco_aic.py has 18 weights for 19 keypoints; ours has 19.
    assert parse('coco_aic.py')['dataset_keypoint_weights'].shape == (19,)
    # MMPose's deepfashion2.py gives vest_kpt13 no partner; ours pairs it with kpt9.
    df2 = parse('deepfashion2.py')
    names = df2['keypoint_name2id']
    assert df2['flip_indices'][names['vest_kpt13']] == names['vest_kpt9']


def test_results_are_fresh_copies():
    first = parse('coco.py')
    first['flip_indices'][0] = 99
    first['sigmas'][:] = 0
    first['keypoint_name2id'].clear()
    second = parse('coco.py')
    assert second['flip_indices'][0] == 0
    assert second['sigmas'][0] == np.float32(0.026)
    assert second['keypoint_name2id']['nose'] == 0


def test_inline_dataset_info_equals_file():
    namespace = {}
    exec((META_DIR / 'mpii.py').read_text(), namespace)
    inline = parse_pose_metainfo(namespace['dataset_info'])
    wrapped = parse_pose_metainfo({'dataset_info': namespace['dataset_info']})
    as_config = parse_pose_metainfo(Config.fromfile(META_DIR / 'mpii.py')['dataset_info'])
    from_file = parse('mpii.py')
    for meta in (inline, wrapped, as_config):
        assert meta['flip_indices'] == from_file['flip_indices']
        assert meta['skeleton_links'] == from_file['skeleton_links']
        np.testing.assert_array_equal(meta['sigmas'], from_file['sigmas'])


def test_from_file_found_from_another_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_metainfo_path('configs/_base_/datasets/coco.py') == (
        META_DIR / 'coco.py').resolve()
    assert parse('coco.py')['num_keypoints'] == 17
    for ref in ('mmpose::_base_/datasets/mpii.py', '../other/_base_/datasets/mpii.py'):
        assert parse_pose_metainfo(dict(from_file=ref))['num_keypoints'] == 16


def write_meta(path, keypoints, links='', weights=None, sigmas=None):
    num = keypoints.count('dict(')
    weights = [1.0] * num if weights is None else weights
    sigmas = [0.05] * num if sigmas is None else sigmas
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(f"""\
        dataset_info = dict(
            dataset_name='tiny',
            keypoint_info={{{keypoints}}},
            skeleton_info={{{links}}},
            joint_weights={weights!r},
            sigmas={sigmas!r},
        )
        """))
    return path


GOOD = ("0: dict(name='a', id=0, color=[0, 0, 255], type='upper', swap=''), "
        "1: dict(name='l', id=1, color=[0, 255, 0], type='lower', swap='r'), "
        "2: dict(name='r', id=2, color=[255, 0, 0], type='lower', swap='l')")


def test_local_file_in_working_directory_wins(tmp_path, monkeypatch):
    write_meta(tmp_path / 'configs/_base_/datasets/coco.py', GOOD)
    monkeypatch.chdir(tmp_path)
    meta = parse('coco.py')
    assert meta['dataset_name'] == 'tiny'
    assert meta['flip_indices'] == [0, 2, 1]
    assert meta['flip_pairs'] == [(2, 1), (1, 2)]


def test_edited_file_is_read_again(tmp_path):
    path = write_meta(tmp_path / 'meta.py', GOOD)
    assert load_metainfo_file(path)['num_keypoints'] == 3
    write_meta(path, GOOD + ", 3: dict(name='tail', id=3, color=[1, 2, 3], swap='')")
    assert load_metainfo_file(path)['num_keypoints'] == 4


def test_missing_file_names_every_place_looked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError) as err:
        parse('no_such_dataset.py')
    message = str(err.value)
    assert 'configs/_base_/datasets/no_such_dataset.py' in message
    assert str(tmp_path) in message
    assert str(META_DIR / 'no_such_dataset.py') in message


BAD_CASES = {
    'missing_partner': (GOOD.replace("swap='r'", "swap='rr'"), {}, ["'rr'", "'l'"]),
    'duplicate_name': (GOOD.replace("name='r', id=2", "name='a', id=2"), {},
                       ["'a'", 'keypoint_info[2]']),
    'ids_not_0_to_k': (GOOD.replace('2: dict', '5: dict').replace('id=2', 'id=5'), {},
                       ['0..K-1']),
    'sigmas_length': (GOOD, dict(sigmas=[0.1, 0.1]), ['sigmas', '2 values', '3 keypoints']),
    'weights_length': (GOOD, dict(weights=[1.0] * 4), ['joint_weights', '4 values']),
    'unknown_link': (GOOD, dict(links="0: dict(link=('a', 'knee'), id=0, color=[1, 2, 3])"),
                     ['skeleton_info[0]', "'knee'"]),
    'bad_type': (GOOD.replace("type='upper'", "type='Upper'"), {}, ["'Upper'"]),
}


# slips in MMPose 1.3.2's own meta files that its loader lets through
QUIRK_CASES = {
    # coco_wholebody_face.py: keypoint_info[51] has id=52
    'id_not_key': (GOOD.replace("name='r', id=2", "name='r', id=3"), {},
                   ["keypoint_info[2] ('r') has id=3"]),
    # deepfashion2.py: vest_kpt9 swaps with vest_kpt13, which swaps with nothing
    'one_way_swap': (GOOD.replace("type='lower', swap='l'", "type='lower', swap=''"), {},
                     ["keypoint_info[1] ('l') swaps with 'r', which swaps with no keypoint"]),
    # coco_aic.py: 18 joint weights for 19 keypoints
    'short_weights': (GOOD, dict(weights=[2.0, 3.0]),
                      ['joint_weights has 2 values for 3 keypoints']),
}


@pytest.mark.parametrize('case', sorted(QUIRK_CASES))
def test_mmpose_meta_file_slips_load_with_one_warning(tmp_path, case):
    keypoints, extra, expected = QUIRK_CASES[case]
    path = write_meta(tmp_path / f'{case}.py', keypoints, **extra)
    with pytest.warns(UserWarning) as record:
        meta = parse_pose_metainfo(dict(from_file=str(path)))
    assert len(record) == 1
    message = str(record[0].message)
    assert message.startswith(str(path))
    for piece in expected:
        assert piece in message, (piece, message)
    # what MMPose's parse_pose_metainfo gives: ids are the keys, a one-way
    # swap stays one-way; the missing joint weight is our fix, 1.0
    assert meta['keypoint_id2name'] == {0: 'a', 1: 'l', 2: 'r'}
    assert meta['flip_indices'] == ([0, 2, 2] if case == 'one_way_swap' else [0, 2, 1])
    assert meta['flip_pairs'] == ([(2, 1)] if case == 'one_way_swap' else [(2, 1), (1, 2)])
    weights = [2.0, 3.0, 1.0] if case == 'short_weights' else [1.0] * 3
    np.testing.assert_array_equal(meta['dataset_keypoint_weights'], weights)


@pytest.mark.parametrize('case', sorted(BAD_CASES))
def test_bad_meta_file_error_names_file_and_entry(tmp_path, case):
    keypoints, extra, expected = BAD_CASES[case]
    path = write_meta(tmp_path / f'{case}.py', keypoints, **extra)
    with pytest.raises(ValueError) as err:
        parse_pose_metainfo(dict(from_file=str(path)))
    message = str(err.value)
    assert str(path) in message
    for piece in expected:
        assert piece in message, (piece, message)


def test_missing_required_keys():
    with pytest.raises(ValueError, match=r"<inline metainfo>.*'sigmas'"):
        parse_pose_metainfo(dict(dataset_name='x', keypoint_info={}, skeleton_info={},
                                 joint_weights=[]))


def test_file_without_dataset_info(tmp_path):
    path = tmp_path / 'empty.py'
    path.write_text('x = 1\n')
    with pytest.raises(ValueError, match='dataset_info'):
        load_metainfo_file(Path(path))
