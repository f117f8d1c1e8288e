"""Config files: ``Config.fromfile``, ``ConfigDict`` and command-line overrides."""
from posekit.errors import ConfigError

from .config import Config
from .config_dict import ConfigDict
from .loading import merge, shipped_configs_dir
from .overrides import apply_override, parse_cfg_options, parse_value

__all__ = ['Config', 'ConfigDict', 'ConfigError', 'merge', 'shipped_configs_dir',
           'apply_override', 'parse_cfg_options', 'parse_value']
