"""Line charts drawn with OpenCV (no matplotlib): one panel per quantity.

Used by ``posekit plot-log``. A panel is :data:`PANEL_SIZE` pixels with
its plot area at :data:`PLOT_BOX`; panels fill a grid of up to
:data:`MAX_COLUMNS` columns below a :data:`TITLE_HEIGHT` pixel title bar.
Images are RGB.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

PANEL_SIZE = (480, 300)        # (w, h) of one panel, pixels
PLOT_BOX = (72, 30, 464, 252)  # (x0, y0, x1, y1) of the plot area inside a panel
TITLE_HEIGHT = 36
MAX_COLUMNS = 3
BACKGROUND = (255, 255, 255)
GRID = (225, 225, 225)
INK = (40, 40, 40)
TRAIN_COLOR = (31, 119, 180)   # blue
EVAL_COLOR = (255, 127, 14)    # orange
FONT = cv2.FONT_HERSHEY_SIMPLEX


@dataclass
class Curve:
    """One series of a panel: ``x`` and ``y`` (same length, NaN = gap),
    its RGB ``color`` and whether its points get markers."""
    x: Sequence[float]
    y: Sequence[float]
    color: tuple = TRAIN_COLOR
    markers: bool = False


def nice_ticks(lo: float, hi: float, count: int = 5) -> tuple[float, float, np.ndarray]:
    """(low, high, ticks): the range widened to round steps of 1, 2, 2.5 or 5
    x 10^n, with about ``count`` ticks."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi = 0.0, 1.0
    if hi <= lo:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * 0.999)
    low, high = math.floor(lo / step + 1e-9) * step, math.ceil(hi / step - 1e-9) * step
    ticks = low + step * np.arange(int(round((high - low) / step)) + 1)
    return low, high, ticks


def format_tick(value: float, step: float) -> str:
    """A tick label with as many decimals as the step needs."""
    if value == 0:
        return '0'
    if step < 1e-3 or abs(value) >= 1e6:
        return f'{value:.2e}'.replace('e-0', 'e-').replace('e+0', 'e')
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    scaled = step * 10 ** decimals
    if abs(scaled - round(scaled)) > 1e-6:
        decimals += 1  # 2.5 steps: 0.25, 0.75
    return f'{value:.{decimals}f}'


def _text(image, text, org, scale=0.4, color=INK, align='left') -> None:
    (w, h), _ = cv2.getTextSize(text, FONT, scale, 1)
    x, y = org
    x = x - w if align == 'right' else x - w // 2 if align == 'center' else x
    cv2.putText(image, text, (int(x), int(y)), FONT, scale, color, 1, cv2.LINE_AA)


def _finite_range(values) -> tuple[float, float]:
    finite = [v for v in values if math.isfinite(v)]
    return (min(finite), max(finite)) if finite else (math.nan, math.nan)


def draw_panel(title: str, curves: Sequence[Curve], x_label: str = 'iteration') -> np.ndarray:
    """One chart, :data:`PANEL_SIZE`, RGB uint8."""
    width, height = PANEL_SIZE
    x0, y0, x1, y1 = PLOT_BOX
    panel = np.full((height, width, 3), BACKGROUND, np.uint8)
    xs = [float(v) for c in curves for v in c.x]
    ys = [float(v) for c in curves for v in c.y]
    xlo, xhi, xticks = nice_ticks(*_finite_range(xs))
    ylo, yhi, yticks = nice_ticks(*_finite_range(ys))

    def to_px(x: float, y: float) -> tuple[int, int]:
        return (int(round(x0 + (x - xlo) / (xhi - xlo) * (x1 - x0))),
                int(round(y1 - (y - ylo) / (yhi - ylo) * (y1 - y0))))

    xstep = xticks[1] - xticks[0] if len(xticks) > 1 else 1.0
    ystep = yticks[1] - yticks[0] if len(yticks) > 1 else 1.0
    for t in yticks:
        _, py = to_px(xlo, t)
        cv2.line(panel, (x0, py), (x1, py), GRID, 1)
        _text(panel, format_tick(t, ystep), (x0 - 6, py + 4), align='right')
    for t in xticks:
        px, _ = to_px(t, ylo)
        cv2.line(panel, (px, y0), (px, y1), GRID, 1)
        _text(panel, format_tick(t, xstep), (px, y1 + 16), align='center')
    cv2.rectangle(panel, (x0, y0), (x1, y1), INK, 1)
    _text(panel, title, ((x0 + x1) // 2, y0 - 10), scale=0.5, align='center')
    _text(panel, x_label, ((x0 + x1) // 2, height - 10), align='center')
    for curve in curves:
        _draw_curve(panel, curve, to_px)
    return panel


def _draw_curve(panel: np.ndarray, curve: Curve, to_px) -> None:
    run: list[tuple[int, int]] = []
    points = list(zip(curve.x, curve.y))
    for x, y in points + [(math.nan, math.nan)]:  # the sentinel ends the last run
        if math.isfinite(x) and math.isfinite(y):
            run.append(to_px(float(x), float(y)))
            continue
        if len(run) > 1:
            cv2.polylines(panel, [np.array(run, np.int32)], False, curve.color, 2, cv2.LINE_AA)
        if run and (curve.markers or len(run) == 1):
            for p in run:
                cv2.circle(panel, p, 3, curve.color, -1, cv2.LINE_AA)
        run = []


def draw_curves(panels: Sequence[tuple[str, Sequence[Curve]]], title: str = '',
                x_label: str = 'iteration') -> np.ndarray:
    """All panels in a grid under a title bar; (H, W, 3) uint8 RGB.

    Panel ``i`` is at row ``i // columns``, column ``i % columns`` with
    ``columns = min(len(panels), MAX_COLUMNS)``.
    """
    if not panels:
        raise ValueError('draw_curves: nothing to draw')
    columns = min(len(panels), MAX_COLUMNS)
    rows = math.ceil(len(panels) / columns)
    width, height = PANEL_SIZE
    canvas = np.full((TITLE_HEIGHT + rows * height, columns * width, 3), BACKGROUND, np.uint8)
    _text(canvas, title, (10, TITLE_HEIGHT - 12), scale=0.55)
    for i, (name, curves) in enumerate(panels):
        top, left = TITLE_HEIGHT + (i // columns) * height, (i % columns) * width
        canvas[top:top + height, left:left + width] = draw_panel(name, curves, x_label)
    return canvas
