"""The COCO top-down train and val pipelines of a config file, end to end.

The config (tests/data/configs/td_hm_res50_coco_fixture.py) is in MMPose's
format; its dataset is the 4-image COCO fixture (12 people).
"""
from pathlib import Path

import numpy as np
import pytest
import torch

from posekit.config import Config
from posekit.datasets.transforms import Compose
from posekit.registry import DATASETS
from posekit.structures import PixelData, PoseDataSample

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / 'tests' / 'data' / 'configs' / 'td_hm_res50_coco_fixture.py'


@pytest.fixture
def cfg(monkeypatch):
    monkeypatch.chdir(ROOT)          # data_root is relative, as in MMPose
    return Config.fromfile(str(CONFIG))


def test_train_pipeline_shapes_and_targets(cfg):
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    assert len(dataset) == 12
    *augment, pack = dataset.pipeline.transforms
    augment = Compose(augment)
    for seed in range(3):
        np.random.seed(seed)
        for idx in range(len(dataset)):
            results = augment(dataset.get_data_info(idx))
            _check_heatmap_peaks(results)
            packed = pack(results)
            _check_packed(packed, train=True)


def _check_heatmap_peaks(results):
    """Each visible keypoint's peak is its input position / 4, +-1 px."""
    heatmaps = results['heatmaps']
    assert heatmaps.shape == (17, 64, 48) and heatmaps.dtype == np.float32
    keypoints = results['transformed_keypoints'][0] / 4.
    weights = results['keypoint_weights'][0]
    assert weights.shape == (17, )
    checked = 0
    for k in np.flatnonzero(weights > 0):
        x, y = keypoints[k]
        if not (0 <= x < 48 and 0 <= y < 64):
            continue        # the peak of a Gaussian centred off the map
        peak_y, peak_x = np.unravel_index(heatmaps[k].argmax(), (64, 48))
        assert abs(peak_x - x) <= 1 and abs(peak_y - y) <= 1, (k, x, y)
        checked += 1
    # invisible keypoints get no target
    visible = results['keypoints_visible'][0]
    assert np.all(weights[visible <= 0] == 0)
    assert checked > 0 or weights.sum() == 0


def _check_packed(packed, train):
    inputs = packed['inputs']
    assert tuple(inputs.shape) == (3, 256, 192)
    assert inputs.dtype == torch.uint8 and inputs.is_contiguous()
    sample = packed['data_samples']
    assert isinstance(sample, PoseDataSample)
    assert sample.gt_instances.bboxes.shape == (1, 4)
    assert sample.gt_instances.keypoints.shape == (1, 17, 2)
    assert sample.input_size == (192, 256)
    assert sample.input_scale[0] / sample.input_scale[1] == \
        pytest.approx(192 / 256)
    if train:
        assert isinstance(sample.gt_fields, PixelData)
        heatmaps = sample.gt_fields.heatmaps
        assert tuple(heatmaps.shape) == (17, 64, 48)
        assert heatmaps.dtype == torch.float32
        weights = sample.gt_instance_labels.keypoint_weights
        assert tuple(weights.shape) == (1, 17) and weights.dtype == torch.float32
        assert sample.flip in (True, False)
    else:
        assert 'gt_fields' not in sample


def test_train_dataset_indexing(cfg):
    np.random.seed(0)
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    flips = set()
    for idx in range(len(dataset)):
        packed = dataset[idx]
        _check_packed(packed, train=True)
        flips.add(packed['data_samples'].flip)
    assert flips == {True, False}     # RandomFlip(prob=0.5) over 12 draws


def test_val_pipeline(cfg):
    dataset = DATASETS.build(cfg.val_dataloader.dataset)
    for idx in range(len(dataset)):
        info = dataset.get_data_info(idx)
        packed = dataset[idx]
        _check_packed(packed, train=False)
        sample = packed['data_samples']
        # no augmentation: the crop is centred on the annotated box
        x1, y1, x2, y2 = info['bbox'][0]
        np.testing.assert_allclose(sample.input_center,
                                   [(x1 + x2) / 2, (y1 + y2) / 2], rtol=1e-6)
        assert sample.img_path.endswith('.jpg')
        assert sample.ori_shape == sample.img_shape
