"""MPJPE metric (mpjpe / p-mpjpe / n-mpjpe) with per-action results.

REFERENCE was produced by MMPose 1.3.2's ``MPJPE`` on the samples of
:func:`samples` (same arrays, built the same way): keys, their order and
values. The first-principles tests derive their expected values by hand.
"""
import numpy as np
import pytest

from posekit.evaluation.metrics.keypoint_3d_metrics import MPJPE
from posekit.registry import METRICS

# Human3.6M image names: the action is between the subject and the first dot,
# and its take suffix (``_1``, ``_2``) is dropped when grouping.
NAMES = ['S9/S9_Directions_1.54138969_000001.jpg', 'S9_Directions.55011271_000005.jpg',
         'S11_Eating_2.58860488_000100.jpg', 'S11_Walking.60457274_000007.jpg',
         'S9_Greeting.54138969_000003.jpg', 'S11_Eating.54138969_000009.jpg']
ACTIONS = ['Directions', 'Eating', 'Walking', 'Greeting']
# (mode, skip_list) -> [overall, then per action in ACTIONS order]
REFERENCE = {
    ('mpjpe', None): [0.5907959, 0.5605186, 0.6049995, 0.6104115, 0.5787817],
    ('mpjpe', 'S9_Greeting'): [0.592773, 0.5605186, 0.6049995, 0.6104115],
    ('p-mpjpe', None): [0.2126912, 0.2279269, 0.1917692, 0.2152027, 0.221629],
    ('p-mpjpe', 'S9_Greeting'): [0.2112204, 0.2279269, 0.1917692, 0.2152027],
    ('n-mpjpe', None): [0.2278409, 0.2519744, 0.1945398, 0.2356224, 0.2344322],
    ('n-mpjpe', 'S9_Greeting'): [0.2267562, 0.2519744, 0.1945398, 0.2356224],
}


def samples():
    """Six samples: gt ~ N(0, 1), pred = 1.3 gt + N(0, 0.2^2), ~20% of the
    keypoints invisible; sample 3 has 2 target frames and a (1, 2, K, 3)
    prediction (MotionBERT's layout)."""
    rng = np.random.default_rng(0)
    out = []
    for i, name in enumerate(NAMES):
        n = 2 if i == 3 else 1
        gt = rng.normal(size=(n, 17, 3)).astype(np.float32)
        pred = (1.3 * gt + 0.2 * rng.normal(size=gt.shape)).astype(np.float32)
        vis = (rng.uniform(size=(n, 17)) > 0.2).astype(np.float32)
        if i == 3:
            pred = pred[None]
        out.append(dict(pred_instances=dict(keypoints=pred),
                        gt_instances=dict(lifting_target=gt, lifting_target_visible=vis),
                        target_img_path=np.array([name] * n)))
    return out


def evaluate(metric, data):
    metric.process([], data)
    return metric.compute_metrics(metric.results)


@pytest.mark.parametrize('mode,skip', sorted(REFERENCE, key=str))
def test_values_and_keys_equal_mmpose(mode, skip):
    metric = METRICS.build(dict(type='MPJPE', mode=mode,
                                skip_list=[skip] if skip else []))
    result = evaluate(metric, samples())
    name = mode.upper()
    actions = [a for a in ACTIONS if not (skip and a == 'Greeting')]
    assert list(result) == [name] + [f'{name}_{a}' for a in actions]
    assert all(isinstance(v, float) for v in result.values())
    # float32 inputs: sums of ~100 distances agree to ~1e-7 relative
    np.testing.assert_allclose(list(result.values()), REFERENCE[(mode, skip)],
                               rtol=2e-6, atol=1e-7)


def _sample(pred, gt, name='S1_Directions.54138969_000001.jpg', vis=None):
    vis = np.ones(gt.shape[:2], np.float32) if vis is None else vis
    return dict(pred_instances=dict(keypoints=pred),
                gt_instances=dict(lifting_target=gt, lifting_target_visible=vis),
                target_img_path=[name])


def test_first_principles():
    """A shift of (3, 4, 0) is 5 everywhere (mpjpe), and removed by the
    Procrustes alignment (p-mpjpe 0); a pure 2x scale is removed by the scale
    alignment (n-mpjpe 0); an invisible keypoint is not counted."""
    rng = np.random.default_rng(1)
    gt = rng.normal(size=(1, 17, 3))
    shifted = gt + np.array([3.0, 4.0, 0.0])
    vis = np.ones((1, 17), np.float32)
    vis[0, 0] = 0
    bad = shifted.copy()
    bad[0, 0] += 100.0  # invisible: ignored
    res = evaluate(MPJPE(mode='mpjpe'), [_sample(bad, gt, vis=vis)])
    assert res == pytest.approx({'MPJPE': 5.0, 'MPJPE_Directions': 5.0}, abs=1e-9)
    res = evaluate(MPJPE(mode='p-mpjpe'), [_sample(shifted, gt)])
    assert res['P-MPJPE'] == pytest.approx(0.0, abs=1e-9)
    res = evaluate(MPJPE(mode='n-mpjpe'), [_sample(2 * gt, gt)])
    assert res['N-MPJPE'] == pytest.approx(0.0, abs=1e-9)


def test_bad_mode_names_the_choices():
    with pytest.raises(KeyError, match="mode must be one of .*'p-mpjpe'.*got 'pa'"):
        MPJPE(mode='pa')
