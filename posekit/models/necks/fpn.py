"""FPN: Feature Pyramid Network (Lin et al., CVPR 2017), MMPose's layout.

Submodules ``lateral_convs`` (1x1) and ``fpn_convs`` (3x3, then any extra
stride-2 levels) are ConvModules, as in MMPose, so checkpoints load.
"""
from typing import List, Mapping, Optional, Sequence, Union

import torch.nn.functional as F
from torch import Tensor, nn

from posekit.models.utils import ConvModule
from posekit.registry import MODELS

_EXTRA_SOURCES = ('on_input', 'on_lateral', 'on_output')


@MODELS.register_module()
class FPN(nn.Module):
    """Top-down feature pyramid with lateral connections.

    Args:
        in_channels (list[int]): Channels of each input level.
        out_channels (int): Channels of every output level.
        num_outs (int): Number of output levels.
        start_level (int): First input level used.
        end_level (int): Last input level used (inclusive); -1 means the
            last. Extra levels are only allowed when it is the last.
        add_extra_convs (bool | str): How levels beyond the inputs are made:
            False: max-pool (kernel 1, stride 2) of the last output; True or
            'on_input': stride-2 convs starting from the last used input;
            'on_lateral': from the last lateral; 'on_output': from the last
            output.
        relu_before_extra_convs (bool): ReLU before extra convs after the
            first.
        no_norm_on_lateral (bool): No norm in the lateral convs.
        conv_cfg, norm_cfg, act_cfg (dict, optional): For every ConvModule.
        upsample_cfg (dict): ``F.interpolate`` arguments of the top-down
            path; without ``scale_factor`` the size of the lower level is
            used. Default nearest.
    """

    def __init__(self, in_channels: List[int], out_channels: int,
                 num_outs: int, start_level: int = 0, end_level: int = -1,
                 add_extra_convs: Union[bool, str] = False,
                 relu_before_extra_convs: bool = False,
                 no_norm_on_lateral: bool = False,
                 conv_cfg: Optional[Mapping] = None,
                 norm_cfg: Optional[Mapping] = None,
                 act_cfg: Optional[Mapping] = None,
                 upsample_cfg: Optional[Mapping] = None):
        super().__init__()
        if not isinstance(in_channels, (list, tuple)):
            raise TypeError(f'in_channels must be a list, got {in_channels!r}')
        self.in_channels = list(in_channels)
        self.out_channels = out_channels
        self.num_ins = len(in_channels)
        self.num_outs = num_outs
        self.relu_before_extra_convs = relu_before_extra_convs
        self.no_norm_on_lateral = no_norm_on_lateral
        self.upsample_cfg = dict(upsample_cfg or dict(mode='nearest'))
        if end_level in (-1, self.num_ins - 1):
            self.backbone_end_level = self.num_ins
            if num_outs < self.num_ins - start_level:
                raise ValueError(f'num_outs ({num_outs}) is less than the '
                                 'number of input levels used')
        else:
            # Stopping early: no extra levels.
            self.backbone_end_level = end_level + 1
            if end_level >= self.num_ins or \
                    num_outs != end_level - start_level + 1:
                raise ValueError(f'end_level {end_level} does not fit '
                                 f'{self.num_ins} inputs and {num_outs} outputs')
        self.start_level = start_level
        self.end_level = end_level
        if isinstance(add_extra_convs, str):
            if add_extra_convs not in _EXTRA_SOURCES:
                raise ValueError(f'add_extra_convs must be a bool or one of '
                                 f'{_EXTRA_SOURCES}, got {add_extra_convs!r}')
        elif add_extra_convs:
            add_extra_convs = 'on_input'
        self.add_extra_convs = add_extra_convs

        def conv(cin, k, stride=1, norm=norm_cfg):
            return ConvModule(cin, out_channels, k, stride=stride,
                              padding=(k - 1) // 2, conv_cfg=conv_cfg,
                              norm_cfg=norm, act_cfg=act_cfg, inplace=False)

        self.lateral_convs = nn.ModuleList()
        self.fpn_convs = nn.ModuleList()
        for i in range(start_level, self.backbone_end_level):
            self.lateral_convs.append(
                conv(in_channels[i], 1,
                     norm=None if no_norm_on_lateral else norm_cfg))
            self.fpn_convs.append(conv(out_channels, 3))
        extra_levels = num_outs - self.backbone_end_level + start_level
        if self.add_extra_convs and extra_levels >= 1:
            for i in range(extra_levels):
                cin = (in_channels[self.backbone_end_level - 1]
                       if i == 0 and self.add_extra_convs == 'on_input'
                       else out_channels)
                self.fpn_convs.append(conv(cin, 3, stride=2))

    def init_weights(self) -> None:
        """Xavier-uniform conv weights, zero biases."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, inputs: Sequence[Tensor]) -> List[Tensor]:
        """Feature maps, one per input level -> ``num_outs`` maps."""
        if len(inputs) != len(self.in_channels):
            raise ValueError(f'FPN expects {len(self.in_channels)} feature '
                             f'maps, got {len(inputs)}')
        laterals = [conv(inputs[i + self.start_level])
                    for i, conv in enumerate(self.lateral_convs)]
        for i in range(len(laterals) - 1, 0, -1):
            if 'scale_factor' in self.upsample_cfg:
                up = F.interpolate(laterals[i], **self.upsample_cfg)
            else:
                up = F.interpolate(laterals[i], size=laterals[i - 1].shape[2:],
                                   **self.upsample_cfg)
            laterals[i - 1] = laterals[i - 1] + up
        used = len(laterals)
        outs = [self.fpn_convs[i](laterals[i]) for i in range(used)]
        if self.num_outs > used:
            if not self.add_extra_convs:
                for _ in range(self.num_outs - used):
                    outs.append(F.max_pool2d(outs[-1], 1, stride=2))
            else:
                source = {'on_input': inputs[self.backbone_end_level - 1],
                          'on_lateral': laterals[-1],
                          'on_output': outs[-1]}[self.add_extra_convs]
                outs.append(self.fpn_convs[used](source))
                for i in range(used + 1, self.num_outs):
                    x = outs[-1]
                    if self.relu_before_extra_convs:
                        x = F.relu(x)
                    outs.append(self.fpn_convs[i](x))
        return outs
