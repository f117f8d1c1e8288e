"""DWPose distillers through the inference API, and ``posekit
convert-distill`` (MMPose's tools/misc/pth_transfer.py).

Configs: tests/data/configs/dwpose_tiny_dis*_coco_fixture.py, whose teacher
and student configs are named relative to the repository root (each test
runs from there, as MMPose's dwpose configs run from an MMPose checkout).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from posekit.apis import inference_topdown, init_model
from posekit.cli import main
from posekit.config import Config
from posekit.engine.checkpoint import save_checkpoint
from posekit.registry import MODELS

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / 'tests/data/configs'
STAGE1 = CONFIGS / 'dwpose_tiny_dis_coco_fixture.py'
STAGE2 = CONFIGS / 'dwpose_tiny_dis2_coco_fixture.py'
STUDENT = CONFIGS / 'td_rtmcc_cspnext-tinier_coco_fixture.py'
IMAGE = ROOT / 'tests/data/fixtures/coco/000000197388.jpg'
BOXES = np.array([[100., 50., 300., 380.], [350., 60., 520., 390.]])


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def _distiller_checkpoint(config: Path, path: Path, seed: int = 0) -> dict:
    """A training-style checkpoint of the config's distiller, random weights."""
    torch.manual_seed(seed)
    model = MODELS.build(Config.fromfile(config).model)
    for module in model.modules():  # BN statistics that matter
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    save_checkpoint(dict(meta=dict(epoch=2, experiment_name="dis"),
                         state_dict=state, optimizer=dict(state={}, param_groups=[]),
                         message_hub=dict(runtime_info={})), path)
    return state


def test_init_model_builds_a_distiller_without_fetching_the_teacher():
    cfg = Config.fromfile(STAGE1)
    cfg.model.teacher_pretrained = 'https://download.openmmlab.com/x.pth'
    model = init_model(cfg)
    assert type(model).__name__ == 'DWPoseDistiller'
    assert model.teacher_pretrained is None and not model.training
    assert cfg.model.teacher_pretrained.startswith('https://')  # caller's config kept
    results = inference_topdown(model, str(IMAGE), BOXES)
    assert [r.pred_instances.keypoints.shape for r in results] == [(1, 17, 2)] * 2


def test_convert_stage1_keeps_the_student(tmp_path, capsys):
    state = _distiller_checkpoint(STAGE1, tmp_path / 'dis.pth')
    out = tmp_path / 'out' / 'student.pth'
    assert main(['convert-distill', str(tmp_path / 'dis.pth'), str(out)]) == 0
    assert 'student.pth: 255 weights' in capsys.readouterr().out
    assert os.listdir(out.parent) == ['student.pth']  # no temporary file left
    converted = torch.load(out, weights_only=True)
    assert set(converted) == {'meta', 'state_dict'}  # no optimizer state
    assert converted['meta']['epoch'] == 2
    student = MODELS.build(Config.fromfile(STUDENT).model)
    student.load_state_dict(converted['state_dict'], strict=True)
    for key, value in student.state_dict().items():
        assert torch.equal(value, state['student.' + key]), key
    # the student alone predicts what the distiller predicts
    distiller = init_model(STAGE1, tmp_path / 'dis.pth')
    plain = init_model(STUDENT, out)
    for a, b in zip(inference_topdown(distiller, str(IMAGE), BOXES),
                    inference_topdown(plain, str(IMAGE), BOXES)):
        np.testing.assert_array_equal(a.pred_instances.keypoints, b.pred_instances.keypoints)
        np.testing.assert_array_equal(a.pred_instances.keypoint_scores,
                                      b.pred_instances.keypoint_scores)


def test_convert_stage2_takes_the_teachers_backbone(tmp_path):
    state = _distiller_checkpoint(STAGE2, tmp_path / 'dis2.pth')
    out = tmp_path / 'student2.pth'
    assert main(['convert-distill', str(tmp_path / 'dis2.pth'), str(out), '--two-dis']) == 0
    weights = torch.load(out, weights_only=True)['state_dict']
    student = MODELS.build(Config.fromfile(STUDENT).model)
    student.load_state_dict(weights, strict=True)
    for key in weights:
        source = ('student.' if key.startswith('head.') else 'teacher.') + key
        assert torch.equal(weights[key], state[source]), key
    # the converted model computes what the stage-2 distiller computes
    distiller = init_model(STAGE2, tmp_path / 'dis2.pth')
    plain = init_model(STUDENT, out)
    inputs = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(distiller(inputs, mode='tensor'), plain(inputs, mode='tensor')):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-5)


def test_convert_refuses_a_plain_checkpoint(tmp_path, capsys):
    torch.save({'state_dict': MODELS.build(Config.fromfile(STUDENT).model).state_dict()},
               tmp_path / 'plain.pth')
    assert main(['convert-distill', str(tmp_path / 'plain.pth'), str(tmp_path / 'o.pth')]) == 1
    err = capsys.readouterr().err
    assert 'not a DWPoseDistiller checkpoint' in err and 'backbone, head' in err
    assert not (tmp_path / 'o.pth').exists()
