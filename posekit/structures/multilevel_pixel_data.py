"""MultilevelPixelData: PixelData at several resolutions (e.g. MSPN stages)."""
import copy
from typing import Any, Callable, List, Optional, Tuple, Union

import numpy as np
import torch

from .data_element import BaseDataElement
from .pixel_data import PixelData


class MultilevelPixelData(BaseDataElement):
    """One PixelData per level; each data field is a sequence over levels.

    Setting ``mpd.heatmaps = [hm_level0, hm_level1]`` stores ``hm_level0`` in
    level 0's PixelData and so on; reading ``mpd.heatmaps`` returns the list
    back. Every field must have the same number of levels. ``mpd[i]`` is
    level ``i`` as a PixelData (with its own ``(H, W)``).

    Examples:
        >>> mpd = MultilevelPixelData()
        >>> mpd.heatmaps = [np.zeros((17, 64, 48)), np.zeros((17, 32, 24))]
        >>> mpd.nlevel, mpd.shape
        (2, ((64, 48), (32, 24)))
    """

    def __init__(self, *, metainfo: Optional[dict] = None, **fields) -> None:
        object.__setattr__(self, '_levels', None)
        super().__init__(metainfo=metainfo, **fields)

    @property
    def nlevel(self) -> Optional[int]:
        """int | None: Number of levels, None before any data is set."""
        return None if self._levels is None else len(self._levels)

    def levels(self) -> List[PixelData]:
        """list[PixelData]: The per-level containers."""
        return list(self._levels or [])

    @property
    def shape(self) -> Optional[Tuple[Tuple[int, int], ...]]:
        """tuple | None: ``(H, W)`` of each level, None before any data."""
        if self._levels is None:
            return None
        return tuple(level.shape for level in self._levels)

    def _check_data(self, name: str, value: Any) -> Any:
        if not isinstance(value, (list, tuple)) or len(value) == 0:
            raise TypeError(
                f"MultilevelPixelData field '{name}' must be a non-empty list "
                f'or tuple (one array per level), got {type(value).__name__}')
        for v in value:
            if not isinstance(v, (np.ndarray, torch.Tensor)):
                raise TypeError(
                    f"MultilevelPixelData field '{name}' must hold "
                    f'np.ndarray or torch.Tensor, got {type(v).__name__}')
        if self._levels is not None and len(value) != len(self._levels):
            raise ValueError(
                f"MultilevelPixelData field '{name}' has {len(value)} levels, "
                f'expected {len(self._levels)}')
        return value

    def _set_data_field(self, name: str, value: Any) -> None:
        levels = self._levels
        if levels is None:
            levels = [PixelData() for _ in range(len(value))]
        # Check every level before storing any, so a bad level leaves this
        # element unchanged.
        checked = [lv._check_data(name, v) for lv, v in zip(levels, value)]
        for level, v in zip(levels, checked):
            level._set_data_field(name, v)
        object.__setattr__(self, '_levels', levels)
        self._data_fields[name] = None

    def _del_data_field(self, name: str) -> List[Any]:
        del self._data_fields[name]
        return [level.pop(name) for level in self._levels]

    def __getattr__(self, name: str) -> List[Any]:
        # Only reached when normal lookup fails, i.e. for data fields (and
        # while unpickling, before __dict__ is filled: hence the '_' guard).
        if not name.startswith('_') and name in self.__dict__.get(
                '_data_fields', ()):
            return [getattr(level, name) for level in self._levels]
        raise AttributeError(
            f"'{type(self).__name__}' object has no attribute '{name}'")

    def __getitem__(self, item: Union[int, str]) -> Union[PixelData, list]:
        if isinstance(item, str):
            if item not in self:
                raise KeyError(item)
            return getattr(self, item)
        if isinstance(item, (int, np.integer)):
            n = self.nlevel or 0
            if not -n <= item < n:
                raise IndexError(f'level {item} is out of range ({n} levels)')
            return self._levels[item]
        raise TypeError('MultilevelPixelData is indexed by a level int or a '
                        f'field name, got {type(item).__name__}')

    def __copy__(self) -> 'MultilevelPixelData':
        out = super().__copy__()
        if self._levels is not None:  # levels hold the data: copy them too
            object.__setattr__(out, '_levels',
                               [copy.copy(level) for level in self._levels])
        return out

    def _apply(self, fn: Callable[[Any], Any]) -> 'MultilevelPixelData':
        # Values are per-level lists, so apply fn to each level's array.
        out = self.__class__()
        out.set_metainfo(self.metainfo)
        for name, value in self.items():
            out.set_field([fn(v) for v in value], name)
        return out
