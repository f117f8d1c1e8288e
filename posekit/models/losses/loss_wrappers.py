"""Containers of several losses, built from a list or a dict of configs."""
from typing import List, Mapping, Optional, Sequence, Union

from torch import Tensor, nn

from posekit.registry import MODELS


@MODELS.register_module()
class MultipleLossWrapper(nn.Module):
    """Apply the i-th loss to the i-th (input, target) pair.

    Args:
        losses (list): Loss configs or built loss modules.

    ``forward(input_list, target_list, keypoint_weights)`` returns the list
    of losses, in order; the same weights go to every loss.
    """

    def __init__(self, losses: Sequence[Union[Mapping, nn.Module]]):
        super().__init__()
        self.num_losses = len(losses)
        self.loss_modules = nn.ModuleList(MODELS.build(c) for c in losses)

    def forward(self, input_list: Sequence[Tensor],
                target_list: Sequence[Tensor],
                keypoint_weights: Optional[Tensor] = None) -> List[Tensor]:
        if not (isinstance(input_list, (list, tuple))
                and isinstance(target_list, (list, tuple))):
            raise TypeError('MultipleLossWrapper takes a list of inputs and a '
                            'list of targets')
        if not len(input_list) == len(target_list) == self.num_losses:
            raise ValueError(f'{self.num_losses} losses for {len(input_list)} '
                             f'inputs and {len(target_list)} targets')
        return [loss(x, y, keypoint_weights) for loss, x, y in
                zip(self.loss_modules, input_list, target_list)]


@MODELS.register_module()
class CombinedLoss(nn.ModuleDict):
    """Named losses, each called on its own: ``module.heatmap_loss(...)``.

    Args:
        losses (dict): name -> loss config or built module.
    """

    def __init__(self, losses: Mapping[str, Union[Mapping, nn.Module]]):
        super().__init__()
        for name, cfg in losses.items():
            self.add_module(name, MODELS.build(cfg))
