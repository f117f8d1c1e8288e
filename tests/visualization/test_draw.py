"""Drawing helpers: colours land on the right pixels, thresholds, heatmap blend."""
import cv2
import numpy as np
import pytest

from posekit.visualization import (color_list, draw_bboxes, draw_keypoints, draw_links,
                                   draw_pose, heatmap_to_color, overlay_heatmap)

KPTS = np.array([[[20., 50.], [80., 50.], [50., 20.]]])
COLORS = np.array([[255, 128, 0], [0, 255, 0], [51, 153, 255]], np.uint8)


def blank(h=100, w=100):
    return np.zeros((h, w, 3), np.uint8)


def test_keypoints_have_their_colour_and_low_scores_are_not_drawn():
    image = draw_keypoints(blank(), KPTS, np.array([[0.9, 0.31, 0.3]]), COLORS,
                           radius=3, kpt_thr=0.3)
    assert image[50, 20].tolist() == [255, 128, 0]
    assert image[52, 21].tolist() == [255, 128, 0]      # inside the radius
    assert image[50, 80].tolist() == [0, 255, 0]
    assert image[20, 50].tolist() == [0, 0, 0]          # score == kpt_thr: not drawn
    assert image[50, 30].tolist() == [0, 0, 0]          # outside every circle


def test_points_round_to_the_nearest_pixel_and_a_single_instance_is_accepted():
    image = draw_keypoints(blank(), np.array([[10.6, 40.4]]), None, (9, 8, 7), radius=1)
    assert image[40, 11].tolist() == [9, 8, 7]


def test_links_need_both_ends_above_the_threshold_and_inside_the_image():
    links = [(0, 1), (0, 2)]
    image = draw_links(blank(), KPTS, np.array([[1., 1., 0.]]), links,
                       np.array([[10, 20, 30], [40, 50, 60]]), line_width=3)
    assert image[50, 50].tolist() == [10, 20, 30]       # midpoint of link 0
    assert image[35, 35].tolist() == [0, 0, 0]          # link 1: end 2 hidden
    outside = np.array([[[20., 50.], [150., 50.]]])
    image = draw_links(blank(), outside, None, [(0, 1)], (1, 2, 3), line_width=3)
    assert image.max() == 0


def test_bbox_edges_have_the_box_colour():
    image = draw_bboxes(blank(), np.array([[10., 20., 70., 90.]]), (200, 100, 50), 1)
    for y, x in ((20, 40), (90, 40), (50, 10), (50, 70)):
        assert image[y, x].tolist() == [200, 100, 50]
    assert image[50, 40].tolist() == [0, 0, 0]
    assert draw_bboxes(blank(), np.array([[10., 20., 70., 90.]]))[20, 40].tolist() == [0, 255, 0]


def test_keypoint_opacity_follows_the_score_with_show_keypoint_weight():
    image = np.full((40, 40, 3), 100, np.uint8)
    draw_keypoints(image, np.array([[20., 20.]]), np.array([0.5]), (200, 0, 100), radius=4,
                   alpha=1.0, weight_by_score=True)
    assert image[20, 20].tolist() == pytest.approx([150, 50, 100], abs=1)
    assert image[2, 2].tolist() == [100, 100, 100]


def test_colour_specs():
    assert color_list('red', 2) == [(255, 0, 0), (255, 0, 0)]
    assert color_list((1, 2, 3), 1) == [(1, 2, 3)]
    assert color_list(None, 2) == [None, None]
    assert color_list(COLORS, 3)[2] == (51, 153, 255)
    with pytest.raises(ValueError, match='2 colours for 3 items'):
        color_list(COLORS[:2], 3)
    with pytest.raises(ValueError, match='unknown colour name'):
        color_list('reddish', 1)


def test_heatmap_overlay_changes_only_where_the_heatmap_is_high():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (64, 80, 3), dtype=np.uint8)
    heatmap = np.zeros((2, 64, 80), np.float32)
    heatmap[0, 30:35, 40:45] = 0.5
    heatmap[1, 32, 42] = 2.0                           # the peak, max over K
    out = overlay_heatmap(image, heatmap, alpha=0.6)
    zero = heatmap.max(0) == 0
    assert np.array_equal(out[zero], image[zero])       # untouched where zero
    # the peak is 60% jet(1.0) = dark red (128, 0, 0) over 40% image
    expected = np.rint(image[32, 42] * 0.4 + np.array([128, 0, 0]) * 0.6)
    assert out[32, 42].tolist() == expected.tolist()
    # a quarter of the peak: 15% opacity of jet(0.25)
    color, strength = heatmap_to_color(heatmap)
    assert strength[31, 41] == pytest.approx(0.25)
    expected = np.rint(image[31, 41] * 0.85 + color[31, 41] * 0.15)
    assert np.abs(out[31, 41].astype(int) - expected).max() <= 1


def test_heatmap_is_resized_to_the_image_and_an_empty_one_changes_nothing():
    image = np.full((40, 60, 3), 77, np.uint8)
    small = np.zeros((10, 15), np.float32)
    small[5, 7] = 1
    out = overlay_heatmap(image, small)
    assert out.shape == image.shape and (out != 77).any()
    assert np.array_equal(overlay_heatmap(image, np.zeros((3, 10, 15))), image)


def test_draw_pose_uses_the_meta_and_keeps_the_input():
    meta = dict(keypoint_colors=COLORS, skeleton_links=[(0, 1)],
                skeleton_link_colors=np.array([[7, 77, 177]]))
    image = blank()
    out = draw_pose(image, KPTS, np.ones((1, 3)), meta, radius=3, line_width=3,
                    bboxes=np.array([[5., 5., 95., 95.]]))
    assert image.max() == 0
    assert out[50, 20].tolist() == [255, 128, 0] and out[20, 50].tolist() == [51, 153, 255]
    assert out[50, 50].tolist() == [7, 77, 177]
    assert out[5, 50].tolist() == [0, 255, 0]
    # without meta: red points, no links
    out = draw_pose(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), KPTS, None, None, radius=2)
    assert out[50, 80].tolist() == [255, 0, 0] and out[50, 50].tolist() == [0, 0, 0]
