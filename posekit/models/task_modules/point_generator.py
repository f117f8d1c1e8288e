"""MlvlPointGenerator: one prior point per feature-map cell, per level.

Convention: cell ``(i, j)`` (row i, column j) of a level with stride
``(s_w, s_h)`` has its prior at input pixel ``((j + offset) * s_w,
(i + offset) * s_h)``; with ``centralize_points`` the offset is 0 and
``(s - 1) / 2`` pixels are added instead, i.e. the centre of the s x s
block of input pixels whose integer coordinates are the cell's. Points are
listed row-major (x varies fastest), as the heads flatten their maps.
"""
from typing import List, Sequence, Tuple, Union

import torch
from torch import Tensor

from posekit.registry import TASK_UTILS

Stride = Union[int, Tuple[int, int]]


def _pair(stride: Stride) -> Tuple[int, int]:
    if isinstance(stride, (tuple, list)):
        if len(stride) != 2:
            raise ValueError(f'a stride is an int or a (w, h) pair, got '
                             f'{stride!r}')
        return tuple(stride)
    return (stride, stride)


@TASK_UTILS.register_module()
class MlvlPointGenerator:
    """Prior points of multi-level feature maps.

    Args:
        strides (list[int | tuple[int, int]]): Stride of each level, as
            ``(w, h)`` when a pair.
        offset (float): Offset of the point in the cell, in strides.
            Defaults to 0.5. Ignored (set to 0) with ``centralize_points``.
        centralize_points (bool): Put the point at the centre of the
            stride x stride pixel block (see the module docstring).
    """

    def __init__(self, strides: Sequence[Stride], offset: float = 0.5,
                 centralize_points: bool = False) -> None:
        self.strides = [_pair(s) for s in strides]
        self.centralize_points = centralize_points
        self.offset = 0.0 if centralize_points else offset

    @property
    def num_levels(self) -> int:
        """int: The number of levels."""
        return len(self.strides)

    @property
    def num_base_priors(self) -> List[int]:
        """list[int]: Priors per cell of each level (always 1)."""
        return [1] * self.num_levels

    def grid_priors(self, featmap_sizes: Sequence[Tuple[int, int]],
                    dtype: torch.dtype = torch.float32,
                    device: Union[str, torch.device] = 'cuda',
                    with_stride: bool = False) -> List[Tensor]:
        """Points of every level.

        Args:
            featmap_sizes (list[tuple[int, int]]): ``(h, w)`` of each level.
            dtype (torch.dtype): Dtype of the points.
            device (str | torch.device): Device of the points ('cuda', the
                default, as MMPose's; heads pass their features' device).
            with_stride (bool): Append the level's ``(s_w, s_h)``.

        Returns:
            list[Tensor]: per level, (h * w, 2) ``(x, y)`` input pixels, or
            (h * w, 4) ``(x, y, s_w, s_h)`` with ``with_stride``.
        """
        if len(featmap_sizes) != self.num_levels:
            raise ValueError(f'MlvlPointGenerator has {self.num_levels} '
                             f'strides but got {len(featmap_sizes)} feature '
                             'map sizes')
        return [self.single_level_grid_priors(size, i, dtype, device,
                                              with_stride)
                for i, size in enumerate(featmap_sizes)]

    def single_level_grid_priors(self, featmap_size: Tuple[int, int],
                                 level_idx: int,
                                 dtype: torch.dtype = torch.float32,
                                 device: Union[str, torch.device] = 'cuda',
                                 with_stride: bool = False) -> Tensor:
        """Points of level ``level_idx`` for a map of ``(h, w)`` cells; see
        :meth:`grid_priors`."""
        feat_h, feat_w = featmap_size
        stride_w, stride_h = self.strides[level_idx]
        xs = ((torch.arange(0, feat_w, device=device) + self.offset) *
              stride_w).to(dtype)
        ys = ((torch.arange(0, feat_h, device=device) + self.offset) *
              stride_h).to(dtype)
        if self.centralize_points:
            xs = xs + float(stride_w - 1) / 2.0
            ys = ys + float(stride_h - 1) / 2.0
        yy, xx = torch.meshgrid(ys, xs, indexing='ij')
        columns = [xx.reshape(-1), yy.reshape(-1)]
        if with_stride:
            n = columns[0].shape[0]
            columns += [columns[0].new_full((n, ), stride_w).to(dtype),
                        columns[0].new_full((n, ), stride_h).to(dtype)]
        return torch.stack(columns, dim=-1).to(device)
