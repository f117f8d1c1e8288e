"""The synthetic COCO keypoint dataset: determinism, validity, visibility, CLI."""
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest

from posekit.datasets.synthetic import (BOX_PAD, COCO_KEYPOINT_NAMES, make_synthetic_coco,
                                        render_image)

ROOT = Path(__file__).parents[2]
# COCO person_keypoints_*.json, verbatim.
COCO_SKELETON = [[16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13],
                 [6, 7], [6, 8], [7, 9], [8, 10], [9, 11], [2, 3], [1, 2], [1, 3],
                 [2, 4], [3, 5], [4, 6], [5, 7]]
COCO_NAMES = ['nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear', 'left_shoulder',
              'right_shoulder', 'left_elbow', 'right_elbow', 'left_wrist', 'right_wrist',
              'left_hip', 'right_hip', 'left_knee', 'right_knee', 'left_ankle', 'right_ankle']


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp('synthetic')
    res = make_synthetic_coco(out, num_images=40, seed=0, val_fraction=0.25,
                              image_size=(256, 192))
    splits = {s: json.loads(Path(res[s]['ann_file']).read_text()) for s in ('train', 'val')}
    return out, res, splits


def _files(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob('*')) if p.is_file()}


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    kw = dict(num_images=6, val_fraction=0.5, image_size=(128, 96))
    make_synthetic_coco(tmp_path / 'a', seed=3, **kw)
    make_synthetic_coco(tmp_path / 'b', seed=3, **kw)
    make_synthetic_coco(tmp_path / 'c', seed=4, **kw)
    a, b, c = (_files(tmp_path / n) for n in 'abc')
    assert sorted(a) == ['annotations/train.json', 'annotations/val.json'] + [
        f'images/train/{i:06d}.jpg' for i in (1, 2, 3)] + [
        f'images/val/{i:06d}.jpg' for i in (4, 5, 6)]
    assert a == b
    assert sorted(c) == sorted(a)
    assert all(a[k] != c[k] for k in a)


def test_render_image_is_a_pure_function_of_the_generator():
    im1, ann1 = render_image(np.random.default_rng(7), (160, 120))
    im2, ann2 = render_image(np.random.default_rng(7), (160, 120))
    assert im1.shape == (120, 160, 3) and im1.dtype == np.uint8
    np.testing.assert_array_equal(im1, im2)
    assert len(ann1) == len(ann2) >= 1
    for a, b in zip(ann1, ann2):
        assert a['keypoints'].shape == (17, 3) and a['keypoints'].dtype == np.float32
        np.testing.assert_array_equal(a['keypoints'], b['keypoints'])
        np.testing.assert_array_equal(a['bbox'], b['bbox'])


def test_first_images_do_not_depend_on_the_count(tmp_path):
    make_synthetic_coco(tmp_path / 'few', num_images=3, seed=5, val_fraction=0.0)
    make_synthetic_coco(tmp_path / 'more', num_images=5, seed=5, val_fraction=0.0)
    for i in (1, 2, 3):
        name = f'images/train/{i:06d}.jpg'
        assert (tmp_path / 'few' / name).read_bytes() == (tmp_path / 'more' / name).read_bytes()


def test_split_sizes_and_returned_paths(dataset):
    out, res, splits = dataset
    assert res['image_size'] == (256, 192)
    assert (res['train']['num_images'], res['val']['num_images']) == (30, 10)
    for s in ('train', 'val'):
        assert Path(res[s]['img_dir']) == out / 'images' / s
        assert res[s]['num_annotations'] == len(splits[s]['annotations'])
    ids = [im['id'] for s in splits.values() for im in s['images']]
    assert ids == list(range(1, 41))
    ann_ids = [a['id'] for s in splits.values() for a in s['annotations']]
    assert len(set(ann_ids)) == len(ann_ids)


def test_category_is_coco_person(dataset):
    _, _, splits = dataset
    for data in splits.values():
        assert data['categories'] == [dict(
            id=1, name='person', supercategory='person', keypoints=COCO_NAMES,
            skeleton=COCO_SKELETON)]
    assert list(COCO_KEYPOINT_NAMES) == COCO_NAMES


def test_images_exist_with_stated_size(dataset):
    out, _, splits = dataset
    for split, data in splits.items():
        names = [im['file_name'] for im in data['images']]
        assert len(set(names)) == len(names)
        for im in data['images']:
            img = cv2.imread(str(out / 'images' / split / im['file_name']))
            assert img is not None
            assert (im['width'], im['height']) == (256, 192)
            assert img.shape == (192, 256, 3)
            assert img.std() > 10           # not a blank canvas


