"""CocoMetric on the COCO fixture, against numbers from MMPose 1.3.2.

The expected values were obtained by feeding the very same data samples
(built by conftest.py: ground truth as prediction, or seeded perturbations)
to MMPose 1.3.2's CocoMetric (xtcocotools); the results must be equal, not
just close.
"""
import json

import numpy as np
import pytest

from posekit.registry import METRICS

NAMES = ('AP', 'AP .5', 'AP .75', 'AP (M)', 'AP (L)', 'AR', 'AR .5', 'AR .75',
         'AR (M)', 'AR (L)')

# MMPose 1.3.2's results, in the order of NAMES
MMPOSE = {
    'coco_gt': (1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0),
    'coco_noisy0': (0.3453520352035203, 1.0, 0.062156215621562164,
            0.4321782178217822, 0.3330347320446331, 0.425, 1.0,
            0.16666666666666666, 0.45999999999999996, 0.39999999999999997),
    'coco_noisy1': (0.3171122112211221, 1.0, 0.06435643564356436,
            0.4623762376237624, 0.2847347949080622, 0.4083333333333333, 1.0,
            0.25, 0.4800000000000001, 0.3571428571428571),
    'coco_dups_bbox_oks_nms': (0.33824353863957823, 0.9108910891089109,
            0.08415841584158416, 0.4633663366336634, 0.2905940594059406,
            0.38333333333333336, 0.9166666666666666, 0.16666666666666666,
            0.45999999999999996, 0.32857142857142857),
    'coco_dups_bbox_soft_oks_nms': (0.3846644664466446, 1.0,
            0.06732673267326733, 0.4633663366336634, 0.37483498349834987,
            0.425, 1.0, 0.16666666666666666, 0.45999999999999996,
            0.39999999999999997),
    'coco_dups_bbox_none': (0.3721758604431872, 1.0, 0.048090523338048086,
            0.4321782178217822, 0.3703960396039604, 0.425, 1.0,
            0.16666666666666666, 0.45999999999999996, 0.39999999999999997),
    'coco_dups_bbox_keypoint_oks_nms': (0.3453520352035203, 1.0,
            0.062156215621562164, 0.4321782178217822, 0.3330347320446331,
            0.425, 1.0, 0.16666666666666666, 0.45999999999999996,
            0.39999999999999997),
    'coco_dups_bbox_keypoint_soft_oks_nms': (0.3125337446478972,
            0.9235249316786881, 0.05895589558955896, 0.36195190947666195,
            0.3134488448844885, 0.425, 1.0, 0.16666666666666666,
            0.45999999999999996, 0.39999999999999997),
    'coco_dups_bbox_keypoint_none': (0.3125337446478972, 0.9235249316786881,
            0.05895589558955896, 0.36195190947666195, 0.3134488448844885,
            0.425, 1.0, 0.16666666666666666, 0.45999999999999996,
            0.39999999999999997),
    'coco_dups_bbox_rle_oks_nms': (0.358008800880088, 1.0, 0.0561056105610561,
            0.4321782178217822, 0.3445544554455445, 0.425, 1.0,
            0.16666666666666666, 0.45999999999999996, 0.39999999999999997),
    'coco_dups_bbox_rle_soft_oks_nms': (0.3305957518828806, 0.9140644833714143,
            0.0561056105610561, 0.39049976426214045, 0.3293556498506993, 0.425,
            1.0, 0.16666666666666666, 0.45999999999999996,
            0.39999999999999997),
    'coco_dups_bbox_rle_none': (0.3305957518828806, 0.9140644833714143,
            0.0561056105610561, 0.39049976426214045, 0.3293556498506993, 0.425,
            1.0, 0.16666666666666666, 0.45999999999999996,
            0.39999999999999997),
    'coco_dups_keypoint_oks_nms': (0.3485313531353135, 1.0,
            0.03987898789878988, 0.42178217821782177, 0.3380763790664781,
            0.4166666666666667, 1.0, 0.16666666666666666, 0.44000000000000006,
            0.39999999999999997),
    'coco_dups_keypoint_soft_oks_nms': (0.27482987584472734,
            0.7975011786892977, 0.03102310231023103, 0.3411598302687411,
            0.27937293729372936, 0.425, 1.0, 0.16666666666666666,
            0.45999999999999996, 0.39999999999999997),
    'coco_dups_keypoint_none': (0.27482987584472734, 0.7975011786892977,
            0.03102310231023103, 0.3411598302687411, 0.27937293729372936,
            0.425, 1.0, 0.16666666666666666, 0.45999999999999996,
            0.39999999999999997),
    'coco_dups_nms05': (0.35810231023102307, 1.0, 0.0561056105610561,
            0.4321782178217822, 0.340951595159516, 0.425, 1.0,
            0.16666666666666666, 0.45999999999999996, 0.39999999999999997),
    'coco_dups_soft03': (0.3125337446478972, 0.9235249316786881,
            0.05895589558955896, 0.36195190947666195, 0.3134488448844885,
            0.425, 1.0, 0.16666666666666666, 0.45999999999999996,
            0.39999999999999997),
    'coco_noarea': (0.5036775106082036, 1.0, 0.2524752475247525,
            0.5504950495049505, 0.4955115511551155, 0.55, 1.0, 0.5, 0.6,
            0.5333333333333334),
    'coco_noann': (0.3453520352035203, 1.0, 0.062156215621562164,
            0.4321782178217822, 0.3330347320446331, 0.425, 1.0,
            0.16666666666666666, 0.45999999999999996, 0.39999999999999997),
    'coco_noann_gt': (1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0),
    'coco_bottomup': (0.8641513437057992, 0.9759547383309762,
            0.9759547383309762, 0.7923267326732674, 0.959059405940594, 0.925,
            1.0, 1.0, 0.8399999999999999, 0.9857142857142858),
    'coco_bottomup_noann': (0.7966031987814166, 0.8939179632248941,
            0.8939179632248941, 0.7923267326732674, 0.9600719000471476, 0.925,
            1.0, 1.0, 0.8399999999999999, 0.9857142857142858),
    'coco_bottomup_oks': (0.8641513437057992, 0.9759547383309762,
            0.9759547383309762, 0.7923267326732674, 0.959059405940594, 0.925,
            1.0, 1.0, 0.8399999999999999, 0.9857142857142858),
    'coco_pred_converter': (0.3453520352035203, 1.0, 0.062156215621562164,
            0.4321782178217822, 0.3330347320446331, 0.425, 1.0,
            0.16666666666666666, 0.45999999999999996, 0.39999999999999997),
    'coco_gt_converter': (0.30980498049804983, 1.0, 0.062156215621562164,
            0.3821782178217822, 0.29199669966996694, 0.3916666666666667, 1.0,
            0.16666666666666666, 0.42000000000000004, 0.3714285714285714),
}
ANN = 'coco/test_coco.json'


