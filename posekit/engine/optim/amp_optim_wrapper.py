"""AmpOptimWrapper: OptimWrapper with automatic mixed precision.

The forward pass runs under ``torch.autocast`` inside :meth:`optim_context`
(the model's ``train_step`` wraps its forward in it, as in MMEngine):

- CUDA: float16 by default (or ``dtype='bfloat16'``), with a
  ``torch.amp.GradScaler`` that scales the loss so small float16 gradients
  do not underflow, unscales before clipping, and skips steps whose
  gradients overflowed.
- CPU: bfloat16 only (the default there); no scaler, because bfloat16 has
  float32's exponent range. float16 on CPU is refused.

The device is the one the optimizer's parameters are on when the wrapper
is built (build it after ``model.to(device)``).
"""
from __future__ import annotations

import warnings
from contextlib import contextmanager
from typing import Any, Iterator

import torch
from torch import nn

from posekit.registry import OPTIM_WRAPPERS

from .optim_wrapper import OptimWrapper

_DTYPES = {'float16': torch.float16, 'bfloat16': torch.bfloat16}


@OPTIM_WRAPPERS.register_module()
class AmpOptimWrapper(OptimWrapper):
    """Mixed-precision training with loss scaling on CUDA.

    Args:
        optimizer (torch.optim.Optimizer): The optimizer it drives.
        accumulative_counts (int): As :class:`OptimWrapper`.
        clip_grad (dict, optional): As :class:`OptimWrapper`; on CUDA the
            gradients are unscaled first.
        loss_scale (str, float or dict): ``'dynamic'`` (GradScaler's
            defaults), a float (a fixed scale) or a dict of
            ``torch.amp.GradScaler`` arguments (``init_scale``,
            ``growth_interval``...). CUDA only; ignored, with a warning, on CPU.
        dtype (str or torch.dtype, optional): ``'float16'`` or
            ``'bfloat16'``. Default: float16 on CUDA, bfloat16 on CPU.
        use_fsdp (bool): Accepted for config compatibility; only False.
    """

    def __init__(self, optimizer: torch.optim.Optimizer,
                 accumulative_counts: int = 1, clip_grad: dict | None = None,
                 loss_scale: str | float | dict = 'dynamic',
                 dtype: str | torch.dtype | None = None,
                 use_fsdp: bool = False) -> None:
        super().__init__(optimizer, accumulative_counts, clip_grad)
        if use_fsdp:
            raise NotImplementedError('AmpOptimWrapper: use_fsdp=True (FSDP) '
                                      'is not supported by posekit')
        self.device_type = _device_type(optimizer)
        self.cast_dtype = _resolve_dtype(dtype, self.device_type)
        self._static_scale: float | None = None
        self.loss_scaler = None
        if self.device_type == 'cuda':
            self.loss_scaler = self._make_scaler(loss_scale)
        elif loss_scale != 'dynamic':
            warnings.warn(f'AmpOptimWrapper: loss_scale={loss_scale!r} is '
                          'ignored on CPU (bfloat16 needs no loss scaling)')

    def _make_scaler(self, loss_scale: Any) -> torch.amp.GradScaler:
        if loss_scale == 'dynamic':
            return torch.amp.GradScaler('cuda')
        if isinstance(loss_scale, (int, float)) and not isinstance(loss_scale, bool):
            self._static_scale = float(loss_scale)
            return torch.amp.GradScaler('cuda', init_scale=self._static_scale)
        if isinstance(loss_scale, dict):
            return torch.amp.GradScaler('cuda', **loss_scale)
        raise TypeError("AmpOptimWrapper: loss_scale must be 'dynamic', a "
                        f'number or a dict, got {loss_scale!r}')

    def backward(self, loss: torch.Tensor, **kwargs: Any) -> None:
        """Backpropagate the (scaled, on CUDA) loss, counting the call."""
        if self.loss_scaler is not None:
            loss = self.loss_scaler.scale(loss)
        loss.backward(**kwargs)
        self._inner_count += 1

    def step(self, **kwargs: Any) -> None:
        """Unscale and clip (if configured), step, update the loss scale."""
        if self.loss_scaler is None:
            super().step(**kwargs)
            return
        if self.clip_grad_kwargs:
            self.loss_scaler.unscale_(self.optimizer)
            self._clip_grad()
        self.loss_scaler.step(self.optimizer, **kwargs)
        # a fixed scale is passed back each time so it never grows or shrinks
        self.loss_scaler.update(self._static_scale)

    @contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        """Autocast (and DDP's no_sync during accumulation) for the forward."""
        param = next(model.parameters(), None)
        if param is not None and param.device.type != self.device_type:
            raise RuntimeError(
                f'AmpOptimWrapper was built for {self.device_type!r} but the '
                f'model is on {param.device.type!r}: build the optimizer '
                'wrapper after moving the model to its device')
        with super().optim_context(model), torch.autocast(
                device_type=self.device_type, dtype=self.cast_dtype):
            yield

    def state_dict(self) -> dict:
        """The optimizer's state, plus ``loss_scaler`` on CUDA."""
        state = super().state_dict()
        if self.loss_scaler is not None:
            state['loss_scaler'] = self.loss_scaler.state_dict()
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        """Load the optimizer's and, if both have one, the scaler's state."""
        state = dict(state_dict)
        scaler_state = state.pop('loss_scaler', None)
        if scaler_state is not None:
            if self.loss_scaler is not None:
                self.loss_scaler.load_state_dict(scaler_state)
            else:
                warnings.warn('AmpOptimWrapper: the checkpoint has a loss '
                              'scaler state, unused on CPU')
        super().load_state_dict(state)


def _device_type(optimizer: torch.optim.Optimizer) -> str:
    for group in optimizer.param_groups:
        for param in group['params']:
            return param.device.type
    return 'cpu'


def _resolve_dtype(dtype: Any, device_type: str) -> torch.dtype:
    if isinstance(dtype, str):
        if dtype not in _DTYPES:
            raise ValueError(f'AmpOptimWrapper: dtype must be one of '
                             f'{list(_DTYPES)}, got {dtype!r}')
        dtype = _DTYPES[dtype]
    if dtype is not None and dtype not in _DTYPES.values():
        raise ValueError('AmpOptimWrapper: dtype must be torch.float16 or '
                         f'torch.bfloat16, got {dtype!r}')
    if device_type == 'cuda':
        if dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported():
            raise RuntimeError('AmpOptimWrapper: this CUDA device does not '
                               "support bfloat16; use dtype='float16'")
        return dtype or torch.float16
    if device_type == 'cpu':
        if dtype == torch.float16:
            raise ValueError("AmpOptimWrapper: float16 autocast needs a CUDA "
                             "device; on CPU use dtype='bfloat16' (or None)")
        return torch.bfloat16
    raise ValueError(f'AmpOptimWrapper: mixed precision on {device_type!r} is '
                     'not supported (CUDA or CPU only)')
