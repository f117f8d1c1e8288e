"""Bottom-up transforms: warp the whole image (all instances at once).

Conventions (MMPose 1.x): ``input_size`` is the model input ``(w, h)``;
``img_shape`` / ``ori_shape`` are ``(h, w)``; keypoints ``(N, K, 2)`` and
boxes are pixels, x right, y down. A warp matrix maps image pixels to input
pixels (``cv2.warpAffine`` convention); ``input_center`` ``(x, y)`` and
``input_scale`` ``(w, h)`` describe the image region shown by the input, in
original-image pixels, so predictions map back with the inverse warp.

:class:`BottomupRandomAffine` leaves ``img_shape`` at the *original* image
size on purpose (as MMPose): ``BottomupGetHeatmapMask`` (in
:mod:`.bottomup_mask`) later draws the invalid-region mask at that size and
warps it with ``warp_mat``.
"""
from __future__ import annotations

import warnings
from numbers import Real
from typing import Sequence

import cv2
import numpy as np

from posekit.registry import TRANSFORMS
from posekit.structures import (bbox_clip_border, bbox_corner2xyxy,
                                bbox_xyxy2corner, get_pers_warp_matrix,
                                get_udp_warp_matrix, get_warp_matrix,
                                keypoint_clip_border)

TRANSFORM_MODES = ('affine', 'affine_udp', 'perspective')


def warp_image(img: np.ndarray, mat: np.ndarray, size: tuple[int, int],
               pad_val: float | Sequence[float]) -> np.ndarray:
    """Bilinear warp by a (2, 3) affine or (3, 3) perspective matrix.

    Args:
        img (np.ndarray): ``(H, W[, C])`` image or mask.
        mat (np.ndarray): image -> output matrix.
        size (tuple[int, int]): Output ``(w, h)``.
        pad_val (float | Sequence[float]): Border fill.
    """
    if mat.shape == (3, 3):
        return cv2.warpPerspective(img, mat, size, flags=cv2.INTER_LINEAR,
                                   borderValue=pad_val)
    return cv2.warpAffine(img, mat, size, flags=cv2.INTER_LINEAR,
                          borderValue=pad_val)


def _transform_points(points: np.ndarray, mat: np.ndarray) -> np.ndarray:
    """Apply a (2, 3) or (3, 3) matrix to ``(..., 2)`` points.

    ``cv2.transform`` (not numpy) so the float rounding is MMPose's.
    """
    if points.size == 0:
        return points.copy()
    out = cv2.transform(points, mat)
    if out.shape[-1] == 3:  # homogeneous: divide by w
        out = out[..., :2] / out[..., 2:3]
    return out


