"""Drawing helpers: boxes, keypoints, skeleton links and heatmaps with OpenCV.

Conventions (the same as MMPose's visualizer, so pictures look alike):

- Images are ``(H, W, 3)`` uint8 **RGB**. Colours are RGB triples as they
  appear on screen. The dataset meta colours (``keypoint_colors``,
  ``skeleton_link_colors``, ``(K, 3)`` uint8) are drawn as such triples: the
  meta files of MMPose comment them as ``[B, G, R]`` but its visualizer draws
  them into RGB images, so COCO's right side ``[255, 128, 0]`` is orange on
  screen; posekit matches the pictures, not the comment. Convert with
  ``image[..., ::-1]`` when reading or writing files with cv2 (BGR).
- Coordinates are pixels of ``image``, ``x`` right and ``y`` down; a point is
  drawn at the nearest pixel (MMPose truncates).
- A keypoint (and a link between two keypoints) is drawn only where its
  visibility or score is above ``kpt_thr``; links also need both ends inside
  the image (MMPose's rule: unannotated keypoints sit at (0, 0)).
- ``draw_*`` draw in place into ``image`` (uint8, C-contiguous) and return
  it; :func:`overlay_heatmap` and :func:`draw_pose` return a new image.

Colours may be given as a name (``'red'``, ``'green'``..., see
:data:`COLOR_NAMES`), one RGB triple for all items, or one triple per item
(``(N, 3)``); ``None`` draws nothing.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import cv2
import numpy as np

from posekit.structures import to_numpy

# mmcv's named colours (pure primaries), as RGB
COLOR_NAMES = {
    'red': (255, 0, 0), 'green': (0, 255, 0), 'blue': (0, 0, 255),
    'cyan': (0, 255, 255), 'yellow': (255, 255, 0), 'magenta': (255, 0, 255),
    'white': (255, 255, 255), 'black': (0, 0, 0), 'orange': (255, 128, 0),
}

Color = Any  # str | (3,) triple | (N, 3) array | None
RGB = tuple  # tuple[int, int, int]


def color_list(color: Color, count: int, what: str = 'color') -> list[RGB | None]:
    """``count`` RGB tuples (or ``None`` = not drawn) from a colour spec.

    Raises:
        ValueError: an unknown name, or a per-item list of the wrong length.
    """
    if color is None:
        return [None] * count
    if count == 0:
        return []
    if isinstance(color, str):
        if color not in COLOR_NAMES:
            raise ValueError(f'{what}: unknown colour name {color!r}; use one of '
                             f'{sorted(COLOR_NAMES)} or an RGB triple')
        return [COLOR_NAMES[color]] * count
    if isinstance(color, (list, tuple)) and any(isinstance(c, str) or c is None
                                                for c in color):   # per item
        if len(color) != count:
            raise ValueError(f'{what}: {len(color)} colours for {count} items')
        return [color_list(c, 1, what)[0] for c in color]
    array = np.asarray(to_numpy(color))
    if array.ndim == 1 and array.size == 3:
        return [tuple(int(c) for c in array)] * count
    if array.ndim != 2 or array.shape[1] != 3:
        raise ValueError(f'{what}: expected an RGB triple or an (N, 3) array, '
                         f'got shape {array.shape}')
    if len(array) != count:
        raise ValueError(f'{what}: {len(array)} colours for {count} items '
                         '(the dataset meta does not match the keypoints?)')
    return [tuple(int(c) for c in row) for row in array]


def _points(keypoints: Any) -> np.ndarray:
    """(N, K, 2) float64 from (N, K, >=2) or one instance (K, >=2)."""
    kpts = np.asarray(to_numpy(keypoints)).astype(np.float64)
    if kpts.ndim == 2:
        kpts = kpts[None]
    if kpts.ndim != 3 or kpts.shape[-1] < 2:
        raise ValueError(f'keypoints must be (N, K, 2), got shape {kpts.shape}')
    return kpts[..., :2]


def _visibility(visible: Any, shape: tuple[int, int]) -> np.ndarray:
    """(N, K) scores; ``None`` = all visible; ``(N, K, 2)`` uses the first."""
    if visible is None:
        return np.ones(shape)
    vis = np.asarray(to_numpy(visible)).astype(np.float64)
    if vis.ndim == 3:
        vis = vis[..., 0]
    if vis.size != shape[0] * shape[1]:
        raise ValueError(f'keypoint scores/visibility of shape {vis.shape} do '
                         f'not match keypoints (N, K) = {shape}')
    return vis.reshape(shape)


def _pixel(point: np.ndarray) -> tuple[int, int]:
    return int(round(point[0])), int(round(point[1]))


def draw_bboxes(image: np.ndarray, bboxes: Any, color: Color = 'green',
                line_width: int = 1) -> np.ndarray:
    """Draw ``(N, 4)`` xyxy boxes (pixels) as rectangles, in place."""
    boxes = np.asarray(to_numpy(bboxes)).astype(np.float64).reshape(-1, 4)
    colors = color_list(color, len(boxes), 'bbox_color')
    for (x1, y1, x2, y2), rgb in zip(boxes, colors):
        if rgb is not None and np.isfinite([x1, y1, x2, y2]).all():
            cv2.rectangle(image, _pixel((x1, y1)), _pixel((x2, y2)), rgb,
                          max(int(line_width), 1))
    return image


def draw_box_labels(image: np.ndarray, bboxes: Any, texts: Sequence[str],
                    color: Color = 'green', text_color: Color = 'white') -> np.ndarray:
    """Write ``texts[i]`` on a filled ``color`` tag above box i's top-left
    corner, in place."""
    boxes = np.asarray(to_numpy(bboxes)).astype(np.float64).reshape(-1, 4)
    fills = color_list(color, len(boxes), 'bbox_color')
    ink = color_list(text_color, 1, 'text_color')[0]
    for (x1, y1, _, _), text, fill in zip(boxes, texts, fills):
        if ink is None or not np.isfinite([x1, y1]).all():
            continue
        (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1)
        x, y = _pixel((x1, max(y1, h + base)))
        if fill is not None:
            cv2.rectangle(image, (x, y - h - base), (x + w, y), fill, -1)
        cv2.putText(image, text, (x, y - base), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                    ink, 1, cv2.LINE_AA)
    return image


def draw_links(image: np.ndarray, keypoints: Any, visible: Any,
               links: Sequence[Sequence[int]], color: Color,
               line_width: int = 1, kpt_thr: float = 0.3) -> np.ndarray:
    """Draw skeleton links between keypoints of each instance, in place.

    Args:
        image (np.ndarray): (H, W, 3) uint8 RGB.
        keypoints (np.ndarray): (N, K, 2) pixels (or (K, 2)).
        visible (np.ndarray, optional): (N, K) visibility or scores.
        links (Sequence): L pairs of keypoint ids.
        color: Per-link (L, 3) RGB colours, one colour or a name.
        line_width (int): Line thickness in pixels.
        kpt_thr (float): Both ends need a score above it.
    """
    for a, b, rgb in _drawn_links(image, keypoints, visible, links, color, kpt_thr):
        cv2.line(image, a, b, rgb, max(int(line_width), 1), cv2.LINE_AA)
    return image


def draw_limbs(image: np.ndarray, keypoints: Any, visible: Any,
               links: Sequence[Sequence[int]], color: Color,
               line_width: int = 1, kpt_thr: float = 0.3,
               opacity: float = 0.6) -> np.ndarray:
    """:func:`draw_links` as OpenPose draws limbs: each a filled ellipse
    from end to end, ``line_width`` pixels across its half-width,
    ``opacity`` over the image."""
    for a, b, rgb in _drawn_links(image, keypoints, visible, links, color, kpt_thr):
        (xa, ya), (xb, yb) = a, b
        center = (int((xa + xb) / 2), int((ya + yb) / 2))
        half_length = int(np.hypot(xa - xb, ya - yb) / 2)
        angle = int(np.degrees(np.arctan2(ya - yb, xa - xb)))
        outline = cv2.ellipse2Poly(center, (half_length, max(int(line_width), 1)), angle,
                                   0, 360, 1)
        (x0, y0), (x1, y1) = outline.min(0) - 1, outline.max(0) + 2
        _blend(image, (x0, y0, x1, y1), opacity,
               lambda patch, x0, y0, shape=outline, rgb=rgb: cv2.fillConvexPoly(
                   patch, (shape - (x0, y0)).astype(np.int32), rgb, cv2.LINE_AA))
    return image


def _drawn_links(image: np.ndarray, keypoints: Any, visible: Any,
                 links: Sequence[Sequence[int]], color: Color, kpt_thr: float):
    """(end pixel, end pixel, RGB) of each link to draw: a colour, both ends
    inside the image and scoring above ``kpt_thr``."""
    kpts = _points(keypoints)
    vis = _visibility(visible, kpts.shape[:2])
    colors = color_list(color, len(links), 'link_color')
    height, width = image.shape[:2]
    for points, score in zip(kpts, vis):
        inside = (np.isfinite(points).all(-1) & (points[:, 0] >= 0) & (points[:, 1] >= 0)
                  & (points[:, 0] < width) & (points[:, 1] < height))
        for (a, b), rgb in zip(links, colors):
            if rgb is None or max(a, b) >= len(points):
                continue
            if inside[a] and inside[b] and score[a] > kpt_thr and score[b] > kpt_thr:
                yield _pixel(points[a]), _pixel(points[b]), rgb


# OpenPose's body order from COCO's, the neck (inserted at 17) included:
# position OPENPOSE_SLOTS[i] takes keypoint COCO_SOURCES[i]; the other
# positions (0 nose, 5 left shoulder, 11 left hip, 18+ feet, face, hands
# of COCO-WholeBody) keep theirs
OPENPOSE_SLOTS = [1, 2, 3, 4, 6, 7, 8, 9, 10, 12, 13, 14, 15, 16, 17]
COCO_SOURCES = [17, 6, 8, 10, 7, 9, 12, 14, 16, 13, 15, 2, 1, 4, 3]


def to_openpose(keypoints: Any, visible: Any, kpt_thr: float = 0.3
                ) -> tuple[np.ndarray, np.ndarray]:
    """COCO (or COCO-WholeBody) keypoints in OpenPose's order, as MMPose's
    ``skeleton_style='openpose'`` draws them: a neck between the shoulders,
    visible (1) when both shoulders score above ``kpt_thr``, else 0.

    Args:
        keypoints (np.ndarray): (N, K, 2), K >= 17 in COCO's body order.
        visible (np.ndarray, optional): (N, K) visibility or scores.

    Returns:
        tuple: ``(keypoints (N, K + 1, 2), visible (N, K + 1))``.
    """
    kpts = _points(keypoints)
    if kpts.shape[1] < 17:
        raise ValueError("skeleton_style='openpose' draws COCO's body keypoints (17, "
                         f'or more for COCO-WholeBody), got {kpts.shape[1]}')
    vis = _visibility(visible, kpts.shape[:2])
    neck = kpts[:, [5, 6]].mean(axis=1)
    neck_visible = ((vis[:, 5] > kpt_thr) & (vis[:, 6] > kpt_thr)).astype(np.float64)
    kpts = np.insert(kpts, 17, neck, axis=1)
    vis = np.insert(vis, 17, neck_visible, axis=1)
    kpts[:, OPENPOSE_SLOTS] = kpts[:, COCO_SOURCES]
    vis[:, OPENPOSE_SLOTS] = vis[:, COCO_SOURCES]
    return kpts, vis


def draw_keypoints(image: np.ndarray, keypoints: Any, visible: Any,
                   color: Color = 'red', radius: int = 3, kpt_thr: float = 0.3,
                   alpha: float = 1.0, weight_by_score: bool = False,
                   show_kpt_idx: bool = False, first_index: int = 0) -> np.ndarray:
    """Draw keypoints as filled circles of ``radius``, in place.

    Args:
        image (np.ndarray): (H, W, 3) uint8 RGB.
        keypoints (np.ndarray): (N, K, 2) pixels (or (K, 2)).
        visible (np.ndarray, optional): (N, K) visibility or scores; points
            at or below ``kpt_thr`` are not drawn.
        color: Per-keypoint (K, 3) RGB colours, one colour or a name.
        alpha (float): Opacity of the circles (1 = opaque).
        weight_by_score (bool): Multiply the opacity by the score (clipped to
            [0, 1]); MMPose's ``show_keypoint_weight``.
        show_kpt_idx (bool): Write each keypoint's index next to it.
        first_index (int): The index written for the first keypoint.
    """
    kpts = _points(keypoints)
    vis = _visibility(visible, kpts.shape[:2])
    colors = color_list(color, kpts.shape[1], 'kpt_color')
    radius = max(int(round(radius)), 1)
    for points, score in zip(kpts, vis):
        for kid, (point, s, rgb) in enumerate(zip(points, score, colors)):
            if rgb is None or not s > kpt_thr or not np.isfinite(point).all():
                continue
            opacity = alpha * (min(max(s, 0.0), 1.0) if weight_by_score else 1.0)
            _circle(image, _pixel(point), radius, rgb, opacity)
            if show_kpt_idx:
                x, y = _pixel(point)
                cv2.putText(image, str(first_index + kid), (x + radius, y - radius),
                            cv2.FONT_HERSHEY_SIMPLEX, max(radius * 0.15, 0.3),
                            rgb, 1, cv2.LINE_AA)
    return image


def _circle(image: np.ndarray, center: tuple[int, int], radius: int,
            rgb: RGB, opacity: float) -> None:
    if opacity >= 1:
        cv2.circle(image, center, radius, rgb, -1, cv2.LINE_AA)
        return
    x, y = center
    _blend(image, (x - radius - 1, y - radius - 1, x + radius + 2, y + radius + 2), opacity,
           lambda patch, x0, y0: cv2.circle(patch, (x - x0, y - y0), radius, rgb, -1,
                                            cv2.LINE_AA))


def _blend(image: np.ndarray, box: tuple, opacity: float, draw) -> None:
    """``draw(patch, x0, y0)`` on a copy of the ``(x0, y0, x1, y1)`` part of
    ``image`` (clipped to it), blended back at ``opacity``: only the shape's
    neighbourhood is copied (a full-image copy per shape is slow)."""
    h, w = image.shape[:2]
    x0, y0 = max(int(box[0]), 0), max(int(box[1]), 0)
    x1, y1 = min(int(box[2]), w), min(int(box[3]), h)
    if x0 >= x1 or y0 >= y1 or opacity <= 0:
        return
    roi = image[y0:y1, x0:x1]
    drawn = roi.copy()
    draw(drawn, x0, y0)
    cv2.addWeighted(drawn, opacity, roi, 1 - opacity, 0, dst=roi)


def heatmap_to_color(heatmap: Any, size: tuple[int, int] | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Jet-coloured picture and [0, 1] strength of a heatmap.

    Args:
        heatmap (np.ndarray): (K, H, W) (max over K) or (H, W); negative
            values count as 0; scaled so that its maximum is 1.
        size (tuple, optional): (w, h) to resize to.

    Returns:
        tuple: ``(color (h, w, 3) uint8 RGB, strength (h, w) float32)``.
    """
    heat = np.asarray(to_numpy(heatmap)).astype(np.float32)
    if heat.ndim == 3:
        heat = heat.max(axis=0)
    if heat.ndim != 2:
        raise ValueError(f'heatmap must be (K, H, W) or (H, W), got {heat.shape}')
    heat = np.nan_to_num(np.clip(heat, 0, None), nan=0.0, posinf=0.0)
    if size is not None and (heat.shape[1], heat.shape[0]) != tuple(size):
        heat = np.clip(cv2.resize(heat, tuple(size), interpolation=cv2.INTER_LINEAR), 0, None)
    peak = float(heat.max()) if heat.size else 0.0
    strength = heat / peak if peak > 0 else np.zeros_like(heat)
    color = cv2.applyColorMap((strength * 255).astype(np.uint8), cv2.COLORMAP_JET)
    return cv2.cvtColor(color, cv2.COLOR_BGR2RGB), strength


