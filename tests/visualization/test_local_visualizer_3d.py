"""Pose3dLocalVisualizer: layout, projection and drawn pixels.

Expected positions are derived from the projection in the module doc: with
azimuth 0 and elevation 0 the screen's right is +y and its up is +z; a point
``u`` (box units, in [-0.5, 0.5] after the 4:4:3 aspect) lands at
``S / 2 + 0.55 * S * u_y * zoom`` with ``zoom = 10 / (dist - u_x)``.
"""
import numpy as np
import pytest

from posekit.registry import VISUALIZERS
from posekit.structures import InstanceData, PoseDataSample
from posekit.visualization import Pose3dLocalVisualizer
from posekit.visualization.local_visualizer_3d import axis_box, project_to_panel

RED, BLUE, GREEN = (255, 0, 0), (0, 0, 255), (0, 255, 0)
H, W = 240, 320  # S = 320


def _vis(**kwargs):
    vis = Pose3dLocalVisualizer(kpt_color=[BLUE, BLUE], link_color=[RED],
                                skeleton=[(0, 1)], line_width=3, radius=3, alpha=1.0,
                                **kwargs)
    return vis


def _sample(kpts, scores=None, gt=None):
    s = PoseDataSample()
    s.pred_instances = InstanceData(keypoints=np.asarray(kpts, np.float64)[None],
                                    keypoint_scores=np.ones((1, len(kpts)))
                                    if scores is None else np.asarray(scores)[None])
    if gt is not None:
        s.gt_instances = InstanceData(lifting_target=np.asarray(gt)[None])
    return s


