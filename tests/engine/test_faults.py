"""Kill -9 at the worst moments, resume, and end with the same weights.

One work dir goes through four real kills (SIGKILL: no cleanup, no
``finally``), each run started with ``posekit train CONFIG --resume``:

1. while writing ``best_coco_AP_epoch_1.pth`` (64 KiB of it on disk);
2. in the backward pass of iteration 8 (epoch 2, batch 3 of 5);
3. while writing ``epoch_2.pth`` (64 KiB of it on disk);
4. during the validation after epoch 2 (after its first batch);

then a last ``--resume`` finishes, and the weights equal those of an
uninterrupted run bit for bit.

The kills come from a hook the test registers in the subprocess; the
environment variable ``FAULT`` says where. A kill inside a checkpoint
write is the kernel's doing: the hook lowers the file size limit
(RLIMIT_FSIZE) to 64 KiB, so the write of the temporary file stops there
with SIGXFSZ, whose handler sends SIGKILL.
"""
from __future__ import annotations

import signal
from pathlib import Path

import torch

from posekit.engine import Runner

from .conftest import config_with_plugin_hook, max_abs_diff, state_of, train_in_subprocess

_FAULTS = '''
import os, resource, signal
from posekit.engine import Hook
from posekit.registry import HOOKS

def _kill(*args):
    os.kill(os.getpid(), signal.SIGKILL)

@HOOKS.register_module()
class FaultAt(Hook):
    """Kill this process where the FAULT environment variable says."""

    def __init__(self):
        self.fault = os.environ.get('FAULT', '')
        self.saves = 0

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if self.fault == 'iteration' and runner.iter == 7:
            first = next(runner.model.parameters())  # its gradient comes last
            first.register_hook(_kill)

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if self.fault == 'validation':
            _kill()

    def before_save_checkpoint(self, runner, checkpoint):
        self.saves += 1
        if self.fault == f'checkpoint {self.saves}':
            signal.signal(signal.SIGXFSZ, _kill)
            _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
            resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, hard))
'''


def _hidden(work: Path) -> list[tuple[str, int]]:
    return sorted((p.name.split('.tmp-')[0], p.stat().st_size) for p in work.glob('.*.tmp-*'))


def test_sigkill_anywhere_then_resume_gives_the_uninterrupted_weights(tiny_cfg, tmp_path):
    from posekit.cli import main
    runner = Runner.from_cfg(tiny_cfg('a'))
    reference = state_of(runner.train())
    reference_files = sorted(p.name for p in Path(runner.work_dir).glob('*.pth'))

    cfg = tiny_cfg('b')
    config = config_with_plugin_hook(cfg, tmp_path, 'faults', _FAULTS, 'FaultAt')
    work = Path(cfg.work_dir)
    pointer = work / 'last_checkpoint'

    def killed_at(fault: str) -> None:
        proc = train_in_subprocess(config, tmp_path, '--resume', FAULT=fault)
        assert proc.returncode == -signal.SIGKILL, (fault, proc.stderr[-2000:])

    killed_at('checkpoint 2')  # epoch_1.pth, then the best checkpoint
    assert pointer.read_text() == str(work / 'epoch_1.pth')
    assert _hidden(work) == [('.best_coco_AP_epoch_1', 64 * 1024)]
    assert not list(work.glob('best_*'))

    killed_at('iteration')
    assert pointer.read_text() == str(work / 'epoch_1.pth')
    assert _hidden(work) == []  # the resumed run removed the dead run's temporary file
    # and validated epoch 1 again before training on: the best checkpoint is back
    assert [p.name for p in work.glob('best_*')] == ['best_coco_AP_epoch_1.pth']

    killed_at('checkpoint 1')  # epoch_2.pth
    assert pointer.read_text() == str(work / 'epoch_1.pth')
    assert _hidden(work) == [('.epoch_2', 64 * 1024)]
    assert not (work / 'epoch_2.pth').exists()

    killed_at('validation')
    assert pointer.read_text() == str(work / 'epoch_2.pth')
    epoch_2 = torch.load(work / 'epoch_2.pth', weights_only=True)
    assert max_abs_diff(reference, epoch_2['state_dict']) == 0

    resume_cfg = tiny_cfg('b')
    resume_config = tmp_path / 'resume.py'
    resume_cfg.dump(resume_config)
    assert main(['train', str(resume_config), '--resume']) == 0
    final = torch.load(work / 'epoch_2.pth', weights_only=True)
    assert max_abs_diff(reference, final['state_dict']) == 0
    assert _hidden(work) == []
    assert sorted(p.name for p in work.glob('*.pth')) == reference_files
