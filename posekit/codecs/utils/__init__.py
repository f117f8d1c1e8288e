"""Pure numpy functions behind the codecs (target drawing, peak finding,
sub-pixel refinement). Shapes and conventions are in each docstring."""
from .gaussian_heatmap import (generate_gaussian_heatmaps,
                               generate_megvii_heatmaps,
                               generate_udp_gaussian_heatmaps,
                               generate_unbiased_gaussian_heatmaps)
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
    'generate_gaussian_heatmaps', 'generate_megvii_heatmaps',
    'generate_udp_gaussian_heatmaps', 'generate_unbiased_gaussian_heatmaps',
    'decode_offset_heatmap', 'generate_offset_heatmap', 'blur_channels_last',
    'gaussian_blur', 'gaussian_blur1d', 'get_heatmap_maximum',
    'get_simcc_maximum', 'refine_keypoints', 'refine_keypoints_dark',
    'refine_keypoints_dark_udp', 'refine_keypoints_megvii',
    'refine_simcc_dark', 'generate_simcc_gaussian_labels',
    'generate_simcc_standard_labels', 'simcc_label_sizes'
]
