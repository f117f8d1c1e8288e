"""DWPose distillation: FeaLoss and KDLoss against hand-computed values, and
DWPoseDistiller built and trained on the COCO fixture (stage 1 and 2).

The tiny configs (tests/data/configs/dwpose_tiny_dis*_coco_fixture.py) name
their teacher and student configs relative to the repository root, as
MMPose's dwpose configs do relative to an MMPose checkout, so each test runs
from there.
"""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from posekit.config import Config
from posekit.engine import Hook, Runner
from posekit.hub import DownloadError
from posekit.models.distillers import DWPoseDistiller
from posekit.models.losses import FeaLoss, KDLoss
from posekit.models.utils import CheckpointError
from posekit.registry import MODELS
from posekit.structures import InstanceData, PoseDataSample

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / 'tests/data/configs'
STAGE1 = CONFIGS / 'dwpose_tiny_dis_coco_fixture.py'
STAGE2 = CONFIGS / 'dwpose_tiny_dis2_coco_fixture.py'
TEACHER = CONFIGS / 'td_rtmcc_cspnext-tiny_coco_fixture.py'
STUDENT = CONFIGS / 'td_rtmcc_cspnext-tinier_coco_fixture.py'


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch):
    monkeypatch.chdir(ROOT)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _state(module: torch.nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a)


# ------------------------------------------------------------------ losses
def test_fea_loss_by_hand():
    """Student (1 channel, 2 pixels: 1 and 3) aligned to 2 channels by
    w = (2, -1), b = (0.5, 0): (2.5, 6.5) and (-1, -3). Teacher (2, 6) and
    (0, -3): squared differences 0.25 + 0.25 + 1 + 0 = 1.5, times alpha."""
    loss = FeaLoss('loss_fea', True, student_channels=1, teacher_channels=2,
                   alpha_fea=0.1)
    with torch.no_grad():
        loss.align.weight.copy_(torch.tensor([2., -1.]).view(2, 1, 1, 1))
        loss.align.bias.copy_(torch.tensor([0.5, 0.]))
    student = torch.tensor([1., 3.]).view(1, 1, 1, 2)
    teacher = torch.tensor([[2., 6.], [0., -3.]]).view(1, 2, 1, 2)
    assert loss(student, teacher).item() == pytest.approx(0.1 * 1.5)
    # summed over the batch, divided by N: two equal images give the same
    assert loss(student.repeat(2, 1, 1, 1), teacher.repeat(2, 1, 1, 1)).item() == \
        pytest.approx(0.1 * 1.5)
    # equal channel counts: no alignment layer, no weights
    same = FeaLoss('loss_fea', True, 2, 2, alpha_fea=1.)
    assert same.align is None and not list(same.state_dict())
    assert same(teacher + 1, teacher).item() == pytest.approx(4.)
    with pytest.raises(ValueError, match='student_channels'):
        FeaLoss('loss_fea', True, student_channels=4)


def _kl(student: list[float], teacher: list[float], beta: float) -> float:
    """KL(softmax(beta t) || softmax(beta s)), written out."""
    def softmax(v):
        e = [math.exp(beta * x) for x in v]
        return [x / sum(e) for x in e]
    ps, pt = softmax(student), softmax(teacher)
    return sum(t * math.log(t / s) for s, t in zip(ps, pt))


def test_kd_loss_closed_form():
    """Teacher logits equal: p_t = (1/2, 1/2). Student beta * logits
    (0, ln 3): p_s = (1/4, 3/4). KL = 1/2 ln 2 + 1/2 ln(2/3) = 1/2 ln(4/3)
    per axis; x and y alike, one keypoint: (2 * KL) / K = ln(4/3)."""
    beta = 2.
    s = torch.tensor([0., math.log(3) / beta]).view(1, 1, 2)
    t = torch.zeros(1, 1, 2)
    value = KDLoss('loss_logit', True, weight=1.)((s, s), (t, t), beta).item()
    assert value == pytest.approx(math.log(4 / 3), rel=1e-6)


