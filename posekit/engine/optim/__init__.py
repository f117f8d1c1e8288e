"""posekit.engine.optim: optimizers, optimizer wrappers and their builder.

Importing this package registers every ``torch.optim`` optimizer in
``OPTIMIZERS`` and ``OptimWrapper`` / ``AmpOptimWrapper`` in ``OPTIM_WRAPPERS``.
"""
from .amp_optim_wrapper import AmpOptimWrapper
from .builder import CONSTRUCTORS, auto_scale_lr, build_optim_wrapper
from .optim_wrapper import OptimWrapper
from .optimizers import TORCH_OPTIMIZERS, register_torch_optimizers
from .param_groups import default_groups, layer_decay_groups

__all__ = [
    'AmpOptimWrapper', 'CONSTRUCTORS', 'OptimWrapper', 'TORCH_OPTIMIZERS',
    'auto_scale_lr', 'build_optim_wrapper', 'default_groups',
    'layer_decay_groups', 'register_torch_optimizers'
]
