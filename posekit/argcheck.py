"""Checking config values against a constructor's type annotations.

``Registry.build`` calls :func:`check_arguments` before it calls a type, so a
value of the wrong type fails with its key path, the value and what was
expected, instead of deep inside the constructor (``'<=' not supported
between instances of 'float' and 'str'``)::

    optim_wrapper.optimizer.lr: 'abc' is a str, expected float or Tensor (SGD)

The check only rules out what the constructor cannot mean; what it does:

- checked: ``int``, ``float``, ``complex``, ``bool``, ``str``, ``bytes``,
  ``None`` / ``Optional`` / ``Union`` / ``X | None``, ``Literal``, ``list``,
  ``tuple``, ``Sequence``, ``Iterable`` (their items too, when a list or
  tuple), ``dict`` / ``Mapping`` (their values), ``Callable``, ``os.PathLike``,
  ``torch.Tensor``, ``numpy.ndarray``, ``torch.device``, ``torch.dtype`` and
  any other class (an ``nn.Module``, a codec...).
- numbers: an int is a float (PEP 484); a bool is not an int or a float
  (``True`` where a count or a rate belongs is a slip) but an int is a bool
  (``flip_test=1`` works as a flag); NumPy scalars count as Python's.
- ``None`` is accepted where the annotation allows it or the default is None.
- a class (``nn.Module``, ``BaseKeypointCodec``...) accepts an instance, a
  config dict (components build those themselves), a class, or anything
  else that is not a plain str, number or bool; only those are refused.
- a sequence accepts any list, tuple or other iterable except a plain
  number, bool or None, and a str only where its items may be str.
- not checked: parameters without an annotation, ``Any``/``object``, type
  variables, enums, annotations that cannot be resolved, ``**kwargs``, and
  the arguments code adds (``default_args``).
"""
from __future__ import annotations

import collections
import collections.abc as abc
import enum
import inspect
import numbers
import os
import sys
import types
import typing
from typing import Any, Callable, Mapping

from posekit.errors import ConfigTypeError

_NO_HINT = object()
_SEQUENCES = {list, tuple, abc.Sequence, abc.MutableSequence, abc.Iterable,
              abc.Collection, abc.Iterator, abc.Set, set, frozenset}
_MAPPINGS = {dict, abc.Mapping, abc.MutableMapping, collections.OrderedDict}
_SCALARS = (str, bytes, numbers.Number, bool)


def check_arguments(factory: Callable, given: Mapping[str, Any], path: str = '') -> None:
    """Raise ConfigTypeError for the first value of ``given`` that the type
    annotation of ``factory``'s parameter of that name rules out.

    Args:
        factory (callable): A class (its ``__init__`` is read) or a function.
        given (Mapping): Keyword arguments from a config, by parameter name.
        path (str): Where the config sits, e.g. ``'optim_wrapper.optimizer'``.
    """
    params = _parameters(factory)
    for name, value in given.items():
        hint, default = params.get(name, (_NO_HINT, None))
        if hint is _NO_HINT or (value is None and default is None):
            continue
        where = f'{path}.{name}' if path else name
        problem = _mismatch(value, hint, where)
        if problem is not None:
            raise ConfigTypeError(_message(*problem, factory))


def _message(where: str, value: Any, hint: Any, factory: Callable) -> str:
    shown = repr(value)
    shown = shown if len(shown) <= 80 else shown[:77] + '...'
    kind = type(value).__name__
    what = 'None' if value is None else \
        f'{shown} is {"an" if kind[0] in "aeiouAEIOU" else "a"} {kind}'
    owner = getattr(factory, '__name__', None) or type(factory).__name__
    return f'{where}: {what}, expected {type_name(hint)} ({owner})'


_CACHE: dict[Any, dict[str, tuple[Any, Any]]] = {}


def _parameters(factory: Callable) -> dict[str, tuple[Any, Any]]:
    """``{name: (annotation, default)}`` of the resolvable annotations."""
    try:
        return _CACHE[factory]
    except (KeyError, TypeError):  # TypeError: an unhashable callable
        pass
    func = factory.__init__ if isinstance(factory, type) else factory
    out: dict[str, tuple[Any, Any]] = {}
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):  # builtins without a signature
        signature = None
    if signature is not None and func is not object.__init__:
        hints = _hints(func)
        for name, param in signature.parameters.items():
            if name in hints and param.kind in (param.POSITIONAL_OR_KEYWORD,
                                                param.KEYWORD_ONLY):
                default = None if param.default is param.empty else param.default
                out[name] = (hints[name], default)
    try:
        _CACHE[factory] = out
    except TypeError:
        pass
    return out


def _hints(func: Callable) -> dict[str, Any]:
    """The annotations of ``func`` resolved; one that cannot be (a name
    imported only for type checkers) is left out, not the whole set."""
    try:
        return typing.get_type_hints(func)
    except Exception:  # noqa: BLE001 (any error in any annotation)
        pass
    out = {}
    namespace = getattr(inspect.unwrap(func), '__globals__', {})
    for name, annotation in getattr(func, '__annotations__', {}).items():
        holder = types.SimpleNamespace(__annotations__={name: annotation})
        try:
            out[name] = typing.get_type_hints(holder, globalns=namespace)[name]
        except Exception:  # noqa: BLE001
            continue
    return out


