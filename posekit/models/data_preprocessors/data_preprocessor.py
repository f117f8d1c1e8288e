"""Data preprocessors: the first step of a model, run on the model's device.

A data loader yields ``dict(inputs=[(C, H, W) uint8 tensors], data_samples=
[PoseDataSample])``. The preprocessor moves that batch to the model's device
and only then converts it to float and normalises it, so that on a GPU the
per-pixel work is done by the GPU and the host copies 1 byte per pixel, not 4.

The semantics are MMEngine's ``ImgDataPreprocessor`` (which MMPose's
``PoseDataPreprocessor`` extends): channel flip, then ``(x - mean) / std``,
then padding of the bottom and right edges with ``pad_value`` (in normalised
units, since padding comes after normalisation) up to the largest image of
the batch rounded up to ``pad_size_divisor``.
"""
from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from posekit.registry import MODELS
from posekit.structures import BaseDataElement


@MODELS.register_module()
class BaseDataPreprocessor(nn.Module):
    """Move a batch to the model's device; nothing else.

    The device is that of a zero-size buffer, so ``model.to(device)`` (or
    ``.cuda()``) moves the preprocessor along with the rest of the model.
    The buffer is not persistent: it never appears in a ``state_dict``.

    Args:
        non_blocking (bool): Asynchronous host-to-device copies (worth it with
            pinned memory). Defaults to False.
    """

    def __init__(self, non_blocking: bool = False) -> None:
        super().__init__()
        self.non_blocking = non_blocking
        self.register_buffer('_device_anchor', torch.empty(0),
                             persistent=False)

    @property
    def device(self) -> torch.device:
        """torch.device: Where batches are moved to."""
        return self._device_anchor.device

    def cast_data(self, data):
        """Move every tensor and data sample in ``data`` to :attr:`device`.

        Containers (dict, list, tuple) are rebuilt; other values are returned
        as they are. Nothing is copied when the data is already there.
        """
        if isinstance(data, Mapping):
            return {k: self.cast_data(v) for k, v in data.items()}
        if isinstance(data, (list, tuple)):
            return type(data)(self.cast_data(v) for v in data)
        if isinstance(data, torch.Tensor):
            return data.to(self.device, non_blocking=self.non_blocking)
        if isinstance(data, BaseDataElement):
            if self.device.type == 'cpu':
                return data  # data samples are built on the CPU
            return data.to(self.device, non_blocking=self.non_blocking)
        return data

    def forward(self, data: dict, training: bool = False) -> dict:
        """Return ``data`` with its tensors on :attr:`device`.

        Args:
            data (dict): A collated batch, ``dict(inputs=..., data_samples=
                ...)``.
            training (bool): Unused here; subclasses augment when True.
        """
        return self.cast_data(data)


