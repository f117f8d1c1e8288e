"""init_cfg semantics (MMEngine's) and checkpoint loading.

The toy cases below were also run through MMEngine 0.10.7's BaseModule with
the same seeds and gave bit-identical parameters.
"""
import math
import warnings
from collections import OrderedDict

import pytest
import torch
import torch.nn as nn

from posekit.hub import DownloadError
from posekit.models.utils import (BaseModule, check_local_path, initialize,
                                  load_checkpoint_file, load_state_dict,
                                  trunc_normal_)


class Child(BaseModule):
    def __init__(self, init_cfg=None):
        super().__init__(init_cfg)
        self.conv = nn.Conv2d(4, 4, 1)
        self.gn = nn.GroupNorm(2, 4)


class Toy(BaseModule):
    def __init__(self, init_cfg=None, child_cfg=None):
        super().__init__(init_cfg)
        self.feat = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.reg = nn.Conv2d(4, 2, 1)
        self.child = Child(child_cfg)
        self.lin = nn.Linear(4, 2)
        self.seq = nn.Sequential(nn.Conv1d(2, 2, 1), nn.LayerNorm(2))


def all_equal(t, value):
    return bool(torch.all(t == value))


def test_constant_on_conv2d_only():
    torch.manual_seed(0)
    m = Toy(dict(type='Constant', val=0.5, layer='Conv2d'))
    lin_before = m.lin.weight.clone()
    conv1d_before = m.seq[0].weight.clone()
    m.init_weights()
    for conv in (m.feat, m.reg, m.child.conv):
        assert all_equal(conv.weight, 0.5) and all_equal(conv.bias, 0)
    assert torch.equal(m.lin.weight, lin_before)
    assert torch.equal(m.seq[0].weight, conv1d_before)


def test_override_applies_to_the_named_child_only():
    m = Toy([dict(type='Constant', val=1, bias=2, layer=['Conv2d', 'Linear'],
                  override=dict(type='Constant', name='reg', val=3, bias=4)),
             dict(type='Constant', val=5, layer='_BatchNorm')])
    m.init_weights()
    assert all_equal(m.reg.weight, 3) and all_equal(m.reg.bias, 4)
    for layer in (m.feat, m.child.conv, m.lin):
        assert all_equal(layer.weight, 1) and all_equal(layer.bias, 2)
    assert all_equal(m.bn.weight, 5) and all_equal(m.bn.bias, 0)
    assert not all_equal(m.child.gn.bias, 2)


def test_override_with_only_a_name_reuses_the_parent_entry():
    m = Toy(dict(type='Constant', val=2, bias=1, layer='Linear', override=dict(name='child')))
    m.init_weights()
    assert all_equal(m.lin.weight, 2)
    # The override covers every parameter of the child, whatever its class.
    for layer in (m.child.conv, m.child.gn):
        assert all_equal(layer.weight, 2) and all_equal(layer.bias, 1)
    assert not all_equal(m.feat.weight, 2)


def test_layer_names_match_class_or_direct_base():
    net = nn.Sequential(nn.BatchNorm2d(2), nn.SyncBatchNorm(2), nn.BatchNorm1d(2),
                        nn.Conv1d(2, 2, 1), nn.Conv2d(2, 2, 1), nn.ConvTranspose2d(2, 2, 1))
    initialize(net, dict(type='Constant', val=3, layer=['_BatchNorm', '_ConvNd']))
    for i in range(5):
        assert all_equal(net[i].weight, 3), i
    # ConvTranspose2d's direct base is _ConvTransposeNd, not _ConvNd.
    assert not all_equal(net[5].weight, 3)


def test_child_init_cfg_runs_after_parent():
    m = Toy(dict(type='Constant', val=1, layer='Conv2d'),
            child_cfg=dict(type='Constant', val=7, layer='Conv2d'))
    m.init_weights()
    assert all_equal(m.feat.weight, 1) and all_equal(m.child.conv.weight, 7)
    assert m.is_init and m.child.is_init


def test_init_weights_runs_once():
    m = Toy(dict(type='Constant', val=1, layer='Conv2d'))
    m.init_weights()
    with torch.no_grad():
        m.feat.weight.fill_(9)
    m.init_weights()
    assert all_equal(m.feat.weight, 9)


