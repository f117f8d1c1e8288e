"""``BottomupGetHeatmapMask``: where bottom-up heatmaps are supervised.

Bottom-up datasets keep the segmentations of people who cannot be
supervised (crowds, people without keypoints) in ``invalid_segs``; their
heatmaps must be neither rewarded nor penalised there. The mask is drawn in
the original image (``img_shape``, as left by :class:`BottomupRandomAffine`)
and then follows the image: same warp, same flip, then heatmap resolution.
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from posekit.registry import TRANSFORMS

from .bottomup_transforms import warp_image
from .common_transforms import flip_image


@TRANSFORMS.register_module()
class BottomupGetHeatmapMask:
    """Mask of the regions whose heatmaps are (not) supervised.

    The segmentations in ``invalid_segs`` (crowds and people without
    keypoints) are drawn at ``img_shape``, negated unless ``get_invalid``,
    warped by ``warp_mat`` (bilinear, to ``input_size``), flipped like the
    image when ``flip`` is set, resized (bilinear) to each heatmap level's
    ``(H, W)`` and thresholded at 0.5.

    Polygons are rasterised by the COCO mask API (the same C code as
    pycocotools). Crowd RLEs (dicts) are drawn too, as MMPose 0.x and the
    DEKR/AE papers do; MMPose 1.3.2 skips them (a type check that only lets
    polygon lists through), so its masks leave crowds supervised.

    Required Keys:
        - img_shape (tuple[int, int]): ``(h, w)`` of the annotation space.
        - invalid_segs (list, optional): COCO segmentations (polygon lists
          or RLE dicts; None, for an annotation without one, is skipped).
          Missing or empty: nothing is invalid.
        - warp_mat (np.ndarray, optional): (2, 3) affine or (3, 3)
          perspective matrix, image -> input; needs ``input_size``.
        - input_size (tuple[int, int], optional): ``(w, h)``.
        - flip (bool, optional), flip_direction (str, optional).
        - heatmaps (np.ndarray | list[np.ndarray], optional): ``(C, H, W)``
          or one per level; the mask takes their ``(H, W)``.

    Added Keys:
        - heatmap_mask (np.ndarray | list[np.ndarray]): ``(H, W)`` bool (a
          list per heatmap level): True where supervised (or, with
          ``get_invalid``, True on invalid regions).

    Args:
        get_invalid (bool): Return the invalid region instead of the valid
            one. Defaults to False.
    """

    def __init__(self, get_invalid: bool = False) -> None:
        self.get_invalid = get_invalid

    def __call__(self, results: dict) -> dict:
        mask = segs_to_mask(results.get('invalid_segs') or [],
                            results['img_shape'][:2]).astype(np.float32)
        if not self.get_invalid:
            mask = 1. - mask
        if 'warp_mat' in results:
            if 'input_size' not in results:
                raise KeyError('BottomupGetHeatmapMask: warp_mat is set but '
                               'input_size (the warped size) is missing')
            size = tuple(int(s) for s in results['input_size'])
            mask = warp_image(mask, results['warp_mat'], size, 0)
        if results.get('flip') and results.get('flip_direction'):
            mask = flip_image(mask, results['flip_direction'])
        heatmaps = results.get('heatmaps')
        if isinstance(heatmaps, list):
            results['heatmap_mask'] = [_resize_to(mask, hm) > 0.5
                                       for hm in heatmaps]
        else:
            results['heatmap_mask'] = _resize_to(mask, heatmaps) > 0.5
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(get_invalid={self.get_invalid})'


def segs_to_mask(segs: Sequence, img_shape: tuple[int, int]) -> np.ndarray:
    """Union of COCO segmentations as an ``(h, w)`` uint8 0/1 mask.

    Args:
        segs (Sequence): Per object, a list of polygons ``[x1, y1, x2, ...]``,
            an RLE dict (``counts`` a list: uncompressed, or a string) or
            None (no segmentation: skipped).
        img_shape (tuple[int, int]): ``(h, w)`` in pixels.
    """
    h, w = int(img_shape[0]), int(img_shape[1])
    if not segs:
        return np.zeros((h, w), np.uint8)
    # imported here: only bottom-up training pipelines need the mask API
    from faster_coco_eval.core import mask as mask_api
    rles = []
    for seg in segs:
        if seg is None:
            # an annotation without a segmentation (all of CrowdPose's): nothing
            # to draw; MMPose skips it too
            continue
        if isinstance(seg, (list, tuple)):
            rles.extend(mask_api.frPyObjects(list(seg), h, w))
        elif isinstance(seg, dict) and isinstance(seg.get('counts'), list):
            rles.append(mask_api.frPyObjects(seg, h, w))
        elif isinstance(seg, dict) and 'counts' in seg:
            rles.append(seg)
        else:
            raise TypeError('BottomupGetHeatmapMask: invalid_segs entries must '
                            'be polygon lists or RLE dicts, got '
                            f'{type(seg).__name__}')
    if not rles:
        return np.zeros((h, w), np.uint8)
    return mask_api.decode(mask_api.merge(rles))


def _resize_to(mask: np.ndarray, heatmaps: np.ndarray | None) -> np.ndarray:
    """Bilinear resize of ``mask`` to the ``(H, W)`` of ``(C, H, W)`` maps."""
    if heatmaps is None:
        return mask
    h, w = heatmaps.shape[1:3]
    return cv2.resize(mask, (w, h), interpolation=cv2.INTER_LINEAR)
