"""optimize_for_inference: folded BatchNorms keep the predictions; bfloat16
runs the network only, or falls back to float32 where the CPU has none.

The model is the small synthetic-data HRNet of the quick start with seeded
random weights and BatchNorm statistics from a few train-mode batches (at
PyTorch's default statistics a fold proves nothing).
"""
import copy
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from posekit.apis import PoseInferencer, inference_topdown, init_model, optimize_for_inference
from posekit.apis.optimize import fast_bfloat16

ROOT = Path(__file__).resolve().parents[2]
CONFIG = str(ROOT / 'configs/body_2d_keypoint/topdown_heatmap/synthetic/'
             'td-hm_hrnet-tiny_1xb8-9e_synthetic-128x96.py')
IMAGE = str(ROOT / 'tests/data/fixtures/coco/000000197388.jpg')
BOXES = np.array([[139.41, 102.25, 361.80, 343.82],
                  [287.17, 61.52, 362.05, 227.13]], np.float32)


@pytest.fixture
def checkpoint(bn_checkpoint):
    return bn_checkpoint   # tests/conftest.py: seeded weights, real BN statistics


def test_folded_model_predicts_the_same_keypoints(checkpoint):
    plain = init_model(CONFIG, checkpoint)
    fast = optimize_for_inference(init_model(CONFIG, checkpoint))
    num_bn = sum(isinstance(m, _BatchNorm) for m in plain.modules())
    assert num_bn > 30 and not any(isinstance(m, _BatchNorm) for m in fast.modules())
    assert fast.inference_precision == 'fp32'
    want = inference_topdown(plain, IMAGE, BOXES)
    got = inference_topdown(fast, IMAGE, BOXES)
    for a, b in zip(got, want):
        # float32 re-association only: far below the 0.01 px the issue allows
        np.testing.assert_allclose(a.pred_instances.keypoints, b.pred_instances.keypoints,
                                   rtol=0, atol=1e-2)
        np.testing.assert_allclose(a.pred_instances.keypoint_scores,
                                   b.pred_instances.keypoint_scores, rtol=0, atol=1e-4)


def test_bf16_runs_the_network_in_bfloat16_or_falls_back(checkpoint):
    plain = init_model(CONFIG, checkpoint)
    x = torch.rand(2, 3, 128, 96) * 4 - 2
    with torch.no_grad():
        want = plain(x, None, mode='tensor')
    model = init_model(CONFIG, checkpoint)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        optimize_for_inference(model, 'bf16')
    if not fast_bfloat16(torch.device('cpu')):
        assert model.inference_precision == 'fp32'
        assert any('no native bfloat16' in str(w.message) for w in caught)
        return
    assert model.inference_precision == 'bf16'
    with torch.no_grad():
        feats = model.extract_feat(x)
        got = model.head.forward(feats)
    assert feats[0].dtype == torch.bfloat16        # the network ran in bfloat16
    assert got.dtype == torch.float32              # what the decoder reads
    # bfloat16 keeps 8 significant bits (relative step 2**-8 = 0.4%) per op
    rel = float((got - want).norm() / want.norm())
    assert 0 < rel < 0.05
    samples = inference_topdown(model, IMAGE, BOXES)
    assert samples[0].pred_instances.keypoints.dtype == np.float32


def test_arguments(checkpoint):
    model = init_model(CONFIG, checkpoint)
    with pytest.raises(ValueError, match="precision must be one of"):
        optimize_for_inference(copy.deepcopy(model), 'int4')
    optimize_for_inference(model)
    with pytest.raises(RuntimeError, match='already optimized'):
        optimize_for_inference(model)


def test_inferencer_folds_by_default_and_keeps_keypoints(checkpoint):
    plain = init_model(CONFIG, checkpoint)
    inferencer = PoseInferencer(CONFIG, checkpoint, device='cpu')
    assert inferencer.model.inference_precision == 'fp32'
    assert not any(isinstance(m, _BatchNorm) for m in inferencer.model.modules())
    [result] = inferencer(IMAGE, bboxes=None)
    [want] = inference_topdown(plain, IMAGE)   # the whole image: one box
    np.testing.assert_allclose(result['predictions'][0]['keypoints'],
                               want.pred_instances.keypoints[0], rtol=0, atol=1e-2)


def test_padded_to_bucket_pads_to_a_power_of_two_and_cuts_back():
    from posekit.apis.optimize import padded_to_bucket
    seen = []

    def network(feats):
        seen.append([f.shape[0] for f in feats])
        return tuple(f * 2 for f in feats), feats[0].sum(dim=(1, 2, 3))

    run = padded_to_bucket(network)
    x = torch.rand(5, 3, 4, 4).contiguous(memory_format=torch.channels_last)
    feats, sums = run((x, torch.ones(5, 2, 2, 2)))
    assert seen == [[8, 8]]                       # 5 rows -> the bucket of 8
    assert feats[0].shape[0] == 5 and sums.shape == (5,)
    torch.testing.assert_close(feats[0], x * 2)   # the real rows untouched
    torch.testing.assert_close(sums, x.sum(dim=(1, 2, 3)))
    run((torch.rand(4, 3, 4, 4),))
    assert seen[-1] == [4]                        # already a power of two


@pytest.mark.skipif(not any(shutil.which(c) for c in ('c++', 'g++', 'clang++')),
                    reason='torch.compile on the CPU needs a C++ compiler')
def test_compiled_network_gives_the_same_keypoints(checkpoint):
    plain = init_model(CONFIG, checkpoint)
    fast = optimize_for_inference(init_model(CONFIG, checkpoint), compile=True)
    for boxes in (BOXES, BOXES[:1]):   # two batch buckets (with flip: 2 and 1)
        want = inference_topdown(plain, IMAGE, boxes)
        got = inference_topdown(fast, IMAGE, boxes)
        for a, b in zip(got, want):
            np.testing.assert_allclose(a.pred_instances.keypoints,
                                       b.pred_instances.keypoints, rtol=0, atol=1e-2)

