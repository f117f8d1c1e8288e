"""TrajectoryRegressionHead: VideoPose3D's trajectory model output, the
root joint's position in camera coordinates (``num_joints=1``), regressed
against ``lifting_target_label`` with the codec's ``trajectory_weights``
(weights ``1 / depth`` of the root, so far people count less)."""
from types import MappingProxyType
from typing import Optional, Sequence, Union

from posekit.registry import MODELS
from .base_head import ConfigOrObject
from .temporal_regression_head import TemporalRegressionHead


@MODELS.register_module()
class TrajectoryRegressionHead(TemporalRegressionHead):
    """Conv1d(in_channels, K * 3, 1), as :class:`TemporalRegressionHead`,
    trained with ``trajectory_weights``; loss items ``loss_traj`` and
    ``mpjpe_traj``.

    Args:
        in_channels (int): Channels of the last feature map.
        num_joints (int): K, usually 1 (the root).
        loss (dict | nn.Module): Default MPJPELoss with target weights.
        decoder (dict | codec, optional): VideoPoseLifting codec.
        init_cfg (dict | list[dict], optional): As the temporal head.
    """

    _weight_label = 'trajectory_weights'
    _loss_name, _error_name = 'loss_traj', 'mpjpe_traj'

    def __init__(self, in_channels: Union[int, Sequence[int]],
                 num_joints: int,
                 loss: ConfigOrObject = MappingProxyType(
                     dict(type='MPJPELoss', use_target_weight=True)),
                 decoder: Optional[ConfigOrObject] = None,
                 init_cfg: Optional[Union[dict, list]] = None):
        super().__init__(in_channels, num_joints, loss, decoder, init_cfg)
