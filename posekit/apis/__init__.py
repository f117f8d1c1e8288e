"""posekit.apis: high-level inference functions (MMPose 1.x's signatures)."""
from .inference import (dataset_meta_from_config, inference_topdown,
                        init_model, merge_data_samples, read_checkpoint)

__all__ = ['init_model', 'inference_topdown', 'merge_data_samples',
           'dataset_meta_from_config', 'read_checkpoint']
