"""int8 quantization (posekit.export.quantize): the file, its error, the CLI.

The model is the small synthetic-data HRNet of the quick start with seeded
random weights and BatchNorm statistics from train-mode batches (as in
tests/apis/test_optimize.py), calibrated on the COCO fixture images (whole
images as boxes). The errors are compared with the float32 ONNX file, so
they are the quantization's alone.
"""
import glob
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip('onnx')
ort = pytest.importorskip('onnxruntime')
pytest.importorskip('onnxruntime.quantization')
pytest.importorskip('onnxscript')

from onnx import numpy_helper  # noqa: E402

from posekit.apis import PoseInferencer, inference_topdown, init_model  # noqa: E402
from posekit.apis.backends import init_pose_model  # noqa: E402
from posekit.cli import main  # noqa: E402
from posekit.export import calibration_inputs, export_onnx, quantize_onnx  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CONFIG = str(ROOT / 'configs/body_2d_keypoint/topdown_heatmap/synthetic/'
             'td-hm_hrnet-tiny_1xb8-9e_synthetic-128x96.py')
FIXTURES = ROOT / 'tests/data/fixtures/coco'
IMAGE = str(FIXTURES / '000000197388.jpg')
BOXES = np.array([[139.41, 102.25, 361.80, 343.82],
                  [287.17, 61.52, 362.05, 227.13]], np.float32)


@pytest.fixture(scope='module')
def files(tmp_path_factory, bn_checkpoint):
    """(checkpoint, float32 .onnx, int8 .onnx)."""
    tmp = tmp_path_factory.mktemp('quantize')
    ckpt = bn_checkpoint
    model = init_model(CONFIG, ckpt)
    float_file = export_onnx(model, output=tmp / 'model.onnx', dynamic_batch=True)
    inputs = calibration_inputs(model, str(FIXTURES / '*.jpg'), num=8)
    int8_file = quantize_onnx(float_file, tmp / 'model.int8.onnx', inputs)
    return str(ckpt), float_file, int8_file


def test_calibration_inputs_are_the_preprocessed_whole_images():
    model = init_model(CONFIG)
    inputs = calibration_inputs(model, str(FIXTURES), num=3)
    # 4 fixture images, 3 spread evenly: indices 0, 1.5 -> 2, 3
    assert len(inputs) == 3 and all(x.shape == (3, 128, 96) for x in inputs)
    # a whole image through TopdownAffine and mean/std: an ImageNet-normalised
    # image lies in [(0 - 123.675) / 58.395, (255 - 103.53) / 57.375]
    values = np.stack(inputs)
    assert values.dtype == np.float32
    assert values.min() >= -2.12 and values.max() <= 2.65 and values.std() > 0.3


def test_int8_file_has_qdq_nodes_and_int8_weights(files):
    _, float_file, int8_file = files
    quant = onnx.load(int8_file)
    ops = {n.op_type for n in quant.graph.node}
    assert {'QuantizeLinear', 'DequantizeLinear', 'Conv'} <= ops
    weights = {i.name: numpy_helper.to_array(i) for i in quant.graph.initializer}
    int8 = [w for w in weights.values() if w.dtype == np.int8 and w.ndim == 4]
    float_convs = [numpy_helper.to_array(i) for i in onnx.load(float_file).graph.initializer
                   if len(i.dims) == 4]
    # every convolution's weights, stored in int8: 4 bytes -> 1 each
    assert len(int8) == len(float_convs) == 40   # the tiny HRNet's convolutions
    ratio = sum(w.nbytes for w in float_convs) / sum(w.nbytes for w in int8)
    assert ratio == pytest.approx(4.0)
    meta = {p.key: p.value for p in quant.metadata_props}
    assert meta['precision'] == 'int8' and meta['input_size'] == '[96, 128]'
    assert meta['head_type'] == 'HeatmapHead'
    assert meta['weights'] == 'int8 symmetric per-channel'
    # symmetric per-channel: each channel's largest |w| maps to 127
    assert max(np.abs(w.astype(np.int32)).max() for w in int8) == 127


def test_int8_outputs_are_close_to_float32(files):
    """Relative L2 error of the heatmaps on crops of the fixture boxes.

    A uint8 tensor's rounding error is uniform in +-step/2, step = range / 255:
    rms step/sqrt(12) = 0.11% of the tensor's calibrated range. Activations
    after BatchNorm+ReLU have an rms near range/10, so each quantized tensor
    adds about 1.1% relative noise; on the ~20 quantized tensors of the
    longest path of this HRNet, adding in quadrature: 1.1% x sqrt(20) = 5%.
    Measured 3.7% (69 quantized tensors in all); bound 10% (2x the estimate).
    The int8 outputs lie on the output's grid scale x (q - zero_point), q in
    0..255.
    """
    ckpt, float_file, int8_file = files
    model = init_model(CONFIG, ckpt)
    x = np.stack(calibration_inputs(model, str(FIXTURES / '*.jpg'), num=4))
    want = _session(float_file).run(None, {'input': x})[0]
    got = _session(int8_file).run(None, {'input': x})[0]
    rel = np.linalg.norm(got - want) / np.linalg.norm(want)
    assert rel < 0.10
    scale, zero = _output_quantization(onnx.load(int8_file))
    q = got / scale + zero
    np.testing.assert_allclose(q, np.round(q), atol=1e-2)
    assert q.min() > -0.01 and q.max() < 255.01


