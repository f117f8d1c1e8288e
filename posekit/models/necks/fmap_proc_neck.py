"""FeatureMapProcessor: select, concatenate, ReLU and rescale feature maps,
with no parameters."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from posekit.registry import MODELS


@MODELS.register_module()
class FeatureMapProcessor(nn.Module):
    """Turn a backbone's feature maps into what a head expects.

    Steps, in order (the first two only for a tuple/list input):

    1. ``select_index``: keep these maps (an int means one);
    2. ``concat``: resize every map bilinearly to the size of the first and
       concatenate them along channels (one map results);
    3. ``apply_relu``: ReLU each map;
    4. ``scale_factor`` != 1: resize each map bilinearly by that factor.

    A tensor input gives a tensor; a tuple/list input gives a list.

    Args:
        select_index (int | tuple[int], optional): Maps to keep; None keeps
            all.
        concat (bool): Concatenate the maps.
        scale_factor (float): Resize factor, > 0.
        apply_relu (bool): Apply ReLU.
        align_corners (bool): For the bilinear resizes.
    """

    def __init__(self,
                 select_index: Optional[Union[int, Tuple[int, ...]]] = None,
                 concat: bool = False, scale_factor: float = 1.0,
                 apply_relu: bool = False, align_corners: bool = False):
        super().__init__()
        if isinstance(select_index, int):
            select_index = (select_index, )
        if scale_factor <= 0:
            raise ValueError(f'scale_factor must be positive, got '
                             f'{scale_factor}')
        self.select_index = select_index
        self.concat = concat
        self.scale_factor = scale_factor
        self.apply_relu = apply_relu
        self.align_corners = align_corners

    def forward(self, inputs: Union[Tensor, Sequence[Tensor]]
                ) -> Union[Tensor, List[Tensor]]:
        single = isinstance(inputs, torch.Tensor)
        maps = [inputs] if single else list(inputs)
        if not single:
            if self.select_index is not None:
                maps = [maps[i] for i in self.select_index]
            if self.concat:
                maps = [self._concat(maps)]
        if self.apply_relu:
            maps = [F.relu(x) for x in maps]
        if self.scale_factor != 1.0:
            maps = [F.interpolate(x, scale_factor=self.scale_factor,
                                  mode='bilinear',
                                  align_corners=self.align_corners)
                    for x in maps]
        return maps[0] if single else maps

    def _concat(self, maps: Sequence[Tensor]) -> Tensor:
        size = tuple(int(s) for s in maps[0].shape[-2:])
        resized = [F.interpolate(x, size=size, mode='bilinear',
                                 align_corners=self.align_corners)
                   for x in maps]
        return torch.cat(resized, dim=1)