def test_kd_loss_by_hand():
    """N=2, K=2, 3 x bins and 2 y bins: weight * mean over images of the
    sum over keypoints of the KL, x plus y, divided by K; the keypoint
    weights do not enter (MMPose's KDLoss ignores them)."""
    g = torch.Generator().manual_seed(0)
    sx, tx = torch.randn(2, 2, 3, generator=g), torch.randn(2, 2, 3, generator=g)
    sy, ty = torch.randn(2, 2, 2, generator=g), torch.randn(2, 2, 2, generator=g)
    beta, weight = 10., 0.1
    expected = 0.
    for s, t in ((sx, tx), (sy, ty)):
        per_image = [sum(_kl(s[n, k].tolist(), t[n, k].tolist(), beta)
                         for k in range(2)) for n in range(2)]
        expected += weight * sum(per_image) / 2
    expected /= 2  # K
    loss = KDLoss('loss_logit', True, weight=weight)
    zero_weights = torch.zeros(2, 2)
    assert loss((sx, sy), (tx, ty), beta, zero_weights).item() == \
        pytest.approx(expected, rel=1e-5)
    assert loss((tx, ty), (tx, ty), beta).item() == pytest.approx(0., abs=1e-6)
    # the teacher's logits get no gradient
    tx.requires_grad_(True)
    sx.requires_grad_(True)
    loss((sx, sy), (tx, ty), beta).backward()
    assert tx.grad is None and sx.grad.abs().sum() > 0


# ----------------------------------------------------------- the distiller
def _samples(num: int, num_keypoints: int = 17, bins: int = 128) -> list:
    g = torch.Generator().manual_seed(1)
    samples = []
    for _ in range(num):
        sample = PoseDataSample()
        sample.gt_instance_labels = InstanceData(
            keypoint_x_labels=torch.rand(1, num_keypoints, bins, generator=g),
            keypoint_y_labels=torch.rand(1, num_keypoints, bins, generator=g),
            keypoint_weights=torch.ones(1, num_keypoints))
        samples.append(sample)
    return samples


def test_distiller_state_dict_and_frozen_teacher():
    model = MODELS.build(Config.fromfile(STAGE1).model)
    keys = list(model.state_dict())
    tops = {k.split('.', 1)[0] for k in keys}
    assert tops == {'teacher', 'student', 'distill_losses'}
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes['distill_losses.loss_fea.align.weight'] == (128, 64, 1, 1)
    assert shapes['teacher.head.final_layer.weight'] == (17, 128, 7, 7)
    assert shapes['student.head.final_layer.weight'] == (17, 64, 7, 7)
    # the student alone is the student config's model, key for key
    plain = MODELS.build(Config.fromfile(STUDENT).model)
    assert [k[len('student.'):] for k in keys if k.startswith('student.')] == \
        list(plain.state_dict())
    assert not any(p.requires_grad for p in model.teacher.parameters())
    model.train()
    assert model.student.training and not model.teacher.training
    assert not any(m.training for m in model.teacher.modules())
    assert model.max_epochs == 2  # the student config's train_cfg


