"""PoseLocalVisualizer on a COCO fixture image: colours, layout, backends."""
import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from posekit.datasets.metainfo import parse_pose_metainfo
from posekit.registry import VISUALIZERS
from posekit.structures import InstanceData, PixelData, PoseDataSample
from posekit.visualization import PoseLocalVisualizer

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / 'tests' / 'data' / 'fixtures' / 'coco'


@pytest.fixture(scope='module')
def meta():
    return parse_pose_metainfo(dict(from_file=str(ROOT / 'configs' / '_base_' /
                                                  'datasets' / 'coco.py')))


@pytest.fixture(scope='module')
def person():
    """(RGB image, (1, 17, 2) keypoints, (1, 17) visibility, (1, 4) xyxy box)."""
    ann = json.loads((FIXTURE / 'test_coco.json').read_text())
    a = next(a for a in ann['annotations'] if a['image_id'] == 785)
    kpts = np.array(a['keypoints'], np.float32).reshape(1, 17, 3)
    x, y, w, h = a['bbox']
    image = cv2.imread(str(FIXTURE / '000000000785.jpg'))[..., ::-1].copy()
    return image, kpts[..., :2], (kpts[..., 2] > 0).astype(np.float32), \
        np.array([[x, y, x + w, y + h]], np.float32)


def sample_with(person, scores):
    _, kpts, visible, box = person
    s = PoseDataSample(metainfo=dict(img_path=str(FIXTURE / '000000000785.jpg')))
    s.gt_instances = InstanceData(keypoints=kpts, keypoints_visible=visible, bboxes=box)
    s.pred_instances = InstanceData(keypoints=kpts, keypoint_scores=scores, bboxes=box)
    return s


def link_midpoint(kpts, a, b):
    pa, pb = np.round(kpts[0, a]), np.round(kpts[0, b])
    return tuple(int(v) for v in np.round((pa + pb) / 2))


