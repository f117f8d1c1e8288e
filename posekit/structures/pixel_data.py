"""PixelData: dense maps (heatmaps, masks, displacement fields) of one size."""
from typing import Any, Optional, Tuple, Union

import numpy as np
import torch

from .data_element import BaseDataElement


class PixelData(BaseDataElement):
    """Data fields of shape ``(C, H, W)`` sharing the same ``(H, W)``.

    Fields must be ``np.ndarray`` or ``torch.Tensor``. A 2-D ``(H, W)`` value
    is stored as ``(1, H, W)``. ``(H, W)`` is the map's own grid (e.g. the
    heatmap size), not the image size.

    ``pd[y0:y1, x0:x1]`` crops every field (rows first, as in numpy) and
    returns a new PixelData; an int index keeps its axis (length 1).

    Examples:
        >>> pd = PixelData(heatmaps=np.zeros((17, 64, 48)))
        >>> pd.shape, pd[8:16, 0:4].heatmaps.shape
        ((64, 48), (17, 8, 4))
    """

    def _check_data(self, name: str, value: Any) -> Any:
        if not isinstance(value, (np.ndarray, torch.Tensor)):
            raise TypeError(
                f"PixelData field '{name}' must be np.ndarray or "
                f'torch.Tensor, got {type(value).__name__}')
        if value.ndim == 2:
            value = value[None]
        elif value.ndim != 3:
            raise ValueError(
                f"PixelData field '{name}' must have shape (C, H, W) or "
                f'(H, W), got {tuple(value.shape)}')
        for other in self._data_fields:
            if other == name:
                continue
            expected = tuple(self.__dict__[other].shape[-2:])
            if tuple(value.shape[-2:]) != expected:
                raise ValueError(
                    f"PixelData field '{name}' has shape "
                    f'{tuple(value.shape)}, whose (H, W) '
                    f'{tuple(value.shape[-2:])} differs from {expected} of '
                    f"field '{other}'")
            break  # stored fields already agree with each other
        return value

    @property
    def shape(self) -> Optional[Tuple[int, int]]:
        """tuple[int, int] | None: ``(H, W)`` of the fields, None if empty."""
        for name in self._data_fields:
            return tuple(self.__dict__[name].shape[-2:])
        return None

    def __getitem__(self, item: Union[str, Tuple[Any, Any]]) -> Any:
        if isinstance(item, str):
            return getattr(self, item)
        if not (isinstance(item, tuple) and len(item) == 2):
            raise TypeError(
                'PixelData is indexed as pd[rows, cols] with two int or '
                f'slice items, got {item!r}')
        height, width = self.shape or (0, 0)
        rows = _as_slice(item[0], height, 'row')
        cols = _as_slice(item[1], width, 'column')
        out = self.__class__()
        out.set_metainfo(self.metainfo)
        for name, value in self.items():
            out.set_field(value[:, rows, cols], name)
        return out


def _as_slice(index: Any, size: int, axis: str) -> slice:
    if isinstance(index, slice):
        return index
    if isinstance(index, (int, np.integer)):
        index = int(index)
        if not -size <= index < size:
            raise IndexError(
                f'{axis} index {index} is out of range for size {size}')
        index = index + size if index < 0 else index
        return slice(index, index + 1)
    raise TypeError(
        f'PixelData {axis} index must be int or slice, got '
        f'{type(index).__name__}')
