"""ConfigDict: a dict whose keys are also attributes."""
from __future__ import annotations

import difflib
from typing import Any


class ConfigDict(dict):
    """A dict with attribute access (``cfg.model.backbone.depth``).

    Every dict stored in it, directly or inside lists and tuples, becomes a
    ConfigDict too. A missing attribute raises AttributeError naming the key
    and the close matches among the keys that exist.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__()
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, _wrap(value))

    def __getattr__(self, name: str) -> Any:
        if name.startswith('__'):  # keep copy/pickle protocols working
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(missing_key_message(name, self)) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(missing_key_message(name, self)) from None

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def copy(self) -> 'ConfigDict':
        """A shallow copy, of the same type."""
        new = type(self).__new__(type(self))
        new.__dict__.update(self.__dict__)
        dict.update(new, self)
        return new

    def to_dict(self) -> dict:
        """Plain dicts, lists and tuples all the way down."""
        return _unwrap(self)


def missing_key_message(key: str, mapping: dict, where: str = '') -> str:
    names = [k for k in mapping if isinstance(k, str)]
    close = difflib.get_close_matches(str(key), names, n=3, cutoff=0.6)
    hint = f'; did you mean {", ".join(map(repr, close))}?' if close else ''
    place = f' in {where}' if where else ''
    return f'no key {key!r}{place}{hint}'


def _wrap(value: Any) -> Any:
    if isinstance(value, ConfigDict):
        return value
    if isinstance(value, dict):
        return ConfigDict(value)
    if type(value) is list:
        return [_wrap(v) for v in value]
    if type(value) is tuple:
        return tuple(_wrap(v) for v in value)
    return value


def _unwrap(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    if type(value) is list:
        return [_unwrap(v) for v in value]
    if type(value) is tuple:
        return tuple(_unwrap(v) for v in value)
    return value
