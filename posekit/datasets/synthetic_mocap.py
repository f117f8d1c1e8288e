"""A synthetic motion-capture dataset in Human3.6M's file layout (no images).

Lifting models read 2D keypoints and 3D targets only, so this writes what
``Human36mDataset`` reads and nothing else: 17-joint skeletons (H3.6M's
joint order, bone lengths in metres drawn per subject around H3.6M's mean
proportions) moving with a few parametric motions (walking, turning on a
curve, arm swings and waves, squats, torso leaning and twisting) with random
phases, amplitudes and speeds, seen by four fixed cameras around the scene.

Layout written by ``make_synthetic_mocap(OUT)`` (MMPose's H3.6M layout, so an
H3.6M config reads it with ``data_root=OUT`` and no other change)::

    OUT/annotation_body3d/cameras.pkl             {(subject, camera_id): dict(R, T, c, f, k, p, w, h, name, id)}
    OUT/annotation_body3d/fps50/h36m_train.npz    subjects S1 S5 S6 S7 S8
    OUT/annotation_body3d/fps50/h36m_test.npz     subjects S9 S11 (the val split)

Each ``.npz`` holds, one row per frame (F rows; videos one after another):
    * ``imgname`` (F,) str ``S1/S1_Walking_1.50000001/S1_Walking_1.50000001_000001.jpg``
      (no image is written; the name carries subject, action and camera);
    * ``S`` (F, 17, 4) float64: camera-space joints (x right, y down, z
      forward from the camera centre), metres, and visibility 1;
    * ``part`` (F, 17, 3) float64: pixel projections (pixel centres at
      integer coordinates) and visibility 1;
    * ``center`` (F, 2) and ``scale`` (F,): the 2D keypoints' box centre and
      1.2 * its longer side / 200, as MMPose's H3.6M converter computes them.

Camera convention (MMPose's ``SimpleCamera``): world points are row vectors
``X``, metres, z up; ``X_cam = (X - T.T) @ R`` (``T`` (3, 1) the camera centre
in the world, the columns of ``R`` the camera's x, y, z axes in the world);
pixels ``u = f * X_cam[:2] / X_cam[2] + c``. ``k`` and ``p`` (distortion) are
zeros, so projection is exactly pinhole.

Determinism: the cameras come from ``default_rng([seed, 0])`` and video
``j`` of subject ``s`` from ``default_rng([seed, 1, s, j])``, so a seed fixes
every value and a video does not depend on how many others are written.
"""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np

TRAIN_SUBJECTS = ('S1', 'S5', 'S6', 'S7', 'S8')
VAL_SUBJECTS = ('S9', 'S11')
CAMERA_IDS = ('50000001', '50000002', '50000003', '50000004')
IMAGE_SIZE = (1000, 1000)   # (w, h) pixels
FPS = 50
MAX_REACH = 1.2  # metres: the pelvis stays this close to the scene's centre
MOTIONS = ('Walking', 'Turning', 'Waving', 'Squatting', 'Stretching')
# H3.6M joint parents (0 pelvis = root): 1-3 right leg, 4-6 left leg,
# 7 spine, 8 thorax, 9 neck/nose, 10 head, 11-13 left arm, 14-16 right arm.
PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
# Mean bone lengths (metres) of the bone ending at each joint, close to
# H3.6M's: hip, thigh, shin, spine, thorax, neck, head, shoulder, upper arm,
# forearm.
BONE_LENGTHS = (0.0, 0.133, 0.454, 0.450, 0.133, 0.454, 0.450, 0.233, 0.257,
                0.121, 0.115, 0.151, 0.279, 0.249, 0.151, 0.279, 0.249)


def bone_lengths(joints: np.ndarray) -> np.ndarray:
    """(..., 16) lengths of the bones (joint 1..16 to its parent) of
    (..., 17, 3) joints, in the joints' units."""
    parents = np.array(PARENTS[1:])
    return np.linalg.norm(joints[..., 1:, :] - joints[..., parents, :], axis=-1)


def _limb(down: np.ndarray, fwd: np.ndarray, side: np.ndarray, flex, abd) -> np.ndarray:
    """(T, 3) unit vectors: ``down`` turned by ``flex`` towards ``fwd`` and by
    ``abd`` towards ``side`` (radians, (T,)); all three bases (T, 3)."""
    c = np.cos(flex)[:, None]
    return (c * np.cos(abd)[:, None] * down + np.sin(flex)[:, None] * fwd
            + c * np.sin(abd)[:, None] * side)


