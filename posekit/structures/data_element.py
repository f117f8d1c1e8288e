"""The base container shared by InstanceData, PixelData and PoseDataSample.

A data element holds two kinds of named fields:

- **metainfo**: facts about the sample (``img_shape``, ``flip``,
  ``input_center``...). Set with :meth:`BaseDataElement.set_metainfo`.
- **data**: annotations or predictions (arrays, tensors, nested elements).
  Set as attributes (``elem.bboxes = arr``) or with ``set_field``/``set_data``.

Both are readable as attributes and stored directly in the instance
``__dict__``, so reading a field costs the same as reading any attribute: this
container is built once per sample in the data pipeline and read many times.
A name can be a metainfo field or a data field, never both.
"""
import copy
from typing import Any, Callable, Iterator, List, Optional, Tuple, Type, Union

import numpy as np
import torch

# Names of the two ordered key registries; they are plain dicts used as
# insertion-ordered sets, so keys() is deterministic (MMEngine uses sets).
_REGISTRIES = ('_metainfo_fields', '_data_fields')


class BaseDataElement:
    """Container of metainfo fields and data fields.

    Args:
        metainfo (dict, optional): Meta information such as
            ``dict(img_shape=(600, 900), flip=False)``.
        **fields: Data fields, e.g. ``bboxes=np.zeros((1, 4))``.

    Subclasses may declare ``_field_types = {'name': type_or_tuple}``: those
    data fields are type checked on every assignment (see PoseDataSample).
    """

    _field_types: dict = {}

    def __init__(self, *, metainfo: Optional[dict] = None, **fields) -> None:
        object.__setattr__(self, '_metainfo_fields', {})
        object.__setattr__(self, '_data_fields', {})
        if metainfo is not None:
            self.set_metainfo(metainfo)
        if fields:
            self.set_data(fields)

    # ------------------------------------------------------------ setting
    def set_metainfo(self, metainfo: dict) -> None:
        """Add or replace metainfo fields.

        The dict is copied shallowly: its values are stored as given (MMEngine
        deep-copies them, which costs time per sample for no benefit here).

        Args:
            metainfo (dict): Meta information, e.g. ``dict(img_shape=(h, w))``.
        """
        if not isinstance(metainfo, dict):
            raise TypeError(
                f'metainfo must be a dict, got {type(metainfo).__name__}')
        for name, value in metainfo.items():
            self.set_field(value, name, field_type='metainfo')

    def set_data(self, data: dict) -> None:
        """Add or replace data fields, one ``set_field`` call per item.

        Args:
            data (dict): Annotations or predictions keyed by field name.
        """
        if not isinstance(data, dict):
            raise TypeError(f'data must be a dict, got {type(data).__name__}')
        for name, value in data.items():
            self.set_field(value, name)

    def set_field(self,
                  value: Any,
                  name: str,
                  dtype: Optional[Union[Type, Tuple[Type, ...]]] = None,
                  field_type: str = 'data') -> None:
        """Set one field (MMEngine's argument order: value first).

        Data fields go through the subclass's checks (length for
        InstanceData, shape for PixelData), unlike MMEngine where
        ``set_field`` skips them.

        Args:
            value (Any): The value to store.
            name (str): Field name; must not start with ``_`` nor shadow a
                method or attribute of the class.
            dtype (type | tuple[type], optional): If given, ``value`` must be
                an instance of it.
            field_type (str): ``'data'`` or ``'metainfo'``.
        """
        if field_type not in ('data', 'metainfo'):
            raise ValueError(
                f"field_type must be 'data' or 'metainfo', got {field_type!r}")
        self._check_name(name)
        if dtype is None:
            dtype = self._field_types.get(name)
        if dtype is not None and not isinstance(value, dtype):
            raise TypeError(
                f'{type(self).__name__}.{name} must be {_type_names(dtype)}, '
                f'got {type(value).__name__}')
        if field_type == 'metainfo':
            if name in self._data_fields:
                raise AttributeError(
                    f"cannot set '{name}' as metainfo of "
                    f'{type(self).__name__}: it is already a data field')
            self._metainfo_fields[name] = None
            self.__dict__[name] = value
        else:
            if name in self._metainfo_fields:
                raise AttributeError(
                    f"cannot set '{name}' as a data field of "
                    f'{type(self).__name__}: it is already a metainfo field '
                    '(use set_metainfo to change it)')
            self._set_data_field(name, self._check_data(name, value))

    def _check_name(self, name: str) -> None:
        if not isinstance(name, str):
            raise TypeError(f'field names must be str, got {name!r}')
        if name.startswith('_'):
            raise AttributeError(
                f"'{name}' is a private name and cannot be a field of "
                f'{type(self).__name__}')
        if name not in self._field_types and hasattr(type(self), name):
            raise AttributeError(
                f"'{name}' is reserved by {type(self).__name__} (a method or "
                'attribute of the class) and cannot be a field name')

    def _check_data(self, name: str, value: Any) -> Any:
        """Validate (and possibly convert) a data value; subclass hook."""
        return value

    def _set_data_field(self, name: str, value: Any) -> None:
        """Store an already checked data value; subclass hook."""
        self._data_fields[name] = None
        self.__dict__[name] = value

    def _del_data_field(self, name: str) -> Any:
        """Remove a data field and return its value; subclass hook."""
        del self._data_fields[name]
        return self.__dict__.pop(name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _REGISTRIES:
            raise AttributeError(
                f'{name} is internal to {type(self).__name__} and immutable')
        self.set_field(value, name)

    def __delattr__(self, name: str) -> None:
        if name in self._metainfo_fields:
            del self._metainfo_fields[name]
            del self.__dict__[name]
        elif name in self._data_fields:
            self._del_data_field(name)
        else:
            raise AttributeError(
                f"{type(self).__name__} has no field '{name}'")

    __delitem__ = __delattr__

    def update(self, other: 'BaseDataElement') -> None:
        """Copy all metainfo and data fields of ``other`` into this element.

        Args:
            other (BaseDataElement): The element to read fields from.
        """
        if not isinstance(other, BaseDataElement):
            raise TypeError('update expects a BaseDataElement, got '
                            f'{type(other).__name__}')
        self.set_metainfo(other.metainfo)
        self.set_data(dict(other.items()))

    # ----------------------------------------------------------- reading
    def keys(self) -> List[str]:
        """list[str]: Names of the data fields, in insertion order."""
        return list(self._data_fields)

    def values(self) -> List[Any]:
        """list: Values of the data fields."""
        return [getattr(self, k) for k in self._data_fields]

    def items(self) -> Iterator[Tuple[str, Any]]:
        """Iterate over ``(name, value)`` pairs of the data fields."""
        for k in list(self._data_fields):
            yield k, getattr(self, k)

    def metainfo_keys(self) -> List[str]:
        """list[str]: Names of the metainfo fields."""
        return list(self._metainfo_fields)

    def metainfo_values(self) -> List[Any]:
        """list: Values of the metainfo fields."""
        return [self.__dict__[k] for k in self._metainfo_fields]

    def metainfo_items(self) -> Iterator[Tuple[str, Any]]:
        """Iterate over ``(name, value)`` pairs of the metainfo fields."""
        for k in list(self._metainfo_fields):
            yield k, self.__dict__[k]

    @property
    def metainfo(self) -> dict:
        """dict: A new dict of the metainfo fields."""
        return dict(self.metainfo_items())

    def all_keys(self) -> List[str]:
        """list[str]: Metainfo names followed by data names."""
        return self.metainfo_keys() + self.keys()

    def all_values(self) -> List[Any]:
        """list: Metainfo values followed by data values."""
        return self.metainfo_values() + self.values()

    def all_items(self) -> Iterator[Tuple[str, Any]]:
        """Iterate over metainfo then data ``(name, value)`` pairs."""
        yield from self.metainfo_items()
        yield from self.items()

    def get(self, key: str, default: Any = None) -> Any:
        """Return the metainfo or data field ``key``, or ``default``."""
        if key in self._metainfo_fields or key in self._data_fields:
            return getattr(self, key)
        return default

    def pop(self, key: str, *default: Any) -> Any:
        """Remove the field ``key`` and return its value.

        Args:
            key (str): Metainfo or data field name.
            *default: At most one value, returned when ``key`` is absent.

        Raises:
            KeyError: ``key`` is absent and no default was given.
        """
        if len(default) > 1:
            raise TypeError(f'pop expects at most 2 arguments, got '
                            f'{1 + len(default)}')
        if key in self._metainfo_fields:
            del self._metainfo_fields[key]
            return self.__dict__.pop(key)
        if key in self._data_fields:
            return self._del_data_field(key)
        if default:
            return default[0]
        raise KeyError(f"'{key}' is neither a metainfo nor a data field")

    def __contains__(self, key: str) -> bool:
        return key in self._data_fields or key in self._metainfo_fields

    # ------------------------------------------------------------ copies
    def new(self, *, metainfo: Optional[dict] = None,
            **fields) -> 'BaseDataElement':
        """Return an element of the same class sharing this one's values.

        Args:
            metainfo (dict, optional): Replaces the metainfo if given.
            **fields: Replace all data fields if any is given.
        """
        out = self.__class__()
        out.set_metainfo(self.metainfo if metainfo is None else metainfo)
        out.set_data(fields if fields else dict(self.items()))
        return out

    def clone(self) -> 'BaseDataElement':
        """Return a deep copy: arrays and tensors are copied too.

        MMEngine's ``clone`` shares the data values; copying them is what the
        name promises and what callers that edit the clone in place expect.
        """
        out = self._apply(_deep_copy)
        for name, value in out.metainfo_items():
            out.__dict__[name] = copy.deepcopy(value)
        return out

    def __copy__(self) -> 'BaseDataElement':
        # The default copy would share the key registries, so adding a field
        # to the copy would register it in the original as well.
        out = self.__class__.__new__(self.__class__)
        out.__dict__.update(self.__dict__)
        for name in _REGISTRIES:
            out.__dict__[name] = dict(self.__dict__[name])
        return out

    def _apply(self, fn: Callable[[Any], Any]) -> 'BaseDataElement':
        """Return a new element with ``fn`` applied to every data value.

        ``fn`` returns the value unchanged when it does not apply to it.
        Metainfo values are shared with this element.
        """
        out = self.__class__()
        out.set_metainfo(self.metainfo)
        for name, value in self.items():
            out.set_field(fn(value), name)
        return out

    def to(self, *args, **kwargs) -> 'BaseDataElement':
        """Call ``.to(*args, **kwargs)`` on every tensor and nested element."""
        return self._apply(lambda v: v.to(*args, **kwargs)
                           if isinstance(v, (torch.Tensor, BaseDataElement))
                           else v)

    def cpu(self) -> 'BaseDataElement':
        """Move every tensor (recursively) to the CPU."""
        return self._apply(lambda v: v.cpu() if _is_tensor_like(v) else v)

    def cuda(self) -> 'BaseDataElement':
        """Move every tensor (recursively) to the current CUDA device."""
        return self._apply(lambda v: v.cuda() if _is_tensor_like(v) else v)

    def detach(self) -> 'BaseDataElement':
        """Detach every tensor (recursively) from the autograd graph."""
        return self._apply(lambda v: v.detach() if _is_tensor_like(v) else v)

    def numpy(self) -> 'BaseDataElement':
        """Convert every tensor (recursively) to a CPU ``np.ndarray``."""
        return self._apply(to_numpy)

    def to_tensor(self) -> 'BaseDataElement':
        """Convert every ``np.ndarray`` (recursively) to a ``torch.Tensor``.

        ``torch.from_numpy`` is used, so memory is shared, not copied.
        """
        return self._apply(_to_tensor)

    def to_dict(self) -> dict:
        """Return all fields as a dict; nested elements become dicts too."""
        return {
            k: v.to_dict() if isinstance(v, BaseDataElement) else v
            for k, v in self.all_items()
        }

    # --------------------------------------------------------------- repr
    def __repr__(self) -> str:
        lines = [f'<{type(self).__name__}(']
        for title, pairs in (('META INFORMATION', self.metainfo_items()),
                             ('DATA FIELDS', self.items())):
            lines.append(f'    {title}')
            for k, v in pairs:
                # Continuation lines align under the value (arrays) or
                # indent one level (nested elements).
                pad = 8 if isinstance(v, BaseDataElement) else 10 + len(k)
                text = _short_repr(v).replace('\n', '\n' + ' ' * pad)
                lines.append(f'        {k}: {text}')
        lines.append(f') at {hex(id(self))}>')
        return '\n'.join(lines)


def _type_names(dtype: Union[Type, Tuple[Type, ...]]) -> str:
    types = dtype if isinstance(dtype, tuple) else (dtype, )
    return ' or '.join(t.__name__ for t in types)


def _is_tensor_like(value: Any) -> bool:
    return isinstance(value, (torch.Tensor, BaseDataElement))


def to_numpy(value: Any) -> Any:
    """``value`` with every tensor in it as a NumPy array.

    A tensor becomes a detached CPU array (bfloat16 as float32: NumPy has
    no bfloat16, and CPU autocast makes it); a data element converts its
    fields (:meth:`BaseDataElement.numpy`); lists, tuples and dicts are
    converted item by item, keeping their type. Anything else (arrays,
    numbers, strings, None) is returned as it is.
    """
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if value.dtype == torch.bfloat16:
            value = value.float()
        return value.numpy()
    if isinstance(value, BaseDataElement):
        return value.numpy()
    if isinstance(value, list):
        return [to_numpy(v) for v in value]
    if isinstance(value, tuple):
        items = [to_numpy(v) for v in value]
        return type(value)(*items) if hasattr(value, '_fields') else tuple(items)
    if isinstance(value, dict):
        return {k: to_numpy(v) for k, v in value.items()}
    return value


def _to_tensor(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value)
    if isinstance(value, BaseDataElement):
        return value.to_tensor()
    return value


def _deep_copy(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, BaseDataElement):
        return value.clone()
    return copy.deepcopy(value)


def _short_repr(value: Any) -> str:
    # Large arrays print as a one-line summary; small ones in full.
    if isinstance(value, np.ndarray) and value.size > 16:
        return f'ndarray(shape={value.shape}, dtype={value.dtype})'
    if isinstance(value, torch.Tensor) and value.numel() > 16:
        return (f'Tensor(shape={tuple(value.shape)}, dtype={value.dtype}, '
                f'device={value.device})')
    return repr(value)
