"""ONNX export and the ONNX Runtime backend, on three small models.

A heatmap model (the half-width ResNet-18 synthetic config), an RTMPose-style
model (tiny CSPNeXt + RTMCCHead with its gated attention unit) and an RLE
model (narrow ResNet-18 + RLEHead) get seeded random weights, batch norm
statistics included, and are exported once per module: the two small test
configs with a dynamic batch, the heatmap model through ``posekit export``
with a fixed batch of 1 at opset 17. Each file is compared with PyTorch on
random inputs and in ``inference_topdown`` on a COCO fixture image with the
flip test on.
"""
import contextlib
import io
import json
import re
import sys
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch import nn

onnx = pytest.importorskip('onnx')
ort = pytest.importorskip('onnxruntime')
pytest.importorskip('onnxscript')

import posekit  # noqa: E402
from posekit.apis import (OnnxNetwork, PoseInferencer, inference_topdown,  # noqa: E402
                          init_model, init_onnx_model)
from posekit.cli import main  # noqa: E402
from posekit.config import Config  # noqa: E402
from posekit.export import export_onnx  # noqa: E402
from posekit.registry import MODELS  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = dict(
    heatmap=ROOT / 'configs/body_2d_keypoint/topdown_heatmap/synthetic/'
    'td-hm_res18-tiny_1xb32-30e_synthetic-128x96.py',
    rtmcc=ROOT / 'tests/data/configs/td_rtmcc_cspnext-tiny_coco_fixture.py',
    rle=ROOT / 'tests/data/configs/td_rle_res18-tiny_coco_fixture.py')
OUTPUTS = dict(heatmap=['heatmaps'], rtmcc=['simcc_x', 'simcc_y'],
               rle=['coords'])
IMAGE = ROOT / 'tests/data/fixtures/coco/000000197388.jpg'  # 640x392
BOXES = np.array([[139.41, 102.25, 361.80, 343.82],  # xyxy, 2 people and
                  [287.17, 61.52, 362.05, 227.13],  # a box half outside
                  [-40.0, 200.0, 150.0, 420.0]], np.float32)


def write_checkpoint(config: Path, path: Path) -> Path:
    """Seeded random weights, with random batch-norm statistics so that
    every normalisation matters."""
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(str(config)).model)
    gen = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.normal_(0, 0.2, generator=gen)
            m.running_var.uniform_(0.5, 2.0, generator=gen)
            m.weight.data.uniform_(0.5, 1.5, generator=gen)
            m.bias.data.normal_(0, 0.2, generator=gen)
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    return path


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    """kind -> (checkpoint, onnx file); the CLI's printed output too."""
    folder = tmp_path_factory.mktemp('onnx')
    out = {}
    for kind in ('rtmcc', 'rle'):
        ckpt = write_checkpoint(CONFIGS[kind], folder / f'{kind}.pth')
        onnx_file = export_onnx(str(CONFIGS[kind]), str(ckpt),
                                output=folder / f'{kind}.onnx',
                                dynamic_batch=True)
        out[kind] = (ckpt, Path(onnx_file))
    ckpt = write_checkpoint(CONFIGS['heatmap'], folder / 'heatmap.pth')
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        rc = main(['export', str(CONFIGS['heatmap']), str(ckpt), '--opset',
                   '17', '--check'])
    out['heatmap'] = (ckpt, folder / 'heatmap.onnx')  # default: next to it
    out['cli'] = (rc, printed.getvalue())
    return out


def metadata(path) -> dict:
    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


def test_cli_writes_file_metadata_and_check(files):
    rc, printed = files['cli']
    assert rc == 0
    path = files['heatmap'][1]
    assert sorted(p.name for p in path.parent.iterdir()
                  if p.name.startswith('.')) == []  # no temporary left
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto)
    assert {o.domain: o.version for o in proto.opset_import}[''] == 17
    dims = [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 3, 128, 96]  # fixed batch 1, (h, w) of input (96, 128)
    meta = metadata(path)
    assert meta['posekit_version'] == posekit.__version__
    assert json.loads(meta['input_size']) == [96, 128]
    assert meta['batch_size'] == '1'
    assert json.loads(meta['mean']) == [123.675, 116.28, 103.53]
    assert json.loads(meta['std']) == [58.395, 57.12, 57.375]
    assert json.loads(meta['bgr_to_rgb']) is True
    assert json.loads(meta['output_names']) == ['heatmaps']
    assert meta['head_type'] == 'HeatmapHead'
    assert json.loads(meta['num_keypoints']) == 17
    error = float(re.search(r'heatmaps: max relative error (\S+)',
                            printed).group(1))
    assert error < 1e-4, printed


