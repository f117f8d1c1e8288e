"""Pose3dLocalVisualizer: the 2D input beside its 3D poses (MMPose's
visualizer of the same name, drawn with OpenCV; no matplotlib).

Layout (as MMPose): the image with the 2D detection on the left, padded
with white to the 3D area's size; then, per 3D instance, a square panel of
side ``S = max(H, W)`` with the prediction, followed by the ground truth.

The 3D panel imitates matplotlib's 3D axes as MMPose sets them up: the
axis box is ``x_c +- axis_limit / 2``, ``y_c +- axis_limit / 2`` and
``[min(0, z_c - axis_limit / 2), z_c + axis_limit / 2]`` around the mean
``(x_c, y_c, z_c)`` of the valid joints; each axis is scaled to its own
range and the box has matplotlib's 4:4:3 aspect; z points up on screen; the
view has azimuth ``axis_azimuth`` and elevation ``axis_elev`` (degrees,
matplotlib's ``view_init``); ``axis_dist`` is matplotlib's camera distance
(10: the box fills the panel; larger zooms out; perspective 1 / depth).

Differences from MMPose, on purpose:

- no matplotlib: the panel has a light grey box wireframe instead of grey
  panes and a grid, and its title is drawn with OpenCV;
- panels are drawn only for what the sample has (``draw_gt`` without
  ground truth adds no empty panel); ``draw_pred=False`` leaves out the
  prediction (MMPose ignores it); a sample without 3D keypoints gives one
  white ``S x S`` panel;
- joints and links need scores above ``kpt_thr`` (MMPose: joints at or
  above), as :class:`PoseLocalVisualizer` draws them;
- ``skeleton_style='openpose'`` raises (the 2D pictures of
  :class:`PoseLocalVisualizer` have it).
"""
from __future__ import annotations

from typing import Any, Sequence

import cv2
import numpy as np

from posekit.registry import VISUALIZERS
from posekit.structures import to_numpy
from posekit.structures.keypoint.definitions import convert_keypoint_definition
from .draw import Color, draw_bboxes, draw_keypoints, draw_links
from .local_visualizer import PoseLocalVisualizer
from .visualizer import as_rgb_image

WHITE = (255, 255, 255)
BOX_GREY = (200, 200, 200)
# matplotlib's default 3D box aspect (x : y : z)
BOX_ASPECT = np.array([1.0, 1.0, 0.75])


def to_display_axes(keypoints: Any, rebase: bool = True) -> np.ndarray:
    """Camera axes (x right, y down, z forward) to ``(-x, z, -y)`` (z up), as
    MMPose's 3D inferencer shows poses; with ``rebase``, the lowest joint of
    each pose is moved to z = 0 (the pose stands on the ground).

    Args:
        keypoints: (..., K, 3) camera coordinates (e.g. metres).
        rebase (bool): Move each pose's lowest joint to z = 0.

    Returns:
        np.ndarray: (M, K, 3) float64, M the product of the leading dims.
    """
    kpts = np.asarray(to_numpy(keypoints), dtype=np.float64)
    kpts = kpts.reshape(-1, *kpts.shape[-2:])
    kpts = np.stack([-kpts[..., 0], kpts[..., 2], -kpts[..., 1]], axis=-1)
    if rebase:
        kpts[..., 2] -= np.nanmin(kpts[..., 2], axis=-1, keepdims=True)
    return kpts


def view_axes(azimuth: float, elevation: float) -> np.ndarray:
    """(3, 3) rows: screen right, screen up, towards the viewer, in data
    axes (z up), for matplotlib's ``view_init(elev, azim)`` in degrees."""
    az, el = np.deg2rad(azimuth), np.deg2rad(elevation)
    right = [-np.sin(az), np.cos(az), 0.0]
    up = [-np.sin(el) * np.cos(az), -np.sin(el) * np.sin(az), np.cos(el)]
    towards = [np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)]
    return np.array([right, up, towards])


