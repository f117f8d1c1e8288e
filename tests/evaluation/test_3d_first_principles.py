"""Issue 15's first-principles checks of the 3D path, on the real Human3.6M
fixture (4 frames: camera-space joints ``S`` in metres and their cameras).

- P-MPJPE of a rotated, scaled and shifted copy is 0 (the Procrustes
  alignment removes any similarity), through the ``MPJPE`` metric;
- projection with a camera, then back-projection with the known depth, is
  the identity (pinhole: ``u = f x / z + c`` inverts to ``x = (u - c) z / f``);
  so is world -> camera -> world with a camera's rotation;
- flipping around the root twice is the identity: already
  ``tests/transforms/test_pose3d_transforms.py::
  test_random_flip_around_root_twice_is_identity`` (not repeated here).

All in float64: the bounds are float64 rounding of a few operations on
values below 1e4 (pixels) or 10 (metres), far below the tolerances.
"""
from __future__ import annotations

import math
import pickle
from pathlib import Path

import numpy as np
import pytest

from posekit.codecs.utils import camera_to_pixel
from posekit.datasets.synthetic_mocap import make_cameras, project
from posekit.evaluation.metrics.interhand_metric import pixel_to_camera
from posekit.registry import METRICS

FIXTURE = Path(__file__).parents[1] / 'data' / 'fixtures' / 'h36m'


@pytest.fixture(scope='module')
def h36m():
    data = np.load(FIXTURE / 'test_h36m_body3d.npz')
    with open(FIXTURE / 'cameras.pkl', 'rb') as f:
        cameras = pickle.load(f)
    return dict(S=data['S'][..., :3].astype(np.float64), imgname=data['imgname'],
                cameras=cameras)


def _camera_of(cameras: dict, imgname: str) -> dict:
    """``S1/S1_Directions_1.54138969/...jpg`` -> cameras[('S1', '54138969')]."""
    subject, video = imgname.split('/')[:2]
    return cameras[(subject, video.rsplit('.', 1)[1])]


def _rotation(axis, angle: float) -> np.ndarray:
    """Rodrigues: the rotation by ``angle`` (radians) about ``axis``."""
    k = np.asarray(axis, np.float64) / np.linalg.norm(axis)
    cross = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + math.sin(angle) * cross + (1 - math.cos(angle)) * cross @ cross


def _evaluate(mode: str, pred: np.ndarray, gt: np.ndarray, names) -> dict:
    metric = METRICS.build(dict(type='MPJPE', mode=mode))
    metric.process([], [dict(pred_instances=dict(keypoints=p[None]),
                             gt_instances=dict(lifting_target=g[None],
                                               lifting_target_visible=np.ones((1, 17))),
                             target_img_path=[n]) for p, g, n in zip(pred, gt, names)])
    return metric.compute_metrics(metric.results)


def test_p_mpjpe_of_a_rotated_scaled_shifted_copy_is_zero(h36m):
    gt = h36m['S']
    names = [str(n).split('/')[-1] for n in h36m['imgname']]
    # a different similarity per frame: rotation about a tilted axis, scale, shift
    moved = np.stack([s * g @ _rotation([1, 2, 3 + i], 0.4 + i).T + [0.5, -2.0, 3.0 * i]
                      for i, (g, s) in enumerate(zip(gt, (0.5, 1.0, 1.7, 3.0)))])
    aligned = _evaluate('p-mpjpe', moved, gt, names)
    assert aligned['P-MPJPE'] == pytest.approx(0.0, abs=1e-9)
    assert all(v == pytest.approx(0.0, abs=1e-9) for v in aligned.values())
    # without alignment the copies are metres away (a shift of >= 2 m at least)
    assert _evaluate('mpjpe', moved, gt, names)['MPJPE'] > 2.0
    # a mirror image is no similarity: P-MPJPE stays well above 0
    mirrored = gt * [-1, 1, 1]
    assert _evaluate('p-mpjpe', mirrored, gt, names)['P-MPJPE'] > 0.01


def test_projection_then_back_projection_is_identity(h36m):
    for joints, name in zip(h36m['S'], h36m['imgname']):
        cam = _camera_of(h36m['cameras'], str(name))
        (fx, fy), (cx, cy) = cam['f'][:, 0], cam['c'][:, 0]
        pixels = camera_to_pixel(joints.copy(), fx, fy, cx, cy)
        # the joints are in front of the camera, inside its w x h image
        assert (joints[:, 2] > 1).all()
        assert ((pixels > 0) & (pixels < [cam['w'], cam['h']])).all()
        back = pixel_to_camera(np.concatenate([pixels, joints[:, 2:]], -1), fx, fy, cx, cy)
        np.testing.assert_allclose(back, joints, rtol=0, atol=1e-12)
        # the hand datasets' shifted depth (+ 1e-8): a relative change of
        # 1e-8 / z < 1e-8 of pixels below 1e3
        np.testing.assert_allclose(camera_to_pixel(joints.copy(), fx, fy, cx, cy, shift=True),
                                   pixels, atol=1e-4)


def test_world_to_camera_and_back_is_identity(h36m):
    """``X_cam = (X - T) R`` with R orthonormal inverts to ``X = X_cam R^T + T``;
    the fixture's and the synthetic cameras' R are rotations (R R^T = I,
    det 1), and the synthetic projection is the pinhole of ``camera_to_pixel``."""
    for cam in h36m['cameras'].values():
        rot = np.asarray(cam['R'])
        np.testing.assert_allclose(rot @ rot.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(rot) == pytest.approx(1.0, abs=1e-12)
    world = np.random.default_rng(0).normal([0, 0, 1], 0.5, (3, 17, 3))
    for cam in make_cameras(np.random.default_rng([0, 0])):
        np.testing.assert_allclose(cam['R'] @ cam['R'].T, np.eye(3), atol=1e-12)
        assert np.linalg.det(cam['R']) == pytest.approx(1.0, abs=1e-12)
        cam_xyz, pixels = project(world, cam)
        np.testing.assert_allclose(cam_xyz @ cam['R'].T + cam['T'][:, 0], world, atol=1e-12)
        np.testing.assert_allclose(
            camera_to_pixel(cam_xyz.copy(), *cam['f'][:, 0], *cam['c'][:, 0]), pixels,
            atol=1e-9)
