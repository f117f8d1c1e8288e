"""Config: the merged variables of a config file, with its file name."""
from __future__ import annotations

import os
from typing import Any, Mapping

from posekit.fileio import write_text
from posekit.errors import ConfigError

from .config_dict import ConfigDict
from .formatting import format_config
from .loading import load_file
from .overrides import apply_override


class Config(ConfigDict):
    """A loaded config: a ConfigDict of top-level variables plus ``filename``.

    >>> cfg = Config.fromfile('configs/body_2d_keypoint/td-hm_res50.py')
    >>> cfg.model.backbone.depth
    50
    """

    def __init__(self, cfg_dict: Mapping | None = None,
                 filename: str | None = None):
        super().__init__(cfg_dict or {})
        object.__setattr__(self, '_filename', filename)

    @classmethod
    def fromfile(cls, filename: str | os.PathLike,
                 cfg_options: Mapping[str, Any] | None = None) -> 'Config':
        """Load a config file, its ``_base_`` files, and optional overrides.

        Args:
            filename: Path of a ``.py`` config file.
            cfg_options: ``{'a.b.c': value}`` overrides, applied as
                :meth:`merge_from_dict` does.
        """
        merged = load_file(filename)
        # Rebuild from plain data so no two keys share one dict object.
        cfg = cls(merged.to_dict(), filename=os.path.abspath(str(filename)))
        if cfg_options:
            cfg.merge_from_dict(cfg_options)
        return cfg

    @property
    def filename(self) -> str | None:
        return self._filename

    def merge_from_dict(self, options: Mapping[str, Any],
                        allow_new_keys: bool = False) -> None:
        """Apply ``{'model.backbone.depth': 101, ...}`` in place.

        Each dotted key must exist (close matches are suggested), unless it
        starts with ``+`` or ``allow_new_keys`` is set. A dict value merges
        into the existing dict, as a child config does.
        """
        for dotted, value in options.items():
            apply_override(self, dotted, value, allow_new=allow_new_keys)

    @property
    def pretty_text(self) -> str:
        """The config as Python source (classes and functions shown as <name>)."""
        return format_config(self, strict=False)

    def dump(self, file: str | os.PathLike | None = None) -> str:
        """Write the config as a ``.py`` file that reloads to an equal config.

        Returns the text. Raises ConfigError for values that are not literals
        (classes, functions, arrays), naming the key.
        """
        try:
            text = format_config(self, strict=True)
        except TypeError as e:
            raise ConfigError(f'cannot dump config {self.filename}: {e}') from e
        if file is not None:
            file = os.fspath(file)
            if not file.endswith('.py'):
                raise ConfigError(f'dump: config files are .py files, got {file}')
            write_text(file, text)
        return text

    def __repr__(self) -> str:
        return f'Config(path: {self.filename}): {dict.__repr__(self)}'