def test_distiller_losses_follow_the_formulas_and_decay():
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(STAGE1).model).eval()
    inputs = torch.randn(2, 3, 64, 64)
    samples = _samples(2)
    with torch.no_grad():
        losses = model(inputs, samples, mode='loss')
        feats_t, feats_s = model.teacher.extract_feat(inputs), model.student.extract_feat(inputs)
        logits_t, logits_s = model.teacher.head(feats_t), model.student.head(feats_s)
        aligned = model.distill_losses['loss_fea'].align(feats_s[-1])
    assert set(losses) == {'loss_kpt', 'acc_pose', 'loss_fea', 'loss_logit'}
    fea = 0.00007 * ((aligned - feats_t[-1]) ** 2).sum() / 2
    assert losses['loss_fea'].item() == pytest.approx(fea.item(), rel=1e-5)
    kd = 0.
    for s, t in zip(logits_s, logits_t):  # beta = the student's KLDiscretLoss beta, 10
        p_t = torch.softmax(10 * t, -1)
        kl = (p_t * (p_t.log() - torch.log_softmax(10 * s, -1))).sum(-1)
        kd = kd + 0.1 * kl.sum(1).mean()
    assert losses['loss_logit'].item() == pytest.approx(kd.item() / 17, rel=1e-4)
    # epoch 1 of 2 (0-based, as MMPose's message hub has it): x (1 - 1/2)
    model.set_epoch(1)
    with torch.no_grad():
        later = model(inputs, samples, mode='loss')
    for name in ('loss_fea', 'loss_logit'):
        assert later[name].item() == pytest.approx(0.5 * losses[name].item(), rel=1e-6)
    assert later['loss_kpt'].item() == pytest.approx(losses['loss_kpt'].item())
    model.set_epoch(3, max_epochs=4)
    assert model.loss_decay() == pytest.approx(0.25)


def test_distiller_predicts_with_the_student():
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(STAGE1).model).eval()
    inputs = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        out = model(inputs, mode='tensor')
        expected = model.student(inputs, mode='tensor')
    assert [o.shape for o in out] == [(2, 17, 128), (2, 17, 128)]
    assert all(torch.equal(a, b) for a, b in zip(out, expected))


class _Record(Hook):
    """The weights when training starts (after init_weights), then each
    iteration's logged values and training modes."""

    def __init__(self):
        self.outputs, self.modes, self.start = [], [], {}

    def before_train(self, runner):
        model = runner.model
        self.start = dict(teacher=_state(model.teacher),
                          student_backbone=_state(model.student.backbone),
                          student_head=_state(model.student.head),
                          distill_losses=_state(model.distill_losses))

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        model = runner.model
        self.outputs.append(dict(outputs))
        self.modes.append((model.student.training, model.teacher.training))


def _runner(config: Path, tmp_path: Path, **options) -> Runner:
    cfg = Config.fromfile(config)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.merge_from_dict({'+train_dataloader.num_batch_per_epoch': 1,
                         '+train_cfg.val_begin': 3,  # train only
                         'default_hooks.checkpoint.interval': 10, **options})
    return Runner.from_cfg(cfg)


def test_stage1_training_step(tmp_path):
    runner = _runner(STAGE1, tmp_path)
    record = _Record()
    runner.register_hook(record)
    model = runner.model
    runner.train()  # 2 epochs of 1 batch
    assert len(record.outputs) == 2
    first = record.outputs[0]
    assert set(first) == {'loss', 'loss_kpt', 'acc_pose', 'loss_fea', 'loss_logit'}
    assert first['loss'] == pytest.approx(
        first['loss_kpt'] + first['loss_fea'] + first['loss_logit'], rel=1e-6)
    assert first['loss_fea'] > 0 and first['loss_logit'] > 0
    assert record.modes == [(True, False)] * 2  # the teacher stays in eval mode
    assert model.epoch == 1 and model.loss_decay() == 0.5  # told by the epoch loop
    start = record.start
    assert _max_diff(start['teacher'], _state(model.teacher)) == 0  # weights, BN statistics
    assert _max_diff(start['student_backbone'], _state(model.student.backbone)) > 0
    assert _max_diff(start['student_head'], _state(model.student.head)) > 0
    assert _max_diff(start['distill_losses'], _state(model.distill_losses)) > 0  # align