@pytest.fixture(scope='module')
def coco(make):
    dataset = make.dataset('CocoDataset', ANN)
    shapes = make.shapes(ANN)
    noisy = make.topdown(dataset, seed=0, noise=0.05, shapes=shapes)
    return dict(dataset=dataset, meta=dataset.metainfo, shapes=shapes,
                ann=make.path(ANN), noisy=noisy,
                dups=make.duplicates(noisy, seed=3))


def _check(result: dict, case: str, prefix: str = 'coco') -> None:
    assert list(result) == [f'{prefix}/{name}' for name in NAMES]
    assert tuple(result.values()) == MMPOSE[case]


def test_ground_truth_gives_ap_1(make, coco):
    samples = make.topdown(coco['dataset'], shapes=coco['shapes'])
    for cfg in (dict(type='CocoMetric', ann_file=coco['ann']),
                dict(type='CocoMetric')):         # gt rebuilt from samples
        result = make.run(cfg, coco['meta'], samples)
        assert all(v == 1.0 for v in result.values())
    _check(result, 'coco_noann_gt')


@pytest.mark.parametrize('seed', [0, 1])
def test_perturbed_predictions(make, coco, seed):
    samples = make.topdown(coco['dataset'], seed=seed, noise=0.05,
                           shapes=coco['shapes'])
    result = make.run(dict(type='CocoMetric', ann_file=coco['ann']),
                      coco['meta'], samples)
    _check(result, f'coco_noisy{seed}')


@pytest.mark.parametrize('score_mode',
                         ['bbox', 'bbox_keypoint', 'bbox_rle', 'keypoint'])
