"""SyncBatchNorm back to plain batch norm, for one process (or CPU ranks)."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


class BatchNormAnyRank(_BatchNorm):
    """Batch norm for inputs of any rank (N, C, ...), as SyncBatchNorm
    accepts: a reverted SyncBN may sit before a 1-D or 3-D input."""

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f'expected at least 2-D input, got {input.dim()}-D')


def revert_sync_batchnorm(module: nn.Module) -> nn.Module:
    """Replace the SyncBatchNorm layers of ``module`` by plain batch norm.

    MMPose configs may say ``norm_cfg=dict(type='SyncBN')``; SyncBN needs a
    process group and, in torch, a GPU, and at inference it must not
    synchronise with other processes. The new layers share the old ones'
    parameters and buffers (same tensors, so an optimizer or EMA holding
    them is unaffected) and their train/eval mode; state_dict keys do not
    change. Returns ``module`` (or the new layer when ``module`` itself is
    a SyncBatchNorm).
    """
    if isinstance(module, nn.SyncBatchNorm):
        bn = BatchNormAnyRank(module.num_features, module.eps, module.momentum,
                              module.affine, module.track_running_stats)
        if module.affine:
            bn.weight = module.weight
            bn.bias = module.bias
        if module.track_running_stats:
            bn.running_mean = module.running_mean
            bn.running_var = module.running_var
            bn.num_batches_tracked = module.num_batches_tracked
        bn.train(module.training)
        return bn
    for name, child in module.named_children():
        new = revert_sync_batchnorm(child)
        if new is not child:
            setattr(module, name, new)
    return module


def has_sync_batchnorm(module: nn.Module) -> bool:
    """Whether ``module`` holds a SyncBatchNorm layer."""
    return any(isinstance(m, nn.SyncBatchNorm) for m in module.modules())
