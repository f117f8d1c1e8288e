"""CocoMetric on CrowdPose ('keypoints_crowd'), CocoWholeBodyMetric and
random COCO-format sets, against numbers from MMPose 1.3.2 (xtcocotools).

As in test_coco_metric.py, MMPose was fed the very same data samples; the
results must be equal. The random sets (conftest.synthetic_coco: crowd and
keypoint-less people, near-duplicate predictions) exercise the matching and
accumulation on more than a handful of people.
"""
import json

import pytest

NAMES = ('AP', 'AP .5', 'AP .75', 'AP (M)', 'AP (L)', 'AR', 'AR .5', 'AR .75',
         'AR (M)', 'AR (L)')
CROWD_NAMES = ('AP', 'AP .5', 'AP .75', 'AR', 'AR .5', 'AR .75', 'AP(E)',
               'AP(M)', 'AP(H)')

# MMPose 1.3.2's results, in the order of NAMES / CROWD_NAMES
MMPOSE = {
    'crowd_gt': (1.0, 1.0, 1.0, 1.0, 1.0, 1.0, -1.0, 1.0, -1.0),
    'crowd_noisy0': (0.6816831683168317, 1.0, 1.0, 0.725, 1.0, 1.0, -1.0,
            0.6817, -1.0),
    'crowd_noisy1': (0.8336633663366336, 1.0, 1.0, 0.85, 1.0, 1.0, -1.0,
            0.8337, -1.0),
    'crowd_noisy2': (0.700990099009901, 1.0, 1.0, 0.725, 1.0, 1.0, -1.0, 0.701,
            -1.0),
    'crowd_noann': (0.6816831683168317, 1.0, 1.0, 0.725, 1.0, 1.0, -1.0,
            0.6817, -1.0),
    'wholebody_gt': (1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0),
    'wholebody_noisy': (0.1937403740374037, 0.38481848184818473,
            0.18811881188118812, 0.5821782178217821, 0.042772277227722776,
            0.33333333333333337, 0.5833333333333334, 0.3333333333333333, 0.58,
            0.1571428571428571),
    'wholebody_noann': (0.1937403740374037, 0.38481848184818473,
            0.18811881188118812, 0.5821782178217821, 0.042772277227722776,
            0.33333333333333337, 0.5833333333333334, 0.3333333333333333, 0.58,
            0.1571428571428571),
    'crowd_split0': (0.6816831683168317, 1.0, 1.0, 0.725, 1.0, 1.0, 0.6505,
            -1.0, 0.7505),
    'crowd_split1': (0.8336633663366336, 1.0, 1.0, 0.85, 1.0, 1.0, 0.8252,
            -1.0, 0.8505),
    'syn0': (0.41669063133047024, 0.819262691229743, 0.324185850282641,
            0.421279982783447, 0.4241517269634689, 0.5802816901408451, 1.0,
            0.6267605633802817, 0.6, 0.5674698795180723),
    'syn0_soft_bbox': (0.42010472640641683, 0.8242441940528245,
            0.3317096856373177, 0.42518726132079554, 0.4272148078705803,
            0.5802816901408451, 1.0, 0.6267605633802817, 0.6,
            0.5674698795180723),
    'syn0_noarea': (0.403282079856175, 0.819262691229743, 0.3201191509388608,
            0.41303933623356176, 0.4030789826946303, 0.573943661971831, 1.0,
            0.6267605633802817, 0.5902439024390244, 0.5560975609756097),
    'syn0_crowd': (0.403282079856175, 0.819262691229743, 0.3201191509388608,
            0.573943661971831, 1.0, 0.6267605633802817, 0.4036, 0.4411,
            0.3815),
    'syn0_noann': (0.32229883293564227, 0.6386006265898154, 0.2503967721286548,
            0.45081967213114754, 0.7814207650273224, 0.48633879781420764,
            0.2963, 0.3568, 0.3288),
    'syn1': (0.40352075000868654, 0.7807559247415348, 0.36097080557918226,
            0.45207766033084884, 0.39565597733855734, 0.5882352941176471, 1.0,
            0.6617647058823529, 0.565625, 0.5976744186046512),
    'syn1_soft_bbox': (0.4086042273074077, 0.7939258540940992,
            0.3553264616307025, 0.46243057593784576, 0.4054210855610084,
            0.5882352941176471, 1.0, 0.6617647058823529, 0.565625,
            0.5976744186046512),
    'syn1_noarea': (0.39556032672511077, 0.7887398092936915,
            0.30586845238099186, 0.4236300221360679, 0.3992851827914676,
            0.5801470588235293, 1.0, 0.6176470588235294, 0.5290322580645161,
            0.6000000000000001),
    'syn1_crowd': (0.39556032672511077, 0.7887398092936915,
            0.30586845238099186, 0.5801470588235293, 1.0, 0.6176470588235294,
            0.4193, 0.404, 0.4187),
    'syn1_noann': (0.2899965159679836, 0.5720161948821084, 0.25449289981918893,
            0.43297297297297305, 0.7405405405405405, 0.4864864864864865,
            0.3237, 0.2927, 0.2964),
    'syn2': (0.40716626308448495, 0.7863377957184613, 0.25416488342616145,
            0.4790328591409822, 0.3770035380510173, 0.5726618705035971, 1.0,
            0.5539568345323741, 0.5631578947368421, 0.5736263736263736),
    'syn2_soft_bbox': (0.4029041340773537, 0.7790169074393573,
            0.25528466750673723, 0.48371493563331297, 0.37348863373923263,
            0.5726618705035971, 1.0, 0.5539568345323741, 0.5631578947368421,
            0.5736263736263736),
    'syn2_noarea': (0.3973516033232742, 0.8064846708354456,
            0.23089627524855635, 0.47352033623856254, 0.3650040827348395,
            0.5669064748201438, 1.0, 0.5251798561151079, 0.5526315789473684,
            0.5681318681318681),
    'syn2_crowd': (0.3973516033232742, 0.8064846708354456, 0.23089627524855635,
            0.5669064748201438, 1.0, 0.5251798561151079, 0.4426, 0.4162,
            0.3977),
    'syn2_noann': (0.31542746236644187, 0.611395008611238, 0.1989142995630608,
            0.43551912568306017, 0.7650273224043715, 0.4207650273224044,
            0.4025, 0.3239, 0.3087),
}
CROWD_ANN = 'crowdpose/test_crowdpose.json'
WHOLEBODY_ANN = 'coco/test_coco_wholebody.json'


