"""The checkpoint layouts MMPose's configs load into ``ResNet``.

- ``torchvision://resnet50``: a torchvision state_dict (``conv1.weight``,
  ``bn1.*``, ``layer1.0.conv1.weight``, ..., ``fc.*``, no
  ``num_batches_tracked``), loaded without a prefix;
- ``mmcls://NAME``: an MMClassification checkpoint (``backbone.*``,
  ``head.fc.*``); MMEngine keeps its ``backbone.*`` weights, prefix removed;
- an mmpretrain checkpoint with ``prefix='backbone.'``.

Each layout is built from a small seeded ResNet and saved locally (scheme
names: into the hub cache under their file names, read offline). Checked
against MMPose 1.3.2 / MMEngine 0.10.7 on the same files: every layout loads
the source tensors exactly (max abs difference 0.0), and only the
torchvision layout warns, about the unexpected ``fc.weight, fc.bias``
(missing ``num_batches_tracked`` counters are not reported). MMEngine's
``torchvision://`` loader itself could not run there (no torchvision); it
reads the same file as a local path does.
"""
from __future__ import annotations

import os
import warnings

import pytest
import torch

from posekit.hub import cache_dir
from posekit.models.backbones import ResNet
from posekit.models.utils import load_checkpoint_file, load_state_dict

SMALL = dict(depth=18, stem_channels=4, base_channels=4)  # final width 32
# the cache file names of the scheme names (their URLs' last part)
TORCHVISION_FILE = 'resnet50-0676ba61.pth'
MMCLS_FILE = 'resnetv1d50_b32x8_imagenet_20210531-db14775a.pth'


@pytest.fixture
def source():
    """A seeded ResNet's state_dict, BN running statistics not at defaults."""
    torch.manual_seed(0)
    model = ResNet(**SMALL)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2.0)
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.fixture
def offline_cache(tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    monkeypatch.setenv('POSEKIT_OFFLINE', '1')
    os.makedirs(cache_dir())
    return cache_dir()


def torchvision_layout(state):
    out = {k: v for k, v in state.items() if not k.endswith('num_batches_tracked')}
    out['fc.weight'], out['fc.bias'] = torch.randn(10, 32), torch.randn(10)
    return out


def mmcls_layout(state):
    weights = {f'backbone.{k}': v for k, v in state.items()}
    weights['head.fc.weight'], weights['head.fc.bias'] = torch.randn(10, 32), torch.randn(10)
    return {'meta': {'epoch': 100}, 'state_dict': weights}


def init_from(init_cfg):
    torch.manual_seed(1)  # other random weights than the source's
    model = ResNet(**SMALL, init_cfg=init_cfg)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        model.init_weights()
    return model.state_dict(), [str(w.message) for w in caught]


def assert_loaded(loaded, source):
    weights = [k for k in source if not k.endswith('num_batches_tracked')]
    assert len(weights) == 100  # 20 convs, 20 BNs of 4 tensors
    assert all(torch.equal(loaded[k], source[k]) for k in weights)


def test_torchvision_scheme_name(source, offline_cache):
    torch.save(torchvision_layout(source), os.path.join(offline_cache, TORCHVISION_FILE))
    loaded, warned = init_from(dict(type='Pretrained', checkpoint='torchvision://resnet50'))
    assert_loaded(loaded, source)
    assert len(warned) == 1 and warned[0].endswith('unexpected keys (2): fc.weight, fc.bias')


def test_torchvision_layout_reports_only_the_classifier(source, tmp_path):
    path = tmp_path / 'resnet.pth'
    torch.save(torchvision_layout(source), path)
    model = ResNet(**SMALL)
    with pytest.warns(UserWarning, match='unexpected keys'):
        missing, unexpected = load_state_dict(model, load_checkpoint_file(str(path)))
    assert (missing, unexpected) == ([], ['fc.weight', 'fc.bias'])
    assert_loaded(model.state_dict(), source)


def test_mmcls_scheme_keeps_the_backbone(source, offline_cache):
    torch.save(mmcls_layout(source), os.path.join(offline_cache, MMCLS_FILE))
    assert list(load_checkpoint_file('mmcls://resnet50_v1d')) == list(source)
    loaded, warned = init_from(dict(type='Pretrained', checkpoint='mmcls://resnet50_v1d'))
    assert_loaded(loaded, source)
    assert warned == []


def test_mmpretrain_checkpoint_with_prefix(source, tmp_path):
    path = tmp_path / 'mmpretrain.pth'
    torch.save(mmcls_layout(source), path)
    loaded, warned = init_from(dict(type='Pretrained', checkpoint=str(path),
                                    prefix='backbone.'))
    assert_loaded(loaded, source)
    assert warned == []  # head.* is outside the prefix: not loaded, not reported
