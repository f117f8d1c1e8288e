"""A synthetic COCO-format keypoint dataset: rendered articulated figures.

It is posekit's default data for the quick-start job and the end-to-end tests:
small enough to train a top-down heatmap model on a CPU in minutes, yet with
what makes the task real: several figures per image, truncation at the
border, occlusion, cluttered backgrounds, left/right that must be told apart.

Each figure is a kinematic tree (torso, head with eyes, ears and nose, arms
with elbows and wrists, legs with knees and ankles) with random joint angles,
overall rotation, height (20-90% of the image height), limb width and
colours, facing the viewer (see ``synthetic_render`` for why).

Layout written by ``make_synthetic_coco(OUT)``::

    OUT/images/train/000001.jpg ...   JPEG, quality 95, default 256x256
    OUT/images/val/000401.jpg ...
    OUT/annotations/train.json        COCO keypoints format
    OUT/annotations/val.json

An MMPose-style config reads it with ``data_root=OUT``,
``ann_file='annotations/train.json'``, ``data_prefix=dict(img='images/train/')``.

Annotation conventions (COCO's, stated where they could be read two ways):
    * ``keypoints``: 17 x [x, y, v] in COCO order, pixels, pixel centres at
      integer coordinates. v=2 visible; v=1 labelled but hidden (under a
      clutter shape, another figure, the figure's own limb, or an ear/eye
      turned away); v=0 outside the image, written as [0, 0, 0].
    * ``bbox``: [x, y, w, h] around every pixel the figure drew (including
      parts later covered, so all labelled keypoints are inside), padded by
      ``BOX_PAD`` pixels and clipped to [0, W-1] x [0, H-1].
    * ``area``: the box area w * h (not a mask area). It is OKS's scale, so
      the OKS of a figure depends on its box size, as in COCO.
    * ``segmentation``: the box as one polygon; ``iscrowd`` 0.
    * Figures with no keypoint inside the image are not annotated.

Determinism: image ``i`` is drawn from ``np.random.default_rng([seed, i])``,
so a seed fixes every byte, and the first images do not depend on
``num_images``. The last ``round(num_images * val_fraction)`` images are val.
"""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from posekit.datasets import synthetic_render as R
from posekit.fileio import write_image, write_json

COCO_KEYPOINT_NAMES = (
    'nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear',
    'left_shoulder', 'right_shoulder', 'left_elbow', 'right_elbow',
    'left_wrist', 'right_wrist', 'left_hip', 'right_hip',
    'left_knee', 'right_knee', 'left_ankle', 'right_ankle')
# COCO's 19 links, 1-based keypoint indices as in COCO's json.
COCO_SKELETON = (
    (16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13),
    (6, 7), (6, 8), (7, 9), (8, 10), (9, 11), (2, 3), (1, 2), (1, 3),
    (2, 4), (3, 5), (4, 6), (5, 7))
BOX_PAD = 2.0
JPEG_QUALITY = 95
DEFAULT_IMAGE_SIZE = (256, 256)
_FIGURE_COUNT_P = (0.25, 0.35, 0.25, 0.15)    # 1, 2, 3 or 4 figures
_MAX_IOU = 0.3       # figures may overlap, but not pile onto each other