@pytest.mark.parametrize('kind', ['rtmcc', 'rle'])
def test_dynamic_batch_matches_torch(files, kind):
    model = init_model(str(CONFIGS[kind]), str(files[kind][0]))
    session = ort.InferenceSession(str(files[kind][1]),
                                   providers=['CPUExecutionProvider'])
    assert [o.name for o in session.get_outputs()] == OUTPUTS[kind]
    assert metadata(files[kind][1])['batch_size'] == 'dynamic'
    gen = torch.Generator().manual_seed(2)
    w, h = json.loads(metadata(files[kind][1])['input_size'])
    for batch in (1, 3):
        x = torch.randn(batch, 3, h, w, generator=gen)
        with torch.no_grad():
            expected = model(x, mode='tensor')
        expected = [expected] if isinstance(expected, torch.Tensor) else expected
        got = session.run(None, {'input': x.numpy()})
        for a, b in zip(got, expected):
            b = b.numpy()
            assert a.shape == b.shape and a.shape[:2] == (batch, 17)
            assert np.linalg.norm(a - b) / np.linalg.norm(b) < 1e-4
            assert np.abs(a - b).max() < 1e-4 * np.abs(b).max()


def decided(scores: np.ndarray, margin: float) -> np.ndarray:
    """(K,) True where the argmax over each row of ``scores (K, ...)``, and
    MSRA's quarter-pixel step toward the higher neighbour, cannot change
    when every value moves by less than ``margin / 2``."""
    flat = scores.reshape(len(scores), -1)
    top2 = np.sort(flat, axis=1)[:, -2:]
    ok = top2[:, 1] - top2[:, 0] > margin
    if scores.ndim == 3:  # heatmaps: the neighbour differences keep their sign
        k = np.arange(len(scores))
        y, x = np.unravel_index(flat.argmax(1), scores.shape[1:])
        h, w = scores.shape[1:]
        xs, ys = np.clip([x - 1, x + 1], 0, w - 1), np.clip([y - 1, y + 1], 0, h - 1)
        ok &= np.abs(scores[k, y, xs[1]] - scores[k, y, xs[0]]) > margin
        ok &= np.abs(scores[k, ys[1], x] - scores[k, ys[0], x]) > margin
    return ok


@pytest.mark.parametrize('kind', ['heatmap', 'rtmcc', 'rle'])
def test_inference_topdown_matches_torch(files, kind):
    """ONNX Runtime's network outputs equal PyTorch's to 1e-4 of their
    largest magnitude (test above); what the decoded results guarantee
    follows from that. On a random model some argmaxes are near ties:
    only keypoints whose decoding that error cannot flip are compared."""
    ckpt, onnx_file = files[kind]
    options = {'model.test_cfg.output_heatmaps': kind != 'rle'}
    model = init_model(str(CONFIGS[kind]), str(ckpt), cfg_options=options)
    onnx_model = init_onnx_model(str(CONFIGS[kind]), onnx_file, num_threads=2)
    assert onnx_model.cfg.model.test_cfg.flip_test
    assert onnx_model.dataset_meta['num_keypoints'] == 17
    magnitudes = []  # of the network's outputs, flipped batch included
    last = dict(heatmap=['final_layer'], rtmcc=['cls_x', 'cls_y'], rle=['fc'])[kind]
    for name in last:
        getattr(model.head, name).register_forward_hook(
            lambda module, args, out: magnitudes.append(float(out.abs().max())))
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # SimCC: vectors normalised for display
        expected = inference_topdown(model, str(IMAGE), BOXES)
    got = inference_topdown(onnx_model, str(IMAGE), BOXES)
    assert len(got) == len(BOXES)
    error = 1e-4 * max(magnitudes)  # of any output value, flip-averaged too
    checked = 0
    for a, b in zip(got, expected):
        pa, pb = a.pred_instances, b.pred_instances
        assert pa.keypoints.shape == (1, 17, 2)
        np.testing.assert_array_equal(pa.bboxes, pb.bboxes)
        # scores are output values (maxima): they move by the error at most
        np.testing.assert_allclose(pa.keypoint_scores, pb.keypoint_scores,
                                   rtol=0, atol=error)
        if kind == 'rle':
            # coordinates in crop units: error * crop size in image pixels
            mask, tol = np.ones(17, bool), error * b.input_scale.max()
        elif kind == 'heatmap':
            mask, tol = decided(b.pred_fields.heatmaps.numpy(), 2 * error), 1e-3
        else:  # the display copies of the vectors are scaled by 1 / max(peak, 1)
            x, y = pb.keypoint_x_labels[0], pb.keypoint_y_labels[0]
            mask = decided(x, 2 * error) & decided(y, 2 * error)
            tol = 1e-3
        checked += mask.sum()
        np.testing.assert_allclose(pa.keypoints[0][mask], pb.keypoints[0][mask],
                                   rtol=0, atol=tol)
    assert checked >= 17 * len(BOXES) // 2  # most keypoints are decided
    # the poses differ between boxes: the batch was not mixed up
    assert np.abs(got[0].pred_instances.keypoints
                  - got[1].pred_instances.keypoints).min() > 1