@pytest.mark.parametrize('nms_mode', ['oks_nms', 'soft_oks_nms', 'none'])
def test_score_and_nms_modes(make, coco, score_mode, nms_mode):
    # near-duplicates (new ids) of half the instances, and an instance whose
    # keypoint scores are all 0 (xtcocotools leaves it out)
    cfg = dict(type='CocoMetric', ann_file=coco['ann'], score_mode=score_mode,
               nms_mode=nms_mode)
    _check(make.run(cfg, coco['meta'], coco['dups']),
           f'coco_dups_{score_mode}_{nms_mode}')


@pytest.mark.parametrize('case, options', [
    ('coco_dups_nms05', dict(nms_thr=0.5, keypoint_score_thr=0.5)),
    ('coco_dups_soft03', dict(nms_mode='soft_oks_nms', nms_thr=0.3)),
])
def test_thresholds(make, coco, case, options):
    cfg = dict(type='CocoMetric', ann_file=coco['ann'], **options)
    _check(make.run(cfg, coco['meta'], coco['dups']), case)


def test_use_area_false_and_no_ann_file(make, coco):
    _check(make.run(dict(type='CocoMetric', ann_file=coco['ann'],
                         use_area=False), coco['meta'], coco['noisy']),
           'coco_noarea')
    _check(make.run(dict(type='CocoMetric'), coco['meta'], coco['noisy']),
           'coco_noann')


def test_bottomup_samples(make, coco):
    dataset = make.dataset('CocoDataset', ANN, data_mode='bottomup')
    samples = make.bottomup(dataset, seed=2, shapes=coco['shapes'])
    ann = coco['ann']
    _check(make.run(dict(type='CocoMetric', ann_file=ann, nms_mode='none'),
                    coco['meta'], samples), 'coco_bottomup')
    _check(make.run(dict(type='CocoMetric', ann_file=ann), coco['meta'],
                    samples), 'coco_bottomup_oks')
    _check(make.run(dict(type='CocoMetric', nms_mode='none',
                         score_mode='bbox'), coco['meta'], samples),
           'coco_bottomup_noann')
    # an image where the model finds nobody
    samples[1] = dict(samples[1], pred_instances=dict(
        keypoints=np.zeros((0, 17, 2), np.float32),
        keypoint_scores=np.zeros((0, 17), np.float32)))
    expected = (0.7132988298829882, 0.8163816381638163, 0.8163816381638163,
                0.7923267326732674, 0.689108910891089, 0.7666666666666667,
                0.8333333333333334, 0.8333333333333334, 0.8399999999999999,
                0.7142857142857143)       # MMPose 1.3.2
    for cfg in (dict(type='CocoMetric', ann_file=ann), dict(type='CocoMetric')):
        result = make.run(cfg, coco['meta'], samples)
        assert tuple(result.values()) == expected


def test_no_predictions_at_all(make, coco):
    # MMPose fails here (it unpacks an empty list); posekit scores 0
    result = make.run(dict(type='CocoMetric', ann_file=coco['ann']),
                      coco['meta'], [])
    assert list(result.values()) == [0.0] * 10


def test_images_without_people_among_ones_with_box_scales(make, coco):
    """A one-stage model that finds nobody in some images (or in all): the
    empty samples add nothing, whatever keys they lack."""
    dataset = make.dataset('CocoDataset', ANN, data_mode='bottomup')
    samples = make.bottomup(dataset, seed=2, shapes=coco['shapes'])
    for sample in samples:   # areas from the boxes' scales
        boxes = np.asarray(sample['gt_instances']['bboxes'])
        sample['gt_instances'] = dict(sample['gt_instances'],
                                      bbox_scales=boxes[:, 2:] - boxes[:, :2])
    nobody = dict(keypoints=np.zeros((0, 17, 2), np.float32),
                  keypoint_scores=np.zeros((0, 17), np.float32))
    gt = {k: v for k, v in samples[1]['gt_instances'].items()
          if k != 'bbox_scales'}
    with_empty = samples[:1] + [dict(samples[1], pred_instances=nobody,
                                     gt_instances=gt)] + samples[2:]
    cfg = dict(type='CocoMetric', ann_file=coco['ann'])
    assert make.run(cfg, coco['meta'], with_empty) == \
        make.run(cfg, coco['meta'], samples[:1] + samples[2:])
    all_empty = [dict(s, pred_instances=nobody) for s in samples]
    assert list(make.run(cfg, coco['meta'], all_empty).values()) == [0.0] * 10


