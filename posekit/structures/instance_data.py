"""InstanceData: per-instance fields that all share their first dimension."""
from typing import Any, List, Optional, Sequence, Union

import numpy as np
import torch

from .data_element import BaseDataElement

IndexType = Union[str, int, slice, list, np.ndarray, torch.Tensor]


class InstanceData(BaseDataElement):
    """Fields describing N instances (people, boxes...), one row each.

    Every data field has length N along its first dimension: ``np.ndarray``
    and ``torch.Tensor`` (shape ``(N, ...)``), ``list``/``tuple`` (N items),
    or any sized object with ``__getitem__``. Setting a field of another
    length raises ``ValueError``. Metainfo fields are not length checked.

    Indexing selects instances and returns a new InstanceData sharing the
    metainfo:

    - ``int`` (negative allowed): one instance, kept as length 1;
    - ``slice``; a bool mask of length N (``np.ndarray``, ``torch.Tensor`` or
      ``list``); integer indices (``np.ndarray``, ``torch.Tensor`` or
      ``list``). A numpy index works on tensor fields and vice versa;
    - ``str``: the field of that name.

    Examples:
        >>> inst = InstanceData(bboxes=np.zeros((3, 4)), labels=[0, 1, 2])
        >>> len(inst[-1]), inst[np.array([True, False, True])].labels
        (1, [0, 2])
    """

    def _check_data(self, name: str, value: Any) -> Any:
        try:
            length = len(value)
        except TypeError:
            raise TypeError(
                f"InstanceData field '{name}' must have a length (an array, "
                f'tensor, list or tuple of N instances), got '
                f'{type(value).__name__}') from None
        for other in self._data_fields:
            if other == name:
                continue
            expected = len(self.__dict__[other])
            if length != expected:
                raise ValueError(
                    f"InstanceData field '{name}' has length {length}, "
                    f'expected {expected} (the length of field \'{other}\')')
            break  # all stored fields already agree with each other
        return value

    def __setitem__(self, name: str, value: Any) -> None:
        self.set_field(value, name)

    def __len__(self) -> int:
        """int: Number of instances; 0 when there is no data field."""
        for name in self._data_fields:
            return len(self.__dict__[name])
        return 0

    def __getitem__(self, item: IndexType) -> Any:
        if isinstance(item, str):
            return getattr(self, item)
        if isinstance(item, (int, np.integer)) or (
                isinstance(item, torch.Tensor) and item.dim() == 0
                and not item.is_floating_point()):
            item = self._int_to_slice(int(item))
        if isinstance(item, slice):
            if item.step is not None and item.step < 0:
                # torch rejects negative steps: use explicit positions.
                return self._select_by_array(np.arange(len(self))[item])
            return self._select(lambda v: v[item])
        return self._select_by_array(item)

    def _int_to_slice(self, index: int) -> slice:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f'index {index} is out of range for '
                             f'InstanceData of length {n}')
        index = index + n if index < 0 else index
        # A slice keeps the instance axis, so fields stay (1, ...).
        return slice(index, index + 1)

    def _select(self, pick) -> 'InstanceData':
        out = self.__class__()
        out.set_metainfo(self.metainfo)
        for name, value in self.items():
            out.set_field(pick(value), name)
        return out

    def _select_by_array(self, item: Any) -> 'InstanceData':
        """Select with a 1-D bool mask or integer index array."""
        if isinstance(item, (list, tuple)):
            item = np.asarray(item)
            if item.size == 0:  # np.asarray([]) is float64
                item = item.astype(np.int64)
        if isinstance(item, np.ndarray):
            index_np, index_pt = item, None
        elif isinstance(item, torch.Tensor):
            index_np, index_pt = None, item
        else:
            raise TypeError(
                f'InstanceData cannot be indexed by {type(item).__name__}')
        ref = index_np if index_np is not None else index_pt
        is_bool = (ref.dtype == torch.bool if index_np is None else
                   ref.dtype == np.bool_)
        if ref.ndim != 1:
            raise IndexError(
                f'InstanceData index arrays must be 1-D, got shape '
                f'{tuple(ref.shape)}')
        if is_bool and ref.shape[0] != len(self):
            raise IndexError(
                f'boolean mask of length {ref.shape[0]} does not match '
                f'InstanceData of length {len(self)}')
        if isinstance(ref, torch.Tensor):
            is_int = not (is_bool or ref.is_floating_point()
                          or ref.is_complex())
        else:
            is_int = ref.dtype.kind in 'iu'
        if not (is_bool or is_int):
            raise IndexError(
                f'InstanceData index arrays must be bool or integer, got '
                f'{ref.dtype}')
        if index_np is None:
            index_np = index_pt.cpu().numpy()

        positions: Optional[List[int]] = None

        def pick(value):
            nonlocal index_pt, positions
            if isinstance(value, torch.Tensor):
                if index_pt is None:
                    index_pt = torch.from_numpy(np.ascontiguousarray(index_np))
                return value[index_pt.to(value.device)]
            if isinstance(value, np.ndarray):
                return value[index_np]
            if positions is None:
                positions = (np.flatnonzero(index_np) if is_bool else
                             index_np).tolist()
            if isinstance(value, (list, tuple)):
                return type(value)(value[i] for i in positions)
            if hasattr(type(value), 'cat'):
                return type(value).cat([value[i] for i in positions])
            raise TypeError(
                f'cannot index a field of type {type(value).__name__} with '
                'an array; use np.ndarray, torch.Tensor, list or tuple')

        return self._select(pick)

    @staticmethod
    def cat(instances_list: Sequence['InstanceData']) -> 'InstanceData':
        """Concatenate instances along the first dimension.

        Args:
            instances_list (Sequence[InstanceData]): Non-empty; all items must
                have the same data field names. Arrays are joined with
                ``np.concatenate``, tensors with ``torch.cat``, lists and
                tuples with ``+``.

        Returns:
            InstanceData: A new element with the metainfo of the first item.
        """
        if len(instances_list) == 0:
            raise ValueError('InstanceData.cat needs at least one element')
        for inst in instances_list:
            if not isinstance(inst, InstanceData):
                raise TypeError('InstanceData.cat expects InstanceData, got '
                                f'{type(inst).__name__}')
        first = instances_list[0]
        keys = set(first.keys())
        for i, inst in enumerate(instances_list[1:], start=1):
            if set(inst.keys()) != keys:
                raise ValueError(
                    'InstanceData.cat needs the same data fields in every '
                    f'element: element 0 has {sorted(keys)}, element {i} has '
                    f'{sorted(inst.keys())}')
        out = first.__class__()
        out.set_metainfo(first.metainfo)
        for name in first.keys():
            values = [inst.__dict__[name] for inst in instances_list]
            out.set_field(_cat_values(name, values), name)
        return out


def _cat_values(name: str, values: List[Any]) -> Any:
    v0 = values[0]
    kind = type(v0)
    for v in values[1:]:
        if isinstance(v0, torch.Tensor) != isinstance(v, torch.Tensor) or \
                isinstance(v0, np.ndarray) != isinstance(v, np.ndarray):
            raise TypeError(
                f"cannot concatenate field '{name}': mixed types "
                f'{kind.__name__} and {type(v).__name__}')
    if isinstance(v0, torch.Tensor):
        return torch.cat(values, dim=0)
    if isinstance(v0, np.ndarray):
        return np.concatenate(values, axis=0)
    if isinstance(v0, (list, tuple)):
        joined = []
        for v in values:
            joined.extend(v)
        return kind(joined)
    if hasattr(kind, 'cat'):
        return kind.cat(values)
    raise TypeError(f"cannot concatenate field '{name}' of type "
                    f'{kind.__name__}')