def coco_category() -> dict:
    """The single COCO ``person`` category with keypoint names and skeleton."""
    return dict(id=1, name='person', supercategory='person',
                keypoints=list(COCO_KEYPOINT_NAMES),
                skeleton=[list(link) for link in COCO_SKELETON])


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two xyxy boxes (4,)."""
    wh = np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None)
    inter = wh[0] * wh[1]
    area = lambda x: (x[2] - x[0]) * (x[3] - x[1])
    return float(inter / (area(a) + area(b) - inter + 1e-9))


def _place_figure(rng, image, boxes, size):
    """Sample figures until one overlaps the placed ``boxes`` little; None if none does."""
    w, h = size
    for _ in range(10):
        height = rng.uniform(0.2, 0.9) * h
        center = rng.uniform((0.1 * w, 0.1 * h), (0.9 * w, 0.9 * h))
        r = int(height / 3)       # the local background the colours keep away from
        cx, cy = int(center[0]), int(center[1])
        patch = image[max(0, cy - r):cy + r + 1, max(0, cx - r):cx + r + 1]
        fig = R.sample_figure(rng, height, center, patch.reshape(-1, 3).mean(0))
        box = fig.approx_box()
        if all(_iou(box, b) < _MAX_IOU for b in boxes):
            return fig
    return None


def _drawn_box(owner: np.ndarray, base: int) -> np.ndarray:
    """(4,) float64 xyxy of the pixels owned by figure ``base``, padded, clipped."""
    h, w = owner.shape
    mine = (owner > base) & (owner < base + R.CODE_STRIDE)
    rows, cols = np.flatnonzero(mine.any(1)), np.flatnonzero(mine.any(0))
    if not len(rows):
        return np.zeros(4)
    box = np.array([cols[0] - BOX_PAD, rows[0] - BOX_PAD, cols[-1] + BOX_PAD, rows[-1] + BOX_PAD])
    return np.clip(box, 0, [w - 1, h - 1, w - 1, h - 1])


def render_image(rng: np.random.Generator, size: tuple[int, int] = DEFAULT_IMAGE_SIZE,
                 ) -> tuple[np.ndarray, list[dict]]:
    """Draw one image with 1-4 figures and its keypoint annotations.

    Args:
        rng: the only source of randomness.
        size: (w, h) of the image in pixels.

    Returns:
        image: (h, w, 3) uint8, BGR.
        annotations: one dict per annotated figure, in drawing order:
            ``keypoints`` (17, 3) float32 [x, y, v] (v=0 rows are zeros),
            ``bbox`` (4,) float32 [x, y, w, h], ``area`` float (w * h),
            ``num_keypoints`` int (count of v > 0).
    """
    w, h = size
    image = R.draw_background(rng, size)
    R.draw_clutter(rng, image, int(rng.integers(3, 11)))
    owner = np.zeros((h, w), np.uint16)
    canvas = R.Canvas(image, owner)
    figs, boxes, drawn_boxes = [], [], []
    for _ in range(rng.choice(len(_FIGURE_COUNT_P), p=_FIGURE_COUNT_P) + 1):
        fig = _place_figure(rng, image, boxes, size)
        if fig is None:
            continue
        base = len(figs) * R.CODE_STRIDE
        R.draw_figure(canvas, fig, base, rng)
        # Taken now, before later figures and occluders cover any of it.
        drawn_boxes.append(_drawn_box(owner, base))
        figs.append(fig)
        boxes.append(fig.approx_box())
    _occlude(rng, canvas, figs, size)
    _add_noise(rng, image)

    annotations = []
    for i, (fig, box) in enumerate(zip(figs, drawn_boxes)):
        vis = R.keypoint_visibility(owner, fig, i * R.CODE_STRIDE)
        kps = np.concatenate([fig.keypoints, vis[:, None]], 1).astype(np.float32)
        kps[vis == 0] = 0
        if not (vis > 0).any():
            continue
        xywh = np.array([box[0], box[1], box[2] - box[0], box[3] - box[1]], np.float32)
        annotations.append(dict(keypoints=kps, bbox=xywh, area=float(xywh[2] * xywh[3]),
                                num_keypoints=int((vis > 0).sum())))
    return image, annotations


def _occlude(rng, canvas, figs, size) -> None:
    """Sometimes drop a clutter shape right on a figure's keypoint."""
    if not figs or rng.random() >= 0.4:
        return
    w, h = size
    for _ in range(int(rng.integers(1, 3))):
        fig = figs[int(rng.integers(len(figs)))]
        x, y = fig.keypoints.T
        ok = np.flatnonzero(fig.drawn & (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1))
        if len(ok):
            R.draw_occluder(rng, canvas, fig, int(rng.choice(ok)))