def test_inferencer_onnx_backend_writes_what_pytorch_writes(files, tmp_path):
    ckpt, onnx_file = files['heatmap']
    config = str(CONFIGS['heatmap'])
    dets = tmp_path / 'dets.json'
    dets.write_text(json.dumps([dict(image_id=197388, score=0.9, bbox=[
        float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]) for b in BOXES]))
    results = {}
    for backend, weights in (('pytorch', ckpt), ('onnxruntime', onnx_file)):
        inferencer = PoseInferencer(config, str(weights), device='cpu', backend=backend)
        [results[backend]] = inferencer(str(IMAGE), bboxes=dets, nms_thr=1,
                                        draw_heatmap=True, return_vis=True)
    ours, theirs = results['onnxruntime'], results['pytorch']
    assert len(ours['predictions']) == len(BOXES)
    for a, b in zip(ours['predictions'], theirs['predictions']):
        np.testing.assert_allclose(a['keypoints'], b['keypoints'], rtol=0, atol=1e-3)
        np.testing.assert_allclose(a['keypoint_scores'], b['keypoint_scores'],
                                   rtol=0, atol=1e-4)
        assert a['bbox'] == b['bbox'] and a['bbox_score'] == pytest.approx(0.9)
    # heatmaps came out of the ONNX model too: the picture has the overlay below
    assert ours['visualization'].shape == (2 * 392, 640, 3)
    diff = np.abs(ours['visualization'].astype(int) - theirs['visualization'].astype(int))
    # top: keypoints and links drawn at rounded pixels, for scores > 0.3;
    # identical wherever both backends round and threshold alike
    kpts = [np.array([p['keypoints'] for p in r['predictions']]) for r in (ours, theirs)]
    scores = [np.array([p['keypoint_scores'] for p in r['predictions']]) for r in (ours, theirs)]
    if (np.array_equal(np.round(kpts[0]), np.round(kpts[1]))
            and np.array_equal(scores[0] > 0.3, scores[1] > 0.3)):
        assert diff[:392].max() == 0
    # bottom: the jet colour of the heat, blended with opacity 0.6 * heat
    # (both scaled by the peak). Heatmaps that agree to 1e-4 of their peak
    # move the opacity by at most 0.6 * 255 * 1e-4 = 0.015 grey levels and
    # the colour index (heat * 255, truncated) by at most one step of the
    # colormap; rounding the blend adds at most one more level.
    jet = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], cv2.COLORMAP_JET)
    step = np.abs(np.diff(jet[:, 0].astype(int), axis=0)).max()  # 5
    assert diff[392:].max() <= int(0.6 * step + 0.015) + 1


def test_cuda_without_the_cuda_provider_is_a_clear_error(files):
    if 'CUDAExecutionProvider' in ort.get_available_providers():
        pytest.skip('this onnxruntime has the CUDA provider')
    with pytest.raises(ValueError, match='onnxruntime-gpu'):
        OnnxNetwork(files['rle'][1], device='cuda')


def test_a_damaged_file_is_a_clear_error(files, tmp_path):
    damaged = tmp_path / 'half.onnx'
    data = files['rle'][1].read_bytes()
    damaged.write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match='half.onnx: onnxruntime cannot load it'):
        OnnxNetwork(damaged)


def test_mismatched_config_is_refused(files):
    with pytest.raises(ValueError, match=r'input_size.*head: file HeatmapHead'):
        init_onnx_model(str(CONFIGS['rtmcc']), files['heatmap'][1])
    with pytest.raises(ValueError, match=r'mean: file \[123.675'):
        init_onnx_model(str(CONFIGS['heatmap']), files['heatmap'][1],
                        cfg_options={'model.data_preprocessor.mean': [0, 0, 0]})


