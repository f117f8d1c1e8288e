"""posekit.models: pose estimators and their parts.

Importing this package imports every subpackage, which registers each
component in ``posekit.registry.MODELS``. ``builder`` builds a model from a
config and loads its checkpoint (the core of ``posekit.apis.init_model``);
``onnx_spec`` is what the ONNX exporter and the ONNX Runtime backend agree on.
"""
from . import (backbones, builder, data_preprocessors, distillers,  # noqa: F401
               heads, losses, necks, onnx_spec, pose_estimators, utils)
