"""One error style for every ``posekit`` command (``posekit.cli.main``).

An error about the input (a file, a checkpoint, a config value) is one line
on stderr, ``posekit CMD: error: ...``, naming the file or the key, exit code
1, no traceback; ``POSEKIT_DEBUG=1`` raises it with its traceback. Any other
exception (a bug) keeps its traceback.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from posekit.cli import is_input_error, main
from posekit.config import Config
from posekit.errors import ConfigTypeError
from posekit.models.utils.checkpoint import CheckpointError
from posekit.registry import HOOKS

ROOT = Path(__file__).parents[1]
TINY = ROOT / 'tests' / 'engine' / 'data' / 'td-hm_tiny_synthetic.py'
IMAGE = 'images/val/000000.jpg'


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    """A tiny config on a 6-image synthetic set, and a truncated checkpoint."""
    from posekit.datasets.synthetic import make_synthetic_coco
    root = tmp_path_factory.mktemp('cli_errors')
    make_synthetic_coco(str(root / 'data'), num_images=6, seed=0, val_fraction=0.5)
    cfg = Config.fromfile(TINY)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader]['dataset']['data_root'] = str(root / 'data') + os.sep
    for name in ('val_evaluator', 'test_evaluator'):
        for metric in cfg[name]:
            if 'ann_file' in metric:
                metric['ann_file'] = str(root / 'data' / 'annotations' / 'val.json')
    cfg.dump(root / 'tiny.py')
    whole = root / 'whole.pth'
    torch.save({'state_dict': {'w': torch.zeros(1000)}, 'meta': {}}, whole)
    truncated = root / 'truncated.pth'
    truncated.write_bytes(whole.read_bytes()[:2000])
    return dict(root=root, config=str(root / 'tiny.py'), ckpt=str(truncated),
                image=str(root / 'data' / IMAGE))


def one_error_line(capsys, command: str) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and 'Traceback' not in err, err
    assert lines[0].startswith(f'posekit {command}: error: ')
    return lines[0][len(f'posekit {command}: error: '):]


def commands_reading(files) -> dict[str, list[str]]:
    """Each command that reads the truncated checkpoint, with its arguments."""
    cfg, ckpt, root = files['config'], files['ckpt'], files['root']
    return {
        'train': ['train', cfg, '--work-dir', str(root / 'w'), '--resume', ckpt],
        'test': ['test', cfg, ckpt, '--work-dir', str(root / 'w')],
        'infer': ['infer', files['image'], '--pose2d', cfg, '--pose2d-weights', ckpt,
                  '--pred-out-dir', str(root / 'preds'), '--no-progress'],
        'export': ['export', cfg, ckpt, '--output', str(root / 'm.onnx')],
        'convert-distill': ['convert-distill', ckpt, str(root / 'out.pth')],
    }


@pytest.mark.parametrize('command', ['train', 'test', 'infer', 'export', 'convert-distill'])
def test_a_truncated_checkpoint_is_one_line_naming_it(files, command, capsys):
    assert main(commands_reading(files)[command]) == 1
    line = one_error_line(capsys, command)
    assert line.startswith(f"cannot read checkpoint {files['ckpt']} (2000 bytes): it is "
                           'truncated or corrupt')


@pytest.mark.parametrize('command', ['train', 'test', 'infer', 'export', 'convert-distill'])
def test_a_missing_checkpoint_is_one_line_naming_it(files, command, capsys):
    argv = [a.replace('truncated.pth', 'missing.pth') for a in commands_reading(files)[command]]
    assert main(argv) == 1
    assert one_error_line(capsys, command) == \
        f"checkpoint not found: {files['root'] / 'missing.pth'}"


@pytest.mark.parametrize('command', ['train', 'test', 'infer', 'export', 'print-config'])
def test_a_missing_config_is_one_line_naming_it(files, command, capsys):
    missing = str(files['root'] / 'nosuch.py')
    argv = {'train': ['train', missing], 'test': ['test', missing, files['ckpt']],
            'infer': ['infer', files['image'], '--pose2d', missing, '--pred-out-dir', 'p'],
            'export': ['export', missing, files['ckpt']],
            'print-config': ['print-config', missing]}[command]
    assert main(argv) == 1
    assert one_error_line(capsys, command) == f'config file not found: {missing}'


@pytest.mark.parametrize('command', ['train', 'test', 'infer', 'export'])
def test_a_value_of_the_wrong_type_names_its_key(files, command, capsys):
    argv = commands_reading(files)[command]
    if command == 'train':
        argv = argv[:-2]  # no --resume
    argv = argv + ['--cfg-options', 'model.head.out_channels=seventeen']
    assert main(argv) == 1
    assert one_error_line(capsys, command) == \
        "model.head.out_channels: 'seventeen' is a str, expected int (HeatmapHead)"


def test_train_names_the_optimizer_key_of_a_bad_lr(files, capsys):
    assert main(['train', files['config'], '--work-dir', str(files['root'] / 'w'),
                 '--cfg-options', 'optim_wrapper.optimizer.lr=abc']) == 1
    assert one_error_line(capsys, 'train') == \
        "optim_wrapper.optimizer.lr: 'abc' is a str, expected float or Tensor (Adam)"


def test_print_config_bad_override_and_bad_file(files, capsys):
    assert main(['print-config', files['config'], '--cfg-options', 'model.hed.x=1']) == 1
    assert one_error_line(capsys, 'print-config') == \
        ("override 'model.hed.x': no key 'hed' in model; did you mean 'head'? "
         'To add a new key, write +model.hed.x=...')
    bad = ROOT / 'tests' / 'data' / 'configs' / 'bad' / 'syntax_error.py'
    assert main(['print-config', str(bad)]) == 1
    assert one_error_line(capsys, 'print-config').startswith(f'{bad}, line 1: syntax error')


def test_posekit_debug_raises_with_the_traceback(files, monkeypatch):
    monkeypatch.setenv('POSEKIT_DEBUG', '1')
    with pytest.raises(CheckpointError, match='truncated or corrupt'):
        main(commands_reading(files)['convert-distill'])
    with pytest.raises(ConfigTypeError, match='model.head.out_channels'):
        main(['test', files['config'], files['ckpt'], '--work-dir', str(files['root'] / 'w'),
              '--cfg-options', 'model.head.out_channels=x'])


class BuggyTestHook:
    """A component with a bug: errors from code outside posekit are bugs."""

    def __init__(self, kind: str = 'value'):
        if kind == 'value':
            raise ValueError('boom: not an input error')
        1 / 0


@pytest.fixture
def buggy_hook():
    HOOKS.register_module(module=BuggyTestHook)
    yield
    del HOOKS._modules['BuggyTestHook']  # other tests list the registered hooks


@pytest.mark.parametrize('kind,error', [('value', ValueError), ('zero', ZeroDivisionError)])
def test_an_internal_error_keeps_its_traceback(files, kind, error, buggy_hook):
    with pytest.raises(error):
        main(['test', files['config'], files['ckpt'], '--work-dir', str(files['root'] / 'w'),
              '--cfg-options', f"custom_hooks=[{{'type': 'BuggyTestHook', 'kind': '{kind}'}}]"])


def test_which_errors_are_input_errors():
    def raised(fn):
        try:
            fn()
        except Exception as e:  # noqa: BLE001
            return e
    from posekit.config import parse_cfg_options
    from posekit.models.utils.checkpoint import check_local_path
    assert is_input_error(raised(lambda: parse_cfg_options(['novalue'])))  # ConfigError
    assert is_input_error(raised(lambda: check_local_path('mmcls://nonexistent')))  # posekit's
    assert is_input_error(raised(lambda: open('/nonexistent/file')))  # OSError
    assert not is_input_error(raised(lambda: int('x')))  # a ValueError from a bug
    assert not is_input_error(raised(lambda: torch.zeros(2) @ torch.zeros(3)))


def run_cli(*args, cwd, env=None):
    return subprocess.run([sys.executable, '-m', 'posekit', *args], capture_output=True,
                          text=True, cwd=cwd, env={**os.environ, **(env or {})})


def test_from_a_shell(files, tmp_path):
    """The same, end to end: stderr, exit codes, POSEKIT_DEBUG, and a bug in a
    component a config imports (custom_imports) with its traceback."""
    argv = commands_reading(files)['test']
    out = run_cli(*argv, cwd=tmp_path)
    assert out.returncode == 1 and 'Traceback' not in out.stderr
    assert out.stderr.startswith('posekit test: error: cannot read checkpoint ')
    assert len(out.stderr.strip().splitlines()) == 1
    out = run_cli(*argv, cwd=tmp_path, env={'POSEKIT_DEBUG': '1'})
    assert out.returncode == 1 and 'Traceback' in out.stderr
    assert 'CheckpointError: cannot read checkpoint' in out.stderr

    (tmp_path / 'buggy_plugin.py').write_text(textwrap.dedent('''
        from posekit.registry import HOOKS

        @HOOKS.register_module()
        class PluginHook:
            def __init__(self):
                raise KeyError('a bug in a plugin')
    '''))
    config = tmp_path / 'plugin.py'
    config.write_text(f"_base_ = [{files['config']!r}]\n"
                      "custom_imports = dict(imports=['buggy_plugin'])\n"
                      "custom_hooks = [dict(type='PluginHook')]\n")
    out = run_cli('test', str(config), files['ckpt'], '--work-dir', str(tmp_path / 'w'),
                  cwd=tmp_path, env={'PYTHONPATH': str(tmp_path)})
    assert out.returncode == 1 and 'Traceback' in out.stderr
    assert out.stderr.strip().endswith("KeyError: 'a bug in a plugin'")
