"""Reading config files: run the Python once, then merge it over its bases.

A config file is a Python file of top-level variables. ``_base_`` (a string or
a list of strings, paths relative to the file) names files whose variables it
inherits:

* bases are loaded first (recursively) and must not define the same variable;
* the file then runs with the merged base variables already defined, so it
  can read them by name (``codec['input_size']``) or as ``_base_.codec``;
* each variable the file assigns is merged over the base one: dicts merge key
  by key with the child winning, ``_delete_=True`` in a child dict drops the
  base dict instead, and every other value (lists included) replaces.

A path ``'mmpose::_base_/default_runtime.py'`` names a file under the configs
shipped with posekit; like MMEngine, dicts with a ``type`` taken from such a
file get ``_scope_='mmpose'``, which posekit's registries accept.
``'mmdet::PATH'`` names MMDetection's ``configs/PATH``: see
:mod:`posekit.config.remote`.
"""
from __future__ import annotations

import ast
import copy
import os
import types
from pathlib import Path
from typing import Any

from posekit.errors import ConfigError

from .base_refs import BASE_KEY, pop_base_assignment
from .config_dict import ConfigDict
from .remote import mmdet_config

DELETE_KEY = '_delete_'


def shipped_configs_dir() -> Path:
    """The ``configs/`` folder shipped with posekit (installed or checkout)."""
    here = Path(__file__).resolve().parent.parent  # .../posekit
    for candidate in (here / 'configs', here.parent / 'configs'):
        if candidate.is_dir():
            return candidate
    return here / 'configs'


def load_file(path: str | os.PathLike, _chain: tuple[str, ...] = ()) -> ConfigDict:
    """Load one config file with its bases; return the merged variables."""
    path = os.path.abspath(os.path.expanduser(str(path)))
    if path in _chain:
        cycle = ' -> '.join(_chain + (path,))
        raise ConfigError(f'{path}: _base_ files include each other: {cycle}')
    if not os.path.isfile(path):
        raise FileNotFoundError(f'config file not found: {path}')
    if not path.endswith('.py'):
        raise ConfigError(f'{path}: config files are Python files (.py)')
    with open(path, encoding='utf-8') as f:
        source = f.read()
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as e:
        raise ConfigError(f'{path}, line {e.lineno}: syntax error: {e.msg}') from e

    base_refs, tree = pop_base_assignment(tree, path)
    bases = ConfigDict()
    for ref in base_refs:
        base_path, scope = _resolve_base(ref, path)
        if not os.path.isfile(base_path):
            raise FileNotFoundError(f'{path}: _base_ file {ref!r} not found '
                                    f'(looked for {base_path})')
        base = load_file(base_path, _chain + (path,))
        if scope is not None:
            _add_scope(base, scope)
        clash = sorted(set(bases) & set(base))
        if clash:
            raise ConfigError(f'{path}: variables {clash} are defined by more '
                              f'than one of its _base_ files')
        dict.update(bases, base)

    inherited = copy.deepcopy(bases)  # the file may edit these in place
    namespace = _run(tree, path, inherited)
    own = {k: v for k, v in namespace.items()
           if not k.startswith('__') and k != BASE_KEY
           and not isinstance(v, (types.ModuleType, types.FunctionType))
           and not (k in inherited and v is inherited[k])}
    return merge(own, inherited, where=path)


def merge(child: dict, base: dict, where: str = '', prefix: str = '') -> ConfigDict:
    """Merge ``child`` over ``base`` into a new ConfigDict; inputs untouched.

    Dict values merge recursively (``_delete_=True`` in the child dict replaces
    the base dict instead); every other value replaces. ``_delete_`` keys never
    reach the result.
    """
    out = ConfigDict()
    dict.update(out, base)
    for key, value in child.items():
        if isinstance(value, dict):
            value = dict(value)
            replace = bool(value.pop(DELETE_KEY, False))
            old = out.get(key) if key in out and not replace else {}
            if not isinstance(old, dict):
                raise ConfigError(
                    f'{where}: {prefix}{key} is a dict here but '
                    f'{type(old).__name__} in the base config; set '
                    f'{DELETE_KEY}=True in it to replace the base value')
            out[key] = merge(value, old, where, f'{prefix}{key}.')
        else:
            out[key] = value
    return out


def _resolve_base(ref: str, path: str) -> tuple[str, str | None]:
    """Return (absolute path, scope or None) of a ``_base_`` entry."""
    scope, sep, rest = ref.partition('::')
    if sep and scope == 'mmdet':  # shipped under configs/mmdet/, else downloaded
        return mmdet_config(rest, shipped_configs_dir(), asked_by=path), scope
    if sep:
        return str(shipped_configs_dir() / rest), scope
    return os.path.normpath(os.path.join(os.path.dirname(path), ref)), None


def _add_scope(value: Any, scope: str) -> None:
    """Give the outermost dicts that have a ``type`` a ``_scope_`` (in place)."""
    if isinstance(value, dict):
        if 'type' in value:
            value.setdefault('_scope_', scope)
            return
        for v in value.values():
            _add_scope(v, scope)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _add_scope(v, scope)


def _run(tree: ast.Module, path: str, bases: ConfigDict) -> dict:
    """Execute a config module with the base variables predefined."""
    namespace: dict[str, Any] = dict(bases)
    namespace[BASE_KEY] = bases
    try:
        exec(compile(tree, path, 'exec'), namespace)
    except Exception as e:
        line = _line_in(e, path)
        where = f'{path}, line {line}' if line else path
        raise ConfigError(f'{where}: {type(e).__name__}: {e}') from e
    return namespace


def _line_in(error: BaseException, path: str) -> int | None:
    """The last line of ``path`` in the traceback of ``error``."""
    line = None
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == path:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
