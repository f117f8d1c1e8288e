"""What every backbone shares: frozen stages and BN kept in eval mode.

A backbone's ``forward`` returns a tuple of feature maps, (N, C_i, H_i, W_i)
each, one per index in ``out_indices`` (MMPose's convention: heads and necks
index into that tuple).
"""
from __future__ import annotations

from typing import Iterable

import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..utils import BaseModule


def freeze(modules: Iterable[nn.Module], eval_mode: bool = True) -> None:
    """Stop gradients to the modules' parameters and (optionally) put them in eval mode."""
    for m in modules:
        if eval_mode:
            m.eval()
        for param in m.parameters():
            param.requires_grad = False


class BaseBackbone(BaseModule):
    """A backbone with ``frozen_stages`` and ``norm_eval`` honoured by :meth:`train`.

    Subclasses set ``self.frozen_stages`` and ``self.norm_eval`` and define
    ``_freeze_stages``, which ``train()`` calls each time, because
    ``model.train()`` would otherwise put frozen BN layers back in train mode.
    """

    frozen_stages: int = -1
    norm_eval: bool = False

    def _freeze_stages(self) -> None:
        pass

    def train(self, mode: bool = True) -> 'BaseBackbone':
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            # Running statistics stay fixed: fine-tuning with small batches.
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self