def test_int8_keypoints_within_bound_of_float32(files):
    """Keypoints of inference_topdown, int8 vs float32 ONNX, fixture boxes.

    Random weights give heatmaps with several near-equal peaks, and the ~3%
    int8 error swaps some of them (jumps of 100+ px, measured on 4 of 17
    keypoints of a box), so the bound is on the typical keypoint: the median
    moves by less than one heatmap cell (the box's side x 1.25 padding / 48
    cells; 5.8 and 3.2 px here; measured 2.1 and 0.8 px) and at least 60% of
    the keypoints by less than two (measured 74%). The trained quick-start
    model moves its keypoints by far less: see benchmarks/quantize.py.
    """
    ckpt, float_file, int8_file = files
    fp32 = init_pose_model(CONFIG, float_file, backend='onnxruntime', precision='fp32')
    int8 = init_pose_model(CONFIG, int8_file, backend='onnxruntime', precision='int8')
    want, got = inference_topdown(fp32, IMAGE, BOXES), inference_topdown(int8, IMAGE, BOXES)
    within = []
    for a, b, box in zip(got, want, BOXES):
        diff = np.linalg.norm(a.pred_instances.keypoints[0] - b.pred_instances.keypoints[0],
                              axis=1)
        # TopdownAffine pads the box to the 3:4 input aspect, then x 1.25
        cell = max(box[2] - box[0], (box[3] - box[1]) * 0.75) * 1.25 / 48
        assert np.median(diff) < cell
        within.append(diff < 2 * cell)
    assert np.mean(within) >= 0.6


def test_precision_must_match_the_file(files):
    ckpt, float_file, int8_file = files
    with pytest.raises(ValueError, match='--quantize int8'):
        init_pose_model(CONFIG, ckpt, backend='pytorch', precision='int8')
    with pytest.raises(ValueError, match='is a fp32 file'):
        init_pose_model(CONFIG, float_file, backend='onnxruntime', precision='int8')
    with pytest.raises(ValueError, match="precision='int8'"):
        init_pose_model(CONFIG, int8_file, backend='onnxruntime', precision='fp32')
    with pytest.raises(ValueError, match="precision 'bf16'"):
        init_pose_model(CONFIG, int8_file, backend='onnxruntime', precision='bf16')
    with pytest.raises(ValueError, match='--quantize int8'):
        PoseInferencer(CONFIG, ckpt, precision='int8')


def test_bottomup_and_onestage_files_are_refused(files, tmp_path):
    _, float_file, _ = files
    proto = onnx.load(float_file)
    for key, value, kind in (('data_mode', 'bottomup', 'bottom-up'),
                             ('onestage', 'true', 'one-stage')):
        proto.metadata_props.add(key=key, value=value)
        path = str(tmp_path / f'{key}.onnx')
        onnx.save(proto, path)
        with pytest.raises(ValueError, match=f'this is a {kind} model'):
            quantize_onnx(path, tmp_path / 'x.onnx', [np.zeros((3, 128, 96), np.float32)])
    assert not (tmp_path / 'x.onnx').exists()


def test_cli_quantize_writes_the_int8_file(files, tmp_path, capsys):
    ckpt, _, _ = files
    out = tmp_path / 'cli.int8.onnx'
    assert main(['export', CONFIG, ckpt, '--quantize', 'int8', '--output', str(out),
                 '--calib-images', str(FIXTURES / '*.jpg'), '--calib-num', '2',
                 '--reduce-range']) == 0
    assert 'calibrated on 2 inputs' in capsys.readouterr().out
    proto = onnx.load(str(out))
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta['precision'] == 'int8' and meta['calibration_inputs'] == '2'
    # --reduce-range: 7-bit weights, symmetric: -64..64 (full range: -127..127)
    assert meta['weights'] == 'int7 symmetric per-channel'
    weights = [numpy_helper.to_array(i) for i in proto.graph.initializer]
    peak = max(np.abs(w.astype(np.int32)).max() for w in weights if w.dtype == np.int8)
    assert peak == 64
    assert glob.glob(str(tmp_path / '*')) == [str(out)]   # the float file is not kept


def test_cli_errors(files, tmp_path, capsys):
    ckpt, _, _ = files
    # the config's test dataset, data/synthetic-1k/ (relative), moved away
    missing = f"test_dataloader.dataset.data_root='{tmp_path}/none/'"
    for argv, message in [
            (['--format', 'tensorrt', '--quantize', 'int8'],
             '--quantize int8 needs --format onnx'),
            (['--calib-images', str(FIXTURES)], '--calib-images is used with --quantize'),
            (['--reduce-range'], '--reduce-range is used with --quantize'),
            (['--quantize', 'int8', '--calib-num', '0'], '--calib-num must be >= 1'),
            (['--quantize', 'int8', '--calib-images', str(tmp_path / '*.png')],
             'no image or video found'),
            (['--quantize', 'int8', '--cfg-options', missing],
             'pass calibration images with --calib-images')]:
        rc = main(['export', CONFIG, ckpt, '--output', str(tmp_path / 'x.onnx')] + argv)
        assert rc == 1
        assert message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def _session(path: str):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(path, options, providers=['CPUExecutionProvider'])


def _output_quantization(proto) -> tuple[float, float]:
    """Scale and zero point of the DequantizeLinear making the graph output."""
    init = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
    output = proto.graph.output[0].name
    node = next(n for n in proto.graph.node if output in n.output)
    assert node.op_type == 'DequantizeLinear'
    return float(init[node.input[1]]), float(init[node.input[2]])
