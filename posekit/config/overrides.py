"""Command-line overrides: ``--cfg-options model.backbone.depth=50 a.b=[1,2]``.

Values are parsed with ``ast.literal_eval`` (never ``eval``); a value that is
not a Python literal is kept as a string (``d=x`` and ``d="x"`` both give
``'x'``), and a bare comma list ``1,2,3`` becomes a list.

Every key named must already exist, so a typo fails with suggestions instead
of silently adding a key nobody reads. To add a key on purpose, prefix it
with ``+``: ``+model.test_cfg.output_heatmaps=True``. A numeric part indexes
a list or tuple: ``train_pipeline.0.prob=0.3``.
"""
from __future__ import annotations

import ast
from typing import Any, Iterable

from posekit.errors import ConfigError

from .config_dict import ConfigDict, missing_key_message
from .loading import DELETE_KEY, merge


def parse_value(text: str) -> Any:
    """Turn one command-line value into a Python value."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        lowered = text.strip().lower()
        if lowered in ('true', 'false'):
            return lowered == 'true'
        if lowered in ('none', 'null'):
            return None
        if ',' in text:
            return [parse_value(part) for part in text.split(',')]
        return text
    if isinstance(value, tuple) and not text.strip().startswith('('):
        return list(value)  # 1,2,3 reads as a list, as in MMEngine
    return value


def parse_cfg_options(options: Iterable[str]) -> dict[str, Any]:
    """``['a.b=1', 'c=[1,2]']`` -> ``{'a.b': 1, 'c': [1, 2]}``."""
    parsed: dict[str, Any] = {}
    for option in options:
        key, sep, text = option.partition('=')
        if not sep or not key.strip():
            raise ConfigError(f'--cfg-options: expected KEY=VALUE, got {option!r}')
        parsed[key.strip()] = parse_value(text)
    return parsed


def apply_override(cfg: dict, dotted: str, value: Any,
                   allow_new: bool = False) -> None:
    """Set ``cfg[a][b][c] = value`` for ``dotted='a.b.c'``, in place.

    A dict value merges into an existing dict (``_delete_=True`` replaces).
    A leading ``+`` (or ``allow_new``) allows keys that do not exist yet.
    Tuples on the way stay tuples (they are rebuilt with the new item).
    """
    if dotted.startswith('+'):
        dotted, allow_new = dotted[1:], True
    _set(cfg, dotted.split('.'), 0, value, allow_new, dotted)


def _set(node: Any, parts: list[str], depth: int, value: Any,
         allow_new: bool, dotted: str) -> Any:
    """Set the value at ``parts[depth:]`` below ``node``; return the new node."""
    part = parts[depth]
    here = '.'.join(parts[:depth]) or 'the config'
    if isinstance(node, dict):
        key: Any = part
        if key not in node and not allow_new:
            missing = missing_key_message(key, node, here)
            raise ConfigError(f'override {dotted!r}: {missing}'
                              f'{" " if missing.endswith("?") else ". "}To add a new '
                              f'key, write +{dotted}=...')
        old = node.get(key, ConfigDict())
    elif isinstance(node, (list, tuple)):
        if not part.lstrip('-').isdigit() or not -len(node) <= int(part) < len(node):
            raise ConfigError(f'override {dotted!r}: {here} is a '
                              f'{type(node).__name__} of length {len(node)}; '
                              f'{part!r} is not an index into it')
        key = int(part) % len(node)
        old = node[key]
    else:
        raise ConfigError(f'override {dotted!r}: {here} is a '
                          f'{type(node).__name__}, not a dict, list or tuple')

    if depth + 1 < len(parts):
        new = _set(old, parts, depth + 1, value, allow_new, dotted)
    elif isinstance(value, dict):
        value = dict(value)
        replace = value.pop(DELETE_KEY, False) or not isinstance(old, dict)
        new = merge(value, {} if replace else old, where=f'override {dotted!r}')
    else:
        new = value
    if isinstance(node, tuple):
        return node[:key] + (new,) + node[key + 1:]
    node[key] = new
    return node