def overlay_heatmap(image: np.ndarray, heatmap: Any, alpha: float = 0.6) -> np.ndarray:
    """Blend a jet-coloured heatmap over a copy of ``image``.

    The opacity at each pixel is ``alpha * h`` where ``h`` in [0, 1] is the
    heatmap scaled by its maximum: pixels where the heatmap is zero keep
    the image exactly, the peak is ``alpha`` heat colour. (MMEngine's
    ``draw_featmap`` blends a min-max scaled map at a uniform 0.5, which
    tints the whole picture blue.)

    Args:
        image (np.ndarray): (H, W, 3) uint8 RGB.
        heatmap (np.ndarray): (K, h, w) or (h, w); resized to (H, W) if needed.
        alpha (float): Opacity at the peak.

    Returns:
        np.ndarray: (H, W, 3) uint8 RGB.
    """
    height, width = image.shape[:2]
    color, strength = heatmap_to_color(heatmap, (width, height))
    weight = (float(alpha) * strength)[..., None]
    out = image.astype(np.float32) * (1 - weight) + color.astype(np.float32) * weight
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def simcc_picture(image: np.ndarray, heatmaps: Any, max_keypoints: int = 20,
                  strip: int = 15, step: int = 20) -> np.ndarray:
    """MMPose's picture of SimCC outputs (its ``SimCCVisualizer`` layout):
    on white, the image with the 2D map (all keypoints' maximum) overlaid,
    then per keypoint (the first ``max_keypoints``) the x profile (the map's
    maximum over rows) as a ``strip``-pixel band below it and the y profile
    beside it, ``step`` pixels apart, each numbered; the whole shrunk back
    to the image's size.

    Args:
        image (np.ndarray): (H, W, 3) uint8 RGB.
        heatmaps (np.ndarray): (K, H', W') maps (SimCC's y x^T products),
            resized to (H, W) if needed.

    Returns:
        np.ndarray: (H, W, 3) uint8 RGB.
    """
    height, width = image.shape[:2]
    maps = np.asarray(to_numpy(heatmaps)).astype(np.float32)
    if maps.ndim != 3:
        raise ValueError(f'SimCC heatmaps must be (K, H, W), got {maps.shape}')
    if maps.shape[1:] != (height, width):
        maps = np.stack([cv2.resize(m, (width, height), interpolation=cv2.INTER_LINEAR)
                         for m in maps])
    count = min(len(maps), max_keypoints)
    top, left = int(0.1 * height), int(0.1 * width)
    below, beside = int(1.1 * height) + 20, int(1.1 * width) + 20
    canvas = np.full((max(2 * height, below + count * step + strip),
                      max(2 * width, beside + count * step + strip), 3), 255, np.uint8)
    canvas[top:top + height, left:left + width] = overlay_heatmap(image, maps.max(axis=0))
    for k in range(count):
        x_profile = heatmap_to_color(maps[k].max(axis=0)[None], (width, strip))[0]
        y_profile = heatmap_to_color(maps[k].max(axis=1)[:, None], (strip, height))[0]
        y, x = below + k * step, beside + k * step
        canvas[y:y + strip, left:left + width] = x_profile
        canvas[top:top + height, x:x + strip] = y_profile
        cv2.putText(canvas, str(k), (left - 30, y + 10), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (0, 0, 255), 2)
        cv2.putText(canvas, str(k), (x, top - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (0, 0, 255), 2)
    used = canvas[:below + count * step + top + 1, :beside + count * step + left + 1]
    return cv2.resize(used, (width, height), interpolation=cv2.INTER_AREA)


def draw_pose(image: np.ndarray, keypoints: Any, scores: Any = None,
              meta: Mapping | None = None, kpt_thr: float = 0.3,
              bboxes: Any = None, radius: int | None = None,
              line_width: int | None = None, bbox_color: Color = 'green') -> np.ndarray:
    """Boxes, links and keypoints of all instances on a copy of ``image``.

    A one-call helper for scripts (inference, dataset browsing).

    Args:
        image (np.ndarray): (H, W, 3) uint8 RGB (or (H, W) gray).
        keypoints (np.ndarray): (N, K, 2) pixels of ``image``.
        scores (np.ndarray, optional): (N, K) scores or visibility.
        meta (Mapping, optional): Dataset meta: ``keypoint_colors`` (K, 3),
            ``skeleton_links``, ``skeleton_link_colors`` (L, 3), RGB as drawn.
            Without it keypoints are red and no links are drawn.
        bboxes (np.ndarray, optional): (N, 4) xyxy pixels.
        radius, line_width (int, optional): Default: scaled with the image
            (``max(H, W) / 160`` and ``/ 320``, at least 2 and 1).
    """
    canvas = np.ascontiguousarray(np.clip(np.asarray(to_numpy(image)), 0, 255).astype(np.uint8))
    if canvas.ndim == 2 or canvas.shape[2] == 1:
        canvas = cv2.cvtColor(canvas, cv2.COLOR_GRAY2RGB)
    size = max(canvas.shape[:2])
    radius = radius if radius is not None else max(2, round(size / 160))
    line_width = line_width if line_width is not None else max(1, round(size / 320))
    meta = meta or {}
    if bboxes is not None:
        draw_bboxes(canvas, bboxes, bbox_color, line_width)
    if keypoints is None or np.asarray(to_numpy(keypoints)).size == 0:
        return canvas
    links = meta.get('skeleton_links') or []
    link_colors = meta.get('skeleton_link_colors')
    if links and link_colors is not None and len(link_colors):
        draw_links(canvas, keypoints, scores, links, link_colors, line_width, kpt_thr)
    kpt_colors = meta.get('keypoint_colors')
    draw_keypoints(canvas, keypoints, scores,
                   kpt_colors if kpt_colors is not None and len(kpt_colors) else 'red',
                   radius, kpt_thr)
    return canvas
