"""Drawing for the synthetic keypoint dataset: figures, background, clutter.

Everything here is numpy + cv2 and takes an explicit ``np.random.Generator``
so that a seed fixes every pixel. ``posekit.datasets.synthetic`` composes these
pieces into images and COCO annotations.

Conventions:
    * Images are (H, W, 3) uint8 in BGR order (cv2's).
    * Points are (x, y) float64 pixels with pixel centres at integer
      coordinates (cv2's drawing convention and MMPose's: the flip of x is
      ``w - 1 - x``).
    * Besides the colour image, every primitive is also drawn, without
      anti-aliasing, into an ``owner`` map: (H, W) uint16 holding which part of
      which figure is on top at each pixel. Visibility of a keypoint is read
      from it after all drawing (see ``keypoint_visibility``).
    * Owner codes: 0 background, ``base + 1 + k`` the mark of keypoint ``k`` of
      the figure with code ``base`` (a multiple of 32), ``base + PART_BODY``
      the rest of that figure, ``OCCLUDER`` shapes drawn over figures.

The figure always faces the viewer, so the person's left side is on the
image's right in the figure's own frame. That geometric cue is what survives
horizontal-flip augmentation (a mirrored front view is again a front view
with sides swapped); the lighter left / darker right shades are a second cue
for training without flip.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

NUM_KEYPOINTS = 17
PART_BODY = 20        # owner code offset for limbs, torso, neck, head
CODE_STRIDE = 32      # owner codes per figure: marks 1..17, body 20
OCCLUDER = 65535      # owner code of clutter drawn over figures

NOSE, L_EYE, R_EYE, L_EAR, R_EAR = 0, 1, 2, 3, 4
L_SHOULDER, L_ELBOW, L_WRIST = 5, 7, 9      # right side is left + 1
L_HIP, L_KNEE, L_ANKLE = 11, 13, 15

_SHIFT = 4                     # cv2 fixed-point bits: sub-pixel drawing
_ONE = 1 << _SHIFT
# Standing height of the local figure (head top to ankles) in local units.
_LOCAL_HEIGHT = 0.95
_SKIN = np.array([[189, 224, 255], [142, 184, 234], [96, 140, 198],
                  [66, 100, 141], [45, 65, 95], [210, 210, 230]], np.float64)


@dataclass
class Figure:
    """One articulated figure, placed in the image.

    Attributes:
        keypoints: (17, 2) float64, COCO order, image pixels.
        drawn: (17,) bool, False for face points turned away from the viewer
            (an ear behind the head, an eye past the silhouette): they get no
            mark, so they come out labelled but not visible.
        head_center: (2,) float64, pixels.
        head_axes: (half width, half height) of the head ellipse, pixels.
        head_angle: rotation of the head ellipse, degrees (cv2.ellipse's).
        height: standing height, pixels.
        thickness: limb line width, pixels (>= 2).
        colors: name -> BGR tuple of floats (torso, left, right, joint_l,
            joint_r, head, ear, eye, nose).
    """
    keypoints: np.ndarray
    drawn: np.ndarray
    head_center: np.ndarray
    head_axes: tuple[float, float]
    head_angle: float
    height: float
    thickness: int
    colors: dict

    def mark_radius(self) -> np.ndarray:
        """(17,) float64: radius in pixels of the mark drawn at each keypoint."""
        t = float(self.thickness)
        r = np.full(NUM_KEYPOINTS, 0.6 * t)
        r[[L_WRIST, L_WRIST + 1]] = 0.8 * t       # hands read better as blobs
        r[[L_ANKLE, L_ANKLE + 1]] = 0.7 * t
        hw = self.head_axes[0]
        r[[L_EYE, R_EYE]] = 0.16 * hw
        r[NOSE] = 0.15 * hw
        r[[L_EAR, R_EAR]] = 0.28 * hw
        return np.maximum(r, 1.0)

    def approx_box(self) -> np.ndarray:
        """(4,) float64 x0, y0, x1, y1 around keypoints and head, pixels."""
        pts = np.concatenate([self.keypoints, self.head_center[None]])
        pad = max(self.head_axes) + self.thickness
        return np.concatenate([pts.min(0) - pad, pts.max(0) + pad])


def _vec(angle: float) -> np.ndarray:
    # Angle 0 points down (+y), +pi/2 points to the figure's left (+x).
    return np.array([np.sin(angle), np.cos(angle)])


def _sample_local_pose(rng: np.random.Generator):
    """Joint angles -> keypoints in the figure's local frame (unit height).

    Returns:
        (keypoints (17, 2) float64, drawn (17,) bool, head center (2,),
        head left axis (2,) unit vector, head (half width, half height)).
    """
    d = np.deg2rad
    kp = np.zeros((NUM_KEYPOINTS, 2))
    beta = d(rng.uniform(-15, 15))        # spine bend against the pelvis
    gamma = d(rng.uniform(-8, 8))         # pelvis tilt
    neck = 0.30 * _vec(np.pi + beta)
    shoulder_mid = neck + 0.02 * _vec(beta)
    for side, sign in ((0, 1.0), (1, -1.0)):           # left, right
        kp[L_HIP + side] = sign * 0.06 * _vec(np.pi / 2 + gamma)
        kp[L_SHOULDER + side] = shoulder_mid + sign * 0.10 * _vec(np.pi / 2 + beta)
        # Arms: abduction from hanging down to raised overhead; the elbow bends
        # either way because a 2D projection of a bent arm can.
        upper = beta + sign * d(rng.uniform(-20, 170))
        fore = upper + d(np.clip(rng.normal(0, 60), -150, 150))
        kp[L_ELBOW + side] = kp[L_SHOULDER + side] + 0.15 * _vec(upper)
        kp[L_WRIST + side] = kp[L_ELBOW + side] + 0.14 * _vec(fore)
        # Legs: mostly standing or striding, sometimes kicking out.
        spread = rng.uniform(-12, 100) if rng.random() < 0.15 else rng.uniform(-12, 45)
        thigh = gamma + sign * d(spread)
        shin = thigh + d(np.clip(rng.normal(0, 30), -110, 110))
        kp[L_KNEE + side] = kp[L_HIP + side] + 0.235 * _vec(thigh)
        kp[L_ANKLE + side] = kp[L_KNEE + side] + 0.225 * _vec(shin)
    up = np.pi + beta + d(np.clip(rng.normal(0, 12), -30, 30))
    half_w, half_h = 0.055, 0.07
    center = neck + 0.095 * _vec(up)
    left = _vec(up - np.pi / 2)
    # Face points sit on a head seen with yaw: azimuth (0 = towards the
    # viewer, + = person's left), height on the face, and the depth cosine
    # below which the point has turned out of view.
    yaw = d(np.clip(rng.normal(0, 25), -70, 70))
    drawn = np.ones(NUM_KEYPOINTS, bool)
    face = ((NOSE, 0, -0.2, 1.0, -0.2), (L_EYE, 35, 0.22, 0.95, 0.25),
            (R_EYE, -35, 0.22, 0.95, 0.25), (L_EAR, 95, 0.05, 1.0, -0.35),
            (R_EAR, -95, 0.05, 1.0, -0.35))
    for k, azimuth, rise, reach, min_depth in face:
        rel = d(azimuth) + yaw
        kp[k] = center + half_w * reach * np.sin(rel) * left + rise * half_h * _vec(up)
        drawn[k] = np.cos(rel) > min_depth
    return kp, drawn, center, left, (half_w, half_h)


def _contrasting_color(rng: np.random.Generator, background: np.ndarray) -> np.ndarray:
    """A saturated BGR colour far from ``background`` (3,) so figures stand out."""
    best, best_dist = None, -1.0
    for _ in range(8):
        hsv = np.uint8([[[rng.integers(0, 180), rng.integers(140, 256), rng.integers(150, 256)]]])
        bgr = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0].astype(np.float64)
        dist = float(np.linalg.norm(bgr - background))
        if dist > best_dist:
            best, best_dist = bgr, dist
        if dist > 120:
            break
    return best


def sample_figure(rng: np.random.Generator, height: float, center: np.ndarray,
                  background: np.ndarray) -> Figure:
    """A random figure of standing ``height`` pixels centred at ``center``.

    Args:
        rng: the random generator.
        height: standing height in pixels.
        center: (2,) float64, where the centre of the figure's box goes.
        background: (3,) float64 BGR mean colour of the background, which the
            figure's colours keep away from.
    """
    kp, drawn, head_c, head_left, (hw, hh) = _sample_local_pose(rng)
    theta = np.deg2rad(np.clip(rng.normal(0, 10), -30, 30) if rng.random() < 0.85
                       else rng.uniform(-95, 95))
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    scale = height / _LOCAL_HEIGHT
    pts = np.concatenate([kp, head_c[None]]) @ rot.T * scale
    pts += center - (pts.min(0) + pts.max(0)) / 2
    left = rot @ head_left
    base = _contrasting_color(rng, background)
    dark, white = np.zeros(3), np.full(3, 255.0)
    head = _SKIN[rng.integers(len(_SKIN))]
    if np.linalg.norm(head - background) < 60:
        head = 0.5 * (base + white)
    colors = dict(torso=base, left=0.55 * base + 0.45 * white, right=0.55 * base,
                  head=head, ear=0.8 * head,
                  eye=dark + 25 if head.mean() > 90 else white - 25,
                  nose=np.array([40.0, 40.0, 200.0]) if head.mean() > 90 else np.array([90.0, 160.0, 255.0]))
    colors['joint_l'] = 0.75 * colors['left']
    colors['joint_r'] = 0.6 * colors['right'] + 0.4 * base
    colors = {k: tuple(float(c) for c in v) for k, v in colors.items()}
    return Figure(keypoints=pts[:-1], drawn=drawn, head_center=pts[-1],
                  head_axes=(hw * scale, hh * scale),
                  head_angle=float(np.degrees(np.arctan2(left[1], left[0]))),
                  height=float(height),
                  thickness=max(2, int(round(scale * rng.uniform(0.03, 0.055)))),
                  colors=colors)


def _fix(p) -> tuple[int, int]:
    return int(round(p[0] * _ONE)), int(round(p[1] * _ONE))


class Canvas:
    """The colour image and the owner map, drawn together.

    Args:
        image: (H, W, 3) uint8 BGR, drawn on in place (anti-aliased).
        owner: (H, W) uint16, drawn on in place (hard edges), see module doc.
    """

    def __init__(self, image: np.ndarray, owner: np.ndarray):
        self.image, self.owner = image, owner

    def line(self, a, b, color, thickness: int, code: int) -> None:
        cv2.line(self.image, _fix(a), _fix(b), color, thickness, cv2.LINE_AA, _SHIFT)
        cv2.line(self.owner, _fix(a), _fix(b), code, thickness, cv2.LINE_8, _SHIFT)

    def disk(self, c, radius: float, color, code: int) -> None:
        r = max(_ONE, int(round(radius * _ONE)))
        cv2.circle(self.image, _fix(c), r, color, -1, cv2.LINE_AA, _SHIFT)
        cv2.circle(self.owner, _fix(c), r, code, -1, cv2.LINE_8, _SHIFT)

    def ellipse(self, c, axes, angle: float, color, code: int) -> None:
        ax = tuple(max(_ONE, int(round(a * _ONE))) for a in axes)
        cv2.ellipse(self.image, _fix(c), ax, angle, 0, 360, color, -1, cv2.LINE_AA, _SHIFT)
        cv2.ellipse(self.owner, _fix(c), ax, angle, 0, 360, code, -1, cv2.LINE_8, _SHIFT)

    def polygon(self, pts, color, code: int) -> None:
        p = np.array([_fix(q) for q in pts], np.int32)[None]
        cv2.fillPoly(self.image, p, color, cv2.LINE_AA, _SHIFT)
        cv2.fillPoly(self.owner, p, code, cv2.LINE_8, _SHIFT)

    def rect(self, p0, p1, color, code: int) -> None:
        cv2.rectangle(self.image, _fix(p0), _fix(p1), color, -1, cv2.LINE_AA, _SHIFT)
        cv2.rectangle(self.owner, _fix(p0), _fix(p1), code, -1, cv2.LINE_8, _SHIFT)


def draw_figure(canvas: Canvas, fig: Figure, base: int, rng: np.random.Generator) -> None:
    """Draw ``fig`` with owner codes ``base + 1 + k`` (marks), ``base + PART_BODY``.

    Order is torso, legs, neck, head with face marks, arms: arms last so a
    hand in front of the face hides it (that eye then gets v=1). Which side's
    leg or arm goes on top is random, so neither side is always visible.
    """
    kp, c, t = fig.keypoints, fig.colors, fig.thickness
    body, rad = base + PART_BODY, fig.mark_radius()
    torso = [kp[L_SHOULDER], kp[L_SHOULDER + 1], kp[L_HIP + 1], kp[L_HIP]]
    canvas.polygon(torso, c['torso'], body)
    for a, b in zip(torso, torso[1:] + torso[:1]):     # rounded torso outline
        canvas.line(a, b, c['torso'], t, body)

    def limb(first: int, side: int) -> None:
        shade, joint = (c['left'], c['joint_l']) if side == 0 else (c['right'], c['joint_r'])
        j = [first + side, first + 2 + side, first + 4 + side]
        canvas.line(kp[j[0]], kp[j[1]], shade, t, body)
        canvas.line(kp[j[1]], kp[j[2]], shade, t, body)
        for k in j:
            canvas.disk(kp[k], rad[k], joint, base + 1 + k)

    for side in rng.permutation(2):
        limb(L_HIP, int(side))
    neck_base = (kp[L_SHOULDER] + kp[L_SHOULDER + 1]) / 2
    canvas.line(neck_base, fig.head_center, c['torso'], max(2, int(0.8 * t)), body)
    canvas.ellipse(fig.head_center, fig.head_axes, fig.head_angle, c['head'], body)
    for k, color in ((L_EAR, 'ear'), (R_EAR, 'ear'), (L_EYE, 'eye'), (R_EYE, 'eye'),
                     (NOSE, 'nose')):
        if fig.drawn[k]:
            canvas.disk(kp[k], rad[k], c[color], base + 1 + k)
    for side in rng.permutation(2):
        limb(L_SHOULDER, int(side))


def keypoint_visibility(owner: np.ndarray, fig: Figure, base: int) -> np.ndarray:
    """COCO visibility (17,) int64 of ``fig``'s keypoints after all drawing.

    0: outside the image (not labelled); 2: at least half of a small disk
    around the point still shows the point's own mark; 1: labelled but
    covered (by clutter, another figure, the figure's own limbs, or a face
    point turned away from the viewer).
    """
    h, w = owner.shape
    vis = np.zeros(NUM_KEYPOINTS, np.int64)
    for k, ((x, y), r) in enumerate(zip(fig.keypoints, fig.mark_radius())):
        if not (0 <= x <= w - 1 and 0 <= y <= h - 1):
            continue
        r = max(0.75, 0.5 * r)       # inner part of the mark: robust to rasterising
        x0, x1 = max(0, int(np.floor(x - r))), min(w - 1, int(np.ceil(x + r)))
        y0, y1 = max(0, int(np.floor(y - r))), min(h - 1, int(np.ceil(y + r)))
        dx, dy = np.arange(x0, x1 + 1) - x, np.arange(y0, y1 + 1) - y
        disk = dx[None, :] ** 2 + dy[:, None] ** 2 <= r * r
        mine = owner[y0:y1 + 1, x0:x1 + 1][disk] == base + 1 + k
        vis[k] = 2 if disk.any() and mine.mean() >= 0.5 else 1
    return vis


def draw_background(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A gradient with low-frequency blotches: (H, W, 3) uint8 BGR.

    Args:
        size: (w, h) in pixels.
    """
    w, h = size
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    a = rng.uniform(0, 2 * np.pi)
    xs, ys = np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)
    ramp = xs[None, :] * np.float32(np.cos(a)) + ys[:, None] * np.float32(np.sin(a))
    ramp = (ramp - ramp.min()) / max(float(ramp.max() - ramp.min()), 1.0)
    img = c0.astype(np.float32) + ramp[..., None] * (c1 - c0).astype(np.float32)
    # Blotches: a coarse random grid blown up, like uneven light or texture.
    cells = rng.normal(0, rng.uniform(5, 30), (int(rng.integers(3, 9)),) * 2 + (3,))
    img += cv2.resize(cells.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(img, 0, 255).astype(np.uint8)


def draw_clutter(rng: np.random.Generator, image: np.ndarray, count: int) -> None:
    """Random lines, circles, ellipses, rectangles and polylines on ``image``.

    Some lines have limb-like widths, so a limb is not "any thick line".
    Drawn on the image only: clutter under the figures owns no pixels.
    """
    h, w = image.shape[:2]
    for _ in range(count):
        color = tuple(float(v) for v in rng.uniform(0, 255, 3))
        p = _fix(rng.uniform((0, 0), (w, h)))
        q = _fix(rng.uniform((0, 0), (w, h)))
        size = rng.uniform(0.03, 0.2) * min(w, h)
        kind = rng.integers(5)
        fill = -1 if rng.random() < 0.5 else int(rng.integers(1, 4))
        if kind == 0:
            cv2.line(image, p, q, color, int(rng.integers(1, 8)), cv2.LINE_AA, _SHIFT)
        elif kind == 1:
            cv2.circle(image, p, int(size * _ONE), color, fill, cv2.LINE_AA, _SHIFT)
        elif kind == 2:
            axes = (int(size * _ONE), int(size * rng.uniform(0.2, 1) * _ONE))
            cv2.ellipse(image, p, axes, rng.uniform(0, 180), 0, 360, color, fill,
                        cv2.LINE_AA, _SHIFT)
        elif kind == 3:
            q = (p[0] + int(size * _ONE), p[1] + int(size * rng.uniform(0.3, 2) * _ONE))
            cv2.rectangle(image, p, q, color, fill, cv2.LINE_AA, _SHIFT)
        else:
            pts = (rng.uniform((0, 0), (w, h), (int(rng.integers(3, 6)), 2)) * _ONE)
            cv2.polylines(image, [pts.astype(np.int32)], bool(rng.random() < 0.5), color,
                          int(rng.integers(1, 5)), cv2.LINE_AA, _SHIFT)


def draw_occluder(rng: np.random.Generator, canvas: Canvas, fig: Figure, k: int) -> None:
    """A filled clutter shape over keypoint ``k`` of ``fig`` (owner OCCLUDER)."""
    size = fig.height * rng.uniform(0.05, 0.14)
    c = fig.keypoints[k] + rng.normal(0, 0.3 * size, 2)
    color = tuple(float(v) for v in rng.uniform(0, 255, 3))
    if rng.random() < 0.5:
        half = size * rng.uniform(0.6, 1.4, 2)
        canvas.rect(c - half, c + half, color, OCCLUDER)
    else:
        canvas.ellipse(c, size * rng.uniform(0.7, 1.3, 2), rng.uniform(0, 180), color, OCCLUDER)
