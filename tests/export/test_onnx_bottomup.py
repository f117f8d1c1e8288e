"""ONNX export and the ONNX Runtime backend of a bottom-up model.

The Associative Embedding quick-start config (tiny HRNet) gets seeded random
weights whose batch norms hold the statistics of a few random images (one
train-mode forward), so that its outputs depend on the input. It is exported
once per module through ``posekit export --check`` (fixed batch 1, H and W
dynamic multiples of 32) and run on a 640x392 COCO fixture image, which the
test pipeline resizes to a 448x256 input: not the 256x256 the graph was
traced at.

Tolerances. ONNX Runtime and PyTorch compute the same float32 network with
other kernels; their outputs agree to 6e-6 to 9e-6 of the largest output
here (measured), and the tests allow 1e-4 of it (the top-down tests' bound,
11 times the largest error seen). The
flip test averages the two passes' outputs and the bilinear resize to the
input size takes convex combinations of them, so the maps the decoder reads
agree to that bound too, and so do the scores read from them. Keypoint
locations are discrete decisions (argmax, quarter-pixel step): they are
equal where no decision can flip under that error, which the test checks
from the maps' margins.
"""
import contextlib
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

onnx = pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')
pytest.importorskip('onnxscript')

from posekit.apis import (OnnxNetwork, PoseInferencer, inference_bottomup,  # noqa: E402
                          init_model, init_onnx_model)
from posekit.cli import main  # noqa: E402
from posekit.config import Config  # noqa: E402
from posekit.export import export_onnx  # noqa: E402
from posekit.export.onnx_export import bottomup_size_factor  # noqa: E402
from posekit.registry import MODELS  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / ('configs/body_2d_keypoint/associative_embedding/synthetic/'
                 'ae_hrnet-tiny_1xb16-20e_synthetic-256x256.py')
IMAGE = ROOT / 'tests/data/fixtures/coco/000000197388.jpg'  # 640x392
REL = 1e-4  # allowed network error, relative to the largest output
# One candidate per keypoint, one instance, every candidate kept: each
# keypoint is its heatmap's maximum (see decided()), so the decisions that
# make a location can be checked against the network error. (The default
# decoding of this random model also groups by tags and fills missing
# keypoints by rounded tag distances; the tags of a random network make some
# of those decisions flip under perturbations of 1e-5 of the maps.)
ONE_PEAK = {'model.head.decoder.decode_topk': 1,
            'model.head.decoder.decode_max_instances': 1,
            'model.head.decoder.decode_tag_thr': 1e9,
            'model.head.decoder.decode_keypoint_thr': -1.0,
            'model.test_cfg.output_heatmaps': True}


