"""Write a config back out as a Python config file that reloads to itself."""
from __future__ import annotations

import keyword
from typing import Any

import numpy as np

WIDTH = 79
INDENT = '    '


class NotALiteral(TypeError):
    """A config value that cannot be written as Python source."""


def format_config(cfg: dict, strict: bool = True) -> str:
    """Render top-level variables as ``name = value`` lines.

    Args:
        cfg (dict): The variables.
        strict (bool): Raise NotALiteral for a value that cannot be written as
            a literal (a class, a function, an array). When False such values
            are shown as ``<module.Name>`` for reading only.
    """
    lines = []
    for key, value in cfg.items():
        if not _is_identifier(key):
            raise NotALiteral(f'top-level config key {key!r} is not a Python name')
        lines.append(f'{key} = {_format(value, 0, strict, key)}')
    return '\n'.join(lines) + '\n'


def _format(value: Any, depth: int, strict: bool, path: str) -> str:
    one_line = _format_flat(value, strict, path)
    if len(one_line) + len(INDENT) * depth <= WIDTH or not _is_container(value):
        return one_line
    pad = INDENT * (depth + 1)
    if isinstance(value, dict):
        if all(_is_identifier(k) for k in value):
            items = [f'{k}={_format(v, depth + 1, strict, f"{path}.{k}")}'
                     for k, v in value.items()]
            open_, close = 'dict(', ')'
        else:
            items = [f'{_format_flat(k, strict, path)}: '
                     f'{_format(v, depth + 1, strict, f"{path}.{k}")}'
                     for k, v in value.items()]
            open_, close = '{', '}'
    else:
        items = [_format(v, depth + 1, strict, f'{path}[{i}]')
                 for i, v in enumerate(value)]
        open_, close = ('[', ']') if isinstance(value, list) else ('(', ')')
    body = ''.join(f'{pad}{item},\n' for item in items)
    return f'{open_}\n{body}{INDENT * depth}{close}'


def _format_flat(value: Any, strict: bool, path: str) -> str:
    if isinstance(value, dict):
        if all(_is_identifier(k) for k in value):
            inner = ', '.join(f'{k}={_format_flat(v, strict, f"{path}.{k}")}'
                              for k, v in value.items())
            return f'dict({inner})'
        inner = ', '.join(f'{_format_flat(k, strict, path)}: '
                          f'{_format_flat(v, strict, f"{path}.{k}")}'
                          for k, v in value.items())
        return '{' + inner + '}'
    if isinstance(value, (list, tuple)):
        inner = ', '.join(_format_flat(v, strict, f'{path}[{i}]')
                          for i, v in enumerate(value))
        if isinstance(value, list):
            return f'[{inner}]'
        return f'({inner},)' if len(value) == 1 else f'({inner})'
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return f"float('{value}')"  # repr() gives 'inf', which is not Python
    if value is None or isinstance(value, (bool, int, float, str, bytes)):
        return repr(value)
    if strict:
        raise NotALiteral(f'config value {path} = {value!r} cannot be written '
                          f'as a Python literal')
    name = getattr(value, '__qualname__', type(value).__qualname__)
    return f'<{getattr(value, "__module__", "?")}.{name}>'


def _is_container(value: Any) -> bool:
    return isinstance(value, (dict, list, tuple)) and len(value) > 0


def _is_identifier(key: Any) -> bool:
    return isinstance(key, str) and key.isidentifier() and not keyword.iskeyword(key)
