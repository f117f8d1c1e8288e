"""Vis backends: files of LocalVisBackend, the optional-package errors, the
calls made to tensorboard and wandb (with stand-in modules)."""
import importlib.machinery
import importlib.util
import json
import math
import sys
import types

import cv2
import numpy as np
import pytest
import torch

from posekit.config import Config
from posekit.registry import VISBACKENDS
from posekit.visualization import LocalVisBackend, Visualizer


def test_local_backend_writes_images_scalars_and_config_lazily(tmp_path):
    save_dir = tmp_path / 'vis_data'
    backend = LocalVisBackend(str(save_dir))
    assert not save_dir.exists()
    image = np.zeros((10, 12, 3), np.uint8)
    image[2, 3] = (255, 128, 0)                          # orange, RGB
    backend.add_image('val_img', image, step=7)
    written = cv2.imread(str(save_dir / 'vis_image' / 'val_img_7.png'))
    assert written[2, 3].tolist() == [0, 128, 255]       # stored as BGR: orange in a viewer
    assert np.array_equal(written[..., ::-1], image)
    backend.add_scalars({'loss': torch.tensor(0.25), 'lr': np.float32(0.5), 'epoch': 1}, step=3)
    backend.add_scalar('coco/AP', np.array([0.75]), step=4)
    backend.add_scalars({'loss': float('nan'), 'x': float('inf')}, step=5)
    lines = (save_dir / 'scalars.json').read_text().splitlines()
    assert json.loads(lines[0]) == {'loss': 0.25, 'lr': 0.5, 'epoch': 1, 'step': 3}
    assert json.loads(lines[1]) == {'coco/AP': 0.75, 'step': 4}
    assert lines[2] == '{"loss": NaN, "x": Infinity, "step": 5}'
    assert math.isnan(json.loads(lines[2])['loss'])
    cfg = Config(dict(model=dict(type='TopdownPoseEstimator'), lr=0.1))
    backend.add_config(cfg)
    text = (save_dir / 'config.py').read_text()
    assert text == cfg.pretty_text and 'TopdownPoseEstimator' in text


def test_local_backend_refuses_what_is_not_a_scalar(tmp_path):
    backend = LocalVisBackend(str(tmp_path))
    with pytest.raises(TypeError, match="'acc' is not a number"):
        backend.add_scalars({'acc': [1, 2]})
    with pytest.raises(TypeError, match="'name' is not a number"):
        backend.add_scalars({'name': 'x'})
    with pytest.raises(ValueError, match='step argument'):
        backend.add_scalars({'step': 3})
    with pytest.raises(TypeError, match='uint8'):
        backend.add_image('x', np.zeros((4, 4, 3), np.float32))
    assert not (tmp_path / 'scalars.json').exists()      # nothing half-written


def test_local_backend_extra_json_file_and_file_names(tmp_path):
    backend = LocalVisBackend(str(tmp_path), img_save_dir='imgs', scalar_save_file='s.json',
                              config_save_file='c.py')
    backend.add_scalars({'a': 1}, step=2, file_path='extra.json')
    backend.add_image('p', np.zeros((2, 2, 3), np.uint8))
    backend.add_config('x = 1\n')
    assert (tmp_path / 's.json').read_text() == (tmp_path / 'extra.json').read_text() == \
        '{"a": 1, "step": 2}\n'
    assert (tmp_path / 'imgs' / 'p_0.png').exists()
    assert (tmp_path / 'c.py').read_text() == 'x = 1\n'
    with pytest.raises(ValueError, match='.json'):
        LocalVisBackend(str(tmp_path), scalar_save_file='s.txt')


def test_unknown_arguments_and_types_raise():
    with pytest.raises(TypeError, match='img_dir'):
        VISBACKENDS.build(dict(type='LocalVisBackend', save_dir='x', img_dir='y'))
    with pytest.raises(KeyError, match="did you mean 'LocalVisBackend'"):
        VISBACKENDS.build(dict(type='LocalVisBackends', save_dir='x'))


@pytest.mark.skipif(importlib.util.find_spec('tensorboard') is not None,
                    reason='tensorboard is installed')