def test_prediction_picture_has_the_meta_colours(person, meta, tmp_path):
    image, kpts, _, box = person
    scores = np.ones((1, 17), np.float32)
    scores[0, 16] = 0.2                                  # right ankle: hidden
    vis = PoseLocalVisualizer(radius=4, line_width=3)
    vis.set_dataset_meta(meta)
    out_file = tmp_path / 'out' / 'pred.png'
    drawn = vis.add_datasample('pred', image, sample_with(person, scores), draw_gt=False,
                               draw_bbox=True, kpt_thr=0.3, out_file=str(out_file))
    assert drawn.shape == image.shape and drawn.dtype == np.uint8
    assert np.array_equal(vis.get_image(), drawn)
    on_disk = cv2.imread(str(out_file))[..., ::-1]       # a BGR file with right colours
    assert np.array_equal(on_disk, drawn)
    for picture in (drawn, on_disk):
        for k in (0, 5, 6, 9, 10, 13, 14):               # nose, shoulders, wrists, knees
            x, y = np.round(kpts[0, k]).astype(int)
            assert picture[y, x].tolist() == meta['keypoint_colors'][k].tolist(), k
    # left side green, right side orange, as in MMPose's pictures
    assert meta['keypoint_colors'][5].tolist() == [0, 255, 0]
    assert meta['keypoint_colors'][6].tolist() == [255, 128, 0]
    # the hidden ankle and its link to the knee are not drawn
    x, y = np.round(kpts[0, 16]).astype(int)
    assert drawn[y, x].tolist() == image[y, x].tolist()
    mx, my = link_midpoint(kpts, 14, 16)
    assert drawn[my, mx].tolist() == image[my, mx].tolist()
    # a visible link: left knee - left ankle
    link = [tuple(pair) for pair in meta['skeleton_links']].index((15, 13))
    mx, my = link_midpoint(kpts, 15, 13)
    assert drawn[my, mx].tolist() == meta['skeleton_link_colors'][link].tolist()
    # the box edge is green (bbox_color default)
    x1, y1, x2, y2 = np.round(box[0]).astype(int)
    assert drawn[y1, (x1 + x2) // 2].tolist() == [0, 255, 0]
    assert drawn[(y1 + y2) // 2, x2].tolist() == [0, 255, 0]


def test_ground_truth_and_prediction_side_by_side(person, meta):
    image, kpts, _, _ = person
    vis = PoseLocalVisualizer(radius=4)
    vis.set_dataset_meta(meta)
    scores = np.zeros((1, 17), np.float32)              # no prediction drawn
    drawn = vis.add_datasample('both', image, sample_with(person, scores))
    h, w = image.shape[:2]
    assert drawn.shape == (h, 2 * w, 3)
    assert np.array_equal(drawn[:, w:], image)           # right: prediction, all hidden
    x, y = np.round(kpts[0, 0]).astype(int)
    assert drawn[y, x].tolist() == meta['keypoint_colors'][0].tolist()   # left: GT
    # no ground truth in the sample: the prediction alone
    s = PoseDataSample()
    s.pred_instances = InstanceData(keypoints=kpts, keypoint_scores=np.ones((1, 17)))
    assert vis.add_datasample('pred', image, s).shape == image.shape


def test_heatmap_is_stacked_below(person, meta):
    image, kpts, _, _ = person
    h, w = image.shape[:2]
    s = sample_with(person, np.ones((1, 17), np.float32))
    heat = np.zeros((17, h, w), np.float32)
    heat[0, 70:90, 360:380] = 1.0
    s.pred_fields = PixelData(heatmaps=heat)
    vis = PoseLocalVisualizer()
    vis.set_dataset_meta(meta)
    drawn = vis.add_datasample('hm', image, s, draw_gt=False, draw_heatmap=True)
    assert drawn.shape == (2 * h, w, 3)
    below = drawn[h:]
    assert np.array_equal(below[:60], image[:60])        # zero heat: image unchanged
    assert np.abs(below[80, 370].astype(int) - image[80, 370]).sum() > 100
    # with the ground truth (no heatmap), the plain image fills its lower half
    both = vis.add_datasample('hm', image, s, draw_heatmap=True)
    assert both.shape == (2 * h, 2 * w, 3)
    assert np.array_equal(both[h:, :w], image)


def test_without_meta_keypoints_are_red_and_links_follow_the_arguments():
    image = np.zeros((60, 60, 3), np.uint8)
    s = PoseDataSample()
    s.pred_instances = InstanceData(keypoints=np.array([[[10., 30.], [50., 30.]]]),
                                    keypoint_scores=np.ones((1, 2)))
    drawn = PoseLocalVisualizer().add_datasample('x', image, s)
    assert drawn[30, 10].tolist() == [255, 0, 0] and drawn[30, 30].tolist() == [0, 0, 0]
    vis = PoseLocalVisualizer(skeleton=[(0, 1)], link_color='yellow', kpt_color='blue',
                              line_width=3)
    drawn = vis.add_datasample('x', image, s)
    assert drawn[30, 30].tolist() == [255, 255, 0] and drawn[30, 50].tolist() == [0, 0, 255]


def test_backends_record_the_picture_and_scalars(tmp_path):
    vis = VISUALIZERS.build(dict(type='PoseLocalVisualizer', save_dir=str(tmp_path),
                                 vis_backends=[dict(type='LocalVisBackend')]))
    assert not (tmp_path / 'vis_data').exists()          # nothing until a write
    image = np.zeros((20, 30, 3), np.uint8)
    image[5, 7] = (250, 10, 20)
    vis.add_datasample('val_img', image, PoseDataSample(), step=12)
    written = cv2.imread(str(tmp_path / 'vis_data' / 'vis_image' / 'val_img_12.png'))
    assert written[5, 7].tolist() == [20, 10, 250]       # BGR file of the RGB picture
    vis.add_scalars(dict(loss=0.5), step=3)
    assert json.loads((tmp_path / 'vis_data' / 'scalars.json').read_text()) == \
        dict(loss=0.5, step=3)
    # without save_dir (drawing only) the LocalVisBackend is not kept
    assert PoseLocalVisualizer(vis_backends=[dict(type='LocalVisBackend')]).vis_backends == {}


@pytest.mark.parametrize('kwargs,error,match', [
    (dict(backend='matplotlib'), ValueError, 'OpenCV only'),
    (dict(fig_save_cfg={}), TypeError, 'fig_save_cfg'),
    (dict(vis_backends=[dict(type='LocalVisBackend', save_dir='a'),
                        dict(type='LocalVisBackend', save_dir='b')]), ValueError, 'two backends'),
])
def test_bad_arguments_raise(kwargs, error, match):
    with pytest.raises(error, match=match):
        VISUALIZERS.build(dict(type='PoseLocalVisualizer', **kwargs))


def test_to_openpose_orders_coco_keypoints_and_adds_a_neck():
    from posekit.visualization.draw import to_openpose
    kpts = np.arange(17 * 2, dtype=np.float32).reshape(1, 17, 2)   # keypoint i at (2i, 2i + 1)
    scores = np.full((1, 17), 0.9, np.float32)
    scores[0, 6] = 0.2   # right shoulder below kpt_thr: no neck
    out, vis = to_openpose(kpts, scores, kpt_thr=0.3)
    assert out.shape == (1, 18, 2) and vis.shape == (1, 18)
    # OpenPose's order: nose, neck, right arm, left arm, right leg, left leg,
    # right eye, left eye, right ear, left ear (COCO ids; 17 = the neck)
    order = [0, 17, 6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15, 2, 1, 4, 3]
    neck = (kpts[0, 5] + kpts[0, 6]) / 2
    expected = np.concatenate([kpts[0], neck[None]])[order]
    np.testing.assert_array_equal(out[0], expected)
    assert vis[0, 1] == 0 and vis[0, 2] == pytest.approx(0.2)
    _, vis = to_openpose(kpts, np.ones((1, 17)), kpt_thr=0.3)
    assert vis[0, 1] == 1
    with pytest.raises(ValueError, match='COCO'):
        to_openpose(np.zeros((1, 16, 2)), None)


def test_openpose_style_draws_limbs_as_ellipses(meta):
    vis = PoseLocalVisualizer(radius=3, line_width=4)
    vis.set_dataset_meta(meta, skeleton_style='openpose')
    assert vis.dataset_meta['dataset_name'] == 'coco_openpose'
    assert len(vis.kpt_color) == 18 and len(vis.skeleton) == 17
    # a T-pose on black: shoulders at x 80 / 120, y 50; hips at y 120
    kpts = np.zeros((1, 17, 2), np.float32)
    kpts[0, :5] = [100, 30]
    kpts[0, 5:11] = [[120, 50], [80, 50], [150, 50], [50, 50], [180, 50], [20, 50]]
    kpts[0, 11:] = [[112, 120], [88, 120], [112, 160], [88, 160], [112, 190], [88, 190]]
    s = PoseDataSample()
    s.pred_instances = InstanceData(keypoints=kpts, keypoint_scores=np.ones((1, 17)))
    out = vis.add_datasample('x', np.zeros((200, 200, 3), np.uint8), s, draw_gt=False,
                             skeleton_style='openpose')
    # the neck (100, 50), OpenPose's keypoint 1, in its colour
    np.testing.assert_array_equal(out[50, 100], vis.kpt_color[1])
    # mid-way along link 0 (neck to right shoulder, x 80..100): the link's
    # colour at opacity 0.6 over black, 4 px across either side
    for y in (47, 50, 53):
        np.testing.assert_allclose(out[y, 90], 0.6 * vis.link_color[0], atol=1)
    assert not out[44, 90].any() and not out[56, 90].any()
    # the same pose in MMPose's style: no neck, a shoulder-to-shoulder line
    plain = PoseLocalVisualizer(radius=3, line_width=4)
    plain.set_dataset_meta(meta)
    drawn = plain.add_datasample('x', np.zeros((200, 200, 3), np.uint8), s, draw_gt=False)
    assert (drawn[50, 100] != vis.kpt_color[1]).any() and drawn[50, 100].any()


def test_openpose_style_of_coco_wholebody_leaves_out_the_feet():
    """COCO-WholeBody: OpenPose's meta of 134 keypoints, whose feet are
    black (not drawn); face and hand points at half the radius."""
    wholebody = parse_pose_metainfo(dict(from_file=str(
        ROOT / 'configs/_base_/datasets/coco_wholebody.py')))
    vis = PoseLocalVisualizer(radius=4)
    vis.set_dataset_meta(wholebody, skeleton_style='openpose')
    assert len(vis.kpt_color) == 134
    kpts = np.full((1, 133, 2), 10.0)   # all but one out of the way, top left
    kpts[0, 17] = [100, 100]   # COCO-WholeBody's first foot keypoint (left big toe)
    kpts[0, 40] = [150, 150]   # a face keypoint
    s = PoseDataSample()
    s.pred_instances = InstanceData(keypoints=kpts, keypoint_scores=np.ones((1, 133)))
    out = vis.add_datasample('x', np.zeros((200, 200, 3), np.uint8), s, draw_gt=False,
                             skeleton_style='openpose')
    assert not out[95:106, 95:106].any()
    drawn = np.argwhere(out[140:161, 140:161].any(-1))
    # radius 2 (+1 pixel of anti-aliasing), not 4
    assert drawn.min() >= 10 - 3 and drawn.max() <= 10 + 3


def test_openpose_style_needs_coco_keypoints(meta):
    vis = PoseLocalVisualizer()
    mpii = parse_pose_metainfo(dict(from_file=str(ROOT / 'configs/_base_/datasets/mpii.py')))
    with pytest.raises(ValueError, match="COCO-WholeBody's 133, not the 16 of dataset 'mpii'"):
        vis.set_dataset_meta(mpii, skeleton_style='openpose')
    with pytest.raises(ValueError, match="'mmpose' or 'openpose', got 'mmcv'"):
        vis.set_dataset_meta(meta, skeleton_style='mmcv')


def test_meta_of_another_size_is_a_clear_error(meta):
    vis = PoseLocalVisualizer()
    vis.set_dataset_meta(meta)
    s = PoseDataSample()
    s.pred_instances = InstanceData(keypoints=np.zeros((1, 5, 2)), keypoint_scores=np.ones((1, 5)))
    with pytest.raises(ValueError, match='17 colours for 5 items'):
        vis.add_datasample('x', np.zeros((8, 8, 3), np.uint8), s)


@pytest.mark.skipif(not re.search(r'GUI:\s+NONE', cv2.getBuildInformation()),
                    reason='this OpenCV can open windows')
def test_show_without_window_support_is_a_clear_error():
    visualizer = PoseLocalVisualizer()
    with pytest.raises(OSError, match='no window support'):
        visualizer.show(np.zeros((4, 4, 3), np.uint8))


def test_simcc_outputs_get_the_profile_picture(meta):
    """SimCC heatmaps (the samples carry keypoint_x_labels): MMPose's layout,
    the 2D map at 10% of the size in, each keypoint's x profile as a band
    below (from 1.1 H + 20, 20 px apart) and y profile beside; the whole
    shrunk back to the image's size."""
    from posekit.visualization.draw import simcc_picture
    h, w = 120, 100
    yy, xx = np.mgrid[:h, :w]
    peaks = [(30, 40), (70, 20), (50, 100)]
    maps = np.stack([np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / 8.0)
                     for x, y in peaks]).astype(np.float32)
    image = np.full((h, w, 3), 128, np.uint8)
    picture = simcc_picture(image, maps)
    assert picture.shape == (h, w, 3)
    # the composite before shrinking: 10 + 130 + 3 * 20 + 1 wide, 12 + 152 + 60 + 1 high
    sx, sy = w / 201, h / 225
    for k, (x, y) in enumerate(peaks):
        band = picture[int((152 + 20 * k + 7) * sy)]        # the middle row of band k
        hottest = np.argmax(band[:, 0].astype(int) - band[:, 2])   # red minus blue
        assert abs(hottest - (10 + x) * sx) <= 1.5
        column = picture[:, int((130 + 20 * k + 7) * sx)]
        assert abs(np.argmax(column[:, 0].astype(int) - column[:, 2]) - (12 + y) * sy) <= 1.5
    # the visualizer draws it for a sample with SimCC labels, below the image
    vis = PoseLocalVisualizer()
    vis.set_dataset_meta(meta)
    s = PoseDataSample()
    s.pred_instances = InstanceData(keypoints=np.zeros((1, 17, 2)),
                                    keypoint_scores=np.zeros((1, 17)),
                                    keypoint_x_labels=np.zeros((1, 17, 2 * w)))
    s.pred_fields = PixelData(heatmaps=np.concatenate([maps, np.zeros((14, h, w), np.float32)]))
    out = vis.add_datasample('x', image, s, draw_gt=False, draw_heatmap=True)
    np.testing.assert_array_equal(out[h:], simcc_picture(image, s.pred_fields.heatmaps))
