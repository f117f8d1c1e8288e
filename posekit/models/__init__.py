"""posekit.models: pose estimators and their parts.

Importing this package imports every subpackage, which registers each
component in ``posekit.registry.MODELS``.
"""
from . import (backbones, data_preprocessors, distillers, heads,  # noqa: F401
               losses, necks, pose_estimators, utils)