def _wave(rng: np.random.Generator, t: np.ndarray, amp: float, freq: float) -> np.ndarray:
    """(T,) ``amp * sin(2 pi freq t + phase)``, the phase uniform."""
    return amp * np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi))


def _motion_params(rng: np.random.Generator, motion: str, t: np.ndarray) -> dict:
    """Per-frame angles (radians), heading and speed of one video."""
    n, u = len(t), rng.uniform
    gait_f = u(0.8, 1.1)            # strides per second
    walking = motion in ('Walking', 'Turning')
    phase = 2 * np.pi * gait_f * t + u(0, 2 * np.pi)
    stride = u(0.35, 0.55) if walking else u(0.0, 0.1)
    p = dict(
        speed=u(0.9, 1.5) * stride / 0.45 if walking else u(0.0, 0.2),
        turn=(u(0.5, 1.0) * rng.choice((-1, 1))) if motion == 'Turning' else u(-0.15, 0.15),
        heading0=u(-np.pi, np.pi),
        hip_r=stride * np.sin(phase), hip_l=-stride * np.sin(phase),
        knee_r=0.6 * stride / 0.45 * np.clip(np.sin(phase - 1.2), 0, None) + u(0, 0.1),
        knee_l=0.6 * stride / 0.45 * np.clip(np.sin(phase + np.pi - 1.2), 0, None) + u(0, 0.1),
        leg_abd=np.full(n, u(0.0, 0.1)),
        bob=0.02 * stride / 0.45 * np.cos(2 * phase),
        lean=np.full(n, u(-0.05, 0.15)) + _wave(rng, t, u(0, 0.1), u(0.1, 0.4)),
        twist=_wave(rng, t, u(0.0, 0.25), gait_f if walking else u(0.2, 0.6)),
        head_tilt=_wave(rng, t, u(0.0, 0.3), u(0.1, 0.5)),
        sh_flex_r=-0.8 * stride * np.sin(phase), sh_flex_l=0.8 * stride * np.sin(phase),
        sh_abd_r=np.full(n, u(0.05, 0.25)), sh_abd_l=np.full(n, u(0.05, 0.25)),
        elbow_r=np.full(n, u(0.1, 0.6)), elbow_l=np.full(n, u(0.1, 0.6)))
    if motion == 'Waving':      # one or both arms raised and waving sideways
        for s in (('r', 'l') if rng.random() < 0.5 else (rng.choice(('r', 'l')),)):
            p[f'sh_abd_{s}'] = u(1.6, 2.6) + _wave(rng, t, u(0.2, 0.5), u(0.8, 2.0))
            p[f'elbow_{s}'] = u(0.3, 1.2) + _wave(rng, t, u(0.2, 0.5), u(0.8, 2.0))
    elif motion == 'Squatting':  # knees and hips bend together
        depth = u(0.5, 1.2) * (0.5 - 0.5 * np.cos(2 * np.pi * u(0.3, 0.7) * t + u(0, 6.3)))
        for s in ('r', 'l'):
            p[f'hip_{s}'] = p[f'hip_{s}'] + depth
            p[f'knee_{s}'] = p[f'knee_{s}'] + 2 * depth
            p[f'sh_flex_{s}'] = p[f'sh_flex_{s}'] + depth
        p['lean'] = p['lean'] + 0.4 * depth
    elif motion == 'Stretching':  # arms forward / up / sideways, slowly
        for s in ('r', 'l'):
            p[f'sh_flex_{s}'] = u(0.5, 1.5) + _wave(rng, t, u(0.3, 1.2), u(0.2, 0.6))
            p[f'sh_abd_{s}'] = u(0.1, 1.0) + _wave(rng, t, u(0.2, 0.6), u(0.2, 0.6))
    return p