def _add_noise(rng, image: np.ndarray) -> None:
    """Sensor-like noise and an occasional slight blur, in place."""
    sigma = rng.uniform(0, 6)
    noisy = image + sigma * rng.standard_normal(image.shape, dtype=np.float32)
    image[:] = np.clip(noisy, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        image[:] = cv2.GaussianBlur(image, (3, 3), rng.uniform(0.3, 0.9))


def to_coco_annotation(ann: dict, ann_id: int, image_id: int) -> dict:
    """One ``render_image`` annotation as a COCO json dict (plain Python types)."""
    x, y, bw, bh = (round(float(v), 2) for v in ann['bbox'])
    keypoints = []
    for kx, ky, v in ann['keypoints']:
        keypoints += [round(float(kx), 2), round(float(ky), 2), int(v)]
    return dict(id=ann_id, image_id=image_id, category_id=1, keypoints=keypoints,
                num_keypoints=ann['num_keypoints'], bbox=[x, y, bw, bh],
                area=round(bw * bh, 2), iscrowd=0,
                segmentation=[[x, y, x + bw, y, x + bw, y + bh, x, y + bh]])


def make_synthetic_coco(out_dir: str | os.PathLike, num_images: int = 500, seed: int = 0,
                        val_fraction: float = 0.2,
                        image_size: tuple[int, int] = DEFAULT_IMAGE_SIZE) -> dict:
    """Render ``num_images`` images and write them as a COCO keypoint dataset.

    Args:
        out_dir: dataset root; created if missing, files of a previous run
            with the same names are overwritten.
        num_images: total over both splits, >= 1.
        seed: fixes every image byte and the json.
        val_fraction: share of images in ``val`` (rounded), in [0, 1].
        image_size: (w, h) in pixels, each >= 32.

    Returns:
        ``{'out_dir': str, 'image_size': (w, h), 'train': SPLIT, 'val': SPLIT}``
        where SPLIT is ``{'ann_file': str, 'img_dir': str, 'num_images': int,
        'num_annotations': int}``.
    """
    w, h = (int(v) for v in image_size)
    if num_images < 1:
        raise ValueError(f'num_images must be >= 1, got {num_images}')
    if not 0.0 <= val_fraction <= 1.0:
        raise ValueError(f'val_fraction must be in [0, 1], got {val_fraction}')
    if min(w, h) < 32:
        raise ValueError(f'image_size must be at least 32x32, got {w}x{h}')
    out = Path(out_dir)
    num_val = int(round(num_images * val_fraction))
    splits = dict(train=range(num_images - num_val), val=range(num_images - num_val, num_images))
    result = dict(out_dir=str(out), image_size=(w, h))
    ann_id = 1
    (out / 'annotations').mkdir(parents=True, exist_ok=True)
    for split, indices in splits.items():
        img_dir = out / 'images' / split
        img_dir.mkdir(parents=True, exist_ok=True)
        images, annotations = [], []
        for i in indices:
            image, anns = render_image(np.random.default_rng([seed, i]), (w, h))
            image_id, file_name = i + 1, f'{i + 1:06d}.jpg'
            write_image(img_dir / file_name, image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            images.append(dict(id=image_id, file_name=file_name, width=w, height=h))
            for ann in anns:
                annotations.append(to_coco_annotation(ann, ann_id, image_id))
                ann_id += 1
        ann_file = out / 'annotations' / f'{split}.json'
        write_json(ann_file, dict(
            info=dict(description='posekit synthetic keypoints', seed=seed),
            licenses=[], images=images, annotations=annotations,
            categories=[coco_category()]), separators=(',', ':'))
        result[split] = dict(ann_file=str(ann_file), img_dir=str(img_dir),
                             num_images=len(images), num_annotations=len(annotations))
    return result
