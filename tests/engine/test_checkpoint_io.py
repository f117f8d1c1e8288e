"""Checkpoint files: atomic writes, plain data, safe reads of foreign files."""
from __future__ import annotations

import os
from collections import OrderedDict

import numpy as np
import pytest
import torch

from posekit.engine.checkpoint import find_latest_checkpoint, save_checkpoint, write_pointer
from posekit.models.utils.checkpoint import CheckpointError, read_checkpoint, state_dict_of

from .conftest import MMPOSE_CKPT


def test_saved_checkpoints_are_plain_data(tmp_path):
    ckpt = dict(meta=dict(sigmas=np.array([0.1, 0.2], np.float32), n=np.int64(3)),
                state_dict=OrderedDict(w=torch.ones(2, requires_grad=True)))
    save_checkpoint(ckpt, tmp_path / 'a.pth')
    back = torch.load(tmp_path / 'a.pth', weights_only=True)
    assert back['meta'] == dict(sigmas=pytest.approx([0.1, 0.2]), n=3)
    assert torch.equal(back['state_dict']['w'], torch.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ['a.pth']


def test_unsafe_objects_are_refused_when_saving(tmp_path):
    with pytest.raises(TypeError, match=r'checkpoint.meta.fn: a builtins.function'):
        save_checkpoint(dict(meta=dict(fn=lambda: 0)), tmp_path / 'a.pth')
    assert not list(tmp_path.iterdir())


def test_interrupted_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / 'epoch_1.pth'
    save_checkpoint(dict(state_dict=dict(w=torch.zeros(1))), path)

    def crash(obj, f, *args, **kwargs):
        f.write(b'half')
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, 'save', crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(dict(state_dict=dict(w=torch.ones(1))), path)
    monkeypatch.undo()
    assert torch.equal(read_checkpoint(path)['state_dict']['w'], torch.zeros(1))
    assert [p.name for p in tmp_path.iterdir()] == ['epoch_1.pth']


@pytest.mark.parametrize('damage', ['truncate', 'garbage', 'empty'])
def test_damaged_files_give_a_clear_error(tmp_path, damage):
    path = tmp_path / 'epoch_3.pth'
    save_checkpoint(dict(state_dict=dict(w=torch.zeros(1000))), path)
    if damage == 'truncate':
        with open(path, 'r+b') as f:
            f.truncate(os.path.getsize(path) // 2)
    else:
        path.write_bytes(b'not a checkpoint' if damage == 'garbage' else b'')
    with pytest.raises(CheckpointError, match='epoch_3.pth.*truncated or corrupt'):
        read_checkpoint(path)
    with pytest.raises(FileNotFoundError, match='checkpoint not found'):
        read_checkpoint(tmp_path / 'missing.pth')


def test_mmengine_checkpoint_reads_with_stand_ins():
    ckpt = read_checkpoint(MMPOSE_CKPT)
    assert {'meta', 'state_dict', 'optimizer', 'param_schedulers', 'message_hub'} <= ckpt.keys()
    scalars = ckpt['message_hub']['log_scalars']
    assert 'mmengine.logging.history_buffer.HistoryBuffer' in repr(scalars['train/lr'])
    assert isinstance(ckpt['meta']['dataset_meta']['sigmas'], np.ndarray)
    weights = state_dict_of(ckpt)
    assert 'backbone.conv1.weight' in weights and 'head.final_layer.weight' in weights
    # plain torch.load(weights_only=True) refuses the file; posekit does not run its pickles
    with pytest.raises(Exception, match='Weights only load failed'):
        torch.load(MMPOSE_CKPT, weights_only=True)


def test_a_foreign_class_is_refused(tmp_path):
    import pickle
    import types
    import sys
    module = types.ModuleType('evil_pkg')

    class Payload:
        def __reduce__(self):
            return (os.getcwd, ())

    Payload.__module__ = 'evil_pkg'
    module.Payload = Payload
    sys.modules['evil_pkg'] = module
    try:
        torch.save(dict(x=Payload()), tmp_path / 'evil.pth')
    finally:
        del sys.modules['evil_pkg']
    with pytest.raises(CheckpointError, match="pickles 'posix.getcwd'|pickles 'os.getcwd'"):
        read_checkpoint(tmp_path / 'evil.pth')
    assert pickle  # noqa


def test_last_checkpoint_pointer(tmp_path):
    assert find_latest_checkpoint(str(tmp_path)) is None
    save_checkpoint(dict(state_dict={}), tmp_path / 'epoch_2.pth')
    write_pointer(str(tmp_path), str(tmp_path / 'epoch_2.pth'))
    assert find_latest_checkpoint(str(tmp_path)) == str(tmp_path / 'epoch_2.pth')
    # a moved work dir: the pointer's file name is looked up in the new place
    moved = tmp_path.parent / (tmp_path.name + '_moved')
    tmp_path.rename(moved)
    assert find_latest_checkpoint(str(moved)) == str(moved / 'epoch_2.pth')
    os.remove(moved / 'epoch_2.pth')
    with pytest.raises(CheckpointError, match='does not exist'):
        find_latest_checkpoint(str(moved))


def test_publish_model_keeps_meta_and_weights_named_by_hash(tmp_path, capsys):
    """``posekit publish-model``: MMPose's publish_model.py: only meta and
    state_dict, named ``OUT-<sha256[:8]>_<YYYYMMDD>.pth`` after the written
    bytes."""
    import hashlib
    import re
    import time

    from posekit.cli import main
    weights = OrderedDict(w=torch.arange(6.).reshape(2, 3))
    src = tmp_path / 'epoch_3.pth'
    save_checkpoint(dict(meta=dict(epoch=3), state_dict=weights,
                         optimizer=dict(state={}, param_groups=[]), message_hub={}), str(src))
    assert main(['publish-model', str(src), str(tmp_path / 'out' / 'model.pth')]) == 0
    [published] = (tmp_path / 'out').glob('*.pth')
    match = re.fullmatch(r'model-([0-9a-f]{8})_(\d{8})\.pth', published.name)
    assert match and match[2] == time.strftime('%Y%m%d')
    assert hashlib.sha256(published.read_bytes()).hexdigest()[:8] == match[1]
    checkpoint = read_checkpoint(str(published))
    assert set(checkpoint) == {'meta', 'state_dict'}
    assert torch.equal(checkpoint['state_dict']['w'], weights['w'])
    assert 'removed: message_hub, optimizer' in capsys.readouterr().out
    assert main(['publish-model', str(src), str(tmp_path / 'x.pth'), '--save-keys', 'ema']) == 1
    assert "none of the keys ['ema'] to keep" in capsys.readouterr().err
