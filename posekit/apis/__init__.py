"""posekit.apis: high-level inference (MMPose 1.x's functions and its inferencer)."""
from .inference import (dataset_meta_from_config, inference_bottomup, inference_topdown,
                        init_model, merge_data_samples, read_checkpoint)
from .inferencer import PoseInferencer

__all__ = ['init_model', 'inference_topdown', 'inference_bottomup', 'merge_data_samples',
           'dataset_meta_from_config', 'read_checkpoint', 'PoseInferencer']