def test_stage2_trains_the_student_head_on_teacher_features(tmp_path):
    torch.manual_seed(3)
    stage1_student = MODELS.build(Config.fromfile(STUDENT).model)
    path = tmp_path / 'stage1_student.pth'
    torch.save({'state_dict': stage1_student.state_dict()}, path)
    runner = _runner(STAGE2, tmp_path, **{'model.teacher_pretrained': str(path)})
    record = _Record()
    runner.register_hook(record)
    model = runner.model
    runner.train()
    assert [set(o) for o in record.outputs] == [{'loss', 'loss_logit'}] * 2
    assert [o['loss'] for o in record.outputs] == [o['loss_logit'] for o in record.outputs]
    # the teacher holds the checkpoint's weights, untouched by training
    assert _max_diff(_state(stage1_student), _state(model.teacher)) == 0
    start = record.start
    assert _max_diff(start['student_head'], _state(model.student.head)) > 0
    assert _max_diff(start['student_backbone'], _state(model.student.backbone)) == 0  # unused
    # prediction: the teacher's features, the student's head
    model.eval()
    inputs = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        out = model(inputs, mode='tensor')
        expected = model.student.head(model.teacher.extract_feat(inputs))
    assert all(torch.equal(a, b) for a, b in zip(out, expected))


def test_teacher_pretrained_must_be_a_full_checkpoint(tmp_path, monkeypatch):
    # a URL is downloaded (tests/test_hub.py); offline and not cached, the
    # error names the key and where to put the file
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    monkeypatch.setenv('POSEKIT_OFFLINE', '1')
    url = 'https://download.openmmlab.com/mmpose/v1/projects/rtmposev1/x.pth'
    with pytest.raises(DownloadError, match='teacher_pretrained.*POSEKIT_OFFLINE.*x.pth'):
        _runner(STAGE2, tmp_path, **{'model.teacher_pretrained': url}).train()
    missing = str(tmp_path / 'nowhere.pth')
    with pytest.raises(FileNotFoundError, match='teacher_pretrained.*nowhere.pth'):
        _runner(STAGE2, tmp_path, **{'model.teacher_pretrained': missing}).train()
    # an unconverted distiller checkpoint has none of the teacher's keys
    distiller = MODELS.build(Config.fromfile(STAGE2).model)
    path = tmp_path / 'distiller.pth'
    torch.save({'state_dict': {k: v for k, v in distiller.state_dict().items()
                               if k.startswith('student.')}}, path)
    with pytest.raises(CheckpointError, match='convert-distill'):
        _runner(STAGE2, tmp_path, **{'model.teacher_pretrained': str(path)}).train()


def test_missing_member_config_names_the_key_and_path(tmp_path):
    cfg = Config.fromfile(STAGE1).model
    cfg.student_cfg = 'configs/wholebody_2d_keypoint/rtmpose/ubody/none.py'
    with pytest.raises(FileNotFoundError, match=r"student_cfg.*rtmpose/ubody/none\.py"):
        MODELS.build(cfg)


def test_distiller_takes_built_models():
    teacher = MODELS.build(Config.fromfile(TEACHER).model)
    student = MODELS.build(Config.fromfile(STUDENT).model)
    model = DWPoseDistiller(teacher, student, distill_cfg=[dict(methods=[
        dict(type='KDLoss', name='loss_logit', use_this=True),
        dict(type='FeaLoss', name='loss_fea', use_this=False)])])
    assert model.teacher is teacher and model.student is student
    assert list(model.distill_losses) == ['loss_logit']
    assert model.max_epochs is None
    model.set_epoch(1)
    with pytest.raises(ValueError, match='max_epochs'):
        model.loss_decay()


def test_a_url_in_the_student_config_names_that_file(tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    monkeypatch.setenv('POSEKIT_OFFLINE', '1')  # the download fails: not cached
    student = tmp_path / 'student.py'
    student.write_text(f'_base_ = [{str(STUDENT)!r}]\nmodel = dict(backbone=dict(init_cfg=dict('
                       "type='Pretrained', prefix='backbone.', "
                       "checkpoint='https://download.openmmlab.com/cspnext.pth')))\n")
    cfg = Config.fromfile(STAGE1).model
    cfg.student_cfg = str(student)
    model = MODELS.build(cfg)
    with pytest.raises(ValueError, match=r'student config .*student\.py.*model\.student_cfg='):
        model.init_weights()
