"""ONNX export and the ONNX Runtime backend of one-stage models.

A tiny RTMO and a tiny YOLOX-Pose (MMPose's -s layouts at a quarter of
their width, tests/data/configs/onestage_*_fixture.py) get seeded random
weights, batch-norm statistics from one train-mode forward of two random
images, and output layers rescaled so that on those images each output
channel has a chosen mean and spread (see ``OUTPUT_STATS``): scores mostly
below the threshold with some tens of cells above, boxes a few strides
wide, so that thresholds and NMS make real decisions. RTMO is exported
through ``posekit export --check`` (batch 1), YOLOX-Pose with a dynamic
batch; both have dynamic H and W, traced at 256x256 and run at other sizes
(the 640x392 fixture image is fit into a 320x224 input).

Tolerances. These small random networks are ill-conditioned: PyTorch's own
float32 outputs differ from the same model's float64 ones by up to 2e-2 px
(boxes) and 16 px (RTMO keypoints of some far-off priors, whose DCC bins
span 600 px) on the fixture images. ONNX Runtime computes the same float32
network with other kernels (and RTMO's file has DCC's BatchNorm folded into
its Linear layer, MMPose's deploy form): its difference from PyTorch
measured 0.25 to 2.2 times that float32 noise, so the tests allow
``NOISE_FACTOR = 5`` times the noise measured in the test itself, per
output. (``posekit export --check``'s random inputs give well-conditioned
outputs: relative error < ``REL = 1e-4``, the other ONNX tests' bound.)
Selecting people is a sequence of decisions (score above ``score_thr``,
order of the scores, IoU above ``nms_thr``): the tests check that every
decision PyTorch made has a margin larger than the allowed error
(``check_decisions_have_margin``), so that ONNX Runtime must make the same
ones on any CPU, and then that the people are the same.
"""
import contextlib
import copy
import io
import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch import nn

onnx = pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')
pytest.importorskip('onnxscript')

from posekit.apis import (OnnxNetwork, inference_bottomup, init_model,  # noqa: E402
                          init_onnx_model)
from posekit.cli import main  # noqa: E402
from posekit.config import Config  # noqa: E402
from posekit.export import export_onnx  # noqa: E402
from posekit.models.onestage_deploy import OneStageDecoded  # noqa: E402
from posekit.models.task_modules import bbox_overlaps  # noqa: E402
from posekit.registry import MODELS  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = dict(
    rtmo=ROOT / 'tests/data/configs/onestage_rtmo_tiny_fixture.py',
    yoloxpose=ROOT / 'tests/data/configs/onestage_yoloxpose_tiny_fixture.py')
HEADS = dict(rtmo='RTMOHead', yoloxpose='YOLOXPoseHead')
IMAGE = ROOT / 'tests/data/fixtures/coco/000000197388.jpg'  # 640x392
OUTPUT_NAMES = ['bboxes', 'scores', 'keypoints', 'keypoint_scores']
REL = 1e-4  # allowed relative error of `posekit export --check`
# ONNX Runtime may differ from PyTorch by this many times PyTorch's own
# float32 error (measured against float64; the largest ratio seen is 2.2)
NOISE_FACTOR = 5
# thresholds of the selection test on the 320x224 input: every decision
# they make on these models has a margin (see check_decisions_have_margin);
# RTMO's boxes rarely overlap more than its configs' 0.65, so NMS at 0.5
# makes it act; YOLOX-Pose's score_thr 0.01 leaves 200 cells, some scores
# closer than the allowed error, and its NMS has no threshold with a margin
# that acts on these boxes
SELECTION = dict(rtmo=dict(nms_thr=0.5), yoloxpose=dict(score_thr=0.1))
# (mean, std) of each output conv's channels on the calibration images:
# logits of cls/obj low (a few percent of the cells pass the thresholds),
# box (dx, dy) near the cell and (log w, log h) around log 4 strides
OUTPUT_STATS = dict(
    out_cls=[(-3.5, 1.0)], out_obj=[(-2.0, 1.0)],
    out_bbox=[(0.0, 0.5), (0.0, 0.5), (1.4, 0.4), (1.4, 0.4)],
    out_kpt=[(0.0, 1.0)], out_kpt_vis=[(0.0, 2.0)])


