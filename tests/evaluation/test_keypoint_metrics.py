"""PCK, PCKh (MPII), JHMDB PCK, AUC, EPE, NME, MPJPE and
KeypointPartitionMetric, against numbers from MMPose 1.3.2.

MMPose was fed the very same data samples (conftest.py); the results must be
equal (MPJPE's: to float32 rounding, see test_mpjpe).
"""
import json

import numpy as np
import pytest
from scipy.io import savemat

MMPOSE = {
    'mpii_pckh_None': {'Head PCK': 100.0, 'Shoulder PCK': 100.0,
        'Elbow PCK': 100.0, 'Wrist PCK': 100.0, 'Hip PCK': 100.0,
        'Knee PCK': 100.0, 'Ankle PCK': 100.0, 'PCK': 100.0, 'PCK@0.1': 100.0},
    'mpii_pck_None': {'PCK': 1.0, 'PCKh': 1.0},
    'mpii_pckh_0': {'Head PCK': 60.0, 'Shoulder PCK': 60.0, 'Elbow PCK': 70.0,
        'Wrist PCK': 40.0, 'Hip PCK': 70.0, 'Knee PCK': 50.0,
        'Ankle PCK': 66.66666666666666, 'PCK': 60.606060606060595,
        'PCK@0.1': 3.030302972504587},
    'mpii_pck_0': {'PCK': 1.0, 'PCKh': 0.07083333333333333},
    'mpii_pckh_1': {'Head PCK': 40.0, 'Shoulder PCK': 40.0, 'Elbow PCK': 40.0,
        'Wrist PCK': 20.0, 'Hip PCK': 10.0, 'Knee PCK': 20.0,
        'Ankle PCK': 16.666666666666664, 'PCK': 27.272727272727273,
        'PCK@0.1': 1.5151515151515151},
    'mpii_pck_1': {'PCK': 0.8666666666666667, 'PCKh': 0.05},
    'jhmdb_None': {'Head PCK': 1.0, 'Sho PCK': 1.0, 'Elb PCK': 1.0,
        'Wri PCK': 1.0, 'Hip PCK': 1.0, 'Knee PCK': 1.0, 'Ank PCK': 1.0,
        'PCK': 1.0, 'Head tPCK': 1.0, 'Sho tPCK': 1.0, 'Elb tPCK': 1.0,
        'Wri tPCK': 1.0, 'Hip tPCK': 1.0, 'Knee tPCK': 1.0, 'Ank tPCK': 1.0,
        'tPCK': 1.0},
    'jhmdb_0': {'Head PCK': 1.0, 'Sho PCK': 1.0, 'Elb PCK': 1.0,
        'Wri PCK': 1.0, 'Hip PCK': 1.0, 'Knee PCK': 1.0, 'Ank PCK': 1.0,
        'PCK': 1.0, 'Head tPCK': 1.0, 'Sho tPCK': 0.8333333333333333,
        'Elb tPCK': 0.8333333333333333, 'Wri tPCK': 0.8333333333333333,
        'Hip tPCK': 0.8333333333333333, 'Knee tPCK': 0.8333333333333333,
        'Ank tPCK': 1.0, 'tPCK': 0.8666666666666667},
    'hand_pck_None': {'PCK': 1.0},
    'hand_auc_None': {'AUC': 0.9500000000000003},
    'hand_epe_None': {'EPE': 0.0},
    'hand_nme_None': {'NME': 0.0},
    'hand_pck_0': {'PCK': 1.0},
    'hand_auc_0': {'AUC': 0.5853174603174605},
    'hand_epe_0': {'EPE': 12.516529083251953},
    'hand_nme_0': {'NME': 0.051568254828453064},
    'hand_pck_1': {'PCK': 1.0},
    'hand_auc_1': {'AUC': 0.6051587301587302},
    'hand_epe_1': {'EPE': 11.629853248596191},
    'hand_nme_1': {'NME': 0.04835064709186554},
    'WFLWDataset_nme_None': {'NME': 0.0},
    'WFLWDataset_nme_0': {'NME': 0.04141467437148094},
    'WFLWDataset_nme_idx': {'NME': 0.3828144371509552},
    'Face300WDataset_nme_None': {'NME': 0.0},
    'Face300WDataset_nme_0': {'NME': 0.039810389280319214},
    'Face300WDataset_nme_idx': {'NME': 0.17939211428165436},
    'COFWDataset_nme_None': {'NME': 0.0},
    'COFWDataset_nme_0': {'NME': 0.04113324359059334},
    'COFWDataset_nme_idx': {'NME': 0.03541965410113335},
    'mpjpe_mpjpe': {'MPJPE': 64.75344848632812,
        'MPJPE_Directions': 54.57487487792969,
        'MPJPE_Eating': 66.46060180664062, 'MPJPE_Walking': 74.95896911621094,
        'MPJPE_WalkDog': 63.057315826416016},
    'mpjpe_p-mpjpe': {'P-MPJPE': 27.834010563261895,
        'P-MPJPE_Directions': 27.456857360633776,
        'P-MPJPE_Eating': 28.6575724935502,
        'P-MPJPE_Walking': 28.350330493033823,
        'P-MPJPE_WalkDog': 26.78942986670094},
    'mpjpe_n-mpjpe': {'N-MPJPE': 59.151947021484375,
        'N-MPJPE_Directions': 50.852760314941406,
        'N-MPJPE_Eating': 60.52846145629883,
        'N-MPJPE_Walking': 68.7601089477539,
        'N-MPJPE_WalkDog': 56.52841567993164},
}
COCO_NAMES = ('AP', 'AP .5', 'AP .75', 'AP (M)', 'AP (L)', 'AR', 'AR .5',
              'AR .75', 'AR (M)', 'AR (L)')


