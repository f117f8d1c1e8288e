"""Pixel-level (colour) augmentations: geometry and annotations are untouched.

Images are ``(H, W, 3) uint8`` in **BGR** order, as :class:`LoadImage`
gives them; HSV is OpenCV's 8-bit HSV (hue in ``[0, 180)``, saturation and
value in ``[0, 255]``). Random numbers come from NumPy's global generator,
drawn in one ``_draw`` method per transform, then applied deterministically.
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from posekit.registry import TRANSFORMS


def _scale_shift_uint8(img: np.ndarray, alpha: float = 1.,
                       beta: float = 0.) -> np.ndarray:
    """``uint8(clip(img * alpha + beta, 0, 255))``, computed in float32.

    The cast truncates toward zero, like MMPose's ``_convert``.
    """
    out = img.astype(np.float32) * np.float32(alpha) + np.float32(beta)
    return np.clip(out, 0, 255).astype(np.uint8)


@TRANSFORMS.register_module()
class PhotometricDistortion:
    """Random brightness, contrast, saturation, hue and channel swap.

    In order, each step with probability 1/2 (draws listed in ``_draw``):

    1. brightness: add ``beta ~ U(-brightness_delta, brightness_delta)``;
    2. contrast, in "early" mode: multiply by ``alpha ~ U(contrast_range)``;
    3. in HSV (an ``hsv_mode`` in 0..3 picks none / saturation / hue /
       both): saturation times ``U(saturation_range)``; hue plus an integer
       in ``[-hue_delta, hue_delta)``, wrapped modulo 180;
    4. contrast, in "late" mode (the mode is a fair coin);
    5. a random permutation of the three channels.

    Each step clips to ``[0, 255]`` and truncates to ``uint8``.

    Two deliberate differences from MMPose 1.3.2's copy of this transform,
    which follows the documented intent: MMPose tests the same contrast mode
    before and after the HSV step (so contrast is applied twice or never),
    and adds the hue shift without wrapping it into OpenCV's ``[0, 180)``.

    Required Keys:
        - img (np.ndarray): ``(H, W, 3) uint8`` BGR.

    Modified Keys:
        - img (np.ndarray): ``(H, W, 3) uint8`` BGR, a new array.

    Args:
        brightness_delta (int): Maximum brightness offset. Defaults to 32.
        contrast_range (tuple[float, float]): Contrast factor range.
            Defaults to (0.5, 1.5).
        saturation_range (tuple[float, float]): Saturation factor range.
            Defaults to (0.5, 1.5).
        hue_delta (int): Maximum hue offset (OpenCV units, 2 degrees each).
            Defaults to 18.
    """

    def __init__(self,
                 brightness_delta: int = 32,
                 contrast_range: Sequence[float] = (0.5, 1.5),
                 saturation_range: Sequence[float] = (0.5, 1.5),
                 hue_delta: int = 18) -> None:
        self.brightness_delta = brightness_delta
        self.contrast_lower, self.contrast_upper = contrast_range
        self.saturation_lower, self.saturation_upper = saturation_range
        self.hue_delta = hue_delta

    def _draw(self) -> dict:
        """All random choices, in MMPose's order of draws."""
        rand = np.random
        params = dict(
            contrast_late=bool(rand.randint(2)),
            brightness=bool(rand.randint(2)),
            contrast=bool(rand.randint(2)),
            hsv_mode=int(rand.randint(4)),
            swap=bool(rand.randint(2)),
            beta=rand.uniform(-self.brightness_delta, self.brightness_delta),
            alpha=rand.uniform(self.contrast_lower, self.contrast_upper),
            saturation=rand.uniform(self.saturation_lower,
                                    self.saturation_upper),
            hue=int(rand.randint(-self.hue_delta, self.hue_delta)),
            channel_order=rand.permutation(3))
        return params

    def __call__(self, results: dict) -> dict:
        results['img'] = self.apply(results['img'], **self._draw())
        return results

    @staticmethod
    def apply(img: np.ndarray, contrast_late: bool, brightness: bool,
              contrast: bool, hsv_mode: int, swap: bool, beta: float,
              alpha: float, saturation: float, hue: int,
              channel_order: np.ndarray) -> np.ndarray:
        """Distort a BGR ``uint8`` image with the given (drawn) parameters."""
        if brightness:
            img = _scale_shift_uint8(img, beta=beta)
        if contrast and not contrast_late:
            img = _scale_shift_uint8(img, alpha=alpha)
        if hsv_mode:
            hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
            if hsv_mode in (1, 3):
                hsv[..., 1] = _scale_shift_uint8(hsv[..., 1], alpha=saturation)
            if hsv_mode in (2, 3):
                hsv[..., 0] = (hsv[..., 0].astype(np.int32) + hue) % 180
            img = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
        if contrast and contrast_late:
            img = _scale_shift_uint8(img, alpha=alpha)
        if swap:
            img = np.ascontiguousarray(img[..., channel_order])
        return img

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(brightness_delta='
                f'{self.brightness_delta}, contrast_range=('
                f'{self.contrast_lower}, {self.contrast_upper}), '
                f'saturation_range=({self.saturation_lower}, '
                f'{self.saturation_upper}), hue_delta={self.hue_delta})')


@TRANSFORMS.register_module()
class YOLOXHSVRandomAug:
    """YOLOX's HSV jitter (MMDetection's ``YOLOXHSVRandomAug``).

    Each of hue, saturation and value is, with probability 1/2, shifted by
    ``int(U(-1, 1) * delta)`` (truncated toward zero): hue wraps modulo 180,
    saturation and value are clipped to ``[0, 255]``.

    Required Keys:
        - img (np.ndarray): ``(H, W, 3) uint8`` BGR.

    Modified Keys:
        - img (np.ndarray): ``(H, W, 3) uint8`` BGR, a new array.

    Args:
        hue_delta (int): Maximum hue shift. Defaults to 5.
        saturation_delta (int): Maximum saturation shift. Defaults to 30.
        value_delta (int): Maximum value shift. Defaults to 30.
    """

    def __init__(self,
                 hue_delta: int = 5,
                 saturation_delta: int = 30,
                 value_delta: int = 30) -> None:
        self.hue_delta = hue_delta
        self.saturation_delta = saturation_delta
        self.value_delta = value_delta

    def _draw(self) -> np.ndarray:
        """``(3,) int16`` shifts of (hue, saturation, value), some zeroed."""
        gains = np.random.uniform(-1, 1, 3) * [
            self.hue_delta, self.saturation_delta, self.value_delta]
        gains *= np.random.randint(0, 2, 3)
        return gains.astype(np.int16)

    def __call__(self, results: dict) -> dict:
        results['img'] = self.apply(results['img'], self._draw())
        return results

    @staticmethod
    def apply(img: np.ndarray, gains: np.ndarray) -> np.ndarray:
        """Shift the HSV channels of a BGR ``uint8`` image by ``gains``."""
        # One 256-entry lookup table per channel: same values as doing the
        # arithmetic on every pixel in int16, several times faster.
        values = np.arange(256, dtype=np.int16)
        tables = [(values + gains[0]) % 180,
                  np.clip(values + gains[1], 0, 255),
                  np.clip(values + gains[2], 0, 255)]
        hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
        channels = [cv2.LUT(c, t.astype(np.uint8))
                    for c, t in zip(cv2.split(hsv), tables)]
        return cv2.cvtColor(cv2.merge(channels), cv2.COLOR_HSV2BGR)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(hue_delta={self.hue_delta}, '
                f'saturation_delta={self.saturation_delta}, '
                f'value_delta={self.value_delta})')
