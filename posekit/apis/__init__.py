"""posekit.apis: high-level inference (MMPose 1.x's functions and its inferencer).

The network runs in PyTorch (:func:`init_model`) or ONNX Runtime
(:func:`init_onnx_model`), behind one interface (:mod:`.backends`).
"""
from posekit.models.builder import dataset_meta_from_config
from posekit.structures import merge_data_samples
from .backends import BACKENDS, PoseModel, init_pose_model
from .inference import inference_bottomup, inference_topdown, init_model
from .inferencer import PoseInferencer
from .onnx_backend import OnnxNetwork, OnnxPoseModel, check_onnx, init_onnx_model

__all__ = ['init_model', 'inference_topdown', 'inference_bottomup', 'merge_data_samples',
           'dataset_meta_from_config', 'PoseInferencer', 'BACKENDS', 'PoseModel',
           'init_pose_model', 'OnnxNetwork', 'OnnxPoseModel', 'init_onnx_model',
           'check_onnx']
