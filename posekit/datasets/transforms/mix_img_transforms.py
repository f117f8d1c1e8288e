"""Transforms that mix several training images into one (YOLOX-Pose, RTMO):
:class:`Mosaic` (four images in a 2 x 2 grid) and :class:`YOLOXMixUp` (a
50/50 blend with a second, rescaled image).

The extra images come from the dataset itself: ``BaseCocoStyleDataset``
and ``CombinedDataset`` put themselves into the results under ``'dataset'``
(in ``prepare_data``, not ``get_data_info``, so that drawing a sample does
not recurse); a mixing transform takes it out, draws random indices, runs
its ``pre_transform`` (usually ``LoadImage``) on those samples, mixes, and
puts ``'dataset'`` back for the next mixing transform.

Conventions: images ``(H, W, 3)``; keypoints ``(N, K, 2)`` and boxes
``(N, 4)`` ``xyxy`` in pixels of the image; ``img_scale`` is ``(w, h)``.
Random numbers come from NumPy's global generator in MMPose's order
(apply-or-not, sample indices, then the transform's own draws), so that a
seed gives MMPose's result.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import cv2
import numpy as np

from posekit.registry import TRANSFORMS
from posekit.structures.bbox import bbox_clip_border, flip_bbox
from posekit.structures.keypoint import flip_keypoints, keypoint_clip_border
from .compose import Compose

MIXED_KEYS = ('bbox', 'bbox_score', 'category_id', 'keypoints',
              'keypoints_visible', 'area')


class MixImageTransform:
    """Apply :meth:`apply_mix` with probability ``prob``, on the sample and
    ``num_aux_image`` random samples of the same dataset.

    Args:
        pre_transform (Sequence[dict], optional): Transforms run on each
            extra sample before mixing (e.g. ``[dict(type='LoadImage')]``).
        prob (float): Probability of mixing. Defaults to 1.
    """

    num_aux_image = 0

    def __init__(self, pre_transform: Sequence[Mapping] | None = None,
                 prob: float = 1.0) -> None:
        self.prob = prob
        self.pre_transform = (None if pre_transform is None
                              else Compose(pre_transform))

    def __call__(self, results: dict) -> dict | None:
        if not np.random.uniform(0, 1) < self.prob:
            return results
        dataset = results.pop('dataset', None)
        if dataset is None:
            raise KeyError(
                f'{type(self).__name__} needs the dataset in results["dataset"]'
                ' to draw extra images; BaseCocoStyleDataset and '
                'CombinedDataset put it there in prepare_data')
        mixed = self.get_mixed_data_list(dataset)
        if mixed is None:       # an extra image failed: let the dataset
            return None         # replace this sample, as for a bad image
        results = self.apply_mix(results, mixed)
        results['dataset'] = dataset
        return results

    def get_mixed_data_list(self, dataset) -> list[dict] | None:
        """``num_aux_image`` random samples of ``dataset`` after
        ``pre_transform`` (None if it rejected one)."""
        indexes = [np.random.randint(0, len(dataset))
                   for _ in range(self.num_aux_image)]
        mixed = [dataset.get_data_info(i) for i in indexes]
        if self.pre_transform is None:
            return mixed
        for i, data in enumerate(mixed):
            data['dataset'] = dataset   # a nested mixing transform needs it
            data = self.pre_transform(data)
            if data is None:
                return None
            data.pop('dataset', None)
            mixed[i] = data
        return mixed

    def apply_mix(self, results: dict, mixed: list[dict]) -> dict:
        raise NotImplementedError


def _check_keys(owner: str, data: dict) -> None:
    missing = [k for k in ('img', *MIXED_KEYS) if k not in data]
    if missing:
        raise KeyError(f'{owner}: a sample lacks {missing}; mixing needs the '
                       f'image and {list(MIXED_KEYS)} (bottom-up data infos)')


def resize_keep_ratio(img: np.ndarray, size: tuple[int, int]
                      ) -> tuple[np.ndarray, float]:
    """Bilinear resize to fit in ``size`` ``(w, h)``; the ratio is
    ``min(h' / h, w' / w)`` and the new size ``int(w * r), int(h * r)``."""
    h, w = img.shape[:2]
    ratio = min(size[1] / h, size[0] / w)
    out = cv2.resize(img, (int(w * ratio), int(h * ratio)),
                     interpolation=cv2.INTER_LINEAR)
    return out, ratio


def mosaic_coords(loc: str, center: tuple[int, int], size: tuple[int, int],
                  canvas: tuple[int, int]) -> tuple[tuple, tuple]:
    """Where image ``loc`` goes on the mosaic and which part of it is kept.

    Args:
        loc (str): 'top_left', 'top_right', 'bottom_left', 'bottom_right'.
        center (tuple[int, int]): ``(cx, cy)``, the corner the four images
            share, in canvas pixels.
        size (tuple[int, int]): ``(w, h)`` of the (resized) image.
        canvas (tuple[int, int]): ``(W, H)`` of the mosaic.

    Returns:
        tuple: ``(x1, y1, x2, y2)`` on the canvas and the same-size crop
        ``(x1, y1, x2, y2)`` of the image; each image touches the center.
    """
    (cx, cy), (w, h), (cw, ch) = center, size, canvas
    if loc == 'top_left':
        paste = max(cx - w, 0), max(cy - h, 0), cx, cy
        crop = w - (paste[2] - paste[0]), h - (paste[3] - paste[1]), w, h
    elif loc == 'top_right':
        paste = cx, max(cy - h, 0), min(cx + w, cw), cy
        crop = 0, h - (paste[3] - paste[1]), min(w, paste[2] - paste[0]), h
    elif loc == 'bottom_left':
        paste = max(cx - w, 0), cy, cx, min(ch, cy + h)
        crop = w - (paste[2] - paste[0]), 0, w, min(paste[3] - paste[1], h)
    elif loc == 'bottom_right':
        paste = cx, cy, min(cx + w, cw), min(ch, cy + h)
        crop = 0, 0, min(w, paste[2] - paste[0]), min(paste[3] - paste[1], h)
    else:
        raise ValueError(f'unknown mosaic location {loc!r}')
    return paste, crop


def _shift_annotations(data: dict, ratio: float, dx: float, dy: float
                       ) -> dict:
    """Scale by ``ratio`` then translate by ``(dx, dy)``: new arrays."""
    bbox = np.asarray(data['bbox']) * ratio
    bbox[..., 0::2] += dx
    bbox[..., 1::2] += dy
    keypoints = np.asarray(data['keypoints']) * ratio
    keypoints[..., 0] += dx
    keypoints[..., 1] += dy
    return dict(bbox=bbox, keypoints=keypoints,
                area=np.asarray(data['area']) * ratio**2)


def _store(results: dict, img: np.ndarray, parts: list[dict]) -> dict:
    """Concatenate the annotations of ``parts`` into ``results``; clip boxes
    to the image and hide keypoints outside it (MMPose's clipping)."""
    h, w = img.shape[:2]
    joined = {k: np.concatenate([np.asarray(p[k]) for p in parts])
              for k in MIXED_KEYS}
    joined['bbox'] = bbox_clip_border(joined['bbox'], (w, h))
    keypoint_clip_border(joined['keypoints'], joined['keypoints_visible'],
                         (w, h))
    results.update(joined, img=img, img_shape=img.shape[:2])
    return results


@TRANSFORMS.register_module()
class Mosaic(MixImageTransform):
    """Four images in a ``2 * img_scale`` canvas around a random center.

    The center is ``(int(U(center_range) * w), int(U(center_range) * h))``
    with ``(w, h) = img_scale``. Each image (this sample top-left, three
    random ones top-right, bottom-left, bottom-right) is resized to fit
    ``img_scale`` keeping its aspect ratio, then placed with a corner on the
    center and cropped at the canvas border; ``pad_val`` fills the rest.
    A point ``p`` of image ``i`` moves to ``p * r_i + (paste_x1 -
    crop_x1, paste_y1 - crop_y1)``; areas scale by ``r_i**2``; boxes are
    clipped to the canvas and keypoints outside it become invisible.

    Required Keys:
        - img, bbox, bbox_score, category_id, keypoints, keypoints_visible,
          area; dataset (the dataset object, see the module docstring)

    Modified Keys:
        - img (``(2h, 2w, 3)``, the input's dtype), img_shape (``(2h,
          2w)``), bbox, bbox_score, category_id, keypoints,
          keypoints_visible, area (the four samples' instances, in order)

    Args:
        img_scale (tuple[int, int]): ``(w, h)`` of one quadrant. Defaults
            to (640, 640).
        center_range (tuple[float, float]): Range of the center, as a
            fraction of ``img_scale``. Defaults to (0.5, 1.5).
        pad_val (float): Fill value. Defaults to 114.
        pre_transform (Sequence[dict], optional): Run on the extra samples.
        prob (float): Probability of applying. Defaults to 1.
    """

    num_aux_image = 3

    def __init__(self, img_scale: tuple[int, int] = (640, 640),
                 center_range: tuple[float, float] = (0.5, 1.5),
                 pad_val: float = 114.0,
                 pre_transform: Sequence[Mapping] | None = None,
                 prob: float = 1.0) -> None:
        super().__init__(pre_transform=pre_transform, prob=prob)
        self.img_scale = img_scale
        self.center_range = center_range
        self.pad_val = pad_val

    def _draw(self) -> tuple[int, int]:
        w, h = self.img_scale
        return (int(np.random.uniform(*self.center_range) * w),
                int(np.random.uniform(*self.center_range) * h))

    def apply_mix(self, results: dict, mixed: list[dict]) -> dict:
        return self.apply(results, mixed, self._draw())

    def apply(self, results: dict, mixed: list[dict],
              center: tuple[int, int]) -> dict:
        """Build the mosaic around ``center`` ``(cx, cy)`` (canvas pixels)."""
        canvas = (int(self.img_scale[0] * 2), int(self.img_scale[1] * 2))
        img = np.full((canvas[1], canvas[0], 3), self.pad_val,
                      dtype=results['img'].dtype)
        locs = ('top_left', 'top_right', 'bottom_left', 'bottom_right')
        parts = []
        for loc, data in zip(locs, (results, *mixed)):
            _check_keys('Mosaic', data)
            part, ratio = resize_keep_ratio(data['img'], self.img_scale)
            paste, crop = mosaic_coords(loc, center, part.shape[1::-1], canvas)
            img[paste[1]:paste[3], paste[0]:paste[2]] = \
                part[crop[1]:crop[3], crop[0]:crop[2]]
            moved = _shift_annotations(data, ratio, paste[0] - crop[0],
                                       paste[1] - crop[1])
            parts.append({**{k: data[k] for k in MIXED_KEYS}, **moved})
        return _store(results, img, parts)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(img_scale={self.img_scale}, '
                f'center_range={self.center_range}, pad_val={self.pad_val}, '
                f'prob={self.prob})')


@TRANSFORMS.register_module()
class YOLOXMixUp(MixImageTransform):
    """Blend the sample 50/50 with a random one, rescaled and shifted.

    The other image is resized to fit ``img_scale`` (ratio ``r``), put
    top-left on a ``pad_val`` canvas of size ``img_scale``, the canvas
    scaled by ``j ~ U(ratio_range)`` (so points scale by ``r * j``),
    mirrored when ``U(0, 1) > flip_ratio`` (MMPose's test: the flip
    probability is ``1 - flip_ratio``; ``x -> W - 1 - x`` for keypoints,
    swapping ``flip_indices`` partners), padded to at least this sample's
    size and cropped at a random ``(dx, dy)`` to this sample's size. The
    image is ``uint8(0.5 * img + 0.5 * other)`` (truncated); the
    annotations are concatenated, boxes clipped and keypoints outside the
    image made invisible. Nothing happens if the other sample has no
    instance.

    Required Keys:
        - img, bbox, bbox_score, category_id, keypoints, keypoints_visible,
          area; dataset; the other sample's flip_indices

    Modified Keys:
        - img (``uint8``, same size), img_shape, bbox, bbox_score,
          category_id, keypoints, keypoints_visible, area

    Args:
        img_scale (tuple[int, int]): ``(w, h)`` of the canvas. Defaults to
            (640, 640).
        ratio_range (tuple[float, float]): Range of ``j``. Defaults to
            (0.5, 1.5).
        flip_ratio (float): See above. Defaults to 0.5.
        pad_val (float): Fill value. Defaults to 114.
        bbox_clip_border (bool): Must be True: MMPose 1.3.2 always clips.
        pre_transform (Sequence[dict], optional): Run on the other sample.
        prob (float): Probability of applying. Defaults to 1.
    """

    num_aux_image = 1

    def __init__(self, img_scale: tuple[int, int] = (640, 640),
                 ratio_range: tuple[float, float] = (0.5, 1.5),
                 flip_ratio: float = 0.5, pad_val: float = 114.0,
                 bbox_clip_border: bool = True,
                 pre_transform: Sequence[Mapping] | None = None,
                 prob: float = 1.0) -> None:
        if not isinstance(img_scale, tuple):
            raise TypeError('YOLOXMixUp: img_scale must be a tuple (w, h), '
                            f'got {img_scale!r}')
        if not bbox_clip_border:
            raise ValueError('YOLOXMixUp: bbox_clip_border=False is not '
                             'supported (MMPose 1.3.2 ignores it and always '
                             'clips the boxes)')
        super().__init__(pre_transform=pre_transform, prob=prob)
        self.img_scale = img_scale
        self.ratio_range = ratio_range
        self.flip_ratio = flip_ratio
        self.pad_val = pad_val
        self.bbox_clip_border = bbox_clip_border

    def _draw(self, other_shape: tuple, own_shape: tuple
              ) -> tuple[float, bool, int, int]:
        """``(j, flip, dx, dy)``; the crop range depends on the sizes."""
        jitter = np.random.uniform(*self.ratio_range)
        flip = bool(np.random.uniform(0, 1) > self.flip_ratio)
        scaled_h = int(self.img_scale[1] * jitter)
        scaled_w = int(self.img_scale[0] * jitter)
        dy = np.random.randint(0, max(0, max(scaled_h, own_shape[0])
                                      - own_shape[0]) + 1)
        dx = np.random.randint(0, max(0, max(scaled_w, own_shape[1])
                                      - own_shape[1]) + 1)
        return jitter, flip, int(dx), int(dy)

    def apply_mix(self, results: dict, mixed: list[dict]) -> dict:
        other = mixed[0]
        _check_keys('YOLOXMixUp', other)
        if np.asarray(other['keypoints']).shape[0] == 0:
            return results
        _check_keys('YOLOXMixUp', results)
        draws = self._draw(other['img'].shape, results['img'].shape)
        return self.apply(results, other, *draws)

    def apply(self, results: dict, other: dict, jitter: float, flip: bool,
              dx: int, dy: int) -> dict:
        """Mix ``other`` into ``results`` with fixed draws."""
        canvas_w, canvas_h = self.img_scale
        # float canvas: the rescale interpolates the padding too, in float
        # as MMPose does (it truncates to uint8 only after the shift)
        canvas = np.full((canvas_h, canvas_w, 3), self.pad_val, np.float32)
        part, ratio = resize_keep_ratio(other['img'], self.img_scale)
        canvas[:part.shape[0], :part.shape[1]] = part
        ratio *= jitter
        canvas = cv2.resize(canvas, (int(canvas_w * jitter),
                                     int(canvas_h * jitter)),
                            interpolation=cv2.INTER_LINEAR)
        if flip:
            canvas = canvas[:, ::-1]
        own = results['img']
        oh, ow = canvas.shape[:2]
        h, w = own.shape[:2]
        padded = np.full((max(oh, h), max(ow, w), 3), int(self.pad_val),
                         np.uint8)
        padded[:oh, :ow] = canvas       # float -> uint8 truncates
        crop = padded[dy:dy + h, dx:dx + w]
        img = (0.5 * own + 0.5 * crop).astype(np.uint8)
        part = self._move_annotations(other, ratio, flip, (ow, oh), dx, dy)
        return _store(results, img, [results, part])

    @staticmethod
    def _move_annotations(other: dict, ratio: float, flip: bool,
                          size: tuple[int, int], dx: int, dy: int) -> dict:
        """The other sample's instances in this image's pixels."""
        # in place, as MMPose: the boxes keep their dtype (float32), while
        # the keypoints take the float64 of the jittered ratio
        bbox = np.array(other['bbox'], copy=True)
        bbox *= ratio
        bbox = bbox_clip_border(bbox, size)
        keypoints = np.asarray(other['keypoints']) * ratio
        visible = np.array(other['keypoints_visible'], copy=True)
        keypoint_clip_border(keypoints, visible, size)
        if flip:
            bbox = flip_bbox(bbox, size, 'xyxy')
            keypoints, visible = flip_keypoints(keypoints, visible, size,
                                                other['flip_indices'])
        bbox[..., 0::2] -= dx
        bbox[..., 1::2] -= dy
        keypoints[..., 0] -= dx
        keypoints[..., 1] -= dy
        return dict(bbox=bbox, bbox_score=other['bbox_score'],
                    category_id=other['category_id'], keypoints=keypoints,
                    keypoints_visible=visible,
                    area=np.asarray(other['area']) * ratio**2)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(img_scale={self.img_scale}, '
                f'ratio_range={self.ratio_range}, flip_ratio='
                f'{self.flip_ratio}, pad_val={self.pad_val}, '
                f'prob={self.prob})')