@TRANSFORMS.register_module()
class BottomupRandomAffine:
    r"""Randomly shift, zoom, rotate (and shear) the image to ``input_size``.

    Random factors, each drawn with its probability (else neutral), from a
    normal truncated to [-1, 1] (``distribution='trunc_norm'``) or uniform:
    shift ``offset = r * shift_factor`` of the image size; zoom
    ``scale_factor[0] + (scale_factor[1] - scale_factor[0]) * (r + 1) / 2``;
    rotation ``r * rotate_factor`` degrees; shear ``r * shear_factor``
    degrees (perspective mode only).

    ``'affine'``/``'affine_udp'``: the region centred at the image centre
    plus the offset, of size ``zoom * (img_w, img_h)`` extended to the
    input's aspect ratio (keeping the ``scale_type`` side), is warped onto
    the input by :func:`get_warp_matrix` / :func:`get_udp_warp_matrix`.
    ``'perspective'``: :func:`get_pers_warp_matrix` about the input centre
    (the image is assumed already at input size, e.g. after ``Mosaic``).

    Required Keys:
        - img (np.ndarray): ``(H, W, C)``.
        - img_shape (tuple[int, int]): ``(h, w)`` (left unchanged).
        - keypoints (optional), keypoints_visible (optional, with
          ``clip_border``), bbox (optional), area (optional).

    Modified Keys:
        - img: ``(h, w, C)`` with ``(w, h) = input_size``.
        - keypoints (np.ndarray): ``(N, K, 2)`` input pixels.
        - keypoints_visible: 0 for points outside the input (``clip_border``).
        - bbox (np.ndarray): warped corners ``(N, 4, 2)`` when
          ``bbox_keep_corner``, else their ``(N, 4)`` xyxy hull.
        - area (np.ndarray): times the warp's determinant.

    Added Keys:
        - input_size (tuple[int, int]): ``(w, h)``.
        - warp_mat (np.ndarray): (2, 3) (affine) or (3, 3) float matrix.

    Args:
        input_size (tuple[int, int]): Model input ``(w, h)``. Required.
        shift_factor (float): Max shift, fraction of the image size.
            Defaults to 0.2.
        shift_prob (float): Probability of shifting. Defaults to 1.
        scale_factor (tuple[float, float]): Zoom range. Defaults to
            (0.75, 1.5).
        scale_prob (float): Probability of zooming. Defaults to 1.
        scale_type (str): ``'short'`` or ``'long'``: the image side kept when
            fixing the aspect ratio. Defaults to ``'short'``.
        rotate_factor (float): Max rotation in degrees. Defaults to 30.
        rotate_prob (float): Probability of rotating. Defaults to 1.
        shear_factor (float): Max shear in degrees. Defaults to 2.
        shear_prob (float): Probability of shearing. Defaults to 1.
        use_udp (bool): MMPose 1.3.2 ignores it (``transform_mode`` decides);
            here True means ``transform_mode='affine_udp'`` (with a warning).
        pad_val (float | tuple[float]): Border fill. Defaults to 0.
        border (tuple[int, int]): Unused by MMPose; only (0, 0) is accepted.
        distribution (str): ``'trunc_norm'`` or ``'uniform'``.
        transform_mode (str): ``'affine'``, ``'affine_udp'`` or
            ``'perspective'``. Defaults to ``'affine'``.
        bbox_keep_corner (bool): Keep warped boxes as corners. Defaults to
            True.
        clip_border (bool): Clip boxes to the input and hide keypoints
            outside it. Defaults to False.
    """

    def __init__(self,
                 input_size: tuple[int, int] | None = None,
                 shift_factor: float = 0.2,
                 shift_prob: float = 1.,
                 scale_factor: tuple[float, float] = (0.75, 1.5),
                 scale_prob: float = 1.,
                 scale_type: str = 'short',
                 rotate_factor: float = 30.,
                 rotate_prob: float = 1.,
                 shear_factor: float = 2.0,
                 shear_prob: float = 1.0,
                 use_udp: bool = False,
                 pad_val: float | Sequence[float] = 0,
                 border: tuple[int, int] = (0, 0),
                 distribution: str = 'trunc_norm',
                 transform_mode: str = 'affine',
                 bbox_keep_corner: bool = True,
                 clip_border: bool = False) -> None:
        name = type(self).__name__
        if input_size is None or len(input_size) != 2:
            raise ValueError(f'{name}: input_size must be (w, h), got '
                             f'{input_size!r}')
        for arg, value, options in (
                ('transform_mode', transform_mode, TRANSFORM_MODES),
                ('distribution', distribution, ('trunc_norm', 'uniform')),
                ('scale_type', scale_type, ('short', 'long'))):
            if value not in options:
                raise ValueError(f'{name}: {arg} must be one of {options}, '
                                 f'got {value!r}')
        if tuple(border) != (0, 0):
            raise ValueError(f'{name}: border={border!r} is not supported '
                             '(MMPose 1.3.2 ignores it); leave it (0, 0)')
        if use_udp and transform_mode == 'affine':
            warnings.warn(f"{name}: use_udp=True selects transform_mode="
                          "'affine_udp' (MMPose 1.3.2 ignores use_udp)")
            transform_mode = 'affine_udp'
        self.input_size = input_size
        self.shift_factor, self.shift_prob = shift_factor, shift_prob
        self.scale_factor, self.scale_prob = scale_factor, scale_prob
        self.scale_type = scale_type
        self.rotate_factor, self.rotate_prob = rotate_factor, rotate_prob
        self.shear_factor, self.shear_prob = shear_factor, shear_prob
        self.use_udp = use_udp
        self.pad_val = (pad_val, ) * 3 if isinstance(pad_val, Real) \
            else tuple(pad_val)
        self.distribution = distribution
        self.transform_mode = transform_mode
        self.bbox_keep_corner = bbox_keep_corner
        self.clip_border = clip_border

    def _random(self, size: tuple = ()) -> np.ndarray:
        """Numbers in [-1, 1] from the configured distribution.

        Drawn from NumPy's global generator in MMPose's order, so the same
        seed gives MMPose's augmentation.
        """
        if self.distribution == 'trunc_norm':
            from scipy.stats import truncnorm  # slow import; training only
            return truncnorm.rvs(-1., 1., size=size).astype(np.float32)
        return np.random.rand(*size) * 2. - 1.

    def _draw(self) -> tuple:
        """``(offset (2,), zoom (1,), rotation deg, shear (2,) deg)``."""
        offset = self._random((2, )) * self.shift_factor \
            if np.random.rand() < self.shift_prob \
            else np.zeros(2, np.float32)
        if np.random.rand() < self.scale_prob:
            low, high = self.scale_factor
            zoom = low + (high - low) * (self._random((1, )) + 1) / 2
        else:
            zoom = np.ones(1, np.float32)
        rotate = self._random() * self.rotate_factor \
            if np.random.rand() < self.rotate_prob else 0
        if self.transform_mode == 'perspective' and \
                np.random.rand() < self.shear_prob:
            shear = self._random((2, )) * self.shear_factor
        else:
            shear = np.zeros(2, np.float32)
        return offset, zoom, rotate, shear

    def __call__(self, results: dict) -> dict:
        return self.apply(results, *self._draw())

    def warp_matrix(self, img_shape: tuple[int, int], offset: np.ndarray,
                    zoom: np.ndarray, rotate: float,
                    shear: np.ndarray) -> np.ndarray:
        """Image -> input matrix for the drawn factors (see class doc)."""
        img_h, img_w = img_shape[:2]
        w, h = self.input_size
        if self.transform_mode == 'perspective':
            return get_pers_warp_matrix(
                center=np.array([w / 2, h / 2], np.float32),
                translate=offset * [w, h], scale=zoom[0], rot=rotate,
                shear=shear)
        shift = offset * [img_w, img_h]
        size = self._fix_aspect_ratio(zoom * [img_w, img_h], w / h)
        if self.transform_mode == 'affine_udp':
            center = np.array([(img_w - 1.) / 2, (img_h - 1.) / 2],
                              np.float32)
            return get_udp_warp_matrix(center + shift, size, rotate, (w, h))
        center = np.array([img_w / 2, img_h / 2], np.float32)
        return get_warp_matrix(center + shift, size, rotate, (w, h))

    def _fix_aspect_ratio(self, size: np.ndarray, aspect: float) -> np.ndarray:
        """Grow or shrink ``(w, h)`` to ratio ``aspect`` keeping one side."""
        w, h = size
        keep_h = (w > h * aspect) == (self.scale_type == 'short')
        out = (h * aspect, h) if keep_h else (w, w / aspect)
        return np.array(out, dtype=size.dtype)

    def apply(self, results: dict, offset: np.ndarray, zoom: np.ndarray,
              rotate: float, shear: np.ndarray) -> dict:
        """Warp ``results`` with the given factors (deterministic)."""
        mat = self.warp_matrix(results['img_shape'], offset, zoom, rotate,
                               shear)
        w, h = (int(s) for s in self.input_size)
        results['img'] = warp_image(results['img'], mat, (w, h),
                                    self.pad_val)
        if 'keypoints' in results:
            results['keypoints'] = _transform_points(results['keypoints'],
                                                     mat)
            if self.clip_border:
                keypoint_clip_border(results['keypoints'],
                                     results['keypoints_visible'], (w, h))
        if 'bbox' in results:
            bbox = _transform_points(bbox_xyxy2corner(results['bbox']), mat)
            if not self.bbox_keep_corner:
                bbox = bbox_corner2xyxy(bbox)
            results['bbox'] = bbox_clip_border(bbox, (w, h)) \
                if self.clip_border else bbox
        if 'area' in results:
            # the last row in the matrix's dtype: a float32 UDP matrix gives
            # a float32 determinant, as MMPose's
            full = np.vstack([mat, np.array([[0, 0, 1]], mat.dtype)]) \
                if mat.shape[0] == 2 else mat
            area = np.asarray(results['area'])
            results['area'] = (area * np.linalg.det(full)).astype(area.dtype)
        results['input_size'] = self.input_size
        results['warp_mat'] = mat
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(input_size={self.input_size}, '
                f'shift_factor={self.shift_factor}, scale_factor='
                f'{self.scale_factor}, rotate_factor={self.rotate_factor}, '
                f'transform_mode={self.transform_mode!r}, distribution='
                f'{self.distribution!r})')