def calibrate(model: nn.Module, images: torch.Tensor) -> None:
    """Rescale the head's output convs so that their channels have the
    ``OUTPUT_STATS`` mean and std on ``images`` (eval mode)."""
    convs = {(name, i): conv for name in OUTPUT_STATS
             for i, conv in enumerate(getattr(model.head.head_module, name, ()))}
    seen = {}
    hooks = [conv.register_forward_hook(
        lambda m, args, out, key=key: seen.__setitem__(key, out))
        for key, conv in convs.items()]
    with torch.no_grad():
        model.eval()
        model(images, mode='tensor')
        for hook in hooks:
            hook.remove()
        for (name, _), conv in convs.items():
            out = seen[(name, _)].transpose(0, 1).flatten(1)  # (C, cells)
            stats = OUTPUT_STATS[name]
            stats = stats * (len(out) // len(stats))
            target = torch.tensor(stats)
            scale = target[:, 1] / out.std(1)
            conv.weight.mul_(scale.view(-1, 1, 1, 1))
            conv.bias.copy_((conv.bias - out.mean(1)) * scale + target[:, 0])


def fixture_images(height: int, width: int) -> torch.Tensor:
    """The four COCO fixture images resized to (height, width): (4, 3, H,
    W) float32 BGR 0-255, the inputs of these configs (no normalisation)."""
    images = [cv2.resize(cv2.imread(str(f)), (width, height))
              for f in sorted(IMAGE.parent.glob('*.jpg'))]
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float()


def write_checkpoint(kind: str, path: Path) -> Path:
    """Seeded weights; batch-norm statistics of two random images (one
    train-mode forward); output convs calibrated on them."""
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(str(CONFIGS[kind])).model)
    images = fixture_images(256, 256)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # the running stats become the batch's
    model.train()
    with torch.no_grad():
        model(images, mode='tensor')
    calibrate(model, images)
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    return path


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    """kind -> (checkpoint, onnx file); and what ``posekit export`` printed."""
    folder = tmp_path_factory.mktemp('onnx_onestage')
    out = {}
    ckpt = write_checkpoint('rtmo', folder / 'rtmo.pth')
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        rc = main(['export', str(CONFIGS['rtmo']), str(ckpt), '--output',
                   str(folder / 'rtmo.onnx'), '--check'])
    assert rc == 0
    out['rtmo'] = (ckpt, folder / 'rtmo.onnx')
    ckpt = write_checkpoint('yoloxpose', folder / 'yoloxpose.pth')
    out['yoloxpose'] = (ckpt, Path(export_onnx(
        str(CONFIGS['yoloxpose']), str(ckpt),
        output=folder / 'yoloxpose.onnx', dynamic_batch=True)))
    out['printed'] = printed.getvalue()
    return out


@pytest.mark.parametrize('kind', ['rtmo', 'yoloxpose'])
def test_file_has_dynamic_size_and_metadata(files, kind):
    proto = onnx.load(str(files[kind][1]))
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[1].dim_value == 3
    assert all(d.dim_param and not d.dim_value for d in dims[2:])  # H, W
    assert bool(dims[0].dim_param) == (kind == 'yoloxpose')  # batch
    assert [o.name for o in proto.graph.output] == OUTPUT_NAMES
    meta = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(meta['onestage']) is True
    assert meta['data_mode'] == 'bottomup'
    assert json.loads(meta['size_factor']) == 32
    assert json.loads(meta['input_size']) == [256, 256]
    assert json.loads(meta['output_names']) == OUTPUT_NAMES
    assert meta['head_type'] == HEADS[kind]
    assert json.loads(meta['num_keypoints']) == 17
    assert json.loads(meta['mean']) == [0, 0, 0]
    assert json.loads(meta['bgr_to_rgb']) is False


def test_cli_check_prints_small_errors(files):
    printed = files['printed']
    assert '32*h, 32*w (traced at 256x256)' in printed
    for name in OUTPUT_NAMES:
        error = float(re.search(rf'check {name}: max relative error (\S+)',
                                printed).group(1))
        assert error < REL, printed


def decoded_and_noise(model, x: torch.Tensor, priors=slice(None)
                      ) -> tuple[tuple, list]:
    """PyTorch's decoded outputs of ``x`` and, per output, their float32
    noise: the largest difference from the same model in float64 (over
    the ``priors``: an index or mask of the prior axis)."""
    exact = copy.deepcopy(model).double()
    with torch.no_grad():
        outputs = OneStageDecoded(model)(x)
        reference = OneStageDecoded(exact)(x.double())
    noise = [float((a[:, priors].double() - b[:, priors]).abs().max())
             for a, b in zip(outputs, reference)]
    return outputs, noise


