"""``posekit browse-dataset``: pictures of original and transformed samples."""
from pathlib import Path

import cv2
import numpy as np
import pytest

from posekit.cli import main
from posekit.commands.browse_dataset import draw_pose

ROOT = Path(__file__).resolve().parents[2]
CONFIG = str(ROOT / 'tests' / 'data' / 'configs' /
             'td_hm_res50_coco_fixture.py')


@pytest.fixture(autouse=True)
def _in_repo_root(monkeypatch):
    monkeypatch.chdir(ROOT)          # the config's data_root is relative


def test_original_mode_writes_full_images(tmp_path, capsys):
    out = tmp_path / 'original'
    assert main(['browse-dataset', CONFIG, '--output-dir', str(out),
                 '--mode', 'original', '--max-samples', '3']) == 0
    files = sorted(p.name for p in out.iterdir())
    assert files == ['00000_000000000785.jpg', '00001_000000040083.jpg',
                     '00002_000000040083.jpg']
    assert cv2.imread(str(out / files[0])).shape == (425, 640, 3)
    assert 'wrote 3 original train samples' in capsys.readouterr().out


def test_transformed_mode_and_overrides(tmp_path):
    np.random.seed(0)
    out = tmp_path / 'val'
    assert main(['browse-dataset', CONFIG, '--output-dir', str(out),
                 '--phase', 'val', '--max-samples', '2', '--cfg-options',
                 'val_dataloader.dataset.pipeline.2.input_size=(96,128)']) == 0
    files = sorted(out.iterdir())
    assert len(files) == 2
    assert cv2.imread(str(files[0])).shape == (128, 96, 3)
    out = tmp_path / 'train'
    assert main(['browse-dataset', CONFIG, '--output-dir', str(out),
                 '--max-samples', '1']) == 0
    assert cv2.imread(str(next(out.iterdir()))).shape == (256, 192, 3)


def test_bad_phase_config(tmp_path, capsys):
    config = tmp_path / 'no_loader.py'
    config.write_text('model = dict()\n')
    assert main(['browse-dataset', str(config), '--output-dir',
                 str(tmp_path / 'o')]) == 1
    assert 'train_dataloader' in capsys.readouterr().err


def test_draw_pose_colors():
    meta = dict(keypoint_colors=np.array([[255, 128, 0], [0, 255, 0]]),
                skeleton_links=[(0, 1)],
                skeleton_link_colors=np.array([[51, 153, 255]]))
    img = np.zeros((100, 100, 3), np.uint8)
    keypoints = np.array([[[20., 50.], [80., 50.]]])
    picture = draw_pose(img, keypoints, np.ones((1, 2)), meta,
                        bboxes=np.array([[5., 5., 95., 95.]]))
    assert img.max() == 0                                # input untouched
    # meta triplets are shown as MMPose shows them (RGB) -> stored BGR
    assert picture[50, 20].tolist() == [0, 128, 255]
    assert picture[50, 80].tolist() == [0, 255, 0]
    b, g, r = picture[50, 50].tolist()                  # the (antialiased)
    assert b > g > r > 0                                 # link, (51, 153, 255)
    assert picture[5, 50].tolist() == [0, 255, 0]        # the box
    hidden = draw_pose(img, keypoints, np.array([[1., 0.]]), meta)
    assert hidden[50, 80].tolist() == [0, 0, 0]          # invisible: no dot
    assert hidden[50, 50].tolist() == [0, 0, 0]          # ... and no link