def write_checkpoint(path: Path) -> Path:
    """Seeded random weights; batch norm statistics of 4 random images."""
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(str(CONFIG)).model)
    norms = [m for m in model.modules()
             if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for m in norms:  # momentum None: the running stats become the batch's
        m.reset_running_stats()
        m.momentum = None
    model.train()
    with torch.no_grad():
        model(torch.randn(4, 3, 128, 128,
                          generator=torch.Generator().manual_seed(1)),
              mode='tensor')
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    return path


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    """(checkpoint, onnx file, what ``posekit export --check`` printed)."""
    folder = tmp_path_factory.mktemp('onnx_bottomup')
    ckpt = write_checkpoint(folder / 'ae.pth')
    out = folder / 'ae.onnx'
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        rc = main(['export', str(CONFIG), str(ckpt), '--format', 'onnx',
                   '--output', str(out), '--check'])
    assert rc == 0
    return ckpt, out, printed.getvalue()


def variant(head: dict, test_cfg: dict) -> Config:
    """The AE config with another head on the same 16-channel features."""
    cfg = Config.fromfile(str(CONFIG))
    cfg.model.head = head
    cfg.model.test_cfg = test_cfg
    return cfg


def cid_config() -> Config:
    return variant(
        dict(type='CIDHead', in_channels=16, gfd_channels=8, num_keypoints=17,
             decoder=dict(type='DecoupledHeatmap', input_size=(256, 256),
                          heatmap_size=(64, 64))),
        dict(flip_test=True))


def dekr_config(rescore: bool) -> Config:
    codec = dict(type='SPR', input_size=(256, 256), heatmap_size=(64, 64),
                 sigma=(4, 2), minimal_diagonal_length=32**0.5,
                 generate_keypoint_heatmaps=True)
    rescore_cfg = dict(in_channels=74, norm_indexes=(5, 6)) if rescore else None
    return variant(dict(type='DEKRHead', in_channels=16, num_keypoints=17,
                        decoder=codec, rescore_cfg=rescore_cfg),
                   dict(flip_test=True, nms_dist_thr=0.05))


def test_cli_writes_dynamic_size_file_with_metadata_and_check(files):
    _, path, printed = files
    proto = onnx.load(str(path))
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims[:2]] == [1, 3]  # fixed batch 1, RGB
    assert all(d.dim_param and not d.dim_value for d in dims[2:])  # symbols
    meta = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(meta['input_size']) == [256, 256]  # the example's
    assert meta['batch_size'] == '1'
    assert meta['data_mode'] == 'bottomup'
    assert json.loads(meta['dynamic_size']) is True
    assert json.loads(meta['size_factor']) == 32
    assert json.loads(meta['output_names']) == ['heatmaps', 'tags']
    assert meta['output_type'] == 'sequence'
    assert meta['head_type'] == 'AssociativeEmbeddingHead'
    assert json.loads(meta['num_keypoints']) == 17
    assert json.loads(meta['mean']) == [123.675, 116.28, 103.53]
    assert json.loads(meta['bgr_to_rgb']) is True
    assert 'input (N, C, H, W) = (1, 3, 32*h, 32*w (traced at 256x256))' \
        in printed
    # --check: 256x256 and 288x320 inputs; relative norm of the error
    for name in ('heatmaps', 'tags'):
        error = float(re.search(rf'check {name}: max relative error (\S+)',
                                printed).group(1))
        assert error < REL, printed


