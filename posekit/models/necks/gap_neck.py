"""GlobalAveragePooling: (B, C, H, W) feature maps -> (B, C) vectors."""
from typing import List, Sequence, Tuple, Union

import torch
from torch import Tensor, nn

from posekit.registry import MODELS


@MODELS.register_module()
class GlobalAveragePooling(nn.Module):
    """Average each feature map over its spatial axes.

    Takes a tensor (B, C, H, W) or a tuple/list of them and returns the same
    container of (B, C) tensors. Flattening keeps the batch axis even when
    B = 1 (a ``squeeze`` would drop it).
    """

    def __init__(self) -> None:
        super().__init__()
        self.gap = nn.AdaptiveAvgPool2d((1, 1))

    def init_weights(self) -> None:
        """No parameters."""

    def forward(self, inputs: Union[Tensor, Sequence[Tensor]]
                ) -> Union[Tensor, Tuple[Tensor, ...], List[Tensor]]:
        if isinstance(inputs, torch.Tensor):
            return self.gap(inputs).view(inputs.size(0), -1)
        if isinstance(inputs, (tuple, list)):
            outs = [self.gap(x).view(x.size(0), -1) for x in inputs]
            return tuple(outs) if isinstance(inputs, tuple) else outs
        raise TypeError('GlobalAveragePooling takes a tensor or a tuple/list '
                        f'of tensors, got {type(inputs).__name__}')
