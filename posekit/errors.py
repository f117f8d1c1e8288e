"""The errors posekit raises about its input, and how the CLI tells them apart.

posekit's own errors say what is wrong with a file, a config or an input in
one line that names it; ``posekit`` commands print them without a traceback
(see :func:`posekit.cli.main`). Any other exception is a bug and keeps its
traceback.
"""
from __future__ import annotations


class PosekitError(Exception):
    """Base of the errors about input (a config, a file, a checkpoint)."""


class ConfigError(PosekitError):
    """A config file, an override or a config value is wrong; the message
    says where (file and line, or the key path such as ``model.head.loss``)."""


class ConfigTypeError(ConfigError, TypeError):
    """A config value of a type the component's constructor does not take,
    or an argument it does not have. A TypeError too, as a wrong argument
    passed by hand would be."""
