"""BaseDataElement: metainfo vs data fields, dict-like API, conversions."""
import copy
import pickle

import numpy as np
import pytest
import torch

from posekit.structures import BaseDataElement, InstanceData


def make_element():
    return BaseDataElement(
        metainfo=dict(img_id=3, img_shape=(600, 900)),
        bboxes=torch.tensor([[1., 2., 3., 4.]]),
        scores=np.array([0.5]))


def test_fields_are_split_into_metainfo_and_data():
    elem = make_element()
    assert elem.metainfo_keys() == ['img_id', 'img_shape']
    assert elem.keys() == ['bboxes', 'scores']
    assert elem.all_keys() == ['img_id', 'img_shape', 'bboxes', 'scores']
    assert elem.metainfo == dict(img_id=3, img_shape=(600, 900))
    assert elem.img_shape == (600, 900)  # metainfo readable as attribute
    assert elem.metainfo_values() == [3, (600, 900)]
    assert dict(elem.metainfo_items())['img_id'] == 3
    assert [k for k, _ in elem.items()] == ['bboxes', 'scores']
    assert [k for k, _ in elem.all_items()] == elem.all_keys()
    assert len(elem.values()) == 2 and len(elem.all_values()) == 4
    assert 'img_id' in elem and 'bboxes' in elem and 'nope' not in elem


def test_set_get_pop_delete():
    elem = make_element()
    elem.labels = [7]
    elem.set_field(np.zeros(1), 'weights')
    elem.set_field('a.jpg', 'img_path', field_type='metainfo')
    elem.set_data(dict(extra=1))
    assert elem.labels == [7] and elem.img_path == 'a.jpg'
    assert 'img_path' in elem.metainfo_keys() and 'extra' in elem.keys()
    assert elem.get('labels') == [7]
    assert elem.get('missing', 'd') == 'd'
    assert elem.get('keys') is None  # methods are not fields
    assert elem.pop('labels') == [7] and 'labels' not in elem
    assert elem.pop('img_path') == 'a.jpg' and 'img_path' not in elem
    assert elem.pop('missing', None) is None
    with pytest.raises(KeyError, match='missing'):
        elem.pop('missing')
    del elem.scores
    del elem.img_id
    assert 'scores' not in elem and 'img_id' not in elem
    with pytest.raises(AttributeError, match='no field'):
        del elem.scores
    with pytest.raises(AttributeError):
        elem.scores


def test_set_metainfo_replaces_values():
    elem = make_element()
    elem.set_metainfo(dict(img_shape=(10, 20)))
    assert elem.img_shape == (10, 20)
    with pytest.raises(TypeError, match='dict'):
        elem.set_metainfo([('a', 1)])


def test_metainfo_and_data_names_cannot_collide():
    elem = make_element()
    with pytest.raises(AttributeError, match="'img_shape'.*metainfo"):
        elem.img_shape = (1, 1)
    with pytest.raises(AttributeError, match="'bboxes'.*data field"):
        elem.set_metainfo(dict(bboxes=1))


@pytest.mark.parametrize('name', ['_private', '_data_fields', 'keys', 'to',
                                  'metainfo', 'set_field'])
def test_private_and_reserved_names_are_rejected(name):
    elem = BaseDataElement()
    with pytest.raises(AttributeError, match='private|reserved|internal'):
        setattr(elem, name, 1)
    with pytest.raises(AttributeError, match='private|reserved'):
        elem.set_field(1, name, field_type='metainfo')


def test_set_field_dtype_and_field_type_checks():
    elem = BaseDataElement()
    with pytest.raises(TypeError, match='x must be ndarray'):
        elem.set_field([1], 'x', dtype=np.ndarray)
    with pytest.raises(ValueError, match='field_type'):
        elem.set_field(1, 'x', field_type='meta')


def test_update_new_and_clone():
    elem = make_element()
    other = BaseDataElement(metainfo=dict(flip=True), labels=[1])
    elem.update(other)
    assert elem.flip is True and elem.labels == [1]

    shared = elem.new()
    assert shared.bboxes is elem.bboxes and shared.metainfo == elem.metainfo
    replaced = elem.new(metainfo=dict(a=1), x=np.ones(2))
    assert replaced.metainfo == dict(a=1) and replaced.keys() == ['x']
    assert type(replaced) is BaseDataElement

    clone = elem.clone()
    assert clone.bboxes is not elem.bboxes
    assert torch.equal(clone.bboxes, elem.bboxes)
    clone.bboxes[0, 0] = 100.
    clone.scores[0] = -1.
    clone.labels.append(2)
    assert elem.bboxes[0, 0] == 1. and elem.scores[0] == 0.5
    assert elem.labels == [1]


def test_tensor_conversions():
    nested = InstanceData(kpts=np.ones((2, 3), dtype=np.float32))
    elem = BaseDataElement(
        metainfo=dict(img_id=1),
        t=torch.ones(2, requires_grad=True) * 2,
        a=np.arange(3),
        inner=nested,
        label='person')

    tensors = elem.to_tensor()
    assert isinstance(tensors.a, torch.Tensor)
    assert tensors.a.tolist() == [0, 1, 2]
    assert isinstance(tensors.inner.kpts, torch.Tensor)
    assert tensors.label == 'person' and tensors.img_id == 1

    arrays = elem.numpy()
    assert isinstance(arrays.t, np.ndarray) and arrays.t.tolist() == [2., 2.]
    assert arrays.a is elem.a

    detached = elem.detach()
    assert elem.t.requires_grad and not detached.t.requires_grad

    half = elem.to(torch.float16)
    assert half.t.dtype == torch.float16
    assert half.a is elem.a  # numpy arrays have no .to
    assert elem.cpu().t.device.type == 'cpu'
    assert elem.to('cpu').inner.kpts is nested.kpts
    if torch.cuda.is_available():
        assert elem.cuda().t.is_cuda


def test_to_dict_is_nested():
    inner = InstanceData(metainfo=dict(m=1), x=[1, 2])
    elem = BaseDataElement(metainfo=dict(img_id=1), inner=inner, y=3)
    assert elem.to_dict() == dict(img_id=1, inner=dict(m=1, x=[1, 2]), y=3)


def test_repr_lists_fields_and_summarises_big_arrays():
    elem = BaseDataElement(metainfo=dict(img_id=1), small=np.zeros(2),
                           big=torch.zeros(5, 17, 2))
    text = repr(elem)
    assert text.startswith('<BaseDataElement(')
    assert 'META INFORMATION' in text and 'img_id: 1' in text
    assert 'small: array([0., 0.])' in text
    assert 'big: Tensor(shape=(5, 17, 2), dtype=torch.float32' in text


def test_shallow_copy_has_its_own_fields():
    elem = make_element()
    dup = copy.copy(elem)
    dup.extra = 1
    dup.set_metainfo(dict(flip=True))
    assert 'extra' not in elem and 'flip' not in elem
    assert dup.bboxes is elem.bboxes


def test_pickle_round_trip():
    elem = make_element()
    back = pickle.loads(pickle.dumps(elem))
    assert back.all_keys() == elem.all_keys()
    assert torch.equal(back.bboxes, elem.bboxes)