@TRANSFORMS.register_module()
class BottomupResize:
    """Resize the whole image to the model input, keeping its aspect ratio.

    Sizes, with ``(w, h) = input_size`` ceiled to multiples of
    ``size_factor`` and ``r = img_w / img_h``:

    - ``'fit'``: the image fits inside: resized to
      ``(min(w, h * r), min(h, w / r))`` and padded to ``(w, h)`` (which
      must already be multiples of ``size_factor``).
    - ``'expand'``: the image covers it: resized to
      ``(max(w, h * r), max(h, w / r))``, padded up to multiples of
      ``size_factor``.

    The warp maps the image centre ``(img_w / 2, img_h / 2)`` to the padded
    input's centre, so the padding is split evenly on both sides; with
    ``use_udp`` it maps the image edges ``-0.5`` and ``img_w - 0.5`` to the
    output pixel centres ``0`` and ``rsz_w - 1`` (padding only right and
    bottom; ``input_scale`` is then the image size). Each of
    ``aug_scales`` adds an image for input size ``(int(w * s), int(h * s))``.

    Required Keys:
        - img (np.ndarray): ``(H, W, C)`` original image.
        - ori_shape (tuple[int, int]): ``(h, w)`` (``img_shape`` if absent).

    Modified Keys:
        - img: ``(h', w', C)`` input, or a list of them (first at
          ``input_size``, then one per ``aug_scales``) when ``aug_scales``.
        - img_shape (tuple[int, int]): ``(h', w')`` of the first input.

    Added Keys:
        - input_size (tuple[int, int]): ``(w', h')`` of the first input.
        - input_center (np.ndarray): (2,) float32 ``(x, y)`` image pixels.
        - input_scale (np.ndarray): (2,) float32 ``(w, h)`` image pixels
          covered by the (padded) input.
        - aug_scales (list[float]) when given, else aug_scale (None).

    Args:
        input_size (tuple[int, int]): Model input ``(w, h)``.
        aug_scales (list[float], optional): Extra positive scales for
            multi-scale testing. Defaults to None.
        size_factor (int): Input sides are multiples of it. Defaults to 32.
        resize_mode (str): ``'fit'`` or ``'expand'``. Defaults to ``'fit'``.
        pad_val (tuple[float]): Border fill. Defaults to (0, 0, 0).
        use_udp (bool): Unbiased data processing warp. Defaults to False.
    """

    def __init__(self,
                 input_size: tuple[int, int],
                 aug_scales: Sequence[float] | None = None,
                 size_factor: int = 32,
                 resize_mode: str = 'fit',
                 pad_val: float | Sequence[float] = (0, 0, 0),
                 use_udp: bool = False) -> None:
        name = type(self).__name__
        if resize_mode not in ('fit', 'expand'):
            raise ValueError(f"{name}: resize_mode must be 'fit' or "
                             f"'expand', got {resize_mode!r}")
        if not isinstance(size_factor, int) or size_factor <= 0:
            raise ValueError(f'{name}: size_factor must be a positive int, '
                             f'got {size_factor!r}')
        if aug_scales is not None and (
                not isinstance(aug_scales, (list, tuple)) or not all(
                    isinstance(s, Real) and not isinstance(s, bool) and s > 0
                    for s in aug_scales)):
            raise ValueError(f'{name}: aug_scales must be a list of positive '
                             f'floats, got {aug_scales!r}')
        self.input_size = tuple(input_size)
        self.aug_scales = None if aug_scales is None else list(aug_scales)
        self.size_factor = size_factor
        self.resize_mode = resize_mode
        self.pad_val = pad_val
        self.use_udp = use_udp
        if resize_mode == 'fit':
            for size in self._input_sizes():
                if self._ceil(size) != size:
                    raise ValueError(
                        f"{name}: with resize_mode='fit', input_size (and "
                        'each aug_scales multiple of it) must be multiples '
                        f'of size_factor={size_factor}; got {size} from '
                        f'input_size={input_size}, aug_scales={aug_scales}')

    def _input_sizes(self) -> list[tuple[int, int]]:
        w, h = self.input_size
        return [(w, h)] + [(int(w * s), int(h * s))
                           for s in self.aug_scales or []]

    def _ceil(self, size) -> tuple[int, int]:
        base = self.size_factor
        return tuple(int(np.ceil(s / base) * base) for s in size)

    def resized_and_padded_size(self, img_size: tuple[int, int],
                                input_size: tuple[int, int]) -> tuple:
        """``((rsz_w, rsz_h) floats, (pad_w, pad_h) ints)`` for an image.

        Args:
            img_size (tuple[int, int]): Image ``(w, h)``.
            input_size (tuple[int, int]): Requested input ``(w, h)``.
        """
        ratio = img_size[0] / img_size[1]
        pad_w, pad_h = self._ceil(input_size)
        if self.resize_mode == 'fit':
            resized = (min(pad_w, pad_h * ratio), min(pad_h, pad_w / ratio))
            return resized, (pad_w, pad_h)
        resized = (max(pad_w, pad_h * ratio), max(pad_h, pad_w / ratio))
        return resized, self._ceil(resized)

    def __call__(self, results: dict) -> dict:
        shape = results.get('ori_shape') or results.get('img_shape')
        img_h, img_w = (shape or results['img'].shape)[:2]
        imgs = []
        for i, size in enumerate(self._input_sizes()):
            resized, padded = self.resized_and_padded_size((img_w, img_h),
                                                           size)
            if self.use_udp:
                center = np.array([(img_w - 1.) / 2, (img_h - 1.) / 2],
                                  np.float32)
                scale = np.array([img_w, img_h], np.float32)
                mat = get_udp_warp_matrix(center, scale, 0, resized)
            else:
                center = np.array([img_w / 2, img_h / 2], np.float32)
                scale = np.array([img_w * padded[0] / resized[0],
                                  img_h * padded[1] / resized[1]], np.float32)
                mat = get_warp_matrix(center, scale, 0, padded)
            imgs.append(cv2.warpAffine(results['img'], mat, padded,
                                       flags=cv2.INTER_LINEAR,
                                       borderValue=self.pad_val))
            if i == 0:  # the metainfo describes the main input size
                results['img_shape'] = padded[::-1]
                results['input_center'] = center
                results['input_scale'] = scale
                results['input_size'] = padded
        if self.aug_scales:
            results['img'] = imgs
            results['aug_scales'] = self.aug_scales
        else:
            results['img'] = imgs[0]
            results['aug_scale'] = None
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(input_size={self.input_size}, '
                f'aug_scales={self.aug_scales}, size_factor='
                f'{self.size_factor}, resize_mode={self.resize_mode!r}, '
                f'pad_val={self.pad_val}, use_udp={self.use_udp})')
