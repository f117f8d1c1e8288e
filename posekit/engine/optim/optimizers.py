"""Every ``torch.optim`` optimizer, registered in OPTIMIZERS by class name.

``dict(type='AdamW', lr=5e-4, weight_decay=0.05)`` builds
``torch.optim.AdamW(params, lr=5e-4, weight_decay=0.05)``. torch's
``Adafactor`` is registered as ``TorchAdafactor``, as MMEngine does, because
``Adafactor`` there means the ``transformers`` optimizer (other arguments).
"""
from __future__ import annotations

import torch

from posekit.registry import OPTIMIZERS


def register_torch_optimizers() -> list[str]:
    """Register each ``torch.optim.Optimizer`` subclass; return the names."""
    names = []
    for attr in dir(torch.optim):
        cls = getattr(torch.optim, attr)
        if (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)
                and cls is not torch.optim.Optimizer):
            name = 'TorchAdafactor' if attr == 'Adafactor' else attr
            OPTIMIZERS.register_module(name=name, module=cls)
            names.append(name)
    return names


TORCH_OPTIMIZERS = register_torch_optimizers()
