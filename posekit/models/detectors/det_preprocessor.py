"""DetDataPreprocessor: MMDetection's batch preprocessor, for inference.

The steps are :class:`~posekit.models.data_preprocessors.PoseDataPreprocessor`'s
(stack, channel flip, ``(x - mean) / std``, bottom/right padding with
``pad_value`` to a multiple of ``pad_size_divisor``; each sample gets
``batch_input_shape`` and ``pad_shape``). ``batch_augments`` are training
augmentations: a config may name them (MMDetection's YOLOX configs do) and
inference ignores them as MMDetection does, but a training-mode call raises.
"""
from __future__ import annotations

from typing import Mapping, Sequence

from posekit.registry import MODELS
from ..data_preprocessors import PoseDataPreprocessor


@MODELS.register_module()
class DetDataPreprocessor(PoseDataPreprocessor):
    """Normalise and pad a batch of detector inputs.

    Args:
        mean, std (Sequence[float], optional): Per channel, in the order
            after the flip; None (both) means no normalisation (YOLOX).
        pad_size_divisor (int): Padded sizes are multiples of it.
        pad_value (float): Value of padded pixels (after normalisation).
        bgr_to_rgb, rgb_to_bgr (bool): Reverse the channels.
        non_blocking (bool): Asynchronous host-to-device copies.
        batch_augments (list[dict], optional): Kept, never built: training
            only (see the module docstring).
        pad_mask, pad_seg (bool): Must be False (no masks or segmentation
            maps at inference); ``mask_pad_value``, ``seg_pad_value`` and
            ``boxtype2tensor`` are accepted and unused.

    Raises:
        ValueError: ``pad_mask`` or ``pad_seg`` set; the bad values of
            :class:`PoseDataPreprocessor`.
    """

    def __init__(self, mean: Sequence[float] | None = None,
                 std: Sequence[float] | None = None, pad_size_divisor: int = 1,
                 pad_value: float = 0, pad_mask: bool = False, mask_pad_value: int = 0,
                 pad_seg: bool = False, seg_pad_value: int = 255,
                 bgr_to_rgb: bool = False, rgb_to_bgr: bool = False,
                 boxtype2tensor: bool = True, non_blocking: bool = False,
                 batch_augments: Sequence[Mapping] | None = None) -> None:
        if pad_mask or pad_seg:
            raise ValueError('DetDataPreprocessor: pad_mask and pad_seg are for '
                             'training with masks or segmentation maps, which '
                             'posekit does not do; set them to False')
        super().__init__(mean=mean, std=std, pad_size_divisor=pad_size_divisor,
                         pad_value=pad_value, bgr_to_rgb=bgr_to_rgb,
                         rgb_to_bgr=rgb_to_bgr, non_blocking=non_blocking)
        self.det_batch_augments = list(batch_augments or ())

    def forward(self, data: dict, training: bool = False) -> dict:
        """Preprocess a collated batch (see :class:`PoseDataPreprocessor`).

        Raises:
            NotImplementedError: ``training`` with ``batch_augments`` named.
        """
        if training and self.det_batch_augments:
            names = [a.get('type') if isinstance(a, Mapping) else type(a).__name__
                     for a in self.det_batch_augments]
            raise NotImplementedError(
                f'DetDataPreprocessor: batch_augments {names} are training '
                'augmentations and posekit runs detectors for inference only')
        return super().forward(data, training)