def axis_box(points: np.ndarray, axis_limit: float) -> np.ndarray:
    """(3, 2) [low, high] per axis: MMPose's limits around the mean of
    ``points`` (V, 3) (the origin when V = 0)."""
    centre = points.mean(0) if len(points) else np.zeros(3)
    half = axis_limit / 2
    box = np.stack([centre - half, centre + half], axis=1)
    box[2, 0] = min(0.0, centre[2] - half)
    return box


def project_to_panel(points: np.ndarray, box: np.ndarray, size: int, azimuth: float,
                     elevation: float, dist: float = 10.0) -> np.ndarray:
    """Pixels of 3D points in a ``size`` x ``size`` panel.

    Args:
        points (np.ndarray): (..., 3) data coordinates (x, y, z; z up).
        box (np.ndarray): (3, 2) axis limits (:func:`axis_box`).
        size (int): Panel side in pixels.
        azimuth, elevation (float): View angles in degrees.
        dist (float): Camera distance in box units (> 1).

    Returns:
        np.ndarray: (..., 2) float64 pixels (x right, y down); the box's
        centre is the panel's centre.
    """
    if not dist > 1:
        raise ValueError(f'axis_dist must be > 1 (the camera outside the axis '
                         f'box), got {dist}')
    span = box[:, 1] - box[:, 0]
    unit = ((points - box[:, 0]) / span - 0.5) * BOX_ASPECT  # in [-0.5, 0.5]
    right, up, towards = view_axes(azimuth, elevation)
    zoom = 10.0 / (dist - unit @ towards)
    # 0.55: the box's widest projection (about 0.8 units) fills ~90 % of the side
    scale = 0.55 * size * zoom
    return np.stack([size / 2 + (unit @ right) * scale,
                     size / 2 - (unit @ up) * scale], axis=-1)


