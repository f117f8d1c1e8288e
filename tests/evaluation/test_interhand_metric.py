"""InterHandMetric: MPJPE per hand type, MRRPE and handedness accuracy,
derived by hand on a synthetic camera and written from MMPose 1.3.2 on the
real InterHand2.6M fixture."""
from pathlib import Path

import numpy as np
import pytest

from posekit.registry import DATASETS, METRICS
from posekit.structures import InstanceData, PoseDataSample

FOCAL, CENTER = np.array([100., 100.], np.float32), np.zeros(2, np.float32)
MODES = ['MPJPE', 'MRRPE', 'HandednessAcc']


def _sample(gt_cam, pred_kpts, rel_root, pred_type, gt_type, abs_depth,
            visible=None, focal=FOCAL, center=CENTER):
    s = PoseDataSample(metainfo=dict(
        hand_type=np.asarray(gt_type, np.float32), hand_type_valid=np.array([1]),
        abs_depth=abs_depth, focal=focal, principal_pt=center))
    s.gt_instances = InstanceData(
        keypoints_cam=gt_cam,
        keypoints_visible=np.ones((1, 42), np.float32) if visible is None
        else visible)
    s.pred_instances = InstanceData(
        keypoints=pred_kpts, rel_root_depth=np.array([rel_root], np.float32),
        hand_type=np.array(pred_type))
    return s


def _synthetic():
    """Right joints (0, 0, 1000 + i) with the wrist (20) at depth 1000; all
    left joints at (100, 0, 1100). Predictions: exact projections (u = x / z
    * 100) with each hand's depth relative to its wrist."""
    cam = np.zeros((1, 42, 3), np.float32)
    cam[0, :21, 2] = 1000 + np.arange(21)
    cam[0, 20, 2] = 1000
    cam[0, 21:] = [100, 0, 1100]
    pred = np.zeros_like(cam)
    pred[..., :2] = cam[..., :2] / cam[..., 2:] * 100
    pred[0, :21, 2] = cam[0, :21, 2] - 1000
    pred[0, 21:, 2] = 0
    return cam, pred


def _evaluate(samples, modes=MODES):
    metric = METRICS.build(dict(type='InterHandMetric', modes=modes))
    metric.process(None, [s.to_dict() for s in samples])
    return metric.compute_metrics(metric.results)


def test_exact_predictions_give_zero_errors():
    cam, pred = _synthetic()
    res = _evaluate([_sample(cam, pred, 100., [[1, 1]], [[1, 1]],
                             [1000., 1100.])])
    assert res['MPJPE_all'] == pytest.approx(0, abs=1e-4)
    assert res['MRRPE'] == pytest.approx(0, abs=1e-3)
    assert res['HandednessAcc'] == 1.0


def test_errors_by_hand():
    """+10 mm depth on right joint 5 (on the optical axis: only z moves):
    10 mm on 1 of 42 joints -> MPJPE 10 / 42, all from the interacting
    sample (no single-hand sample: 0). Root depth +20 mm: the left root
    lifts to z = 1120 at u = 100 / 1100 * 100, x = u / 100 * 1120, so the
    error is (100 * 1120 / 1100 - 100, 0, 20). Hand type [1, 0] vs [1, 1]:
    accuracy 0."""
    cam, pred = _synthetic()
    pred[0, 5, 2] += 10
    res = _evaluate([_sample(cam, pred, 120., [[1, 0]], [[1, 1]],
                             [1000., 1100.])])
    assert res['MPJPE_all'] == pytest.approx(10 / 42, rel=1e-4)
    assert res['MPJPE_interacting'] == pytest.approx(10 / 42, rel=1e-4)
    assert res['MPJPE_single'] == 0
    assert res['MRRPE'] == pytest.approx(
        np.hypot(100 * 1120 / 1100 - 100, 20), rel=1e-5)
    assert res['HandednessAcc'] == 0.0


def test_fixture_values_match_mmpose():
    """Predictions = true keypoints + N(0, 3) noise (seed 0, in sample
    order), root depth off by 7 mm, hand types right except sample 2 (a
    left hand predicted as both); figures from MMPose 1.3.2."""
    root = Path(__file__).parents[1] / 'data' / 'fixtures' / 'interhand2.6m'
    ds = DATASETS.build(dict(
        type='InterHand3DDataset', data_root=str(root), test_mode=True,
        ann_file='test_interhand2.6m_data.json',
        camera_param_file='test_interhand2.6m_camera.json',
        joint_file='test_interhand2.6m_joint_3d.json'))
    rng = np.random.default_rng(0)
    samples = []
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        kpts = (info['keypoints'] + rng.normal(0, 3, (1, 42, 3))
                ).astype(np.float32)
        depth = info['abs_depth']
        pred_type = [[1, 1]] if i == 2 else info['hand_type'].astype(int)
        samples.append(_sample(
            info['keypoints_cam'], kpts, float(depth[1] - depth[0]) + 7.,
            pred_type, info['hand_type'], depth,
            info['keypoints_visible'], info['focal'], info['principal_pt']))
    res = _evaluate(samples)
    expected = dict(MPJPE_all=5.5783, MPJPE_single=5.0459867,
                    MPJPE_interacting=5.8444567, HandednessAcc=0.75,
                    MRRPE=5.2146029)
    for key, value in expected.items():
        assert res[key] == pytest.approx(value, rel=1e-5), key


def test_modes_are_checked_and_selected():
    with pytest.raises(ValueError, match='PCK'):
        METRICS.build(dict(type='InterHandMetric', modes=['PCK']))
    cam, pred = _synthetic()
    res = _evaluate([_sample(cam, pred, 100., [[1, 1]], [[1, 1]],
                             [1000., 1100.])], modes=['HandednessAcc'])
    assert res == {'HandednessAcc': 1.0}