def test_random_initialisers():
    torch.manual_seed(0)
    big = nn.Sequential(nn.Conv2d(64, 128, 3), nn.Linear(256, 512), nn.Conv1d(32, 32, 1))
    initialize(big, [dict(type='Kaiming', layer='Conv2d'),
                     dict(type='Normal', std=0.01, bias_prob=0.01, layer='Linear'),
                     dict(type='TruncNormal', std=1.0, a=-0.5, b=0.5, layer='Conv1d')])
    # Kaiming defaults: normal, fan_out, relu -> std sqrt(2 / (128 * 9))
    assert big[0].weight.std().item() == pytest.approx(math.sqrt(2 / (128 * 9)), rel=0.05)
    assert all_equal(big[0].bias, 0)
    assert big[1].weight.std().item() == pytest.approx(0.01, rel=0.05)
    assert big[1].bias[0].item() == pytest.approx(-math.log(99), rel=1e-6)
    assert big[2].weight.abs().max().item() <= 0.5
    initialize(big, dict(type='Uniform', a=2, b=3, layer='Linear'))
    assert 2 <= big[1].weight.min().item() and big[1].weight.max().item() <= 3
    initialize(big, dict(type='Xavier', gain=1, distribution='uniform', layer='Linear'))
    bound = math.sqrt(6 / (256 + 512))
    assert big[1].weight.abs().max().item() <= bound


def test_trunc_normal_is_inverse_cdf_like_mmengine():
    torch.manual_seed(3)
    got = trunc_normal_(torch.empty(1000), mean=0.1, std=0.5, a=-0.2, b=0.6)
    torch.manual_seed(3)
    cdf = lambda v: (1 + math.erf(v / math.sqrt(2))) / 2   # noqa: E731
    lo, hi = cdf((-0.2 - 0.1) / 0.5), cdf((0.6 - 0.1) / 0.5)
    u = torch.empty(1000).uniform_(2 * lo - 1, 2 * hi - 1)
    expect = (torch.erfinv(u) * 0.5 * math.sqrt(2) + 0.1).clamp(-0.2, 0.6)
    torch.testing.assert_close(got, expect)


def test_init_cfg_errors():
    with pytest.raises(KeyError, match="'Orthogonal'.*Kaiming"):
        initialize(Toy(), dict(type='Orthogonal', layer='Conv2d'))
    with pytest.raises(AttributeError, match="'head'"):
        initialize(Toy(), dict(type='Constant', val=1, override=dict(name='head')))
    with pytest.raises(ValueError, match='name'):
        initialize(Toy(), dict(type='Constant', val=1, override=dict(type='Constant', val=2)))


def save(tmp_path, obj, name='ckpt.pth'):
    path = tmp_path / name
    torch.save(obj, path)
    return str(path)


def test_pretrained_with_prefix_loads_part_of_a_checkpoint(tmp_path):
    torch.manual_seed(0)
    source = Toy()
    full = OrderedDict(('backbone.' + k, v) for k, v in source.state_dict().items())
    full['head.weight'] = torch.ones(3)
    path = save(tmp_path, {'meta': {'epoch': 3}, 'state_dict': full})
    target = Toy(dict(type='Pretrained', checkpoint=path, prefix='backbone.'))
    target.init_weights()
    for k, v in source.state_dict().items():
        assert torch.equal(target.state_dict()[k], v), k
    with pytest.raises(KeyError, match="'neck.'.*backbone, head"):
        Toy(dict(type='Pretrained', checkpoint=path, prefix='neck')).init_weights()


def test_pretrained_runs_after_other_entries_and_children(tmp_path):
    source = Toy()
    path = save(tmp_path, source.state_dict())
    target = Toy([dict(type='Pretrained', checkpoint=path),
                  dict(type='Constant', val=5, layer='Conv2d')],
                 child_cfg=dict(type='Constant', val=7, layer='Conv2d'))
    target.init_weights()
    assert torch.equal(target.feat.weight, source.feat.weight)
    assert torch.equal(target.child.conv.weight, source.child.conv.weight)


@pytest.mark.parametrize('url', [
    'https://download.openmmlab.com/mmpose/v1/x.pth', 'http://example.com/w.pth',
    'torchvision://resnet50', 'open-mmlab://msra/hrnetv2_w32', 'mmcls://resnet50_v1d'])
