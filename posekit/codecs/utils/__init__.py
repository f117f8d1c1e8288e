"""Pure numpy functions behind the codecs (target drawing, peak finding,
sub-pixel refinement). Shapes and conventions are in each docstring."""
from .decoupled import (decode_instance_heatmaps, get_instance_wise_sigmas,
                        select_instances)
from .displacement import (decode_root_displacements,
                           generate_displacement_heatmap, sample_heatmaps)
from .gaussian_heatmap import (generate_gaussian_heatmaps,
                               generate_megvii_heatmaps,
                               generate_udp_gaussian_heatmaps,
                               generate_unbiased_gaussian_heatmaps)
from .grouping import (fill_missing_keypoints, get_topk_candidates,
                       group_keypoints_by_tags, heatmap_nms, topk_flat)
from .instance_property import (get_diagonal_lengths, get_instance_bbox,
                                get_instance_root)
from .lifting import (camera_to_image_coord, camera_to_pixel,
                      normalize_camera_param)
from .offset_heatmap import decode_offset_heatmap, generate_offset_heatmap
from .post_processing import (blur_channels_last, gaussian_blur,
                              gaussian_blur1d, get_heatmap_maximum,
                              get_simcc_maximum)
from .refinement import (refine_keypoints, refine_keypoints_dark,
                         refine_keypoints_dark_udp, refine_keypoints_megvii,
                         refine_simcc_dark)
from .simcc_labels import (generate_simcc_gaussian_labels,
                           generate_simcc_standard_labels, simcc_label_sizes)

__all__ = [
    'decode_instance_heatmaps', 'get_instance_wise_sigmas', 'select_instances',
    'decode_root_displacements', 'generate_displacement_heatmap',
    'sample_heatmaps', 'fill_missing_keypoints', 'get_topk_candidates',
    'group_keypoints_by_tags', 'heatmap_nms', 'topk_flat',
    'get_diagonal_lengths', 'get_instance_bbox', 'get_instance_root',
    'generate_gaussian_heatmaps', 'generate_megvii_heatmaps',
    'generate_udp_gaussian_heatmaps', 'generate_unbiased_gaussian_heatmaps',
    'decode_offset_heatmap', 'generate_offset_heatmap', 'blur_channels_last',
    'gaussian_blur', 'gaussian_blur1d', 'get_heatmap_maximum',
    'get_simcc_maximum', 'refine_keypoints', 'refine_keypoints_dark',
    'refine_keypoints_dark_udp', 'refine_keypoints_megvii',
    'refine_simcc_dark', 'generate_simcc_gaussian_labels',
    'generate_simcc_standard_labels', 'simcc_label_sizes',
    'camera_to_image_coord', 'camera_to_pixel', 'normalize_camera_param'
]
