"""Bounding-box helpers against values worked out by hand."""
import math

import numpy as np
import pytest

from posekit.structures.bbox import (bbox_clip_border, bbox_corner2xyxy,
                                     bbox_cs2xywh, bbox_cs2xyxy, bbox_xywh2cs,
                                     bbox_xywh2xyxy, bbox_xyxy2corner,
                                     bbox_xyxy2cs, bbox_xyxy2xywh,
                                     fix_aspect_ratio, flip_bbox,
                                     get_pers_warp_matrix,
                                     get_udp_warp_matrix, get_warp_matrix)

XYXY = np.array([[10., 20., 50., 100.]])
XYWH = np.array([[10., 20., 40., 80.]])


def apply(mat, points):
    """Apply a (2, 3) affine matrix to (N, 2) points."""
    points = np.asarray(points, dtype=np.float64)
    return points @ mat[:, :2].T + mat[:, 2]


def test_xyxy_xywh_round_trip():
    np.testing.assert_allclose(bbox_xyxy2xywh(XYXY), XYWH)
    np.testing.assert_allclose(bbox_xywh2xyxy(XYWH), XYXY)
    # single boxes and score columns pass through
    np.testing.assert_allclose(bbox_xyxy2xywh(XYXY[0]), XYWH[0])
    scored = bbox_xyxy2xywh(np.array([[10., 20., 50., 100., 0.9]]))
    np.testing.assert_allclose(scored, [[10., 20., 40., 80., 0.9]])
    original = XYXY.copy()
    bbox_xyxy2xywh(original)
    np.testing.assert_array_equal(original, XYXY)  # input not modified


def test_center_scale():
    center, scale = bbox_xyxy2cs(XYXY, padding=1.25)
    np.testing.assert_allclose(center, [[30., 60.]])
    np.testing.assert_allclose(scale, [[50., 100.]])  # (40, 80) * 1.25
    center1, scale1 = bbox_xyxy2cs(XYXY[0])
    assert center1.shape == (2, ) and scale1.shape == (2, )
    np.testing.assert_allclose(scale1, [40., 80.])
    c2, s2 = bbox_xywh2cs(XYWH, padding=1.25)
    np.testing.assert_allclose(c2, center)
    np.testing.assert_allclose(s2, scale)
    np.testing.assert_allclose(bbox_cs2xyxy(center, scale, 1.25), XYXY)
    np.testing.assert_allclose(bbox_cs2xywh(center, scale, 1.25), XYWH)
    np.testing.assert_allclose(bbox_cs2xyxy(center1, scale1), XYXY[0])
    with pytest.raises(ValueError, match='same number of dimensions'):
        bbox_cs2xyxy(center, scale1)


def test_corners():
    corners = bbox_xyxy2corner(XYXY)
    np.testing.assert_allclose(
        corners, [[[10, 20], [10, 100], [50, 20], [50, 100]]])
    np.testing.assert_allclose(bbox_corner2xyxy(corners), XYXY)
    np.testing.assert_allclose(bbox_corner2xyxy(corners[0].reshape(8)),
                               XYXY[0])


def test_clip_border_is_in_place():
    boxes = np.array([[-5., 10., 120., 90.]])
    out = bbox_clip_border(boxes, (100, 80))
    assert out is boxes
    np.testing.assert_allclose(boxes, [[0., 10., 100., 80.]])
    points = np.array([[-1., 81.], [50., 40.]])
    np.testing.assert_allclose(bbox_clip_border(points, (100, 80)),
                               [[0., 80.], [50., 40.]])


@pytest.mark.parametrize('direction, xyxy, center', [
    ('horizontal', [149., 20., 189., 100.], [169., 60.]),
    ('vertical', [10., 49., 50., 129.], [30., 89.]),
    ('diagonal', [149., 49., 189., 129.], [169., 89.]),
])
def test_flip_bbox(direction, xyxy, center):
    size = (200, 150)  # x -> 199 - x, y -> 149 - y
    np.testing.assert_allclose(
        flip_bbox(XYXY, size, 'xyxy', direction), [xyxy])
    np.testing.assert_allclose(
        flip_bbox(np.array([30., 60.]), size, 'center', direction), center)
    # xywh agrees with flipping the same box in xyxy
    np.testing.assert_allclose(
        flip_bbox(XYWH, size, 'xywh', direction),
        bbox_xyxy2xywh(np.array([xyxy])))


def test_flip_bbox_rejects_bad_options():
    with pytest.raises(ValueError, match='direction'):
        flip_bbox(XYXY, (10, 10), 'xyxy', 'sideways')
    with pytest.raises(ValueError, match='bbox_format'):
        flip_bbox(XYXY, (10, 10), 'cxcywh')


def test_fix_aspect_ratio_only_grows():
    scales = np.array([[40., 80.], [100., 80.]])
    out = fix_aspect_ratio(scales, 0.75)
    np.testing.assert_allclose(out, [[60., 80.], [100., 100. / 0.75]])
    np.testing.assert_allclose(fix_aspect_ratio(np.array([40., 80.]), 0.75),
                               [60., 80.])


CENTER, SCALE, OUT = np.array([100., 50.]), np.array([40., 80.]), (48, 64)