def _box_edges(box: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    corners = np.array([[box[0, i], box[1, j], box[2, k]]
                        for i in (0, 1) for j in (0, 1) for k in (0, 1)])
    pairs = [(a, b) for a in range(8) for b in range(a + 1, 8)
             if bin(a ^ b).count('1') == 1]
    return [(corners[a], corners[b]) for a, b in pairs]


@VISUALIZERS.register_module()
class Pose3dLocalVisualizer(PoseLocalVisualizer):
    """Draws 2D detections and 3D poses side by side.

    Args:
        name, image, vis_backends, save_dir, bbox_color, kpt_color,
        link_color, text_color, skeleton, line_width, radius,
        show_keypoint_weight, backend: As :class:`PoseLocalVisualizer`
            (colours RGB; ``kpt_color``, ``link_color`` and ``skeleton``
            come from the 3D dataset's meta via ``set_dataset_meta``).
        alpha (float): Keypoint opacity. Defaults to 0.8 (MMPose's).
        det_kpt_color: Keypoint colour(s) of the 2D detection (the 2D
            dataset's ``keypoint_colors``); None: ``kpt_color``.
        det_dataset_skeleton (list, optional): Link pairs of the 2D
            detection; None: ``skeleton``.
        det_dataset_link_color: Link colours of the 2D detection; None:
            ``link_color``.
    """

    def __init__(self, name: str = 'visualizer', image: np.ndarray | None = None,
                 vis_backends: Any = None, save_dir: str | None = None,
                 bbox_color: Color = 'green', kpt_color: Color = 'red',
                 link_color: Color = None, text_color: Color = (255, 255, 255),
                 skeleton: Sequence[Sequence[int]] | None = None,
                 line_width: int | float = 1, radius: int | float = 3,
                 show_keypoint_weight: bool = False, backend: str = 'opencv',
                 alpha: float = 0.8, det_kpt_color: Color = None,
                 det_dataset_skeleton: Sequence[Sequence[int]] | None = None,
                 det_dataset_link_color: Color = None) -> None:
        super().__init__(name, image, vis_backends, save_dir, bbox_color, kpt_color,
                         link_color, text_color, skeleton, line_width, radius,
                         show_keypoint_weight, backend, alpha)
        self.det_kpt_color = det_kpt_color
        self.det_dataset_skeleton = det_dataset_skeleton
        self.det_dataset_link_color = det_dataset_link_color

    # ------------------------------------------------------------ 2D side
    def _draw_2d(self, image: np.ndarray, instances: Any, kpt_thr: float,
                 show_kpt_idx: bool, draw_bbox: bool) -> np.ndarray | None:
        """Draw the 2D detection on ``image`` in place; returns its (N, K)
        keypoint scores (ones without ``keypoint_scores``), or None."""
        if 'keypoints' not in instances:
            return None
        kpts = np.asarray(to_numpy(instances.keypoints))[..., :2]
        scores = np.asarray(to_numpy(instances.get('keypoint_scores', np.ones(kpts.shape[:2]))))
        visible = instances.get('keypoints_visible')
        shown = scores if visible is None else np.minimum(
            scores, np.asarray(to_numpy(visible)) > 0)
        skeleton = (self.det_dataset_skeleton if self.det_dataset_skeleton is not None
                    else self.skeleton)
        link_color = (self.det_dataset_link_color if self.det_dataset_link_color
                      is not None else self.link_color)
        kpt_color = self.det_kpt_color if self.det_kpt_color is not None else self.kpt_color
        if skeleton is not None and len(skeleton) and link_color is not None:
            draw_links(image, kpts, shown, skeleton, link_color, self.line_width, kpt_thr)
        draw_keypoints(image, kpts, shown, kpt_color, self.radius, kpt_thr, self.alpha,
                       self.show_keypoint_weight, show_kpt_idx)
        if draw_bbox and 'bboxes' in instances:
            draw_bboxes(image, np.asarray(to_numpy(instances.bboxes)).reshape(-1, 4),
                        self.bbox_color, self.line_width)
        return scores

    # ------------------------------------------------------------ 3D side
    def draw_3d_panel(self, keypoints: np.ndarray, scores: np.ndarray, size: int,
                      title: str, kpt_thr: float = 0.3, axis_azimuth: float = 70,
                      axis_limit: float = 1.7, axis_dist: float = 10.0,
                      axis_elev: float = 15.0, show_kpt_idx: bool = False) -> np.ndarray:
        """One instance's 3D skeleton in a white ``size`` x ``size`` panel.

        Args:
            keypoints (np.ndarray): (K, 3) data units (e.g. metres), z up.
            scores (np.ndarray): (K,) joints and links need a score above
                ``kpt_thr``; NaN joints are never drawn.
            size (int): Panel side in pixels.
            title (str): Written at the top.
            kpt_thr, axis_*, show_kpt_idx: See :meth:`add_datasample`.

        Returns:
            np.ndarray: (size, size, 3) uint8 RGB.
        """
        panel = np.full((size, size, 3), 255, np.uint8)
        finite = np.isfinite(keypoints).all(-1)
        scores = np.where(finite, scores, -np.inf)
        box = axis_box(keypoints[scores > kpt_thr], axis_limit)
        for a, b in _box_edges(box):
            pa, pb = project_to_panel(np.stack([a, b]), box, size, axis_azimuth,
                                      axis_elev, axis_dist)
            cv2.line(panel, tuple(int(round(v)) for v in pa),
                     tuple(int(round(v)) for v in pb), BOX_GREY, 1, cv2.LINE_AA)
        pixels = project_to_panel(np.where(finite[:, None], keypoints, 0), box, size,
                                  axis_azimuth, axis_elev, axis_dist)
        if self.skeleton is not None and len(self.skeleton) and self.link_color is not None:
            draw_links(panel, pixels[None], scores[None], self.skeleton, self.link_color,
                       self.line_width, kpt_thr)
        draw_keypoints(panel, pixels[None], scores[None], self.kpt_color, self.radius,
                       kpt_thr, self.alpha, self.show_keypoint_weight, show_kpt_idx)
        cv2.putText(panel, title, (8, 8 + int(0.04 * size)), cv2.FONT_HERSHEY_SIMPLEX,
                    max(0.3, size / 800), (0, 0, 0), 1, cv2.LINE_AA)
        return panel

    def _3d_panels(self, data_sample: Any, size: int, draw_gt: bool, draw_pred: bool,
                   num_instances: int, scores_2d: np.ndarray | None,
                   options: dict) -> list[np.ndarray]:
        """Per instance: the prediction's panel, then the ground truth's."""
        sources = []
        pred = data_sample.get('pred_instances')
        if draw_pred and pred is not None and 'keypoints' in pred:
            kpts = np.asarray(to_numpy(pred.keypoints), dtype=np.float64)
            scores = pred.get('keypoint_scores')
            scores = np.ones(kpts.shape[:2]) if scores is None else np.asarray(to_numpy(scores))
            if num_instances >= 0:
                kpts, scores = kpts[:num_instances], scores[:num_instances]
            sources.append(('Prediction', kpts, scores))
        gt = data_sample.get('gt_instances')
        if draw_gt and gt is not None and len(gt.keys()):
            name = next((k for k in ('lifting_target', 'keypoints_gt') if k in gt), None)
            if name is None:
                raise ValueError('Pose3dLocalVisualizer: to draw the ground truth '
                                 '(draw_gt=True), gt_instances needs "lifting_target" '
                                 'or "keypoints_gt"; pass draw_gt=False')
            kpts = np.asarray(to_numpy(gt.get(name)), dtype=np.float64).reshape(
                -1, *np.shape(gt.get(name))[-2:])
            sources.append(('Ground Truth', kpts, np.ones(kpts.shape[:2])))
        count = max([len(k) for _, k, _ in sources] + [max(num_instances, 0)])
        panels = []
        for idx in range(count):
            for title, kpts, scores in sources:
                if idx >= len(kpts):
                    panels.append(np.full((size, size, 3), 255, np.uint8))
                    continue
                shown = scores[idx]
                if scores_2d is not None and idx < len(scores_2d):
                    shown = np.minimum(shown, scores_2d[idx])
                panels.append(self.draw_3d_panel(kpts[idx, :, :3], shown, size,
                                                 f'{title} ({idx})', **options))
        return panels or [np.full((size, size, 3), 255, np.uint8)]

    def draw_3d_datasample(self, image: np.ndarray, data_sample: Any,
                           det_data_sample: Any = None, draw_gt: bool = True,
                           draw_pred: bool = True, draw_2d: bool = True,
                           draw_bbox: bool = False, show_kpt_idx: bool = False,
                           skeleton_style: str = 'mmpose', dataset_2d: str = 'coco',
                           dataset_3d: str = 'h36m', convert_keypoint: bool = True,
                           axis_azimuth: float = 70, axis_limit: float = 1.7,
                           axis_dist: float = 10.0, axis_elev: float = 15.0,
                           num_instances: int = -1, kpt_thr: float = 0.3) -> np.ndarray:
        """The picture of a 3D sample, without recording it anywhere.

        Args: as :meth:`add_datasample`.

        Returns:
            np.ndarray: (S, W' + P * S, 3) uint8 RGB, P 3D panels, S = max(H, W).
        """
        if skeleton_style != 'mmpose':
            raise ValueError("Pose3dLocalVisualizer: skeleton_style must be 'mmpose', got "
                             f'{skeleton_style!r}')
        image = as_rgb_image(image)
        size = max(image.shape[:2])
        scores_2d = None
        left = None
        if draw_2d:
            left = image.copy()
            det = det_data_sample.get('pred_instances') if det_data_sample is not None else None
            if det is not None:
                scores_2d = self._draw_2d(left, det, kpt_thr, show_kpt_idx, draw_bbox)
        if scores_2d is not None and convert_keypoint:
            scores_2d = convert_keypoint_definition(
                np.asarray(scores_2d)[..., None], dataset_2d, dataset_3d)[..., 0]
        options = dict(kpt_thr=kpt_thr, axis_azimuth=axis_azimuth, axis_limit=axis_limit,
                       axis_dist=axis_dist, axis_elev=axis_elev, show_kpt_idx=show_kpt_idx)
        right = np.concatenate(self._3d_panels(data_sample, size, draw_gt, draw_pred,
                                               num_instances, scores_2d, options), axis=1)
        if left is None:
            return right
        # the 2D picture is padded with white to the 3D area's size, centred
        pad_h = max(right.shape[0] - left.shape[0], 0)
        pad_w = max(right.shape[1] - left.shape[1], 0)
        left = cv2.copyMakeBorder(left, pad_h // 2, pad_h - pad_h // 2, pad_w // 2,
                                  pad_w - pad_w // 2, cv2.BORDER_CONSTANT, value=WHITE)
        return np.concatenate([left, right], axis=1)

    def add_datasample(self, name: str, image: np.ndarray, data_sample: Any,
                       det_data_sample: Any = None, draw_gt: bool = True,
                       draw_pred: bool = True, draw_2d: bool = True,
                       draw_bbox: bool = False, show_kpt_idx: bool = False,
                       skeleton_style: str = 'mmpose', dataset_2d: str = 'coco',
                       dataset_3d: str = 'h36m', convert_keypoint: bool = True,
                       axis_azimuth: float = 70, axis_limit: float = 1.7,
                       axis_dist: float = 10.0, axis_elev: float = 15.0,
                       num_instances: int = -1, show: bool = False,
                       wait_time: float = 0, out_file: str | None = None,
                       kpt_thr: float = 0.3, step: int = 0) -> np.ndarray:
        """Draw a 3D sample beside its 2D detection, then show it, write it
        to ``out_file`` or (without ``out_file``) record it as ``name``.

        Args:
            name (str): Image name (window title; backends' file name).
            image (np.ndarray): (H, W, 3) uint8 RGB, the input image.
            data_sample (PoseDataSample): ``pred_instances.keypoints (N, K, 3)``
                (with optional ``keypoint_scores (N, K)``) and, for
                ``draw_gt``, ``gt_instances.lifting_target`` or
                ``keypoints_gt`` (N, K, 3); z up (rotate camera-space poses
                to world axes first, as MMPose's inferencer does).
            det_data_sample (PoseDataSample, optional): The 2D detection:
                ``pred_instances.keypoints (N, K2, 2)`` pixels of ``image``,
                ``keypoint_scores (N, K2)``, ``bboxes (N, 4)``. Its scores,
                converted to the 3D keypoints, also hide 3D joints.
            draw_gt, draw_pred (bool): Which 3D panels to draw.
            draw_2d (bool): Draw the image with the 2D detection on the left.
            draw_bbox (bool): Draw the 2D boxes.
            show_kpt_idx (bool): Write keypoint indices (2D and 3D).
            skeleton_style (str): Only 'mmpose'.
            dataset_2d, dataset_3d (str): Keypoint definitions for
                :func:`convert_keypoint_definition` (e.g. 'coco', 'h36m').
            convert_keypoint (bool): Convert the 2D scores to the 3D
                keypoints (False: they already match).
            axis_azimuth, axis_elev (float): View angles, degrees.
            axis_limit (float): Axis box side, data units (see module doc).
            axis_dist (float): Camera distance (> 1; 10 fills the panel).
            num_instances (int): 3D instances shown: < 0 all; else the first
                ``num_instances``, padded with white panels.
            show (bool): Show in a window (needs a display).
            wait_time (float): Seconds to show; 0 waits for a key.
            out_file (str, optional): Write the picture there (BGR file).
            kpt_thr (float): Joints scoring at or below are not drawn.
            step (int): Step recorded with the image.

        Returns:
            np.ndarray: the picture, (S, W', 3) uint8 RGB.
        """
        drawn = self.draw_3d_datasample(
            image, data_sample, det_data_sample, draw_gt, draw_pred, draw_2d, draw_bbox,
            show_kpt_idx, skeleton_style, dataset_2d, dataset_3d, convert_keypoint,
            axis_azimuth, axis_limit, axis_dist, axis_elev, num_instances, kpt_thr)
        return self.record(name, drawn, show, wait_time, out_file, step)
