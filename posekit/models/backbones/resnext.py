"""ResNeXt: ResNet whose bottleneck 3x3 convs are grouped and wider.

Parameter names are ResNet's (see :mod:`.resnet`); only the shapes of each
block's ``conv1``/``conv2``/``conv3`` and ``bn1``/``bn2`` change.
"""
from __future__ import annotations

from posekit.registry import MODELS

from .resnet import Bottleneck, ResNet


def grouped_width(out_channels: int, expansion: int, groups: int,
                  width_per_group: int, base_channels: int) -> int:
    """Width of a grouped bottleneck's 3x3 conv ("32x4d": groups=32, width 4).

    A plain bottleneck is ``out_channels // expansion`` wide; with groups the
    stage-1 width ``base_channels`` becomes ``groups * width_per_group`` and
    later stages scale alike. ``groups=1`` keeps the plain width (as MMPose).
    """
    mid = out_channels // expansion
    if groups == 1:
        return mid
    if mid % base_channels:
        raise ValueError(f'bottleneck width {mid} is not a multiple of base_channels '
                         f'{base_channels}; grouped widths scale from it')
    return groups * width_per_group * mid // base_channels


class ResNeXtBottleneck(Bottleneck):
    """A :class:`Bottleneck` with a grouped 3x3 conv of :func:`grouped_width`.

    Args:
        in_channels (int), out_channels (int): Block input/output channels.
        base_channels (int): The backbone's stage-1 width. Default 64.
        groups (int): Groups of the 3x3 conv. Default 32.
        width_per_group (int): Channels per group at stage 1. Default 4.
        **kwargs: Every other :class:`Bottleneck` argument.
    """

    def __init__(self, in_channels: int, out_channels: int, base_channels: int = 64,
                 groups: int = 32, width_per_group: int = 4, **kwargs):
        expansion = kwargs.get('expansion', self.expansion)
        mid = grouped_width(out_channels, expansion, groups, width_per_group, base_channels)
        super().__init__(in_channels, out_channels, mid_channels=mid, groups=groups, **kwargs)
        self.groups, self.width_per_group = groups, width_per_group


@MODELS.register_module()
class ResNeXt(ResNet):
    """ResNeXt (Xie et al. 2017), as MMPose builds it.

    Args:
        depth (int): 50, 101 or 152.
        groups (int): Groups of every 3x3 conv. Default 32.
        width_per_group (int): Their channels per group at stage 1. Default 4.
        base_channels (int): Stage-1 width before expansion. Default 64.
        **kwargs: Every other :class:`ResNet` argument.

    Input (N, in_channels, H, W); stage i gives
    (N, base_channels * 4 * 2**i, H / 2**(i + 2), W / 2**(i + 2)).
    """

    arch_settings = {50: (ResNeXtBottleneck, (3, 4, 6, 3)),
                     101: (ResNeXtBottleneck, (3, 4, 23, 3)),
                     152: (ResNeXtBottleneck, (3, 8, 36, 3))}

    def __init__(self, depth: int, groups: int = 32, width_per_group: int = 4,
                 base_channels: int = 64, **kwargs):
        # read by _block_args() while ResNet.__init__ builds the stages
        self.groups, self.width_per_group = groups, width_per_group
        self.base_channels = base_channels
        super().__init__(depth, base_channels=base_channels, **kwargs)

    def _block_args(self) -> dict:
        return dict(groups=self.groups, width_per_group=self.width_per_group,
                    base_channels=self.base_channels)