@MODELS.register_module()
class PoseDataPreprocessor(BaseDataPreprocessor):
    """Stack, move, normalise and pad a batch of images.

    Steps, in order (MMEngine's ``ImgDataPreprocessor`` semantics):

    1. stack the ``(C, H, W)`` tensors of ``data['inputs']`` (already
       ``(N, C, H, W)`` is accepted too) and move them to the model's device;
    2. flip the channel order (BGR <-> RGB) when asked and ``C == 3``;
    3. convert to float32 and compute ``(x - mean) / std`` per channel;
    4. pad right and bottom with ``pad_value`` to the batch's largest
       ``(H, W)`` rounded up to a multiple of ``pad_size_divisor``;
    5. when ``training``, run ``batch_augments`` in order.

    Each data sample gets metainfo ``batch_input_shape`` (the padded batch
    ``(H, W)``) and ``pad_shape`` (its own ``(H, W)`` rounded up to the
    divisor), as in MMPose.

    Args:
        mean (Sequence[float], optional): Per-channel mean, 1 or 3 values, in
            the channel order *after* the flip (RGB for ``bgr_to_rgb=True``).
            ``None`` (with ``std=None``) means no normalisation.
        std (Sequence[float], optional): Per-channel standard deviation, same
            rules as ``mean``.
        pad_size_divisor (int): Padded sizes are multiples of it. Defaults to
            1 (pad only to the largest image of the batch).
        pad_value (float): Value of padded pixels. Defaults to 0.
        bgr_to_rgb (bool): Reverse the 3 channels. Defaults to False.
        rgb_to_bgr (bool): Same operation, named for RGB input. Defaults to
            False. At most one of the two may be set.
        non_blocking (bool): Asynchronous host-to-device copies. Defaults to
            False.
        batch_augments (list[dict | Callable], optional): Batch-level training
            augmentations, configs built with ``MODELS`` or callables, each
            called as ``inputs, data_samples = aug(inputs, data_samples)``.

    Raises:
        ValueError: ``mean`` or ``std`` given alone, with a length other than
            1 or 3, or both channel flips set.
    """

    def __init__(self,
                 mean: Sequence[float] | None = None,
                 std: Sequence[float] | None = None,
                 pad_size_divisor: int = 1,
                 pad_value: float = 0,
                 bgr_to_rgb: bool = False,
                 rgb_to_bgr: bool = False,
                 non_blocking: bool = False,
                 batch_augments: Sequence[Mapping | Callable] | None = None
                 ) -> None:
        super().__init__(non_blocking=non_blocking)
        if bgr_to_rgb and rgb_to_bgr:
            raise ValueError('PoseDataPreprocessor: set at most one of '
                             'bgr_to_rgb and rgb_to_bgr (both reverse the '
                             'channels)')
        if (mean is None) != (std is None):
            raise ValueError('PoseDataPreprocessor: give both mean and std, '
                             f'or neither (got mean={mean}, std={std})')
        if int(pad_size_divisor) < 1:
            raise ValueError('PoseDataPreprocessor: pad_size_divisor must be '
                             f'>= 1, got {pad_size_divisor}')
        self.normalize = mean is not None
        if self.normalize:
            for name, values in (('mean', mean), ('std', std)):
                if len(values) not in (1, 3):
                    raise ValueError(
                        f'PoseDataPreprocessor: {name} must have 1 value '
                        f'(gray) or 3 (one per colour channel), got '
                        f'{len(values)}: {list(values)}')
            # (C, 1, 1) so that they broadcast over (N, C, H, W); not saved
            # in checkpoints: they come from the config.
            self.register_buffer('mean', _channel_tensor(mean), False)
            self.register_buffer('std', _channel_tensor(std), False)
        self.flip_channels = bgr_to_rgb or rgb_to_bgr
        self.pad_size_divisor = int(pad_size_divisor)
        self.pad_value = pad_value
        augments = [MODELS.build(a) for a in batch_augments or ()]
        if all(isinstance(a, nn.Module) for a in augments):
            # a ModuleList follows the model to its device
            self.batch_augments = nn.ModuleList(augments) if augments else None
        else:
            self.batch_augments = augments

    def forward(self, data: dict, training: bool = False) -> dict:
        """Preprocess a collated batch.

        Args:
            data (dict): ``inputs``: list of ``(C, H, W)`` tensors (any dtype,
                usually uint8), or of lists of them (one per test scale),
                or an ``(N, C, H, W)`` tensor; ``data_samples``
                (list[PoseDataSample], optional).
            training (bool): Run ``batch_augments``. Defaults to False.

        Returns:
            dict: ``inputs``: ``(N, C, H', W')`` float32 on the model's device
            (for a multi-scale test, where each image is a list of its
            scales, a list of such batches, one per scale);
            ``data_samples``: the samples (on the device), or None.
        """
        if not isinstance(data, Mapping) or 'inputs' not in data:
            raise TypeError('PoseDataPreprocessor expects a dict with an '
                            f'"inputs" key, got {type(data).__name__}')
        inputs = data['inputs']
        samples = self.cast_data(data.get('data_samples'))
        if (not isinstance(inputs, torch.Tensor) and len(inputs)
                and isinstance(inputs[0], (list, tuple))):
            # a multi-scale test: per image a list of scales (BottomupResize
            # with aug_scales) -> one padded batch per scale, main one first
            if len({len(scales) for scales in inputs}) != 1:
                raise ValueError('PoseDataPreprocessor: the images of a batch '
                                 'have different numbers of scales')
            per_scale = [self._batch(list(images)) for images in zip(*inputs)]
            batch = [b for b, _ in per_scale]
            sizes = per_scale[0][1]
        else:
            batch, sizes = self._batch(inputs)
        if samples is not None:
            main = batch[0] if isinstance(batch, list) else batch
            batch_shape = tuple(main.shape[-2:])
            for sample, (h, w) in zip(samples, sizes):
                sample.set_metainfo(dict(
                    batch_input_shape=batch_shape,
                    pad_shape=(self._round_up(h), self._round_up(w))))
        if training and self.batch_augments:
            for augment in self.batch_augments:
                batch, samples = augment(batch, samples)
        return dict(inputs=batch, data_samples=samples)

    def _batch(self, inputs) -> tuple[torch.Tensor, list[tuple]]:
        """One padded, normalised ``(N, C, H', W')`` batch on the device
        and the images' own ``(H, W)``."""
        if isinstance(inputs, torch.Tensor):
            sizes = [tuple(inputs.shape[-2:])] * len(inputs)
            return self._pad(self._normalize(self.cast_data(inputs))), sizes
        inputs = list(inputs)
        if not inputs:
            raise ValueError('PoseDataPreprocessor: the batch is empty')
        sizes = [tuple(t.shape[-2:]) for t in inputs]
        if len(set(t.shape for t in inputs)) == 1:
            # the usual case: stack on the host, one copy, batched math
            batch = self._normalize(self.cast_data(torch.stack(inputs)))
        else:
            batch = [self._normalize(self.cast_data(t)[None])[0]
                     for t in inputs]
        return self._pad(batch), sizes

    def _normalize(self, batch: torch.Tensor) -> torch.Tensor:
        """Flip channels, convert to float and normalise ``(..., C, H, W)``."""
        channels = batch.shape[-3] if batch.dim() >= 3 else 0
        if self.flip_channels and channels == 3:
            batch = batch.flip(-3)
        batch = batch.float()
        if self.normalize:
            if len(self.mean) == 3 and channels != 3:
                raise ValueError(
                    'PoseDataPreprocessor: mean/std have 3 values, so inputs '
                    f'must have 3 channels, got shape {tuple(batch.shape)}')
            batch = (batch - self.mean) / self.std
        return batch

    def _pad(self, batch: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
        """Pad to the batch's largest (H, W), rounded up; stack a list."""
        shapes = [t.shape[-2:] for t in batch]
        h = self._round_up(max(s[0] for s in shapes))
        w = self._round_up(max(s[1] for s in shapes))
        if isinstance(batch, torch.Tensor):
            if batch.shape[-2:] == (h, w):
                return batch
            return F.pad(batch, (0, w - batch.shape[-1], 0,
                                 h - batch.shape[-2]), value=self.pad_value)
        return torch.stack([
            F.pad(t, (0, w - t.shape[-1], 0, h - t.shape[-2]),
                  value=self.pad_value) for t in batch])

    def _round_up(self, size: int) -> int:
        return math.ceil(size / self.pad_size_divisor) * self.pad_size_divisor


def _channel_tensor(values: Sequence[float]) -> torch.Tensor:
    """``[a, b, c]`` -> float32 tensor of shape ``(3, 1, 1)``."""
    return torch.tensor([float(v) for v in values]).view(-1, 1, 1)
