"""The ``_base_ = ...`` line of a config file (read without running it)."""
from __future__ import annotations

import ast

from posekit.errors import ConfigError

BASE_KEY = '_base_'


def pop_base_assignment(tree: ast.Module, path: str) -> tuple[list[str], ast.Module]:
    """Read ``_base_ = ...`` (a literal) and remove it from the module."""
    refs: list[str] = []
    body = []
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id == BASE_KEY):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                raise ConfigError(f'{path}, line {node.lineno}: _base_ must be a '
                                  f'literal string or list of strings') from None
            refs = [value] if isinstance(value, str) else list(value)
            if not all(isinstance(r, str) for r in refs):
                raise ConfigError(f'{path}, line {node.lineno}: _base_ must be a '
                                  f'string or a list of strings, got {value!r}')
        else:
            body.append(node)
    tree.body = body
    return refs, tree