# a vertical 1 m segment; box: x, y in +-0.85, z in [min(0, 0.5 - 0.85), 1.35]
SEGMENT = [[0.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
VIEW = dict(axis_azimuth=0, axis_elev=0, draw_2d=False, draw_gt=False)


def _is(pixel, rgb):
    return np.all(np.abs(pixel.astype(int) - rgb) < 40)


def test_registered():
    assert VISUALIZERS.get('Pose3dLocalVisualizer') is Pose3dLocalVisualizer


def test_projection_first_principles():
    box = np.array([[-1.0, 1.0], [-1.0, 1.0], [0.0, 2.0]])
    centre = project_to_panel(np.array([0.0, 0.0, 1.0]), box, 100, 0, 0)
    np.testing.assert_allclose(centre, [50, 50])
    # +y face centre: right by 0.55 * 100 * 0.5; zoom 1 (depth 0)
    np.testing.assert_allclose(project_to_panel(np.array([0.0, 1.0, 1.0]), box, 100, 0, 0),
                               [50 + 27.5, 50])
    # top face: z scaled by the box aspect 0.75, upwards on screen
    np.testing.assert_allclose(project_to_panel(np.array([0.0, 0.0, 2.0]), box, 100, 0, 0),
                               [50, 50 - 27.5 * 0.75])
    # nearer the camera (+x, towards the viewer at azimuth 0) looks larger
    near = project_to_panel(np.array([1.0, 1.0, 1.0]), box, 100, 0, 0)
    np.testing.assert_allclose(near, [50 + 27.5 * 10 / 9.5, 50])
    # azimuth 90: the screen's right is -x
    np.testing.assert_allclose(project_to_panel(np.array([1.0, 0.0, 1.0]), box, 100, 90, 0),
                               [50 - 27.5, 50], atol=1e-9)
    np.testing.assert_allclose(axis_box(np.zeros((0, 3)), 2.0), [[-1, 1], [-1, 1], [-1, 1]])
    with pytest.raises(ValueError, match='axis_dist'):
        project_to_panel(np.zeros(3), box, 100, 0, 0, dist=1.0)


def test_layout_sizes():
    image = np.zeros((H, W, 3), np.uint8)
    vis = _vis()
    assert vis.add_datasample('a', image, _sample(SEGMENT), **VIEW).shape == (320, 320, 3)
    both = _sample(SEGMENT, gt=SEGMENT)
    out = vis.add_datasample('a', image, both, draw_2d=False)
    assert out.shape == (320, 640, 3)
    # with the image: padded to the 3D area (320 x 640), centred, in white
    out = vis.add_datasample('a', image, both)
    assert out.shape == (320, 1280, 3)
    assert np.all(out[:40, :640] == 255) and np.all(out[280:, :640] == 255)
    assert np.all(out[40:280, 160:480] == 0)
    # num_instances pads with white panels
    out = vis.add_datasample('a', image, _sample(SEGMENT), num_instances=2, **VIEW)
    assert out.shape == (320, 640, 3) and np.all(out[:, 320:] == 255)


def test_link_and_joints_where_projected():
    out = _vis().add_datasample('a', np.zeros((H, W, 3), np.uint8), _sample(SEGMENT), **VIEW)
    box = axis_box(np.array(SEGMENT), 1.7)
    (x0, y0), (x1, y1) = project_to_panel(np.array(SEGMENT), box, 320, 0, 0)
    assert x0 == pytest.approx(160) and x1 == pytest.approx(160)
    # the link in its colour half-way, the joints at their ends
    assert _is(out[int(round((y0 + y1) / 2)), 160], RED)
    assert _is(out[int(round(y0)), 160], BLUE) and _is(out[int(round(y1)), 160], BLUE)
    # left and right of the link: white (no other drawing but the grey box)
    assert np.all(out[int(round((y0 + y1) / 2)), 140] == 255)


def test_low_scores_hide_links_and_joints():
    image = np.zeros((H, W, 3), np.uint8)
    out = _vis().add_datasample('a', image, _sample(SEGMENT, scores=[0.9, 0.1]), **VIEW)
    reddish = (out[..., 0] > 200) & (out[..., 1] < 60) & (out[..., 2] < 60)
    blueish = (out[..., 2] > 200) & (out[..., 0] < 60)
    assert not reddish.any() and blueish.any()
    # NaN joints are never drawn
    out = _vis().add_datasample('a', image, _sample([[0, 0, 0], [np.nan] * 3]), **VIEW)
    assert not ((out[..., 0] > 200) & (out[..., 1] < 60) & (out[..., 2] < 60)).any()


def test_2d_detection_colours_and_scores():
    vis = _vis(det_kpt_color=[GREEN] * 2, det_dataset_skeleton=[], det_dataset_link_color=[])
    det = PoseDataSample()
    det.pred_instances = InstanceData(keypoints=np.array([[[100.0, 50.0], [200.0, 60.0]]]),
                                      keypoint_scores=np.array([[0.9, 0.2]]))
    out = vis.add_datasample('a', np.zeros((H, W, 3), np.uint8), _sample(SEGMENT),
                             det_data_sample=det, convert_keypoint=False, **dict(
                                 VIEW, draw_2d=True))
    # 2D image shifted down by (320 - 240) / 2 = 40 rows
    assert _is(out[90, 100], GREEN) and np.all(out[100, 200] == 0)
    # the 2D score 0.2 of joint 1 hides it (and the link) in 3D
    panel = out[:, 320:]
    assert not ((panel[..., 0] > 200) & (panel[..., 1] < 60) & (panel[..., 2] < 60)).any()


def test_gt_without_3d_keys_raises(tmp_path):
    s = _sample(SEGMENT)
    s.gt_instances = InstanceData(keypoints=np.zeros((1, 2, 2)))
    with pytest.raises(ValueError, match='lifting_target'):
        _vis().add_datasample('a', np.zeros((H, W, 3), np.uint8), s, draw_2d=False)
    out = _vis().add_datasample('a', np.zeros((H, W, 3), np.uint8), s, draw_gt=False,
                                out_file=str(tmp_path / 'x.png'))
    import cv2
    assert cv2.imread(str(tmp_path / 'x.png')).shape == out.shape


def test_openpose_style_raises():
    with pytest.raises(ValueError, match="skeleton_style must be 'mmpose', got 'openpose'"):
        _vis().add_datasample('a', np.zeros((H, W, 3), np.uint8), _sample(SEGMENT),
                              skeleton_style='openpose')
