"""``posekit benchmark``: what it counts and prints, on a small model."""
import json
from pathlib import Path

import pytest
import torch

from posekit.cli import main
from posekit.commands.benchmark import network_gflop, spread_boxes

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / 'tests/engine/data/td-hm_tiny_synthetic.py'   # ResNet-18 w4, 64x96
LIFTER = ROOT / ('configs/body_3d_keypoint/video_pose_lift/synthetic/'
                 'video-pose-lift_tcn-27frm-supv_1xb64-12e_synthetic-mocap.py')


def test_network_gflop_counts_two_per_multiply_add():
    class OneConv(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)

        def forward(self, x, data_samples=None, mode='tensor'):
            return torch.relu(self.conv(x))   # elementwise: not counted

    # 8 outputs x 8x16 pixels x (3 x 3 x 3) multiply-adds x 2
    assert network_gflop(OneConv(), 16, 8) == pytest.approx(2 * 8 * 8 * 16 * 27 / 1e9)


@pytest.mark.parametrize('count', [1, 3, 8, 10])
def test_spread_boxes_are_person_shaped_and_inside(count):
    boxes = spread_boxes(count, 640, 480)
    assert boxes.shape == (count, 4)
    assert (boxes[:, :2] >= 0).all() and (boxes[:, 2] <= 640).all() and (boxes[:, 3] <= 480).all()
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    assert (w > 0).all() and (w <= h / 2 + 1e-3).all()
    assert len({round(float(x), 3) for x in h}) > 1 or count == 1   # several sizes


def test_benchmark_prints_and_writes_the_figures(tmp_path, capsys):
    out = tmp_path / 'speed.json'
    assert main(['benchmark', str(TINY), '--modes', 'plain', 'fp32', '--iters', '1',
                 '--boxes', '3', '--threads', '1', '--out', str(out)]) == 0
    printed = capsys.readouterr().out
    assert 'TopdownPoseEstimator (ResNet, HeatmapHead)' in printed and 'flip test' in printed
    figures = json.loads(out.read_text())
    assert figures['input_size'] == [64, 96] and figures['flip_test'] is True
    assert figures['threads'] == 1 and figures['unit'] == 'instances/s'
    assert set(figures['modes']) == {'plain', 'fp32'}
    for mode in figures['modes'].values():
        # 3 instances a call; the bound is the flop rate over the matmul's
        assert mode['per_second'] == pytest.approx(3000 / mode['ms_per_call'])
        assert mode['bound'] == pytest.approx(
            figures['gflop'] * 2 * mode['per_second'] / figures['matmul_gflops'])
    # ResNet-18 at width 4 and its head: a few tenths of a million parameters
    assert 0.01 < figures['params_m'] < 1 and figures['gflop'] > 0


def test_benchmark_refuses_a_lifter_and_bad_counts(capsys):
    assert main(['benchmark', str(LIFTER), '--iters', '1']) == 1
    assert 'not pose lifters' in capsys.readouterr().err
    assert main(['benchmark', str(TINY), '--boxes', '0']) == 1
    assert '--boxes and --iters must be at least 1' in capsys.readouterr().err


def test_every_mode_runs_the_same_weights():
    """Without a checkpoint the weights are PyTorch's initial ones: the
    folded fp32 mode must run a copy of the plain model, not a new draw
    (a bottom-up model's speed depends on what it decodes)."""
    import argparse

    import numpy as np

    from posekit.apis import init_model
    from posekit.commands.benchmark import _runner
    model = init_model(str(TINY))
    args = argparse.Namespace(device='cpu', threads=None)
    image = np.random.default_rng(0).integers(0, 256, (96, 64, 3), dtype=np.uint8)
    boxes = spread_boxes(2, 64, 96)
    plain, folded = (_runner(mode, args, model, False)(image, boxes) for mode in ('plain', 'fp32'))
    for a, b in zip(plain, folded):
        # folding changes float32 rounding only: the scores (heatmap maxima) agree
        np.testing.assert_allclose(a.pred_instances.keypoint_scores,
                                   b.pred_instances.keypoint_scores, rtol=1e-4, atol=1e-6)
    assert not hasattr(model, 'inference_precision')   # the plain model left as built