def test_pretrained_url_goes_through_the_hub(url, tmp_path, monkeypatch):
    # offline, a remote checkpoint not in the cache says where to put it
    # (downloads themselves: tests/test_hub.py, against a local server)
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    monkeypatch.setenv('POSEKIT_OFFLINE', '1')
    m = Toy(dict(type='Pretrained', checkpoint=url))
    with pytest.raises(DownloadError, match=f'POSEKIT_OFFLINE.*put it at {tmp_path}'):
        m.init_weights()
    with pytest.raises(DownloadError, match='POSEKIT_OFFLINE'):
        load_checkpoint_file(url)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nothere.pth'):
        check_local_path(str(tmp_path / 'nothere.pth'))


def test_load_checkpoint_file_layouts(tmp_path):
    sd = OrderedDict(a=torch.ones(2), b=torch.zeros(1))
    ddp = OrderedDict(('module.' + k, v) for k, v in sd.items())
    for i, obj in enumerate([sd, {'state_dict': sd}, {'model': sd}, {'state_dict': ddp}, ddp]):
        got = load_checkpoint_file(save(tmp_path, obj, f'{i}.pth'))
        assert list(got) == ['a', 'b'] and torch.equal(got['a'], sd['a'])


def test_load_checkpoint_file_refuses_pickled_objects(tmp_path):
    path = save(tmp_path, {'state_dict': {'a': torch.ones(1)}, 'obj': Child})
    with pytest.raises(RuntimeError, match='weights_only'):
        load_checkpoint_file(path)
    with pytest.raises(RuntimeError, match='not a state_dict'):
        load_checkpoint_file(save(tmp_path, [torch.ones(1)], 'list.pth'))


def test_safetensors(tmp_path):
    path = str(tmp_path / 'w.safetensors')
    try:
        from safetensors.torch import save_file
    except ImportError:
        open(path, 'wb').close()
        with pytest.raises(ImportError, match='pip install safetensors'):
            load_checkpoint_file(path)
        return
    save_file({'module.a': torch.ones(2)}, path)
    assert torch.equal(load_checkpoint_file(path)['a'], torch.ones(2))


def test_load_state_dict_reports_and_strict():
    m = nn.Sequential(nn.Conv2d(2, 3, 1), nn.BatchNorm2d(3))
    sd = {k: v.clone() for k, v in m.state_dict().items()}
    sd['0.weight'] = torch.ones(3, 2, 1, 1)
    sd.pop('1.bias')
    sd.pop('1.num_batches_tracked')        # old checkpoints: not reported
    sd['2.weight'] = torch.ones(1)
    sd['1.running_mean'] = torch.ones(5)   # wrong shape
    with pytest.raises(RuntimeError) as e:
        load_state_dict(m, sd, strict=True)
    msg = str(e.value)
    assert "missing keys (1): 1.bias" in msg and 'unexpected keys (1): 2.weight' in msg
    assert '1.running_mean: checkpoint (5,), model (3,)' in msg
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        missing, unexpected = load_state_dict(m, sd)
    assert missing == ['1.bias'] and unexpected == ['2.weight']
    assert any('1.running_mean' in str(x.message) for x in w)
    assert all_equal(m[0].weight, 1)                 # what matched was loaded
    assert all_equal(m[1].running_mean, 0)           # what did not was skipped
    full = {'backbone.' + k: v for k, v in m.state_dict().items()}
    other = nn.Sequential(nn.Conv2d(2, 3, 1), nn.BatchNorm2d(3))
    assert load_state_dict(other, full, strict=True, prefix='backbone') == ([], [])
    assert all_equal(other[0].weight, 1)


def test_checkpoint_with_numpy_meta_loads_weights_only(tmp_path):
    # MMPose checkpoints keep numpy arrays in meta.dataset_meta.
    import numpy as np
    from posekit.models.utils import load_checkpoint_file, read_checkpoint
    weights = {'backbone.conv.weight': torch.full((2, 1, 1, 1), 3.0)}
    meta = dict(dataset_meta=dict(sigmas=np.array([0.1, 0.2], np.float32),
                                  empty=np.zeros((0,)), flip_indices=[1, 0]))
    path = tmp_path / 'mmpose_style.pth'
    torch.save(dict(meta=meta, state_dict=weights), path)
    assert torch.equal(load_checkpoint_file(path)['backbone.conv.weight'],
                       weights['backbone.conv.weight'])
    raw = read_checkpoint(path)
    np.testing.assert_array_equal(raw['meta']['dataset_meta']['sigmas'],
                                  np.array([0.1, 0.2], np.float32))
    assert raw['meta']['dataset_meta']['empty'].shape == (0,)