def _mismatch(value: Any, hint: Any, where: str) -> tuple[str, Any, Any] | None:
    """None if ``value`` fits ``hint``, else (where, the value that does
    not fit, what was expected): the innermost item at fault."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Annotated:
        return _mismatch(value, args[0], where)
    if origin in (typing.Union, types.UnionType):
        return _union_mismatch(value, args, hint, where)
    if origin is typing.Literal:
        return None if any(value == a and type(value) is type(a) for a in args) \
            else (where, value, hint)
    if value is None or hint is type(None):
        return None if value is None and (_accepts_anything(hint) or hint is type(None)) \
            else (where, value, hint)
    if origin is type:
        return None if isinstance(value, (type, str, Mapping)) else (where, value, hint)
    if origin in _SEQUENCES or hint in _SEQUENCES:
        return _sequence_mismatch(value, origin or hint, args, hint, where)
    if origin in _MAPPINGS or hint in _MAPPINGS:
        if isinstance(value, _SCALARS):
            return where, value, hint
        if len(args) == 2 and isinstance(value, Mapping):
            for key, item in value.items():
                problem = _mismatch(item, args[1], _item_path(where, key))
                if problem is not None:
                    return problem
        return None
    if origin is abc.Callable or hint is abc.Callable:
        return None if callable(value) or isinstance(value, Mapping) else (where, value, hint)
    if isinstance(hint, type):
        return None if _fits_class(value, hint) else (where, value, hint)
    return None  # Any, TypeVar, NewType, a string left unresolved...


def _union_mismatch(value: Any, args: tuple, hint: Any, where: str):
    if value is None and type(None) in args:
        return None
    problems = [_mismatch(value, a, where) for a in args]
    if any(p is None for p in problems):
        return None
    # the value is the right container for one of them: name the item at fault
    inner = [p for p in problems if p[0] != where]
    return inner[0] if len(inner) == 1 else (where, value, hint)


def _sequence_mismatch(value: Any, kind: Any, args: tuple, hint: Any, where: str):
    if isinstance(value, str):
        item = args[0] if len(args) == 1 or (len(args) == 2 and args[1] is Ellipsis) else None
        text_ok = kind not in (list, tuple, set, frozenset) and (
            not args or _mismatch('x', item, where) is None)
        return None if text_ok else (where, value, hint)
    if value is None or isinstance(value, (numbers.Number, bool, bytes)):
        return where, value, hint
    if not isinstance(value, (list, tuple)) or not args:
        return None
    if kind is tuple and not (len(args) == 2 and args[1] is Ellipsis):
        items = args  # tuple[int, int]: position by position
    else:
        items = (args[0], ) * len(value)
    for i, (item, item_hint) in enumerate(zip(value, items)):
        problem = _mismatch(item, item_hint, f'{where}[{i}]')
        if problem is not None:
            return problem
    return None


def _fits_class(value: Any, cls: type) -> bool:
    """Whether ``value`` may be meant for a parameter annotated ``cls``."""
    try:
        return _fits(value, cls)
    except TypeError:  # a Protocol that isinstance cannot check
        return True


def _fits(value: Any, cls: type) -> bool:
    if cls is bool:
        return isinstance(value, (bool, numbers.Integral)) or _is_numpy_bool(value)
    if cls is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if cls is float:
        return isinstance(value, numbers.Real) and not isinstance(value, bool) \
            and not _is_numpy_bool(value)
    if cls is complex:
        return isinstance(value, numbers.Number) and not isinstance(value, bool)
    if cls in (str, bytes):
        return isinstance(value, cls)
    if _accepts_anything(cls) or isinstance(value, cls) or issubclass(cls, enum.Enum):
        return True
    if cls is os.PathLike or (isinstance(cls, type) and issubclass(cls, os.PathLike)):
        return isinstance(value, (str, os.PathLike))
    kind = _special_kind(cls)
    if kind == 'array':  # torch.tensor / np.asarray take numbers and lists
        return not isinstance(value, (str, bool, Mapping))
    if kind in ('device', 'dtype'):  # 'cuda:0', 'float16'
        return isinstance(value, (str, numbers.Integral)) and not isinstance(value, bool)
    if issubclass(cls, numbers.Number):
        return isinstance(value, numbers.Number) and not isinstance(value, bool)
    return not isinstance(value, _SCALARS)


def _special_kind(cls: type) -> str | None:
    torch, numpy = sys.modules.get('torch'), sys.modules.get('numpy')
    if torch is not None:
        if issubclass(cls, torch.Tensor):
            return 'array'
        if cls is torch.device:
            return 'device'
        if cls is torch.dtype:
            return 'dtype'
    if numpy is not None and issubclass(cls, numpy.ndarray):
        return 'array'
    return None


def _is_numpy_bool(value: Any) -> bool:
    numpy = sys.modules.get('numpy')
    return numpy is not None and isinstance(value, numpy.bool_)


def _accepts_anything(hint: Any) -> bool:
    return hint is Any or hint is object


def _item_path(where: str, key: Any) -> str:
    return f'{where}.{key}' if isinstance(key, str) and key.isidentifier() \
        else f'{where}[{key!r}]'


def type_name(hint: Any) -> str:
    """``float | Tensor`` -> 'float or Tensor'; ``Sequence[int]`` -> 'Sequence[int]'."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is type(None) or hint is None:
        return 'None'
    if origin in (typing.Union, types.UnionType):
        return ' or '.join(type_name(a) for a in args)
    if origin is typing.Literal:
        return 'one of ' + ', '.join(map(repr, args))
    if origin is typing.Annotated:
        return type_name(args[0])
    if origin is not None:
        name = getattr(origin, '__name__', str(origin))
        if not args:
            return name
        return f'{name}[{", ".join("..." if a is Ellipsis else type_name(a) for a in args)}]'
    return getattr(hint, '__name__', str(hint).replace('typing.', ''))
