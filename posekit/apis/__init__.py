"""posekit.apis: high-level inference (MMPose 1.x's functions and its inferencer).

The network runs in PyTorch (:func:`init_model`) or ONNX Runtime
(:func:`init_onnx_model`), behind one interface (:mod:`.backends`).
"""
from posekit.models.builder import dataset_meta_from_config
from posekit.structures import merge_data_samples
from .backends import BACKENDS, PoseModel, init_pose_model
from .detector import inference_detector, init_detector
from .inference import (inference_bottomup, inference_topdown, inference_topdown_batch,
                        init_model)
from .inference_3d import (collate_pose_sequence, convert_keypoint_definition,
                           extract_pose_sequence, inference_pose_lifter_model)
from .inferencer import PoseInferencer
from .pose3d_inferencer import Pose3DInferencer
from .onnx_backend import OnnxNetwork, OnnxPoseModel, check_onnx, init_onnx_model
from .optimize import PRECISIONS, optimize_for_inference
from .zoo import list_models, model_config, model_info, model_weights

__all__ = ['init_model', 'inference_topdown', 'inference_topdown_batch', 'inference_bottomup',
           'merge_data_samples',
           'dataset_meta_from_config', 'PoseInferencer', 'BACKENDS', 'PoseModel',
           'init_pose_model', 'OnnxNetwork', 'OnnxPoseModel', 'init_onnx_model',
           'check_onnx', 'inference_pose_lifter_model', 'extract_pose_sequence',
           'collate_pose_sequence', 'convert_keypoint_definition', 'Pose3DInferencer',
           'list_models', 'model_config', 'model_info', 'model_weights',
           'init_detector', 'inference_detector', 'optimize_for_inference', 'PRECISIONS']
