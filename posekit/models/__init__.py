"""posekit.models: pose estimators and their parts.

Importing this package imports every subpackage, which registers each
component in ``posekit.registry.MODELS``.
"""
from . import (backbones, data_preprocessors, heads, losses, necks,  # noqa: F401
               pose_estimators, utils)