def test_converters(make, coco):
    # a model with 19 keypoints, mapped to COCO's 17
    samples = []
    for sample in coco['noisy']:
        pred = dict(sample['pred_instances'])
        pred['keypoints'] = np.concatenate(
            [pred['keypoints'], pred['keypoints'][:, :2] + 3], 1)
        pred['keypoint_scores'] = np.concatenate(
            [pred['keypoint_scores'], pred['keypoint_scores'][:, :2]], 1)
        samples.append(dict(sample, pred_instances=pred))
    identity = [(i, i) for i in range(17)]
    cfg = dict(type='CocoMetric', ann_file=coco['ann'], pred_converter=dict(
        type='KeypointConverter', num_keypoints=17, mapping=identity))
    _check(make.run(cfg, coco['meta'], samples), 'coco_pred_converter')
    # ground truth without the ankles (their sigmas become 1)
    cfg = dict(type='CocoMetric', ann_file=coco['ann'], gt_converter=dict(
        type='KeypointConverter', num_keypoints=17, mapping=identity[:15]))
    _check(make.run(cfg, dict(coco['meta']), coco['noisy']),
           'coco_gt_converter')


def test_outfile_prefix_and_format_only(make, coco, tmp_path):
    prefix = str(tmp_path / 'out' / 'res')
    cfg = dict(type='CocoMetric', outfile_prefix=prefix)
    _check(make.run(cfg, coco['meta'], coco['noisy']), 'coco_noann')
    with open(prefix + '.keypoints.json') as f:
        written = json.load(f)
    assert len(written) == len(coco['noisy'])
    assert sorted(written[0]) == ['bbox', 'category_id', 'image_id',
                                  'keypoints', 'score']
    assert len(written[0]['keypoints']) == 17 * 3
    with open(prefix + '.gt.json') as f:
        assert len(json.load(f)['annotations']) == len(coco['noisy'])
    # format_only: the results file, no numbers
    cfg = dict(type='CocoMetric', format_only=True,
               outfile_prefix=str(tmp_path / 'submit'))
    assert make.run(cfg, coco['meta'], coco['noisy']) == {}
    assert (tmp_path / 'submit.keypoints.json').exists()


def test_accepts_data_sample_objects(make, coco):
    from posekit.structures import InstanceData, PoseDataSample
    samples = []
    for sample in coco['noisy']:
        obj = PoseDataSample(metainfo={k: v for k, v in sample.items()
                                       if not k.endswith('instances')})
        obj.gt_instances = InstanceData(**sample['gt_instances'])
        obj.pred_instances = InstanceData(**sample['pred_instances'])
        samples.append(obj)
    result = make.run(dict(type='mmpose.CocoMetric', ann_file=coco['ann']),
                      coco['meta'], samples)
    _check(result, 'coco_noisy0')


def test_bad_arguments(coco, tmp_path):
    with pytest.raises(ValueError, match='score_mode'):
        METRICS.build(dict(type='CocoMetric', score_mode='box'))
    with pytest.raises(ValueError, match='nms_mode'):
        METRICS.build(dict(type='CocoMetric', nms_mode='nms'))
    with pytest.raises(ValueError, match='iou_type'):
        METRICS.build(dict(type='CocoMetric', iou_type='bbox'))
    with pytest.raises(ValueError, match='outfile_prefix'):
        METRICS.build(dict(type='CocoMetric', format_only=True))
    no_anns = tmp_path / 'images_only.json'
    no_anns.write_text(json.dumps(dict(images=[], categories=[])))
    with pytest.raises(ValueError, match='annotations'):
        METRICS.build(dict(type='CocoMetric', ann_file=str(no_anns)))
    metric = METRICS.build(dict(type='CocoMetric'))
    metric.dataset_meta = coco['meta']
    sample = dict(coco['noisy'][0])
    del sample['raw_ann_info']
    with pytest.raises(ValueError, match='raw_ann_info'):
        metric.process(None, [sample])