@pytest.fixture(scope='module')
def mpii(make, tmp_path_factory):
    """MPII with head boxes 12 px around the neck and head-top joints,
    written as MPII's gt_valid.mat."""
    with open(make.path('mpii/test_mpii.json')) as f:
        joints = np.array([entry['joints'] for entry in json.load(f)])
    low = joints[:, 8:10].min(1) - 12
    high = joints[:, 8:10].max(1) + 12
    path = str(tmp_path_factory.mktemp('mpii') / 'gt_valid.mat')
    savemat(path, {'headboxes_src': np.stack([low, high], 1).transpose(1, 2, 0)})
    return make.dataset('MpiiDataset', 'mpii/test_mpii.json',
                        headbox_file=path)


@pytest.mark.parametrize('seed, noise', [(None, 0), (0, 0.05), (1, 0.1)])
def test_mpii_pckh_table(make, mpii, seed, noise):
    samples = make.topdown(mpii, seed=seed, noise=noise)
    result = make.run(dict(type='MpiiPCKAccuracy'), mpii.metainfo, samples)
    assert result == MMPOSE[f'mpii_pckh_{seed}']
    assert list(result) == list(MMPOSE[f'mpii_pckh_{seed}'])
    result = make.run(dict(type='PCKAccuracy', thr=0.2,
                           norm_item=['bbox', 'head']), mpii.metainfo, samples)
    assert result == MMPOSE[f'mpii_pck_{seed}']


@pytest.mark.parametrize('seed', [None, 0])
def test_jhmdb_pck_and_tpck(make, seed):
    dataset = make.dataset('JhmdbDataset', 'jhmdb/test_jhmdb_sub1.json')
    samples = make.topdown(dataset, seed=seed, noise=0.05)
    result = make.run(dict(type='JhmdbPCKAccuracy', thr=0.2,
                           norm_item=['bbox', 'torso']), dataset.metainfo,
                      samples)
    assert result == MMPOSE[f'jhmdb_{seed}']
    assert list(result) == list(MMPOSE[f'jhmdb_{seed}'])


@pytest.mark.parametrize('seed', [None, 0, 1])
def test_hand_metrics(make, seed):
    dataset = make.dataset('OneHand10KDataset', 'onehand10k/test_onehand10k.json')
    samples = make.topdown(dataset, seed=seed, noise=0.05)
    for name, cfg in (
            ('pck', dict(type='PCKAccuracy', thr=0.2)),
            ('auc', dict(type='AUC', norm_factor=30)),
            ('epe', dict(type='EPE')),
            ('nme', dict(type='NME', norm_mode='use_norm_item',
                         norm_item='bbox_size'))):
        result = make.run(cfg, dataset.metainfo, samples)
        assert result == MMPOSE[f'hand_{name}_{seed}'], name
    if seed is None:    # ground truth: EPE 0; AUC 0.95, as nothing is < 0
        assert result == {'NME': 0.0}


@pytest.mark.parametrize('kind, ann_file', [
    ('WFLWDataset', 'wflw/test_wflw.json'),
    ('Face300WDataset', '300w/test_300w.json'),
    ('COFWDataset', 'cofw/test_cofw.json'),
])
def test_face_nme(make, kind, ann_file):
    dataset = make.dataset(kind, ann_file)
    cfg = dict(type='NME', norm_mode='keypoint_distance')
    for seed in (None, 0):
        samples = make.topdown(dataset, seed=seed, noise=0.02)
        assert make.run(cfg, dataset.metainfo, samples) == \
            MMPOSE[f'{kind}_nme_{seed}']
    result = make.run(dict(cfg, keypoint_indices=[0, 1]), dataset.metainfo,
                      samples)
    assert result == MMPOSE[f'{kind}_nme_idx']


