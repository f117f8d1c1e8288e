"""Fixtures shared across test folders."""
import faulthandler
from pathlib import Path

import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

ROOT = Path(__file__).resolve().parents[1]
# the quick start's small HRNet (128x96 input)
QUICKSTART_CONFIG = str(ROOT / 'configs/body_2d_keypoint/topdown_heatmap/synthetic/'
                        'td-hm_hrnet-tiny_1xb8-9e_synthetic-128x96.py')


# no test takes a minute; one still running after this many seconds hangs
HANG_SECONDS = 300


@pytest.fixture(autouse=True)
def _no_silent_hang():
    """A hung test prints every thread's stack and ends the run, instead of
    waiting for CI's time limit with nothing to show."""
    faulthandler.dump_traceback_later(HANG_SECONDS, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture(scope='session')
def bn_checkpoint(tmp_path_factory) -> str:
    """The quick-start model with seeded weights and BatchNorm statistics
    from three train-mode batches (at PyTorch's default statistics a fold,
    a reduced precision or a quantization proves nothing), as a checkpoint."""
    from posekit.apis import init_model
    torch.manual_seed(0)
    model = init_model(QUICKSTART_CONFIG)
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            m.momentum = None   # running statistics = the mean over the batches
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.rand(4, 3, 128, 96) * 4 - 2, None, mode='tensor')
    path = tmp_path_factory.mktemp('bn_checkpoint') / 'model.pth'
    torch.save(dict(state_dict=model.state_dict()), path)
    return str(path)
