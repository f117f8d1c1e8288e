"""posekit.export: ONNX export and an ONNX Runtime backend for inference.

Importing this package needs neither onnx nor onnxruntime; the functions
that use them raise an ImportError naming ``pip install "posekit[onnx]"``.
"""
from .onnx_export import check_onnx, export_onnx
from .onnx_runtime import OnnxNetwork, OnnxPoseModel, init_onnx_model

__all__ = ['export_onnx', 'check_onnx', 'OnnxNetwork', 'OnnxPoseModel',
           'init_onnx_model']