def _check(result: dict, case: str, prefix: str, names=NAMES) -> None:
    assert list(result) == [f'{prefix}/{name}' for name in names]
    assert tuple(result.values()) == MMPOSE[case]


@pytest.fixture(scope='module')
def crowd(make):
    dataset = make.dataset('CrowdPoseDataset', CROWD_ANN)
    return dataset, make.shapes(CROWD_ANN)


def _crowd_cfg(ann_file):
    return dict(type='CocoMetric', ann_file=ann_file, use_area=False,
                iou_type='keypoints_crowd', prefix='crowdpose')


def test_crowdpose(make, crowd):
    dataset, shapes = crowd
    cfg = _crowd_cfg(make.path(CROWD_ANN))
    result = make.run(cfg, dataset.metainfo,
                      make.topdown(dataset, shapes=shapes))
    _check(result, 'crowd_gt', 'crowdpose', CROWD_NAMES)
    for seed in (0, 1, 2):
        samples = make.topdown(dataset, seed=seed, noise=0.05, shapes=shapes)
        _check(make.run(cfg, dataset.metainfo, samples), f'crowd_noisy{seed}',
               'crowdpose', CROWD_NAMES)
    # without ann_file: ground truth (and crowdIndex) from the samples
    samples = make.topdown(dataset, seed=0, noise=0.05, shapes=shapes)
    _check(make.run(_crowd_cfg(None), dataset.metainfo, samples),
           'crowd_noann', 'crowdpose', CROWD_NAMES)


