"""posekit.engine: its modules are imported here, which registers them."""
from . import optim, schedulers  # noqa: F401
from . import hooks, loops  # noqa: F401  (registers HOOKS and LOOPS)
from .checkpoint import CheckpointError, find_latest_checkpoint, read_checkpoint, save_checkpoint
from .dataloader import build_dataloader, pseudo_collate
from .hooks import Hook
from .loops import (EpochBasedTrainLoop, IterBasedTrainLoop, TestLoop, ValLoop,
                    train_step)
from .runner import Runner

__all__ = [
    'CheckpointError', 'EpochBasedTrainLoop', 'Hook', 'IterBasedTrainLoop',
    'Runner', 'TestLoop', 'ValLoop', 'build_dataloader', 'find_latest_checkpoint',
    'pseudo_collate', 'read_checkpoint', 'save_checkpoint', 'train_step'
]
