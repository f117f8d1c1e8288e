"""A model whose predictions follow from its boxes alone (shared by the api tests).

The small synthetic-data config with seeded random weights, except that its
last layer makes every heatmap constant: the decoded peak is then the
heatmap's first pixel, i.e. the top-left corner of the crop (see
:func:`crop_corner`), and each keypoint's score is its channel's constant
(``SCORES``; with the flip test, ``FLIP_SCORES``).
"""
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from posekit.config import Config
from posekit.datasets import parse_pose_metainfo
from posekit.registry import MODELS

ROOT = Path(__file__).resolve().parents[2]
CONFIG = (ROOT / 'configs/body_2d_keypoint/topdown_heatmap/synthetic/'
          'td-hm_res18-tiny_1xb32-30e_synthetic-128x96.py')
SCORES = np.linspace(0.1, 0.9, 17).astype(np.float32)
# the flip test averages each map with its left/right partner's
FLIP = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]


def crop_corner(box, aspect=96 / 128, padding=1.25):
    """Top-left corner of the crop TopdownAffine takes for the xyxy ``box``."""
    box = np.asarray(box, dtype=np.float64)
    center = (box[:2] + box[2:]) / 2
    w, h = (box[2:] - box[:2]) * padding
    w, h = (h * aspect, h) if w < h * aspect else (w, w / aspect)
    return center - np.array([w, h]) / 2


@pytest.fixture(scope='module')
def weights():
    """A state_dict with seeded random weights and a constant last layer."""
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(str(CONFIG)).model)
    state = model.state_dict()
    state['head.final_layer.weight'].zero_()
    state['head.final_layer.bias'].copy_(torch.from_numpy(SCORES))
    return state


@pytest.fixture
def checkpoint(weights, tmp_path):
    meta = parse_pose_metainfo(
        dict(from_file='configs/_base_/datasets/coco.py'))
    meta['dataset_name'] = 'coco_from_checkpoint'
    path = tmp_path / 'model.pth'
    # MMEngine's layout: weights under 'state_dict', dataset meta under meta
    torch.save(dict(meta=dict(dataset_meta=meta), state_dict=weights), path)
    return path


@pytest.fixture
def constant_model(checkpoint):
    """Paths and expected values of the constant-heatmap model."""
    return SimpleNamespace(config=str(CONFIG), checkpoint=str(checkpoint),
                           scores=SCORES, flip_scores=(SCORES + SCORES[FLIP]) / 2,
                           crop_corner=crop_corner)


@pytest.fixture(scope='module')
def random_model(tmp_path_factory):
    """The same config with seeded random weights, the last layer included:
    keypoints depend on the pixels, so equal predictions mean equal inputs."""
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(str(CONFIG)).model)
    path = tmp_path_factory.mktemp('random_model') / 'model.pth'
    torch.save(dict(state_dict=model.state_dict()), path)
    return SimpleNamespace(config=str(CONFIG), checkpoint=str(path))
