"""PoseLocalVisualizer: draws a PoseDataSample (MMPose's visualizer, OpenCV only).

Conventions (MMPose's; see :mod:`posekit.visualization.draw`):

- ``image`` is (H, W, 3) uint8 **RGB**; so is the returned picture and what
  the backends receive. ``out_file`` is written as an ordinary image file
  (converted to BGR for cv2), so it looks right in any viewer.
- Colours are RGB triples as seen on screen; the dataset meta's
  ``keypoint_colors`` / ``skeleton_link_colors`` (despite MMPose's "[B, G, R]"
  comments) are drawn as such, so pictures match MMPose's.
- Layout: ground truth on the left, prediction on the right, when both are
  asked for and the sample has them; with ``draw_heatmap`` the heatmap
  picture is stacked below each drawn picture (2H rows).

Behaviour that differs from MMPose, on purpose:

- a panel is drawn only when the sample has something for it: with
  ``draw_gt=True`` but no ``gt_instances`` (inference) the output is the
  prediction alone, not the bare image next to it;
- keypoints need a score (``keypoints_visible``, else ``keypoint_scores``)
  *above* ``kpt_thr`` (MMPose: not below it); points are rounded to the
  nearest pixel (MMPose truncates);
- heatmaps are blended with an opacity proportional to the heat, so the
  image is unchanged where the heatmap is zero (see :func:`overlay_heatmap`);
  SimCC outputs get MMPose's layout of x / y profiles
  (:func:`~posekit.visualization.draw.simcc_picture`) in these colours;
- ``backend='matplotlib'`` raises;
- ``alpha`` and ``show_keypoint_weight`` set the keypoints' opacity (as
  MMPose's OpenCV backend does; boxes and links are opaque).
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import cv2
import numpy as np

from posekit.datasets.metainfo import parse_pose_metainfo
from posekit.fileio import write_image
from posekit.registry import VISUALIZERS
from posekit.structures import to_numpy
from .draw import (Color, color_list, draw_bboxes, draw_box_labels, draw_keypoints, draw_limbs,
                   draw_links, overlay_heatmap, simcc_picture, to_openpose)
from .visualizer import Visualizer, as_rgb_image


# OpenPose's meta file for COCO's keypoints (17) and COCO-WholeBody's (133)
OPENPOSE_META = {17: 'configs/_base_/datasets/coco_openpose.py',
                 133: 'configs/_base_/datasets/coco_wholebody_openpose.py'}
# OpenPose's body limbs: the first links of its meta files, drawn as ellipses;
# the links after them (feet, face, hands) as lines
OPENPOSE_LIMBS = 17


def _openpose_meta(meta: Mapping) -> dict:
    """OpenPose's meta for a dataset of COCO's (or COCO-WholeBody's)
    keypoints, known by their number and the body's names (MMPose goes by
    the dataset's name, 'coco' or 'coco_wholebody')."""
    count, names = meta.get('num_keypoints'), meta.get('keypoint_id2name') or {}
    body = parse_pose_metainfo(dict(from_file='configs/_base_/datasets/coco.py'))
    if count not in OPENPOSE_META or any(names.get(i) != name for i, name in
                                         body['keypoint_id2name'].items()):
        raise ValueError(
            "skeleton_style='openpose' draws COCO's 17 keypoints or COCO-WholeBody's 133, "
            f"not the {count} of dataset {meta.get('dataset_name')!r}")
    return parse_pose_metainfo(dict(from_file=OPENPOSE_META[count]))


def _check_style(skeleton_style: str) -> None:
    if skeleton_style not in ('mmpose', 'openpose'):
        raise ValueError("skeleton_style must be 'mmpose' or 'openpose', got "
                         f'{skeleton_style!r}')


@VISUALIZERS.register_module()
class PoseLocalVisualizer(Visualizer):
    """Draws keypoints, skeletons, boxes and heatmaps of pose data samples.

    Args (MMPose's):
        name (str): The visualizer's name. Defaults to 'visualizer'.
        image (np.ndarray, optional): (H, W, 3) uint8 RGB image to start with.
        vis_backends (list[dict], optional): Backend configs, e.g.
            ``[dict(type='LocalVisBackend')]``.
        save_dir (str, optional): Backends write under ``save_dir/vis_data``.
        bbox_color: Box colour (name or RGB). Defaults to 'green'.
        kpt_color: Keypoint colour(s), replaced by the dataset meta's
            ``keypoint_colors``. Defaults to 'red'.
        link_color: Link colour(s), replaced by the meta's
            ``skeleton_link_colors``. Defaults to None (no links).
        text_color: Colour of box labels. Defaults to white.
        skeleton (list, optional): Link keypoint-id pairs, replaced by the
            meta's ``skeleton_links``.
        line_width (int): Links and boxes, in pixels. Defaults to 1.
        radius (int): Keypoint circles, in pixels. Defaults to 3.
        show_keypoint_weight (bool): Keypoint opacity follows its score.
        backend (str): Only 'opencv'.
        alpha (float): Keypoint opacity. Defaults to 1.0.
    """

    def __init__(self, name: str = 'visualizer', image: np.ndarray | None = None,
                 vis_backends: Sequence[Mapping] | Mapping | None = None,
                 save_dir: str | None = None, bbox_color: Color = 'green',
                 kpt_color: Color = 'red', link_color: Color = None,
                 text_color: Color = (255, 255, 255),
                 skeleton: Sequence[Sequence[int]] | None = None,
                 line_width: int | float = 1, radius: int | float = 3,
                 show_keypoint_weight: bool = False, backend: str = 'opencv',
                 alpha: float = 1.0) -> None:
        if backend != 'opencv':
            raise ValueError(f"PoseLocalVisualizer: backend={backend!r} is not "
                             "available; posekit draws with OpenCV only "
                             "(backend='opencv')")
        super().__init__(name=name, image=image, vis_backends=vis_backends,
                         save_dir=save_dir)
        self.bbox_color = bbox_color
        self.kpt_color = kpt_color
        self.link_color = link_color
        self.text_color = text_color
        self.skeleton = skeleton
        self.line_width = line_width
        self.radius = radius
        self.show_keypoint_weight = show_keypoint_weight
        self.backend = backend
        self.alpha = alpha

    def set_dataset_meta(self, dataset_meta: Mapping | None,
                         skeleton_style: str = 'mmpose') -> None:
        """Take colours and the skeleton from a dataset's meta information
        (``keypoint_colors``, ``skeleton_links``, ``skeleton_link_colors``
        and an optional ``bbox_color``)."""
        _check_style(skeleton_style)
        if skeleton_style == 'openpose':
            dataset_meta = _openpose_meta(dataset_meta or {})
        self.dataset_meta = dict(dataset_meta or {})
        meta = self.dataset_meta
        self.bbox_color = meta.get('bbox_color', self.bbox_color)
        self.kpt_color = meta.get('keypoint_colors', self.kpt_color)
        self.link_color = meta.get('skeleton_link_colors', self.link_color)
        self.skeleton = meta.get('skeleton_links', self.skeleton)

    # ------------------------------------------------------------ drawing
    def draw_instances(self, image: np.ndarray, instances: Any, kpt_thr: float = 0.3,
                       draw_bbox: bool = False, show_kpt_idx: bool = False,
                       skeleton_style: str = 'mmpose') -> np.ndarray:
        """Draw the keypoints, links (and boxes) of an ``InstanceData`` on
        ``image`` (RGB uint8), in place; returns it. ``skeleton_style=
        'openpose'``: see :meth:`add_datasample`."""
        if 'keypoints' in instances:
            keypoints = np.asarray(to_numpy(instances.get('transformed_keypoints',
                                                         instances.keypoints)))
            visible = instances.get('keypoints_visible', instances.get('keypoint_scores'))
            if skeleton_style == 'openpose':
                self._draw_openpose(image, keypoints, visible, kpt_thr, show_kpt_idx)
            else:
                if self.skeleton is not None and len(self.skeleton) \
                        and self.link_color is not None:
                    draw_links(image, keypoints, visible, self.skeleton, self.link_color,
                               self.line_width, kpt_thr)
                draw_keypoints(image, keypoints, visible, self.kpt_color, self.radius,
                               kpt_thr, self.alpha, self.show_keypoint_weight, show_kpt_idx)
        if draw_bbox and 'bboxes' in instances:
            bboxes = np.asarray(to_numpy(instances.bboxes)).reshape(-1, 4)
            draw_bboxes(image, bboxes, self.bbox_color, self.line_width)
            if 'labels' in instances and self.text_color is not None:
                classes = self.dataset_meta.get('classes')
                texts = [str(classes[int(i)]) if classes is not None else f'class {int(i)}'
                         for i in np.asarray(to_numpy(instances.labels)).reshape(-1)]
                draw_box_labels(image, bboxes, texts, self.bbox_color, self.text_color)
        return image

    def _draw_openpose(self, image: np.ndarray, keypoints: np.ndarray, visible: Any,
                       kpt_thr: float, show_kpt_idx: bool) -> None:
        """OpenPose's picture (MMPose's ``skeleton_style='openpose'``): the
        keypoints in its order with a neck, body limbs as translucent
        ellipses, other links as 2-pixel lines, keypoints after the body
        (COCO-WholeBody's) at half the radius; black keypoints not drawn."""
        keypoints, visible = to_openpose(keypoints, visible, kpt_thr)
        count = keypoints.shape[1]
        links = list(self.skeleton or ())
        if links and self.link_color is not None:
            colors = color_list(self.link_color, len(links), 'link_color')
            limbs = OPENPOSE_LIMBS
            draw_limbs(image, keypoints, visible, links[:limbs], colors[:limbs],
                       self.line_width, kpt_thr)
            draw_links(image, keypoints, visible, links[limbs:], colors[limbs:], 2, kpt_thr)
        colors = [None if c is None or sum(c) == 0 else c
                  for c in color_list(self.kpt_color, count, 'kpt_color')]
        body = OPENPOSE_LIMBS + 1   # keypoints of the body, the neck included
        for part, radius in ((slice(0, body), self.radius),
                             (slice(body, count), max(self.radius // 2, 1))):
            draw_keypoints(image, keypoints[:, part], visible[:, part], colors[part], radius,
                           kpt_thr, self.alpha, self.show_keypoint_weight, show_kpt_idx,
                           first_index=part.start)

    def _panel(self, image: np.ndarray, instances: Any, fields: Any, kpt_thr: float,
               draw_bbox: bool, show_kpt_idx: bool, skeleton_style: str) -> tuple | None:
        """(drawn picture, heatmap picture or None), or None: nothing to show."""
        heat = None
        if fields is not None and 'heatmaps' in fields:
            # SimCC outputs (x / y label vectors): MMPose's profile picture
            simcc = instances is not None and 'keypoint_x_labels' in instances
            heat = (simcc_picture if simcc else overlay_heatmap)(image, fields.heatmaps)
        if instances is None and heat is None:
            return None
        drawn = image.copy()
        if instances is not None:
            self.draw_instances(drawn, instances, kpt_thr, draw_bbox, show_kpt_idx,
                                skeleton_style)
        return drawn, heat

    def draw_datasample(self, image: np.ndarray, data_sample: Any,
                        draw_gt: bool = True, draw_pred: bool = True,
                        draw_heatmap: bool = False, draw_bbox: bool = False,
                        show_kpt_idx: bool = False, skeleton_style: str = 'mmpose',
                        kpt_thr: float = 0.3) -> np.ndarray:
        """The picture of a data sample, without recording it anywhere.

        Args: as :meth:`add_datasample`.

        Returns:
            np.ndarray: (H', W', 3) uint8 RGB: W' = 2W with ground truth and
            prediction side by side, H' = 2H with heatmaps below.
        """
        _check_style(skeleton_style)
        image = as_rgb_image(image)
        panels = []
        for wanted, prefix in ((draw_gt, 'gt'), (draw_pred, 'pred')):
            if wanted:
                fields = data_sample.get(f'{prefix}_fields') if draw_heatmap else None
                panels.append(self._panel(image, data_sample.get(f'{prefix}_instances'),
                                          fields, kpt_thr, draw_bbox, show_kpt_idx,
                                          skeleton_style))
        panels = [p for p in panels if p is not None]
        if not panels:
            return image
        if any(heat is not None for _, heat in panels):
            # a panel without heatmap shows the plain image below, as in MMPose
            columns = [np.concatenate([drawn, image if heat is None else heat], axis=0)
                       for drawn, heat in panels]
        else:
            columns = [drawn for drawn, _ in panels]
        return np.concatenate(columns, axis=1) if len(columns) > 1 else columns[0]

    def add_datasample(self, name: str, image: np.ndarray, data_sample: Any,
                       draw_gt: bool = True, draw_pred: bool = True,
                       draw_heatmap: bool = False, draw_bbox: bool = False,
                       show_kpt_idx: bool = False, skeleton_style: str = 'mmpose',
                       show: bool = False, wait_time: float = 0,
                       out_file: str | None = None, kpt_thr: float = 0.3,
                       step: int = 0) -> np.ndarray:
        """Draw a data sample, then show it, write it to ``out_file`` or (without
        ``out_file``) record it in the backends as ``name`` at ``step``.

        Args:
            name (str): Image name (window title; backends' file name).
            image (np.ndarray): (H, W, 3) uint8 RGB, the sample's image.
            data_sample (PoseDataSample): ``gt_instances`` / ``pred_instances``
                (``keypoints (N, K, 2)`` pixels of ``image``, ``keypoints_visible``
                or ``keypoint_scores (N, K)``, ``bboxes (N, 4)`` xyxy) and,
                for heatmaps, ``gt_fields`` / ``pred_fields.heatmaps (K, H, W)``
                (resized to the image if their size differs).
            draw_gt, draw_pred (bool): Which panels to draw.
            draw_heatmap (bool): Stack the heatmap picture below.
            draw_bbox (bool): Draw the instances' boxes.
            show_kpt_idx (bool): Write keypoint indices.
            skeleton_style (str): 'mmpose', or 'openpose' for COCO and
                COCO-WholeBody keypoints (after ``set_dataset_meta(meta,
                'openpose')``): OpenPose's order, colours and limbs.
            show (bool): Show in a window (needs a display).
            wait_time (float): Seconds to show; 0 waits for a key.
            out_file (str, optional): Write the picture there (BGR file).
            kpt_thr (float): Keypoints scoring at or below are not drawn.
            step (int): Step recorded with the image.

        Returns:
            np.ndarray: the picture, (H', W', 3) uint8 RGB.
        """
        drawn = self.draw_datasample(image, data_sample, draw_gt, draw_pred,
                                     draw_heatmap, draw_bbox, show_kpt_idx,
                                     skeleton_style, kpt_thr)
        return self.record(name, drawn, show, wait_time, out_file, step)

    def record(self, name: str, drawn: np.ndarray, show: bool = False,
               wait_time: float = 0, out_file: str | None = None,
               step: int = 0) -> np.ndarray:
        """Keep ``drawn`` as the current picture, show it (``show``), and
        write it to ``out_file`` or else hand it to the vis backends."""
        self._image = drawn
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            write_rgb(out_file, drawn)
        else:
            self.add_image(name, drawn, step)
        return drawn


def write_rgb(path: str, image: np.ndarray) -> None:
    """Write an RGB image with cv2 (as BGR, so viewers show the right colours)."""
    write_image(path, cv2.cvtColor(as_rgb_image(image), cv2.COLOR_RGB2BGR))