def _pose_sequence(p: dict, lengths: np.ndarray, t: np.ndarray) -> np.ndarray:
    """(T, 17, 3) world joints (metres, z up) from ``_motion_params``."""
    n, dt = len(t), 1.0 / FPS
    heading = p['heading0'] + p['turn'] * t
    up = np.tile([0.0, 0.0, 1.0], (n, 1))
    fwd = np.stack([np.cos(heading), np.sin(heading), np.zeros(n)], 1)
    left = np.cross(up, fwd)
    path = np.cumsum(p['speed'] * fwd * dt, 0)
    pelvis = path - path.mean(0)            # centred in the capture volume,
    reach = np.linalg.norm(pelvis, axis=1).max()
    pelvis *= min(1.0, MAX_REACH / max(reach, 1e-9))   # and inside it
    leg = lengths[2] + lengths[3]
    # standing pelvis height: straight legs, minus the squat's knee bend
    pelvis[:, 2] = 0.95 * leg * np.cos(0.5 * (p['knee_r'] + p['knee_l'])) + p['bob']
    # upper body: the heading turned by the twist about the vertical
    tw = heading + p['twist']
    fwd_u = np.stack([np.cos(tw), np.sin(tw), np.zeros(n)], 1)
    left_u = np.cross(up, fwd_u)
    j = np.zeros((n, 17, 3))
    j[:, 0] = pelvis
    down = -up
    for hip, knee, ankle, s, sign in ((1, 2, 3, 'r', -1), (4, 5, 6, 'l', 1)):
        j[:, hip] = pelvis + sign * lengths[hip] * left
        abd = p['leg_abd']
        j[:, knee] = j[:, hip] + lengths[knee] * _limb(down, fwd, sign * left, p[f'hip_{s}'], abd)
        shin = _limb(down, fwd, sign * left, p[f'hip_{s}'] - p[f'knee_{s}'], abd)
        j[:, ankle] = j[:, knee] + lengths[ankle] * shin
    spine = _limb(up, fwd_u, left_u, p['lean'], np.zeros(n))
    j[:, 7] = pelvis + lengths[7] * spine
    j[:, 8] = j[:, 7] + lengths[8] * _limb(up, fwd_u, left_u, 1.3 * p['lean'], np.zeros(n))
    head = _limb(up, fwd_u, left_u, p['lean'] + p['head_tilt'], np.zeros(n))
    j[:, 9] = j[:, 8] + lengths[9] * _limb(up, fwd_u, left_u, 0.3 + p['lean'], np.zeros(n))
    j[:, 10] = j[:, 9] + lengths[10] * head
    for sh, el, wr, s, sign in ((11, 12, 13, 'l', 1), (14, 15, 16, 'r', -1)):
        j[:, sh] = j[:, 8] + sign * lengths[sh] * left_u
        flex, abd = p[f'sh_flex_{s}'], p[f'sh_abd_{s}']
        j[:, el] = j[:, sh] + lengths[el] * _limb(down, fwd_u, sign * left_u, flex, abd)
        fore = _limb(down, fwd_u, sign * left_u, flex + p[f'elbow_{s}'], abd)
        j[:, wr] = j[:, el] + lengths[wr] * fore
    return j


def make_cameras(rng: np.random.Generator) -> list[dict]:
    """Four cameras around the origin, 4.5-5.5 m away, 1.2-1.8 m high,
    looking at (0, 0, 0.9); ``SimpleCamera`` parameters (module docstring)."""
    w, h = IMAGE_SIZE
    cams = []
    for i, cam_id in enumerate(CAMERA_IDS):
        azim = np.pi / 4 + i * np.pi / 2 + rng.uniform(-0.2, 0.2)
        dist, height = rng.uniform(4.5, 5.5), rng.uniform(1.2, 1.8)
        centre = np.array([dist * np.cos(azim), dist * np.sin(azim), height])
        z_axis = np.array([0.0, 0.0, 0.9]) - centre
        z_axis /= np.linalg.norm(z_axis)
        x_axis = np.cross(z_axis, [0.0, 0.0, 1.0])   # right in the image
        x_axis /= np.linalg.norm(x_axis)
        y_axis = np.cross(z_axis, x_axis)            # down in the image
        f = rng.uniform(1100, 1200)
        cams.append(dict(
            R=np.stack([x_axis, y_axis, z_axis], 1), T=centre[:, None],
            c=np.array([[w / 2 + rng.uniform(-10, 10)], [h / 2 + rng.uniform(-10, 10)]]),
            f=np.array([[f], [f * rng.uniform(0.998, 1.002)]]),
            k=np.zeros((3, 1)), p=np.zeros((2, 1)), w=w, h=h,
            name=f'camera{i + 1}', id=cam_id))
    return cams


