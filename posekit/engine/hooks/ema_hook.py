"""EMAHook and the averaged models it keeps (RTMPose trains with ExpMomentumEMA).

The hook keeps an exponential moving average of the weights next to the
model. Validation and testing run with the averaged weights (swapped in
before and out after), and checkpoints store the averaged weights as
``state_dict`` (what a user loads for inference) and the raw training
weights under ``ema_state_dict`` (keys ``module.*``, plus ``steps``), so that
resuming continues both exactly. This is MMEngine's layout.
"""
from __future__ import annotations

import copy
import itertools
import math

import torch
from torch import nn

from posekit.registry import HOOKS, MODELS
from ..dist import unwrap_model
from .hook import Hook


class BaseAveragedModel(nn.Module):
    """A frozen copy of ``model`` whose weights follow the model's.

    Args:
        model (nn.Module): The model to average.
        interval (int): Average every this many updates (copy in between
            only the buffers). Defaults to 1.
        device (torch.device, optional): Keep the copy there.
        update_buffers (bool): Average the buffers (BN statistics) too,
            rather than copying them. Defaults to False.
    """

    def __init__(self, model: nn.Module, interval: int = 1,
                 device: torch.device | None = None, update_buffers: bool = False) -> None:
        super().__init__()
        self.module = copy.deepcopy(model).requires_grad_(False)
        if device is not None:
            self.module = self.module.to(device)
        self.interval = interval
        self.update_buffers = update_buffers
        self.register_buffer('steps', torch.tensor(0, dtype=torch.long, device=device))
        self.avg_parameters = (self.module.state_dict() if update_buffers
                               else dict(self.module.named_parameters()))

    def avg_func(self, averaged: torch.Tensor, source: torch.Tensor, steps: int) -> None:
        raise NotImplementedError

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    @torch.no_grad()
    def update_parameters(self, model: nn.Module) -> None:
        """Fold the current weights of ``model`` into the average."""
        source = model.state_dict() if self.update_buffers else dict(model.named_parameters())
        steps = int(self.steps)
        for name, avg in self.avg_parameters.items():
            src = source[name].data.to(avg.device)
            if steps == 0:
                avg.data.copy_(src)
            elif steps % self.interval == 0 and avg.dtype.is_floating_point:
                self.avg_func(avg.data, src, steps)
        if not self.update_buffers:
            for b_avg, b_src in zip(self.module.buffers(), model.buffers()):
                b_avg.data.copy_(b_src.data.to(b_avg.device))
        self.steps += 1


@MODELS.register_module()
class ExponentialMovingAverage(BaseAveragedModel):
    """``avg = (1 - momentum) * avg + momentum * weights``.

    Args:
        momentum (float): Weight of the newest weights. Defaults to 0.0002.
    """

    def __init__(self, model: nn.Module, momentum: float = 0.0002, interval: int = 1,
                 device: torch.device | None = None, update_buffers: bool = False) -> None:
        super().__init__(model, interval, device, update_buffers)
        if not 0.0 < momentum < 1.0:
            raise ValueError(f'momentum must be in (0, 1), got {momentum}')
        self.momentum = momentum

    def avg_func(self, averaged, source, steps):
        averaged.lerp_(source, self.momentum)


@MODELS.register_module()
class ExpMomentumEMA(ExponentialMovingAverage):
    """EMA whose momentum starts large and decays to ``momentum`` (YOLOX, RTMPose):
    ``m_t = (1 - momentum) * exp(-(1 + t) / gamma) + momentum``.

    Args:
        gamma (int): Decay length in updates. Defaults to 2000.
    """

    def __init__(self, model: nn.Module, momentum: float = 0.0002, gamma: int = 2000,
                 interval: int = 1, device: torch.device | None = None,
                 update_buffers: bool = False) -> None:
        super().__init__(model, momentum, interval, device, update_buffers)
        if gamma <= 0:
            raise ValueError(f'gamma must be > 0, got {gamma}')
        self.gamma = gamma

    def avg_func(self, averaged, source, steps):
        m = (1 - self.momentum) * math.exp(-float(1 + steps) / self.gamma) + self.momentum
        averaged.mul_(1 - m).add_(source, alpha=m)


