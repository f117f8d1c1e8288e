"""PixelData and MultilevelPixelData: shapes, checks, spatial indexing."""
import copy
import pickle

import numpy as np
import pytest
import torch

from posekit.structures import MultilevelPixelData, PixelData


def test_shape_and_2d_expansion():
    pd = PixelData()
    assert pd.shape is None
    pd.heatmaps = torch.rand(17, 64, 48)
    pd.mask = np.ones((64, 48))
    assert pd.shape == (64, 48)
    assert pd.mask.shape == (1, 64, 48)
    pd.set_field(np.ones((64, 48)), 'weights')  # set_field checks too
    assert pd.weights.shape == (1, 64, 48)


def test_hw_mismatch_names_field_and_shapes():
    pd = PixelData(heatmaps=np.zeros((17, 64, 48)))
    with pytest.raises(ValueError) as err:
        pd.mask = np.zeros((1, 32, 48))
    msg = str(err.value)
    assert "'mask'" in msg and '(32, 48)' in msg and '(64, 48)' in msg
    assert "'heatmaps'" in msg


@pytest.mark.parametrize('value, error', [
    ([[1.0]], TypeError),
    (np.zeros(5), ValueError),
    (torch.zeros(1, 2, 3, 4), ValueError),
])
def test_bad_values(value, error):
    with pytest.raises(error, match="'x'"):
        PixelData(x=value)


def test_spatial_indexing():
    hm = np.arange(2 * 4 * 5).reshape(2, 4, 5)
    pd = PixelData(metainfo=dict(stride=4), hm=hm, t=torch.from_numpy(hm))
    crop = pd[1:3, 2:5]
    assert isinstance(crop, PixelData) and crop.shape == (2, 3)
    assert crop.hm.tolist() == hm[:, 1:3, 2:5].tolist()
    assert crop.t.tolist() == hm[:, 1:3, 2:5].tolist()
    assert crop.metainfo == dict(stride=4)
    point = pd[-1, 0]
    assert point.hm.shape == (2, 1, 1)
    assert point.hm[:, 0, 0].tolist() == [15, 35]
    with pytest.raises(IndexError):
        pd[4, 0]
    with pytest.raises(TypeError):
        pd[0]
    assert pd['hm'] is pd.hm


def test_conversions():
    pd = PixelData(hm=np.zeros((3, 4, 5), dtype=np.float32))
    t = pd.to_tensor()
    assert isinstance(t.hm, torch.Tensor) and t.shape == (4, 5)
    assert isinstance(t.numpy().hm, np.ndarray)


def test_multilevel():
    mpd = MultilevelPixelData(metainfo=dict(a=1))
    assert mpd.nlevel is None and mpd.shape is None and mpd.levels() == []
    mpd.heatmaps = [np.zeros((17, 64, 48)), np.zeros((17, 32, 24))]
    mpd.masks = [np.ones((64, 48)), np.ones((32, 24))]
    assert mpd.nlevel == 2
    assert mpd.shape == ((64, 48), (32, 24))
    assert isinstance(mpd[1], PixelData) and mpd[1].masks.shape == (1, 32, 24)
    assert [h.shape for h in mpd.heatmaps] == [(17, 64, 48), (17, 32, 24)]
    assert mpd['masks'][0].shape == (1, 64, 48)
    assert mpd.keys() == ['heatmaps', 'masks']
    with pytest.raises(ValueError, match='3 levels, expected 2'):
        mpd.x = [np.zeros((1, 2, 2))] * 3
    with pytest.raises(ValueError, match="'bad'"):
        mpd.bad = [np.zeros((1, 64, 48)), np.zeros((1, 8, 8))]
    assert 'bad' not in mpd and 'bad' not in mpd[0]
    with pytest.raises(IndexError):
        mpd[2]
    tensors = mpd.to_tensor()
    assert all(isinstance(h, torch.Tensor) for h in tensors.heatmaps)
    popped = mpd.pop('masks')
    assert len(popped) == 2 and 'masks' not in mpd[0]
    dup = copy.copy(mpd)
    dup.extra = [np.zeros((1, 64, 48)), np.zeros((1, 32, 24))]
    assert 'extra' not in mpd and 'extra' not in mpd[0]
    back = pickle.loads(pickle.dumps(mpd))
    assert back.shape == mpd.shape and back.a == 1