def test_tensorboard_missing_is_a_clear_error(tmp_path):
    with pytest.raises(ImportError, match='pip install tensorboard'):
        VISBACKENDS.build(dict(type='TensorboardVisBackend', save_dir=str(tmp_path)))


@pytest.mark.skipif(importlib.util.find_spec('wandb') is not None, reason='wandb is installed')
def test_wandb_missing_is_a_clear_error(tmp_path):
    with pytest.raises(ImportError, match='pip install wandb'):
        Visualizer(save_dir=str(tmp_path), vis_backends=[dict(type='WandbVisBackend')])


def _fake_module(monkeypatch, name):
    module = types.ModuleType(name)
    module.__spec__ = importlib.machinery.ModuleSpec(name, None)
    monkeypatch.setitem(sys.modules, name, module)
    return module


def test_tensorboard_calls(tmp_path, monkeypatch):
    calls = []

    class SummaryWriter:
        def __init__(self, log_dir):
            calls.append(('init', log_dir))

        def __getattr__(self, name):
            return lambda *args, **kwargs: calls.append((name, args, kwargs))

    _fake_module(monkeypatch, 'tensorboard')
    _fake_module(monkeypatch, 'torch.utils.tensorboard').SummaryWriter = SummaryWriter
    vis = Visualizer(save_dir=str(tmp_path), vis_backends=[dict(type='TensorboardVisBackend')])
    assert calls == []                                   # started on the first write
    vis.add_scalars({'loss': torch.tensor(1.5), 'lr': 0.1}, step=4)
    image = np.zeros((3, 4, 3), np.uint8)
    vis.add_image('img', image, step=2)
    vis.add_config('a = 1')
    vis.close()
    assert calls[0] == ('init', str(tmp_path / 'vis_data'))
    assert calls[1:3] == [('add_scalar', ('loss', 1.5, 4), {}), ('add_scalar', ('lr', 0.1, 4), {})]
    assert calls[3][0] == 'add_image' and calls[3][1][::2] == ('img', 2)
    assert calls[3][2] == {'dataformats': 'HWC'}
    assert calls[4] == ('add_text', ('config', 'a = 1'), {}) and calls[5][0] == 'close'


def test_wandb_calls(tmp_path, monkeypatch):
    calls = []
    wandb = _fake_module(monkeypatch, 'wandb')
    wandb.init = lambda **kwargs: calls.append(('init', kwargs))
    wandb.define_metric = lambda **kwargs: calls.append(('define_metric', kwargs))
    wandb.log = lambda data, commit=True: calls.append(('log', data, commit))
    wandb.Image = lambda image: ('Image', image.shape)
    wandb.finish = lambda: calls.append(('finish',))
    wandb.config = types.SimpleNamespace(update=lambda d, allow_val_change: calls.append(
        ('config', d)))
    backend = VISBACKENDS.build(dict(type='WandbVisBackend', save_dir=str(tmp_path),
                                     init_kwargs=dict(project='p'),
                                     define_metric_cfg={'coco/AP': 'max'}, commit=False))
    backend.add_scalars({'loss': np.float64(0.5)}, step=9)
    backend.add_image('img', np.zeros((3, 4, 3), np.uint8))
    backend.add_config(Config(dict(a=1)))
    backend.close()
    assert calls == [('init', dict(dir=str(tmp_path), project='p')),
                     ('define_metric', dict(name='coco/AP', summary='max')),
                     ('log', {'loss': 0.5}, False),
                     ('log', {'img': ('Image', (3, 4, 3))}, False),
                     ('config', {'a': 1}), ('finish',)]


def test_only_the_main_process_writes(tmp_path, monkeypatch):
    import posekit.visualization.visualizer as module
    monkeypatch.setattr(module, 'is_main_process', lambda: False)
    vis = Visualizer(save_dir=str(tmp_path), vis_backends=[dict(type='LocalVisBackend')])
    vis.add_scalars({'loss': 1.0}, step=1)
    vis.add_image('x', np.zeros((2, 2, 3), np.uint8))
    vis.add_config('a = 1')
    assert list(tmp_path.iterdir()) == []
