"""PoseVisualizationHook on pose-lifting samples (no image file).

MMPose 1.3.2's hook cannot draw them (it reads the missing ``img_path``);
posekit draws the 2D input on a white panel beside the predicted and the
ground-truth 3D skeletons (Pose3dLocalVisualizer). The expected pixels are
derived here: the input panel maps a normalised coordinate ``n`` to
``(n + 1) * 400 / 2``; the 3D panels project display-axis joints
``(-x, z, -y)`` (camera y down -> z up, lowest joint on z = 0) with the
visualizer's own :func:`project_to_panel` and MMPose's default view.
"""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch

from posekit.cli import main
from posekit.config import Config
from posekit.engine.hooks import PoseVisualizationHook
from posekit.engine.hooks.visualization_hook import input_canvas
from posekit.visualization import to_display_axes
from posekit.registry import MODELS
from posekit.structures import InstanceData, PoseDataSample
from posekit.visualization import PoseLocalVisualizer
from posekit.visualization.local_visualizer_3d import (Pose3dLocalVisualizer, axis_box,
                                                       project_to_panel)

from .test_lifting_e2e import CONFIG

GREEN, BLUE = (0, 255, 0), (0, 0, 255)   # RGB link colours
META = dict(skeleton_links=[(0, 1), (1, 2)], keypoint_colors=np.array([[255, 0, 0]] * 3),
            skeleton_link_colors=np.array([GREEN, BLUE]))
# camera axes (x right, y down, z forward), metres
PRED = np.array([[[0.0, -1.0, 5.0], [0.0, 0.0, 5.0], [0.3, 0.8, 5.2]]], np.float32)
GT = np.array([[[0.2, -0.9, 5.1], [0.1, 0.1, 5.0], [-0.3, 0.7, 4.9]]], np.float32)
# three frames of normalised 2D input; the middle one is the target
FRAMES = np.array([[[0.9, 0.9]] * 3, [[-0.5, -0.5], [0.0, 0.0], [0.5, 0.5]],
                   [[-0.9, 0.9]] * 3], np.float32)          # (T, K, 2)


def lifting_sample() -> PoseDataSample:
    sample = PoseDataSample(metainfo=dict(target_img_path=np.array(['S9/v/S9_v_000042.jpg'])))
    sample.pred_instances = InstanceData(keypoints=PRED, keypoint_scores=np.ones((1, 3)))
    sample.gt_instances = InstanceData(lifting_target=GT)
    return sample


def fake_runner(tmp_path, visualizer):
    loader = SimpleNamespace(dataset=SimpleNamespace(metainfo=META, causal=False))
    return SimpleNamespace(log_dir=str(tmp_path), visualizer=visualizer,
                           test_dataloader=loader, val_dataloader=loader, iter=0)


def near(picture: np.ndarray, xy, rgb) -> bool:
    """Some pixel within 2 px of ``xy`` has colour ``rgb`` (+- 60 per
    channel: JPEG)."""
    x, y = (int(round(v)) for v in xy)
    patch = picture[y - 2:y + 3, x - 2:x + 3, ::-1].astype(int)   # BGR file -> RGB
    return bool((np.abs(patch - np.array(rgb)).max(-1) <= 60).any())


def test_display_axes_turn_camera_poses_upright_on_the_ground():
    # (x, y, z) -> (-x, z, -y), then the lowest z (-0.8, the feet) is 0
    np.testing.assert_allclose(to_display_axes(PRED)[0],
                               [[0, 5, 1.8], [0, 5, 0.8], [-0.3, 5.2, 0]], atol=1e-6)


def test_input_canvas_reads_both_layouts_and_the_target_frame():
    flat = FRAMES.transpose(1, 2, 0).reshape(6, 3)     # (K * D, T): the TCN's layout
    for inputs in (flat, FRAMES, torch.from_numpy(flat)):
        canvas, det = input_canvas(inputs, 3, causal=False)
        assert canvas.shape == (400, 400, 3) and (canvas == 255).all()
        np.testing.assert_allclose(det.pred_instances.keypoints[0],
                                   [[100, 100], [200, 200], [300, 300]], atol=1e-4)
    _, det = input_canvas(FRAMES, 3, causal=True)       # the last frame
    np.testing.assert_allclose(det.pred_instances.keypoints[0], [[20, 380]] * 3, atol=1e-4)
    assert input_canvas(np.zeros((7, 3)), 3, causal=False)[1] is None