def test_nme_arguments(make):
    from posekit.registry import METRICS
    with pytest.raises(KeyError, match='norm_mode'):
        METRICS.build(dict(type='NME', norm_mode='box'))
    with pytest.raises(KeyError, match='norm_item'):
        METRICS.build(dict(type='NME', norm_mode='use_norm_item'))
    dataset = make.dataset('OneHand10KDataset', 'onehand10k/test_onehand10k.json')
    samples = make.topdown(dataset, seed=0)
    with pytest.raises(KeyError, match='keypoint_indices'):
        make.run(dict(type='NME', norm_mode='keypoint_distance'),
                 dataset.metainfo, samples)   # no default for hands
    with pytest.raises(KeyError, match='norm_item'):
        METRICS.build(dict(type='PCKAccuracy', norm_item='face'))


@pytest.mark.parametrize('mode', ['mpjpe', 'p-mpjpe', 'n-mpjpe'])
def test_mpjpe(make, mode):
    result = make.run(dict(type='MPJPE', mode=mode), None, make.lifting(0))
    expected = MMPOSE[f'mpjpe_{mode}']
    assert list(result) == list(expected)
    # the keypoints are float32 and both compute in float32 (P-MPJPE's SVD:
    # batched here, one by one in MMPose, on whatever LAPACK kernels): each
    # error is a few float32 roundings (6e-8) of values ~300 mm off, the
    # alignment adds the SVD's ~1e-6 relative. 1e-5 bounds that anywhere.
    for key, value in expected.items():
        assert result[key] == pytest.approx(value, rel=1e-5, abs=0)
    skipped = make.run(dict(type='MPJPE', mode=mode,
                            skip_list=['S9_Directions_1', 'S10_Eating_2']),
                       None, make.lifting(0))
    assert list(skipped) == [mode.upper(), f'{mode.upper()}_Walking',
                             f'{mode.upper()}_WalkDog']


def test_keypoint_partitions(make):
    ann = 'coco/test_coco.json'
    dataset = make.dataset('CocoDataset', ann)
    samples = make.topdown(dataset, seed=0, noise=0.05, shapes=make.shapes(ann))
    parts = dict(upper=list(range(11)), lower=list(range(11, 17)),
                 all=list(range(17)))
    cfg = dict(type='KeypointPartitionMetric', partitions=parts,
               metric=dict(type='CocoMetric', ann_file=make.path(ann),
                           score_mode='bbox', nms_mode='none'))
    with pytest.warns(UserWarning, match='ann_file'):
        result = make.run(cfg, dataset.metainfo, samples)
    expected = {
        'upper': (0.18175388967468176, 0.8902640264026401,
                  0.012729844413012729, 0.22277227722772278,
                  0.1863613861386139, 0.24166666666666664, 0.9166666666666666,
                  0.08333333333333333, 0.26, 0.22857142857142856),
        'lower': (0.7226779820839228, 1.0, 0.9042904290429042,
                  0.724917491749175, 0.7433003300330033, 0.7583333333333332,
                  1.0, 0.9166666666666666, 0.76, 0.7571428571428571),
        'all': (0.3721758604431872, 1.0, 0.048090523338048086,
                0.4321782178217822, 0.3703960396039604, 0.425, 1.0,
                0.16666666666666666, 0.45999999999999996, 0.39999999999999997),
    }
    assert result == {f'{part}/coco/{name}': value
                      for part, values in expected.items()
                      for name, value in zip(COCO_NAMES, values)}
    cfg = dict(type='KeypointPartitionMetric', partitions=parts,
               metric=dict(type='PCKAccuracy', thr=0.1))
    assert make.run(cfg, dataset.metainfo, samples) == {
        'upper/PCK': 0.9358126721763085, 'lower/PCK': 0.9583333333333334,
        'all/PCK': 0.9437611408199643}
    cfg['metric'] = dict(type='EPE')
    assert make.run(cfg, dataset.metainfo, samples) == {
        'upper/EPE': 10.181721687316895, 'lower/EPE': 10.43160629272461,
        'all/EPE': 10.276981353759766}
    with pytest.raises(ValueError, match='supports'):
        make.run(dict(cfg, metric=dict(type='MpiiPCKAccuracy')), None, [])
