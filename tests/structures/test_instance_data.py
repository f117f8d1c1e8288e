"""InstanceData: length checks, every kind of index, cat."""
import numpy as np
import pytest
import torch

from posekit.structures import InstanceData


def make_instances():
    # 4 instances; row i of every field encodes i, so selections are readable
    return InstanceData(
        metainfo=dict(img_id=7),
        bboxes=np.arange(16, dtype=np.float32).reshape(4, 4),
        scores=torch.tensor([0., 1., 2., 3.]),
        names=['a', 'b', 'c', 'd'],
        ids=(10, 11, 12, 13))


def rows(inst):
    """The per-field selections, as plain lists."""
    return (inst.bboxes[:, 0].tolist(), inst.scores.tolist(), inst.names,
            inst.ids)


def test_len():
    assert len(InstanceData()) == 0
    assert len(make_instances()) == 4
    assert len(InstanceData(x=np.zeros((0, 4)))) == 0


def test_length_mismatch_names_field_and_lengths():
    inst = make_instances()
    with pytest.raises(ValueError) as err:
        inst.keypoints = np.zeros((3, 17, 2))
    msg = str(err.value)
    assert "'keypoints'" in msg and 'length 3' in msg and 'expected 4' in msg
    with pytest.raises(ValueError, match="'labels' has length 2"):
        inst.set_field([1, 2], 'labels')
    with pytest.raises(ValueError, match='expected 4'):
        inst['labels'] = torch.zeros(5)
    with pytest.raises(TypeError, match="'count' must have a length"):
        inst.count = 3
    # metainfo is not per instance
    inst.set_metainfo(dict(img_shape=(10, 20)))
    # replacing the only field may change the length
    single = InstanceData(x=np.zeros(3))
    single.x = np.zeros(5)
    assert len(single) == 5


def test_int_index_keeps_axis():
    inst = make_instances()
    one = inst[1]
    assert len(one) == 1 and one.bboxes.shape == (1, 4)
    assert rows(one) == ([4.], [1.], ['b'], (11, ))
    assert one.metainfo == dict(img_id=7)
    assert rows(inst[-1]) == ([12.], [3.], ['d'], (13, ))
    assert rows(inst[np.int64(2)]) == ([8.], [2.], ['c'], (12, ))
    for bad in (4, -5):
        with pytest.raises(IndexError, match='out of range'):
            inst[bad]
    with pytest.raises(IndexError):
        InstanceData()[0]


def test_slice():
    inst = make_instances()
    assert rows(inst[1:3]) == ([4., 8.], [1., 2.], ['b', 'c'], (11, 12))
    assert rows(inst[::-2]) == ([12., 4.], [3., 1.], ['d', 'b'], (13, 11))
    assert len(inst[4:]) == 0


@pytest.mark.parametrize('mask', [
    np.array([True, False, True, False]),
    torch.tensor([True, False, True, False]),
    [True, False, True, False],
])
def test_bool_mask_numpy_torch_list(mask):
    picked = make_instances()[mask]
    assert rows(picked) == ([0., 8.], [0., 2.], ['a', 'c'], (10, 12))
    assert isinstance(picked.bboxes, np.ndarray)
    assert isinstance(picked.scores, torch.Tensor)


def test_bool_mask_length_must_match():
    with pytest.raises(IndexError, match='length 3 does not match.*4'):
        make_instances()[np.array([True, False, True])]
    with pytest.raises(IndexError, match='length 5'):
        make_instances()[torch.ones(5, dtype=torch.bool)]


@pytest.mark.parametrize('index', [
    np.array([3, 0]),
    np.array([3, 0], dtype=np.int32),
    torch.tensor([3, 0]),
    torch.tensor([3, 0], dtype=torch.int32),
    [3, 0],
    np.array([-1, 0]),
])
def test_integer_index_arrays(index):
    picked = make_instances()[index]
    assert rows(picked) == ([12., 0.], [3., 0.], ['d', 'a'], (13, 10))


def test_empty_and_repeated_indices():
    inst = make_instances()
    assert len(inst[[]]) == 0 and inst[[]].names == []
    assert rows(inst[[1, 1]])[2] == ['b', 'b']
    with pytest.raises(IndexError, match='bool or integer'):
        inst[np.array([0.5])]
    with pytest.raises(IndexError, match='1-D'):
        inst[np.zeros((2, 2), dtype=int)]


def test_cross_type_indexing():
    inst = InstanceData(a=np.array([10, 20, 30]), t=torch.tensor([1, 2, 3]))
    by_torch = inst[torch.tensor([2, 0])]
    assert isinstance(by_torch.a, np.ndarray)
    assert by_torch.a.tolist() == [30, 10]
    by_numpy = inst[np.array([False, True, True])]
    assert isinstance(by_numpy.t, torch.Tensor)
    assert by_numpy.t.tolist() == [2, 3]


def test_str_index_reads_field():
    inst = make_instances()
    assert inst['names'] is inst.names


def test_field_access_does_not_copy():
    arr = np.zeros((2, 4))
    inst = InstanceData(bboxes=arr)
    assert inst.bboxes is arr and inst.get('bboxes') is arr


def test_cat():
    a, b = make_instances()[:1], make_instances()[2:]
    joined = InstanceData.cat([a, b])
    assert rows(joined) == ([0., 8., 12.], [0., 2., 3.], ['a', 'c', 'd'],
                            (10, 12, 13))
    assert joined.metainfo == dict(img_id=7)
    assert isinstance(joined.ids, tuple)
    assert InstanceData.cat([a]).bboxes.tolist() == a.bboxes.tolist()


def test_cat_errors():
    a = InstanceData(x=np.zeros(2))
    with pytest.raises(ValueError, match='same data fields'):
        InstanceData.cat([a, InstanceData(y=np.zeros(2))])
    with pytest.raises(ValueError, match='at least one'):
        InstanceData.cat([])
    with pytest.raises(TypeError, match='mixed types'):
        InstanceData.cat([a, InstanceData(x=torch.zeros(2))])


def test_conversions_keep_lengths_and_lists():
    inst = make_instances()
    tensors = inst.to_tensor()
    assert isinstance(tensors.bboxes, torch.Tensor)
    assert tensors.names == ['a', 'b', 'c', 'd']
    arrays = inst.numpy()
    assert isinstance(arrays.scores, np.ndarray)
    assert arrays.scores.tolist() == [0., 1., 2., 3.]
    assert len(inst.to(torch.float64)) == 4
    assert inst.to(torch.float64).scores.dtype == torch.float64