@pytest.mark.parametrize('kind, shape', [
    ('rtmo', (1, 256, 256)), ('rtmo', (1, 192, 320)),
    ('yoloxpose', (2, 256, 256)), ('yoloxpose', (1, 160, 288))])
def test_decoded_outputs_match_torch(files, kind, shape):
    """Every prior's outputs, at the traced size and another one: the
    number of priors and their places (in the boxes and keypoints) follow
    the input size, so the graph computes them from the map sizes."""
    ckpt, path = files[kind]
    model = init_model(str(CONFIGS[kind]), str(ckpt))
    batch, height, width = shape
    x = fixture_images(height, width)[:batch]
    expected, noise = decoded_and_noise(model, x)
    got = OnnxNetwork(path, num_threads=1)(x)
    strides = model.head.featmap_strides
    priors = sum((height // s) * (width // s) for s in strides)
    sizes = [(4, ), (1, ), (17, 2), (17, )]
    for a, b, size, bound in zip(got, expected, sizes, noise):
        assert a.shape == b.shape == (batch, priors) + size
        assert (a - b).abs().max() <= NOISE_FACTOR * bound


def fixture_input(model) -> dict:
    """The fixture image through the config's test pipeline and data
    preprocessor: ``dict(inputs=(1, 3, H, W), data_samples=[...])``."""
    from posekit.apis.inference import _test_pipeline
    from posekit.datasets.transforms import Compose
    data = Compose(_test_pipeline(model.cfg))(dict(img_path=str(IMAGE),
                                                   **model.dataset_meta))
    return model.data_preprocessor(dict(inputs=[data['inputs']],
                                        data_samples=[data['data_samples']]))


def resized_config(kind: str, input_size: tuple) -> Config:
    """The config with its test BottomupResize making ``input_size``
    (w, h) inputs, and ``SELECTION[kind]`` in its ``test_cfg``."""
    cfg = Config.fromfile(str(CONFIGS[kind]))
    cfg.model.test_cfg.update(SELECTION[kind])
    for loader in (cfg.val_dataloader, cfg.test_dataloader):
        loader.dataset.pipeline[1].input_size = input_size
    return cfg


def check_decisions_have_margin(model, x: torch.Tensor) -> torch.Tensor:
    """Assert that PyTorch's selection of people in ``x`` (one image) is
    stable under the errors the test allows, ``NOISE_FACTOR`` times the
    float32 noise of the candidates (the cells above ``score_thr``): no
    score within it of ``score_thr`` nor of another candidate's score
    (the order), no IoU of two candidates within its effect on the IoU of
    ``nms_thr``. Returns the candidates' mask (P, )."""
    cfg = model.test_cfg
    outputs, noise = decoded_and_noise(model, x)
    bboxes, scores = outputs[0][0], outputs[1][0, :, 0]
    assert (scores - cfg['score_thr']).abs().min() > NOISE_FACTOR * noise[1]
    chosen = scores > cfg['score_thr']
    _, noise = decoded_and_noise(model, x, chosen)
    margin = NOISE_FACTOR * noise[1]
    # moving each side of two boxes of sides >= m by e changes their
    # intersection and union by < 4 e / m relative to their areas, so the
    # IoU by < 8 e / m
    sides = (bboxes[chosen, 2:] - bboxes[chosen, :2]).min()
    iou_margin = 8 * NOISE_FACTOR * noise[0] / sides
    assert iou_margin < 0.2
    ious = bbox_overlaps(bboxes[chosen], bboxes[chosen])
    assert ((ious - cfg['nms_thr']).abs() > iou_margin).all()
    # the score order decides which of two boxes NMS keeps only when they
    # overlap more than nms_thr: those pairs' scores must be apart (the
    # order of the others only orders the output, which the test undoes)
    s = scores[chosen]
    rivals = (ious > cfg['nms_thr']) & ~torch.eye(len(s), dtype=torch.bool)
    assert ((s[:, None] - s[None, :]).abs()[rivals] > margin).all()
    return chosen


def by_position(instances) -> np.ndarray:
    """The order of the instances by their box corners (x1, then y1):
    an order that float noise in the scores cannot change."""
    boxes = np.asarray(instances.bboxes).reshape(-1, 4)
    return np.lexsort((boxes[:, 1], boxes[:, 0]))


@pytest.mark.parametrize('kind', ['rtmo', 'yoloxpose'])
def test_inference_bottomup_finds_the_same_people(files, kind):
    ckpt, path = files[kind]
    cfg = resized_config(kind, (320, 224))
    model = init_model(cfg, str(ckpt))
    onnx_model = init_onnx_model(cfg, path, num_threads=1)
    assert onnx_model.is_bottomup
    x = fixture_input(model)['inputs']
    chosen = check_decisions_have_margin(model, x)
    _, noise = decoded_and_noise(model, x, chosen)
    [expected] = inference_bottomup(model, str(IMAGE))
    [got] = inference_bottomup(onnx_model, str(IMAGE))
    assert tuple(got.input_size) == (320, 224)  # not the traced 256x256
    pe, pg = expected.pred_instances, got.pred_instances
    assert 3 <= len(pe.bboxes) == len(pg.bboxes) <= chosen.sum()
    if kind == 'rtmo':  # NMS acted (see SELECTION)
        assert len(pe.bboxes) < chosen.sum()
    np.testing.assert_array_equal(pg.labels, pe.labels)
    oe, og = by_position(pe), by_position(pg)
    scale = 2.0  # input pixels -> image pixels (640x392 fit in 320x224)
    for name, i in (('bboxes', 0), ('bbox_scores', 1), ('keypoints', 2),
                    ('keypoint_scores', 3)):
        atol = NOISE_FACTOR * noise[i] * (scale if i in (0, 2) else 1)
        np.testing.assert_allclose(pg[name][og], pe[name][oe], rtol=0, atol=atol)
    # image pixels: boxes are clipped to the input, the 640x392 image and
    # its 14 input pixels (28 image pixels) of padding above and below
    assert pe.bboxes[:, 0::2].min() >= 0 and pe.bboxes[:, 0::2].max() <= 640
    assert pe.bboxes[:, 1::2].min() >= -28 and pe.bboxes[:, 1::2].max() <= 420
    assert np.ptp(pe.bboxes[:, 0]) > 100


def test_cli_infer_onnxruntime_gives_inference_bottomup_results(
        files, tmp_path):
    _, path = files['rtmo']
    rc = main(['infer', str(IMAGE), '--pose2d', str(CONFIGS['rtmo']),
               '--pose2d-weights', str(path), '--backend', 'onnxruntime',
               '--device', 'cpu', '--threads', '1', '--no-progress',
               '--pred-out-dir', str(tmp_path)])
    assert rc == 0
    preds = json.loads((tmp_path / f'{IMAGE.stem}.json').read_text())
    onnx_model = init_onnx_model(str(CONFIGS['rtmo']), path, num_threads=1)
    [sample] = inference_bottomup(onnx_model, str(IMAGE))
    expected = sample.pred_instances
    assert len(preds) == len(expected.bboxes) >= 3
    np.testing.assert_allclose([p['keypoints'] for p in preds],
                               expected.keypoints, rtol=1e-6, atol=1e-4)
    np.testing.assert_allclose([p['bbox'] for p in preds],
                               expected.bboxes.reshape(-1, 4), rtol=1e-6,
                               atol=1e-4)


def test_what_cannot_run_is_refused_clearly(files):
    cfg = Config.fromfile(str(CONFIGS['rtmo']))
    cfg.model.head.dcc_cfg = None
    with pytest.raises(ValueError, match='cannot export this one-stage model '
                       'to ONNX: RTMOHead without dcc_cfg'):
        export_onnx(cfg, output='never.onnx')
    assert not Path('never.onnx').exists()
    path = files['rtmo'][1]
    onnx_model = init_onnx_model(str(CONFIGS['rtmo']), path, num_threads=1,
                                 cfg_options={'model.test_cfg.flip_test': True})
    with pytest.raises(ValueError, match=r'RTMOHead does not support '
                       r'test_cfg.flip_test=True'):
        inference_bottomup(onnx_model, str(IMAGE))
    with pytest.raises(ValueError, match=r'H and W multiples of 32 .*'
                       r'\(1, 3, 250, 256\)'):
        OnnxNetwork(path, num_threads=1)(torch.zeros(1, 3, 250, 256))
    with pytest.raises(ValueError, match='head: file RTMOHead, config '
                       'YOLOXPoseHead'):
        init_onnx_model(str(CONFIGS['yoloxpose']), path)