def test_annotations_are_valid_coco(dataset):
    _, _, splits = dataset
    for data in splits.values():
        images = {im['id']: im for im in data['images']}
        for a in data['annotations']:
            im = images[a['image_id']]
            w, h = im['width'], im['height']
            assert a['category_id'] == 1 and a['iscrowd'] == 0
            kps = np.array(a['keypoints'], np.float64).reshape(17, 3)
            v = kps[:, 2]
            assert set(v) <= {0, 1, 2}
            assert a['num_keypoints'] == int((v > 0).sum()) >= 1
            np.testing.assert_array_equal(kps[v == 0], 0)
            x, y, bw, bh = a['bbox']
            assert 0 <= x and 0 <= y and x + bw <= w - 1 + 1e-6 and y + bh <= h - 1 + 1e-6
            assert bw > 2 * BOX_PAD and bh > 2 * BOX_PAD
            assert a['area'] == pytest.approx(bw * bh, abs=0.05)
            assert a['segmentation'] == [[x, y, x + bw, y, x + bw, y + bh, x, y + bh]]
            lab = kps[v > 0, :2]
            assert (lab >= 0).all() and (lab[:, 0] <= w - 1).all() and (lab[:, 1] <= h - 1).all()
            # Keypoints lie on drawn pixels, the box is drawn pixels + BOX_PAD.
            assert (lab[:, 0] >= x).all() and (lab[:, 0] <= x + bw).all()
            assert (lab[:, 1] >= y).all() and (lab[:, 1] <= y + bh).all()


def test_visibility_semantics_and_crowding(dataset):
    _, _, splits = dataset
    anns = [a for s in splits.values() for a in s['annotations']]
    v = np.array([a['keypoints'] for a in anns]).reshape(-1, 17, 3)[..., 2]
    counts = Counter(v.ravel().tolist())
    assert counts[2] > 5 * counts[1]                    # mostly visible
    assert counts[1] >= 20 and counts[0] >= 10          # occlusion and truncation both occur
    per_image = Counter(a['image_id'] for a in anns)
    assert len(per_image) == 40                         # every image has a figure
    assert sum(n >= 2 for n in per_image.values()) >= 15
    assert max(per_image.values()) >= 3


def test_left_is_on_the_figure_left():
    """Figures face the viewer: the person's left shoulder is on the image right
    when the figure is upright (head above hips), which flip augmentation keeps."""
    agree, total = 0, 0
    for i in range(30):
        _, anns = render_image(np.random.default_rng([11, i]), (256, 256))
        for a in anns:
            k = a['keypoints']
            if (k[[5, 6, 11, 12], 2] == 0).any():
                continue
            up = (k[5, :2] + k[6, :2]) / 2 - (k[11, :2] + k[12, :2]) / 2
            if up[1] > -0.8 * np.linalg.norm(up):   # only clearly upright figures
                continue
            total += 1
            agree += k[5, 0] > k[6, 0]
    assert total >= 20 and agree == total


def test_visible_keypoints_are_on_the_figure_not_the_background():
    """A v=2 keypoint sits on a mark that stands out from its surroundings
    (compared with a 31x31 box blur around it)."""
    diffs = []
    for i in range(10):
        img, anns = render_image(np.random.default_rng([21, i]), (256, 256))
        blurred = cv2.blur(img, (31, 31)).astype(np.float64)
        for a in anns:
            for x, y, v in a['keypoints']:
                if v == 2:
                    xi, yi = int(round(x)), int(round(y))
                    diffs.append(np.abs(img[yi, xi] - blurred[yi, xi]).max())
    # The figures' colours are chosen away from the background.
    assert np.median(diffs) > 25


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match='val_fraction'):
        make_synthetic_coco('/nonexistent/never', num_images=2, val_fraction=1.5)
    with pytest.raises(ValueError, match='num_images'):
        make_synthetic_coco('/nonexistent/never', num_images=0)


def test_cli_writes_the_dataset(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = tmp_path / 'syn'
    proc = subprocess.run([sys.executable, '-m', 'posekit', 'make-synthetic', str(out),
                           '--num-images', '6', '--seed', '1'],
                          capture_output=True, text=True, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert 'train: 5 images' in proc.stdout and 'val: 1 images' in proc.stdout
    train = json.loads((out / 'annotations' / 'train.json').read_text())
    val = json.loads((out / 'annotations' / 'val.json').read_text())
    assert [im['id'] for im in train['images'] + val['images']] == [1, 2, 3, 4, 5, 6]
    assert all((out / 'images' / 'train' / im['file_name']).is_file() for im in train['images'])
    assert (out / 'images' / 'val' / '000006.jpg').is_file()
    # Same as the Python API with the same arguments.
    make_synthetic_coco(tmp_path / 'api', num_images=6, seed=1)
    assert (tmp_path / 'api' / 'annotations' / 'train.json').read_bytes() == \
        (out / 'annotations' / 'train.json').read_bytes()
    bad = subprocess.run([sys.executable, '-m', 'posekit', 'make-synthetic', str(out),
                          '--num-images', '0'], capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and 'num_images' in bad.stderr and 'Traceback' not in bad.stderr
