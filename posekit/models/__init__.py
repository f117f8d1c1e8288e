"""posekit.models: pose estimators and their parts.

Importing this package imports every subpackage, which registers each
component in ``posekit.registry.MODELS``. ``builder`` builds a model from a
config and loads its checkpoint (the core of ``posekit.apis.init_model``);
``onnx_spec`` is what the ONNX exporter and the ONNX Runtime backend agree on
(``onestage_deploy``: the decoded graph of one-stage models, for both).
"""
from . import (backbones, builder, data_preprocessors, detectors,  # noqa: F401
               distillers, heads, losses, necks, onestage_deploy, onnx_spec, pose_estimators,
               utils)
from . import task_modules  # noqa: F401  (registers TASK_UTILS)