def test_test_picture_has_the_2d_input_and_both_3d_skeletons(tmp_path):
    runner = fake_runner(tmp_path, Pose3dLocalVisualizer(line_width=3, radius=2))
    hook = PoseVisualizationHook(enable=True, out_dir='vis')
    flat = torch.from_numpy(FRAMES.transpose(1, 2, 0).reshape(6, 3))
    hook.after_test_iter(runner, 0, data_batch=dict(inputs=[flat]), outputs=[lifting_sample()])
    hook.after_test_epoch(runner)
    picture = cv2.imread(str(tmp_path / 'vis' / 'S9_v_000042.jpg'))
    # the 400 x 400 input panel padded to the two 3D panels' width, then those
    assert picture.shape == (400, 800 + 2 * 400, 3)
    # 2D: joints at (100, 100), (200, 200), (300, 300), shifted by the pad (200)
    assert near(picture, (350, 150), GREEN) and near(picture, (450, 250), BLUE)
    assert not near(picture, (250, 150), GREEN)    # nothing off the links
    for offset, camera in ((800, PRED[0]), (1200, GT[0])):
        points = np.stack([-camera[:, 0], camera[:, 2], -camera[:, 1]], -1).astype(float)
        points[:, 2] -= points[:, 2].min()
        pixels = project_to_panel(points, axis_box(points, 1.7), 400, 70, 15, 10)
        pixels[:, 0] += offset
        assert near(picture, (pixels[0] + pixels[1]) / 2, GREEN)
        assert near(picture, (pixels[1] + pixels[2]) / 2, BLUE)


def test_lifting_needs_a_3d_visualizer(tmp_path):
    runner = fake_runner(tmp_path, PoseLocalVisualizer())
    hook = PoseVisualizationHook(enable=True, interval=1)
    with pytest.raises(TypeError, match='Pose3dLocalVisualizer'):
        hook.after_val_iter(runner, 0, data_batch=dict(inputs=[FRAMES]),
                            outputs=[lifting_sample()])


def test_cli_test_show_dir_draws_every_lifting_sample(tmp_path):
    """``posekit test --show-dir`` on the Human3.6M fixture (4 samples)."""
    config = tmp_path / 'lift.py'
    config.write_text(CONFIG.replace('1024', '32'))   # a narrow TCN: fast
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(str(config)).model)
    torch.save({'state_dict': model.state_dict()}, tmp_path / 'w.pth')
    assert main(['test', str(config), str(tmp_path / 'w.pth'), '--work-dir',
                 str(tmp_path / 'work'), '--show-dir', 'vis']) == 0
    drawn = sorted(Path(tmp_path / 'work').glob('*/vis/*.jpg'))
    assert [p.name for p in drawn] == [
        'S1_Directions_1.54138969_000001.jpg', 'S5_SittingDown.54138969_002061.jpg',
        'S7_Greeting.55011271_000396.jpg', 'S8_WalkDog_1.55011271_000026.jpg']
    for path in drawn:
        picture = cv2.imread(str(path))
        assert picture.shape == (400, 1600, 3)
        # the h36m skeleton's colours are drawn in each of the three parts
        coloured = np.ptp(picture.astype(int), axis=-1) > 100
        assert coloured[:, :800].sum() > 100 and coloured[:, 800:1200].sum() > 100
        assert coloured[:, 1200:].sum() > 100


def test_validation_records_lifting_pictures(tmp_path):
    """``runner.val()`` with the hook on (interval 1): the first sample of
    each of the 2 batches, recorded by the LocalVisBackend."""
    from posekit.engine import Runner
    config = tmp_path / 'lift.py'
    config.write_text(CONFIG.replace('1024', '32'))
    cfg = Config.fromfile(str(config))
    cfg.work_dir = str(tmp_path / 'work')
    cfg.default_hooks.visualization.update(enable=True, interval=1)
    runner = Runner.from_cfg(cfg)
    runner.val()
    images = Path(cfg.work_dir) / runner.timestamp / 'vis_data' / 'vis_image'
    assert sorted(p.name for p in images.iterdir()) == ['val_img_0.png', 'val_img_1.png']
    assert cv2.imread(str(images / 'val_img_0.png')).shape == (400, 1600, 3)