@pytest.mark.parametrize('height, width', [(256, 448), (384, 320)])
def test_raw_outputs_match_torch_at_other_sizes(files, height, width):
    ckpt, path, _ = files
    model = init_model(str(CONFIG), str(ckpt))
    network = OnnxNetwork(path, num_threads=1)
    assert network.size_factor == 32 and network.batch_size == 1
    x = torch.randn(1, 3, height, width,
                    generator=torch.Generator().manual_seed(height))
    with torch.no_grad():
        expected = model(x, mode='tensor')
    got = network(x)
    assert len(got) == 2
    for a, b in zip(got, expected):
        assert a.shape == b.shape == (1, 17, height // 4, width // 4)
        assert (a - b).abs().max() < REL * b.abs().max()


def decided(heatmaps: np.ndarray, margin: float) -> np.ndarray:
    """(K,) True where each map's maximum (its location) and the sign of
    the differences of its neighbours (the quarter-pixel step) cannot
    change when every value moves by less than ``margin / 2``."""
    K, H, W = heatmaps.shape
    flat = heatmaps.reshape(K, -1)
    top2 = np.sort(flat, axis=1)[:, -2:]
    ok = top2[:, 1] - top2[:, 0] > margin
    y, x = np.unravel_index(flat.argmax(1), (H, W))
    k = np.arange(K)
    xs, ys = np.clip([x - 1, x + 1], 0, W - 1), np.clip([y - 1, y + 1], 0, H - 1)
    ok &= np.abs(heatmaps[k, y, xs[1]] - heatmaps[k, y, xs[0]]) > margin
    ok &= np.abs(heatmaps[k, ys[1], x] - heatmaps[k, ys[0], x]) > margin
    return ok


def test_inference_bottomup_matches_torch(files):
    ckpt, path, _ = files
    model = init_model(str(CONFIG), str(ckpt), cfg_options=ONE_PEAK)
    onnx_model = init_onnx_model(str(CONFIG), path, cfg_options=ONE_PEAK,
                                 num_threads=1)
    assert onnx_model.is_bottomup and onnx_model.test_cfg['flip_test']
    [expected] = inference_bottomup(model, str(IMAGE))
    [got] = inference_bottomup(onnx_model, str(IMAGE))
    assert tuple(got.input_size) == (448, 256)  # not the traced 256x256
    # the maps the decoder read: flip-averaged, resized to the input
    # (tags of both passes side by side: 2 x 17 channels)
    for name, channels in (('heatmaps', 17), ('tags', 34)):
        a, b = got.pred_fields.get(name), expected.pred_fields.get(name)
        assert a.shape == b.shape == (channels, 256, 448)
        assert (a - b).abs().max() < REL * b.abs().max()
    heatmaps = expected.pred_fields.heatmaps.numpy()
    error = REL * np.abs(heatmaps).max()
    pa, pb = got.pred_instances, expected.pred_instances
    assert pa.keypoints.shape == pb.keypoints.shape == (1, 17, 2)
    np.testing.assert_allclose(pa.keypoint_scores, pb.keypoint_scores,
                               rtol=0, atol=error)
    np.testing.assert_allclose(pa.bbox_scores, pb.bbox_scores, rtol=0,
                               atol=error)
    mask = decided(heatmaps, 2 * error)
    assert mask.sum() >= 12  # 14 of 17 here
    np.testing.assert_allclose(pa.keypoints[0][mask], pb.keypoints[0][mask],
                               rtol=0, atol=1e-3)
    # the keypoints are in image pixels: inside the 640x392 image, spread
    assert (pb.keypoints[0].min(0) > -10).all()
    assert (pb.keypoints[0].max(0) < [650, 402]).all()
    assert np.ptp(pb.keypoints[0], axis=0).min() > 50


def test_inferencer_onnx_backend_gives_inference_bottomup_results(files):
    _, path, _ = files
    inferencer = PoseInferencer(str(CONFIG), str(path), device='cpu',
                                backend='onnxruntime', num_threads=1)
    [result] = inferencer(str(IMAGE))
    onnx_model = init_onnx_model(str(CONFIG), path, num_threads=1)
    [sample] = inference_bottomup(onnx_model, str(IMAGE))
    expected = sample.pred_instances
    assert len(result['predictions']) == len(expected.keypoints) == 10
    np.testing.assert_array_equal(
        [p['keypoints'] for p in result['predictions']], expected.keypoints)
    np.testing.assert_array_equal(
        [p['keypoint_scores'] for p in result['predictions']],
        expected.keypoint_scores)


def test_wrong_input_size_is_a_clear_error(files):
    network = OnnxNetwork(files[1], num_threads=1)
    with pytest.raises(ValueError, match=r'takes \(N, 3, H, W\) inputs with '
                       r'H and W multiples of 32 .*\(1, 3, 250, 256\)'):
        network(torch.zeros(1, 3, 250, 256))
    with pytest.raises(ValueError, match=r'\(N, 3, H, W\).*\(1, 1, 256, 256\)'):
        network(torch.zeros(1, 1, 256, 256))
    cfg = Config.fromfile(str(CONFIG))
    cfg.test_dataloader.dataset.pipeline[1]['size_factor'] = 16
    with pytest.raises(ValueError, match='multiples of 32, config '
                       'BottomupResize size_factor=16'):
        init_onnx_model(cfg, files[1])


def test_heads_decoded_with_more_than_the_file_are_refused(files):
    with pytest.raises(ValueError, match='CIDHead has no predict_with'):
        export_onnx(cid_config(), output='never.onnx')
    with pytest.raises(ValueError, match='DEKRHead with rescore_cfg: its '
                       'RescoreNet'):
        export_onnx(dekr_config(rescore=True), output='never.onnx')
    for cfg, name in ((cid_config(), 'CIDHead'),
                      (dekr_config(rescore=True), 'DEKRHead')):
        with pytest.raises(ValueError, match=f'ONNX backend cannot run this '
                           f'config: {name}'):
            init_onnx_model(cfg, files[1])
    assert not Path('never.onnx').exists()
    # the way out the message gives: no rescoring
    model = init_model(dekr_config(rescore=True))
    model.head.rescore_net = None
    assert bottomup_size_factor(model) == 32
    with pytest.raises(ValueError, match='head: file AssociativeEmbeddingHead'):
        init_onnx_model(dekr_config(rescore=False), files[1])
