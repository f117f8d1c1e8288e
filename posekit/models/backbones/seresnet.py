"""SEResNet: ResNet whose bottlenecks end in squeeze-and-excitation.

Parameter names (so MMPose checkpoints load) are ResNet's (see
:mod:`.resnet`), plus, in every block, ``se_layer.conv1.conv`` (squeeze,
with bias) and ``se_layer.conv2.conv`` (excite, with bias), listed after the
block's ``downsample``.
"""
from __future__ import annotations

import torch

from posekit.registry import MODELS
from ..utils import SELayer
from .resnet import Bottleneck, ResNet


class SEBottleneck(Bottleneck):
    """A :class:`Bottleneck` whose residual branch is gated by an :class:`SELayer`
    before the shortcut is added.

    Args:
        in_channels (int), out_channels (int): Block input/output channels.
        se_ratio (int): Squeeze ratio of the SE layer. Default 16.
        **kwargs: Every other :class:`Bottleneck` argument.
    """

    def __init__(self, in_channels: int, out_channels: int, se_ratio: int = 16, **kwargs):
        super().__init__(in_channels, out_channels, **kwargs)
        self.se_layer = SELayer(out_channels, ratio=se_ratio)

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        return self.se_layer(super().branch(x))


@MODELS.register_module()
class SEResNet(ResNet):
    """SE-ResNet (Hu et al. 2018), as MMPose builds it.

    Args:
        depth (int): 50, 101 or 152.
        se_ratio (int): Squeeze ratio of every block's SE layer. Default 16.
        **kwargs: Every other :class:`ResNet` argument (strides, out_indices,
            deep_stem, frozen_stages, norm_cfg, init_cfg...).

    Input (N, in_channels, H, W); outputs as :class:`ResNet` with bottlenecks:
    stage i gives (N, base_channels * 4 * 2**i, H / 2**(i + 2), W / 2**(i + 2)).
    """

    arch_settings = {50: (SEBottleneck, (3, 4, 6, 3)), 101: (SEBottleneck, (3, 4, 23, 3)),
                     152: (SEBottleneck, (3, 8, 36, 3))}

    def __init__(self, depth: int, se_ratio: int = 16, **kwargs):
        # read by _block_args() while ResNet.__init__ builds the stages
        self.se_ratio = se_ratio
        super().__init__(depth, **kwargs)

    def _block_args(self) -> dict:
        return dict(se_ratio=self.se_ratio)
