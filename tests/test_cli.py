"""The posekit command line."""
import subprocess
import sys
from pathlib import Path

from posekit.config import Config

ROOT = Path(__file__).parents[1]
CFG = ROOT / 'tests' / 'data' / 'configs' / 'chain' / 'level2.py'


def posekit(*args, module='posekit'):
    cmd = [sys.executable, '-m', module, *args] if module else [sys.executable, *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)


def test_print_config_two_levels_deep(tmp_path):
    out = posekit('print-config', str(CFG), '--cfg-options', 'model.backbone.depth=152',
                  'train_pipeline.1.prob=0.25')
    assert out.returncode == 0, out.stderr
    printed = tmp_path / 'printed.py'
    printed.write_text(out.stdout)
    expected = Config.fromfile(CFG).to_dict()
    expected['model']['backbone']['depth'] = 152
    expected['train_pipeline'][1]['prob'] = 0.25
    assert repr(Config.fromfile(printed).to_dict()) == repr(expected)
    assert "type='RegressionHead'" in out.stdout


def test_tools_wrapper_prints_the_same():
    wrapped = posekit('tools/analysis/print_config.py', str(CFG), module=None)
    direct = posekit('print-config', str(CFG))
    assert wrapped.returncode == 0, wrapped.stderr
    assert wrapped.stdout == direct.stdout


def test_bad_override_is_a_message_not_a_traceback():
    out = posekit('print-config', str(CFG), '--cfg-options', 'model.backbone.dept=1')
    assert out.returncode == 1
    assert "did you mean 'depth'" in out.stderr and 'Traceback' not in out.stderr


def test_unknown_command_and_help():
    out = posekit('print-confg')
    assert out.returncode == 2 and "did you mean 'print-config'" in out.stderr
    out = posekit('--help')
    assert out.returncode == 0 and 'print-config' in out.stdout
    out = posekit('--version')
    assert out.stdout.startswith('posekit ')
