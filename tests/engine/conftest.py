"""Shared pieces of the engine tests: a tiny synthetic dataset and config.

The dataset (16 train + 4 val images, 256x256) is generated once per test
session; ``tiny_cfg`` loads ``data/td-hm_tiny_synthetic.py`` with its data
paths pointed at it and its work dir in the test's tmp dir. Torch runs on
one thread, so that runs in this process and in subprocesses compute
bit-identical results.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TINY_CONFIG = HERE / 'data' / 'td-hm_tiny_synthetic.py'
MMPOSE_CKPT = HERE / 'data' / 'mmpose132_td-hm_res18-w4_epoch_1.pth'


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='session')
def synthetic_root(tmp_path_factory) -> str:
    from posekit.datasets.synthetic import make_synthetic_coco
    root = tmp_path_factory.mktemp('synthetic')
    make_synthetic_coco(str(root), num_images=20, seed=0, val_fraction=0.2)
    return str(root) + os.sep


def point_at(cfg, root: str) -> None:
    """Point the config's data loaders and evaluators at ``root``."""
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(loader):
            cfg[loader]['dataset']['data_root'] = root
    for name in ('val_evaluator', 'test_evaluator'):
        for metric in cfg.get(name) or []:
            if 'ann_file' in metric:
                metric['ann_file'] = root + 'annotations/val.json'


@pytest.fixture
def tiny_cfg(synthetic_root, tmp_path):
    """A fresh tiny config for each call: ``tiny_cfg(work_dir='a')``."""
    from posekit.config import Config

    def make(work_dir: str = 'work', **options):
        cfg = Config.fromfile(TINY_CONFIG)
        point_at(cfg, synthetic_root)
        cfg.work_dir = str(tmp_path / work_dir)
        if options:
            cfg.merge_from_dict(options)
        return cfg
    return make


def state_of(model: torch.nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def max_abs_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a)


@pytest.fixture
def run_log(caplog):
    """caplog that also sees the run's log lines (the ``posekit`` logger
    does not propagate to the root logger while a run is open)."""
    import logging
    logger = logging.getLogger('posekit')
    logger.addHandler(caplog.handler)
    caplog.handler.setLevel(logging.INFO)
    yield caplog
    logger.removeHandler(caplog.handler)


def config_with_plugin_hook(cfg, folder: Path, module: str, source: str,
                            hook: str) -> Path:
    """Dump ``cfg`` to ``folder`` with one more custom hook, of type
    ``hook``, defined by ``source`` in the plugin ``module`` written there
    (the config imports it through ``custom_imports``)."""
    (folder / f'{module}.py').write_text(source)
    cfg.custom_imports = dict(imports=[module])
    cfg.custom_hooks = list(cfg.custom_hooks) + [dict(type=hook)]
    path = folder / f'{module}_config.py'
    cfg.dump(path)
    return path


def train_in_subprocess(config: Path, folder: Path, *args: str,
                        **env: str) -> subprocess.CompletedProcess:
    """``posekit train CONFIG ARGS`` in a new process that can import the
    plugins in ``folder``; ``env`` adds environment variables."""
    env = dict(os.environ, PYTHONPATH=f'{ROOT}{os.pathsep}{folder}',
               OMP_NUM_THREADS='1', **env)
    return subprocess.run([sys.executable, '-m', 'posekit', 'train', str(config), *args],
                          env=env, capture_output=True, text=True, timeout=300)