def test_fixed_batch_file_runs_in_padded_chunks(tmp_path):
    """A fixed batch of 2 takes 5 inputs in 3 runs, the last one padded."""
    from onnx import TensorProto, helper
    graph = helper.make_graph(
        [helper.make_node('Mul', ['input', 'two'], ['heatmaps'])], 'double',
        [helper.make_tensor_value_info('input', TensorProto.FLOAT, [2, 3, 4, 5])],
        [helper.make_tensor_value_info('heatmaps', TensorProto.FLOAT,
                                       [2, 3, 4, 5])],
        [helper.make_tensor('two', TensorProto.FLOAT, [], [2.0])])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)])
    proto.ir_version = 8
    onnx.save(proto, str(tmp_path / 'double.onnx'))
    network = OnnxNetwork(tmp_path / 'double.onnx', num_threads=1)
    assert network.batch_size == 2 and network.input_shape == (3, 4, 5)
    x = torch.randn(5, 3, 4, 5, generator=torch.Generator().manual_seed(0))
    out = network(x)
    assert isinstance(out, torch.Tensor) and torch.equal(out, x * 2)
    with pytest.raises(ValueError, match=r'\(N, 3, 4, 5\)'):
        network(torch.zeros(1, 3, 5, 4))


def test_cli_rejects_other_formats(capsys):
    rc = main(['export', str(CONFIGS['heatmap']), 'model.pth', '--format',
               'tensorrt'])
    assert rc == 1
    assert "unsupported --format 'tensorrt'" in capsys.readouterr().err


def test_init_model_points_onnx_files_to_the_onnx_backend():
    with pytest.raises(ValueError, match='init_onnx_model'):
        init_model(str(CONFIGS['heatmap']), 'model.onnx')


def test_missing_packages_say_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, 'onnxruntime', None)
    with pytest.raises(ImportError, match=re.escape('pip install "posekit[onnx]"')):
        OnnxNetwork(tmp_path / 'model.onnx')
    monkeypatch.setitem(sys.modules, 'onnxscript', None)
    with pytest.raises(ImportError, match='onnxscript.*posekit\\[onnx\\]'):
        export_onnx(str(CONFIGS['heatmap']))


def test_onnxruntime_backend_exports_a_checkpoint_once(files, tmp_path, monkeypatch, caplog):
    """``backend='onnxruntime'`` with a .pth: exported on first use into the
    cache beside the checkpoints, found there later; new weights in the same
    file make a new export, never the stale one."""
    from posekit.apis.backends import init_pose_model
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    config = str(CONFIGS['rtmcc'])
    ckpt = tmp_path / 'rtmcc.pth'
    ckpt.write_bytes(files['rtmcc'][0].read_bytes())
    x = torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    reference = OnnxNetwork(files['rtmcc'][1], num_threads=2)(x)

    with caplog.at_level('WARNING', logger='posekit.export.cached'):
        model = init_pose_model(config, str(ckpt), backend='onnxruntime', num_threads=2)
    [cached] = (tmp_path / 'torch/hub/posekit_onnx').glob('*.onnx')
    assert re.fullmatch(r'td_rtmcc_cspnext-tiny_coco_fixture-[0-9a-f]{16}\.onnx', cached.name)
    assert metadata(cached)['batch_size'] == 'dynamic'
    assert 'exporting' in caplog.text
    # the same export as the module's file (same model, same exporter): same graph
    for ours, theirs in zip(model.network(x), reference):
        torch.testing.assert_close(ours, theirs, rtol=0, atol=0)

    caplog.clear()
    stamp = cached.stat().st_mtime_ns
    with caplog.at_level('WARNING', logger='posekit.export.cached'):
        init_pose_model(config, str(ckpt), backend='onnxruntime')
    assert caplog.text == '' and cached.stat().st_mtime_ns == stamp

    state = torch.load(ckpt, weights_only=True)   # other weights, same file name
    state['state_dict'] = {k: v + 0.01 if v.is_floating_point() else v
                           for k, v in state['state_dict'].items()}
    torch.save(state, ckpt)
    changed = init_pose_model(config, str(ckpt), backend='onnxruntime', num_threads=2)
    assert len(list(cached.parent.glob('*.onnx'))) == 2
    assert (changed.network(x)[0] - reference[0]).abs().max() > 1e-3

    with pytest.raises(ValueError, match='--quantize int8'):
        init_pose_model(config, str(ckpt), backend='onnxruntime', precision='int8')