def test_warp_matrix_no_rotation():
    # zoom 48 / 40 = 1.2; translation (24, 32) - 1.2 * (100, 50)
    mat = get_warp_matrix(CENTER, SCALE, 0., OUT)
    np.testing.assert_allclose(mat, [[1.2, 0., -96.], [0., 1.2, -28.]],
                               atol=1e-9)
    assert mat.shape == (2, 3) and mat.dtype == np.float64
    # box centre -> output centre; left/right edges -> x = 0 and x = 48
    np.testing.assert_allclose(apply(mat, [[100, 50], [80, 50], [120, 50]]),
                               [[24, 32], [0, 32], [48, 32]], atol=1e-9)


def test_warp_matrix_90_degrees():
    # R(-90) = [[0, 1], [-1, 0]]; t = (24, 32) - 1.2 * (50, -100)
    mat = get_warp_matrix(CENTER, SCALE, 90., OUT)
    np.testing.assert_allclose(mat, [[0., 1.2, -36.], [-1.2, 0., 152.]],
                               atol=1e-9)
    # a point below the centre (y down) ends up right of the output centre
    np.testing.assert_allclose(apply(mat, [[100, 60]]), [[36, 32]], atol=1e-9)


def test_warp_matrix_free_aspect_ratio_and_shift():
    mat = get_warp_matrix(CENTER, SCALE, 0., OUT, fix_aspect_ratio=False)
    np.testing.assert_allclose(mat, [[1.2, 0., -96.], [0., 0.8, -8.]],
                               atol=1e-9)
    # shift (0.5, 0) moves the crop centre by half a box width: (120, 50)
    shifted = get_warp_matrix(CENTER, SCALE, 0., OUT, shift=(0.5, 0.))
    np.testing.assert_allclose(apply(shifted, [[120, 50]]), [[24, 32]],
                               atol=1e-9)


@pytest.mark.parametrize('rot', [0., 30., -75., 90., 180.])
@pytest.mark.parametrize('use_udp', [False, True])
@pytest.mark.parametrize('fix', [False, True])
def test_warp_inverse_composes_to_identity(rot, use_udp, fix):
    args = (CENTER, SCALE, rot, OUT, (0.1, -0.2))
    fwd = get_warp_matrix(*args, fix_aspect_ratio=fix, use_udp=use_udp)
    inv = get_warp_matrix(*args, inv=True, fix_aspect_ratio=fix,
                          use_udp=use_udp)
    points = np.array([[0., 0.], [13., -7.], [100., 50.]])
    np.testing.assert_allclose(apply(inv, apply(fwd, points)), points,
                               atol=1e-9)


def test_warp_rotation_is_about_the_centre():
    for rot in (17., 45., 133.):
        mat = get_warp_matrix(CENTER, SCALE, rot, OUT)
        np.testing.assert_allclose(apply(mat, [CENTER]), [[24., 32.]],
                                   atol=1e-9)
        zoom = math.sqrt(abs(np.linalg.det(mat[:, :2])))
        assert zoom == pytest.approx(1.2)


def test_udp_maps_box_edges_to_pixel_centres():
    # zoom (48 - 1) / 40 = 1.175 and (64 - 1) / 80 = 0.7875
    mat = get_udp_warp_matrix(CENTER, SCALE, 0., OUT)
    assert mat.dtype == np.float32
    np.testing.assert_allclose(
        mat, [[1.175, 0., -94.], [0., 0.7875, -7.875]], atol=1e-5)
    corners = [[80., 10.], [120., 90.], [100., 50.]]
    np.testing.assert_allclose(apply(mat, corners),
                               [[0., 0.], [47., 63.], [23.5, 31.5]],
                               atol=1e-4)
    np.testing.assert_allclose(
        get_warp_matrix(CENTER, SCALE, 0., OUT, use_udp=True), mat,
        atol=1e-5)


def test_udp_90_degrees_turns_the_other_way():
    # UDP: out = k * (R(90) @ (p - c) + s / 2), R(90) = [[0, -1], [1, 0]];
    # a point 10 px below the centre lands 10 * 1.175 px from the left
    mat = get_udp_warp_matrix(CENTER, SCALE, 90., OUT)
    np.testing.assert_allclose(apply(mat, [[100., 60.]]), [[11.75, 31.5]],
                               atol=1e-4)


def test_pers_warp_matrix():
    # p -> 2 * R(90) @ (p - c) + c + t, with c = (10, 20), t = (5, -5)
    mat = get_pers_warp_matrix(np.array([10., 20.]), np.array([5., -5.]),
                               2., 90., np.array([0., 0.]))
    assert mat.shape == (3, 3) and mat.dtype == np.float32
    np.testing.assert_allclose(
        mat, [[0., -2., 55.], [2., 0., -5.], [0., 0., 1.]], atol=1e-5)
    shear = get_pers_warp_matrix(np.zeros(2), np.zeros(2), 1., 0.,
                                 np.array([45., 0.]))
    np.testing.assert_allclose(shear, [[1., 1., 0.], [0., 1., 0.],
                                       [0., 0., 1.]], atol=1e-6)