@HOOKS.register_module()
class EMAHook(Hook):
    """Keeps an averaged copy of the model; evaluates and saves with it.

    Args:
        ema_type (str): A registered averaged model (``ExpMomentumEMA``,
            ``ExponentialMovingAverage``). Defaults to
            ``'ExponentialMovingAverage'``.
        strict_load (bool): Require an exact key match when loading the
            average from a checkpoint. Defaults to False.
        begin_iter (int): Until this iteration the average just copies the
            weights. Defaults to 0.
        begin_epoch (int): Same, counted in epochs (set one of the two).
        **kwargs: Arguments of ``ema_type`` (``momentum``, ``gamma``,
            ``interval``, ``update_buffers``).
    """

    priority = 'NORMAL'

    def __init__(self, ema_type: str = 'ExponentialMovingAverage',
                 strict_load: bool = False, begin_iter: int = 0,
                 begin_epoch: int = 0, **kwargs) -> None:
        if begin_iter and begin_epoch:
            raise ValueError('EMAHook: set begin_iter or begin_epoch, not both')
        if begin_iter < 0 or begin_epoch < 0:
            raise ValueError('EMAHook: begin_iter and begin_epoch must be >= 0')
        self.ema_cfg = dict(type=ema_type, **kwargs)
        self.strict_load = strict_load
        self.begin_iter, self.begin_epoch = begin_iter, begin_epoch
        self.by_epoch = begin_epoch > 0

    def before_run(self, runner):
        self.src_model = unwrap_model(runner.model)
        self.ema_model = MODELS.build(self.ema_cfg, default_args=dict(model=self.src_model))

    def before_train(self, runner):
        limit, begin = ((runner.max_epochs, self.begin_epoch) if self.by_epoch
                        else (runner.max_iters, self.begin_iter))
        if begin > limit:
            raise ValueError(f'EMAHook: begins at {begin}, after the end of training ({limit})')

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        started = (runner.epoch + 1 >= self.begin_epoch if self.by_epoch
                   else runner.iter + 1 >= self.begin_iter)
        if started:
            self.ema_model.update_parameters(self.src_model)
        else:
            ema = self.ema_model.module.state_dict()
            for name, value in self.src_model.state_dict().items():
                ema[name].data.copy_(value.data)

    def _swap(self, runner, metrics=None) -> None:
        ema, src = self.ema_model.module, self.src_model
        pairs = (zip(itertools.chain(ema.parameters(), ema.buffers()),
                     itertools.chain(src.parameters(), src.buffers()))
                 if self.ema_model.update_buffers else zip(ema.parameters(), src.parameters()))
        with torch.no_grad():
            for a, b in pairs:
                tmp = a.data.clone()
                a.data.copy_(b.data)
                b.data.copy_(tmp)

    before_val_epoch = after_val_epoch = before_test_epoch = after_test_epoch = _swap

    def before_save_checkpoint(self, runner, checkpoint):
        checkpoint['ema_state_dict'] = self.ema_model.state_dict()
        self._swap_in_checkpoint(checkpoint)

    def after_load_checkpoint(self, runner, checkpoint):
        from posekit.models.utils.checkpoint import load_state_dict
        if 'ema_state_dict' in checkpoint and runner.resuming:
            # the file holds the average as state_dict: swap back first
            self._swap_in_checkpoint(checkpoint)
            self.ema_model.load_state_dict(checkpoint['ema_state_dict'],
                                           strict=self.strict_load)
            return
        if runner.resuming:
            runner.logger.warning('EMAHook: the checkpoint has no ema_state_dict; '
                                  'the average starts from its weights')
        weights = {k[7:] if k.startswith('module.') else k: v
                   for k, v in checkpoint['state_dict'].items()}
        load_state_dict(self.ema_model.module, copy.deepcopy(weights),
                        strict=self.strict_load)

    @staticmethod
    def _swap_in_checkpoint(checkpoint: dict) -> None:
        model, ema = checkpoint['state_dict'], checkpoint['ema_state_dict']
        for key in list(ema):
            if key.startswith('module.') and key[7:] in model:
                ema[key], model[key[7:]] = model[key[7:]], ema[key]
