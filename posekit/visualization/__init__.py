"""posekit.visualization: its modules are imported here, which registers them.

Images are (H, W, 3) uint8 RGB throughout; see :mod:`.draw` for the colour
and coordinate conventions.
"""
from .draw import (COLOR_NAMES, color_list, draw_bboxes, draw_box_labels,
                   draw_keypoints, draw_links, draw_pose, heatmap_to_color,
                   overlay_heatmap)
from .local_visualizer import PoseLocalVisualizer, write_rgb
from .local_visualizer_3d import Pose3dLocalVisualizer, to_display_axes
from .vis_backends import (BaseVisBackend, LocalVisBackend, TensorboardVisBackend,
                           WandbVisBackend)
from .visualizer import Visualizer

__all__ = [
    'BaseVisBackend', 'COLOR_NAMES', 'LocalVisBackend', 'Pose3dLocalVisualizer',
    'PoseLocalVisualizer',
    'TensorboardVisBackend', 'Visualizer', 'WandbVisBackend', 'color_list',
    'draw_bboxes', 'draw_box_labels', 'draw_keypoints', 'draw_links', 'draw_pose',
    'heatmap_to_color', 'overlay_heatmap', 'to_display_axes', 'write_rgb'
]