def project(world: np.ndarray, cam: dict) -> tuple[np.ndarray, np.ndarray]:
    """Camera-space joints (..., 3) metres and pixels (..., 2) of world
    joints (..., 3) through ``cam`` (module docstring's convention)."""
    cam_xyz = (world - cam['T'][:, 0]) @ cam['R']
    pix = cam_xyz[..., :2] / cam_xyz[..., 2:] * cam['f'][:, 0] + cam['c'][:, 0]
    return cam_xyz, pix


def _video_rows(world: np.ndarray, cam: dict, prefix: str) -> dict:
    """The ``.npz`` rows of one video seen by one camera."""
    cam_xyz, pix = project(world, cam)
    n = len(world)
    ones = np.ones((n, 17, 1))
    lo, hi = pix.min(1), pix.max(1)
    stem = f'{prefix}.{cam["id"]}'
    subject = prefix.split('_', 1)[0]
    return dict(
        imgname=np.array([f'{subject}/{stem}/{stem}_{i + 1:06d}.jpg' for i in range(n)]),
        S=np.concatenate([cam_xyz, ones], -1), part=np.concatenate([pix, ones], -1),
        center=(lo + hi) / 2, scale=1.2 * (hi - lo).max(1) / 200)


def subject_lengths(seed: int, subject: str) -> np.ndarray:
    """(17,) bone lengths (metres, 0 for the root) of ``subject``: the mean
    proportions scaled by a stature factor, each bone varied by up to 5%."""
    rng = np.random.default_rng([seed, 2, int(subject[1:])])
    return np.array(BONE_LENGTHS) * rng.uniform(0.9, 1.1) * rng.uniform(0.95, 1.05, 17)


def make_split(seed: int, subjects, cams: list[dict], num_videos: int,
               num_frames: int) -> dict[str, np.ndarray]:
    """All rows of ``subjects``: ``num_videos`` motions each, ``num_frames``
    frames long, seen by every camera."""
    t = np.arange(num_frames) / FPS
    rows = []
    for subject in subjects:
        lengths = subject_lengths(seed, subject)
        for v in range(num_videos):
            rng = np.random.default_rng([seed, 1, int(subject[1:]), v])
            motion = MOTIONS[v % len(MOTIONS)]
            world = _pose_sequence(_motion_params(rng, motion, t), lengths, t)
            prefix = f'{subject}_{motion}_{v // len(MOTIONS) + 1}'
            rows += [_video_rows(world, cam, prefix) for cam in cams]
    return {key: np.concatenate([r[key] for r in rows]) for key in rows[0]}


def make_synthetic_mocap(out_dir: str | os.PathLike, seed: int = 0, num_videos: int = 10,
                         num_frames: int = 150) -> dict:
    """Write the dataset (module docstring) under ``out_dir``.

    Args:
        out_dir: dataset root; created if missing, files overwritten.
        seed: fixes every value written.
        num_videos: videos per subject (motions in turn), >= 1.
        num_frames: frames per video at 50 fps, >= 1.

    Returns:
        ``{'out_dir': str, 'camera_file': str, 'train': SPLIT, 'val': SPLIT}``,
        SPLIT = ``{'ann_file': str, 'subjects': tuple, 'num_frames': int}``.
    """
    if num_videos < 1 or num_frames < 1:
        raise ValueError(f'num_videos and num_frames must be >= 1, got '
                         f'{num_videos} and {num_frames}')
    out = Path(out_dir) / 'annotation_body3d'
    (out / 'fps50').mkdir(parents=True, exist_ok=True)
    cams = make_cameras(np.random.default_rng([seed, 0]))
    result = dict(out_dir=str(out_dir), camera_file=str(out / 'cameras.pkl'))
    camera_file = {(s, c['id']): c for s in TRAIN_SUBJECTS + VAL_SUBJECTS for c in cams}
    with open(out / 'cameras.pkl', 'wb') as f:
        pickle.dump(camera_file, f)
    for split, name, subjects in (('train', 'h36m_train', TRAIN_SUBJECTS),
                                  ('val', 'h36m_test', VAL_SUBJECTS)):
        arrays = make_split(seed, subjects, cams, num_videos, num_frames)
        ann_file = out / 'fps50' / f'{name}.npz'
        np.savez(ann_file, **arrays)
        result[split] = dict(ann_file=str(ann_file), subjects=subjects,
                             num_frames=len(arrays['imgname']))
    return result