def test_crowdpose_needs_use_area_false(make, crowd):
    dataset, shapes = crowd
    cfg = dict(_crowd_cfg(make.path(CROWD_ANN)), use_area=True)
    with pytest.raises(ValueError, match='use_area=False'):
        make.run(cfg, dataset.metainfo, make.topdown(dataset, shapes=shapes))


def test_crowdpose_easy_and_hard_images(make, crowd, tmp_path):
    # the fixture's two images are both "medium" (crowdIndex 0.33, 0.39):
    # make one easy (< 0.2) and one hard (>= 0.8)
    with open(make.path(CROWD_ANN)) as f:
        coco_json = json.load(f)
    for image, crowd_index in zip(coco_json['images'], (0.1, 0.9)):
        image['crowdIndex'] = crowd_index
    ann_file = tmp_path / 'crowdpose_split.json'
    ann_file.write_text(json.dumps(coco_json))
    dataset = make.dataset('CrowdPoseDataset', str(ann_file))
    for seed in (0, 1):
        samples = make.topdown(dataset, seed=seed, noise=0.05,
                               shapes=crowd[1])
        _check(make.run(_crowd_cfg(str(ann_file)), dataset.metainfo, samples),
               f'crowd_split{seed}', 'crowdpose', CROWD_NAMES)


def test_wholebody(make):
    dataset = make.dataset('CocoWholeBodyDataset', WHOLEBODY_ANN)
    shapes = make.shapes(WHOLEBODY_ANN)
    cfg = dict(type='CocoWholeBodyMetric', ann_file=make.path(WHOLEBODY_ANN))
    _check(make.run(cfg, dataset.metainfo, make.topdown(dataset, shapes=shapes)),
           'wholebody_gt', 'coco-wholebody')
    samples = make.topdown(dataset, seed=0, noise=0.03, shapes=shapes)
    _check(make.run(cfg, dataset.metainfo, samples), 'wholebody_noisy',
           'coco-wholebody')
    _check(make.run(dict(type='CocoWholeBodyMetric'), dataset.metainfo,
                    samples), 'wholebody_noann', 'coco-wholebody')


def test_wholebody_refuses_a_crowd_iou_type(make):
    """MMPose ignores iou_type in its whole-body evaluation; posekit names it."""
    from posekit.registry import METRICS
    with pytest.raises(ValueError, match="iou_type must be 'keypoints', got "
                                         "'keypoints_crowd'"):
        METRICS.build(dict(type='CocoWholeBodyMetric', iou_type='keypoints_crowd'))
    metric = METRICS.build(dict(type='CocoWholeBodyMetric', iou_type='keypoints',
                                ann_file=make.path(WHOLEBODY_ANN), use_area=False))
    assert (metric.iou_type, metric.use_area) == ('keypoints', False)


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_random_sets(make, seed, tmp_path):
    coco_json, samples = make.synthetic(seed)
    ann_file = tmp_path / f'synthetic{seed}.json'
    ann_file.write_text(json.dumps(coco_json))
    meta = make.dataset('CocoDataset', 'coco/test_coco.json').metainfo
    meta = dict(meta, CLASSES=coco_json['categories'])
    ann = str(ann_file)
    cases = [
        (f'syn{seed}', dict(ann_file=ann), NAMES),
        (f'syn{seed}_soft_bbox', dict(ann_file=ann, nms_mode='soft_oks_nms',
                                      score_mode='bbox'), NAMES),
        (f'syn{seed}_noarea', dict(ann_file=ann, use_area=False,
                                   nms_mode='none'), NAMES),
        (f'syn{seed}_crowd', dict(ann_file=ann, use_area=False,
                                  iou_type='keypoints_crowd'), CROWD_NAMES),
        (f'syn{seed}_noann', dict(iou_type='keypoints_crowd', nms_thr=0.7),
         CROWD_NAMES),
    ]
    for case, options, names in cases:
        result = make.run(dict(type='CocoMetric', **options), meta, samples)
        _check(result, case, 'coco', names)
