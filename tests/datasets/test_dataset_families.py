"""Every registered dataset loads its fixture; numbers checked against MMPose 1.3.2.

Each row was compared with MMPose (same file, same arguments): length and
every data info (keys, dtypes, shapes, values). The values below are read
from the last sample of each set.
"""
from pathlib import Path

import numpy as np
import pytest

from posekit.registry import DATASETS

FIXTURES = Path(__file__).parents[1] / 'data' / 'fixtures'
INTERHAND = dict(camera_param_file='interhand2.6m/test_interhand2.6m_camera.json',
                 joint_file='interhand2.6m/test_interhand2.6m_joint_3d.json')

# (type, ann_file, extra args, len top-down, len bottom-up, last top-down
#  sample: bbox xyxy, index j of its first visible keypoint, keypoint j,
#  sum of keypoints_visible, num_keypoints, img_path under data_prefix,
#  first 6 flip_indices, K)
ROWS = [
    ('CocoDataset', 'coco/test_coco.json', {}, 12, 4, [0.5, 43.74, 90.6, 263.83], 0, [36.0, 79.0], 13, 13, '000000197388.jpg', [0, 2, 1, 4, 3, 6], 17),
    ('CrowdPoseDataset', 'crowdpose/test_crowdpose.json', {}, 4, 2, [279.68, 102.17, 360.81, 357.66], 0, [350.0, 145.0], 14, 12, '103319.jpg', [1, 0, 3, 2, 5, 4], 14),
    ('AicDataset', 'aic/test_aic.json', {}, 9, 3, [33.0, 73.0, 526.0, 639.0], 0, [254.0, 203.0], 14, 14, 'ff945ae2e729f24eea992814639d59b3bdec8bd8.jpg', [3, 4, 5, 0, 1, 2], 14),
    ('OCHumanDataset', 'ochuman/test_ochuman.json', {}, 5, 3, [84.0, 45.0, 600.0, 828.0], 0, [138.2812, 178.4267], 15, 15, '003896.jpg', [0, 2, 1, 4, 3, 6], 17),
    ('MhpDataset', 'mhp/test_mhp.json', {}, 4, 2, [112.05, 18.45, 208.35, 179.0], 7, [147.6, 126.9], 7, 7, '10112.jpg', [5, 4, 3, 2, 1, 0], 16),
    ('HalpeDataset', 'halpe/test_halpe.json', {}, 12, 4, [0.5, 43.74, 90.6, 263.83], 0, [36.0, 79.0], 97, 13, '000000197388.jpg', [0, 2, 1, 4, 3, 6], 136),
    ('ExlposeDataset', 'exlpose/test_exlpose.json', {}, 6, 2, [794.29, 302.16, 876.48, 532.32], 0, [806.08, 340.99], 14, 14, 'imgs_0212_hwangridan_vid000020_exp1200_dark_000052__gain_3.40_exposure_417.png', [1, 0, 3, 2, 5, 4], 14),
    ('HumanArtDataset', 'humanart/test_humanart.json', {}, 4, 3, [36.4228, 0.0, 588.0, 611.0], 0, [233.1389, 406.6037], 17, 17, 'HumanArt/images/real_human/acrobatics/000000000590.jpg', [0, 2, 1, 4, 3, 6], 17),
    ('HumanArt21Dataset', 'humanart/test_humanart.json', {}, 4, 3, [36.4228, 0.0, 588.0, 611.0], 0, [233.1389, 406.6037], 21, 17, 'HumanArt/images/real_human/acrobatics/000000000590.jpg', [0, 2, 1, 4, 3, 6], 21),
    ('PoseTrack18Dataset', 'posetrack18/annotations/test_posetrack18_val.json', {}, 14, 3, [214.25, 15.0, 1572.75, 1079.0], 0, [621.0, 471.0], 11, 11, 'images/val/003418_mpii_test/000000.jpg', [0, 1, 2, 4, 3, 6], 17),
    ('JhmdbDataset', 'jhmdb/test_jhmdb_sub1.json', {}, 3, 3, [83.0, 122.0, 134.0, 216.0], 0, [103.5902, 137.4488], 15, 15, 'Goalkeeper_Training_Day_@_7_catch_f_cm_np1_ri_med_0/00001.png', [0, 1, 2, 4, 3, 6], 15),
    ('MpiiDataset', 'mpii/test_mpii.json', {}, 5, 5, [359.5204, 116.1424, 1034.4796, 791.1016], 0, [694.0, 684.0], 16, None, '060754485.jpg', [5, 4, 3, 2, 1, 0], 16),
    ('MpiiTrbDataset', 'mpii/test_mpii_trb.json', {}, 5, 5, [268.9695, 172.9695, 363.0305, 267.0305], 0, [358.0, 177.0], 40, 40, '052475643.jpg', [1, 0, 3, 2, 5, 4], 40),
    ('CocoWholeBodyDataset', 'coco/test_coco_wholebody.json', {}, 12, 4, [0.5, 43.74, 90.6, 263.83], 0, [36.0, 79.0], 16, 13, '000000197388.jpg', [0, 2, 1, 4, 3, 6], 133),
    ('UBody2dDataset', 'coco/test_coco_wholebody.json', {}, 12, 4, [0.5, 43.74, 90.6, 263.83], 0, [36.0, 79.0], 16, 13, '000000197388.jpg', [0, 2, 1, 4, 3, 6], 133),
    ('DeepFashionDataset', 'fld/test_fld.json', dict(subset='full'), 2, 2, [1.0, 1.0, 199.0, 249.0], 0, [71.0, 19.0], 7, 7, 'img_00000132.jpg', [1, 0, 3, 2, 5, 4], 8),
    ('DeepFashion2Dataset', 'deepfasion2/deepfasion2.json', {}, 2, 2, [178.0, 62.0, 599.0, 748.0], 219, [361.0, 71.0], 31, 31, '000265.jpg', [0, 5, 4, 3, 2, 1], 294),
    ('WFLWDataset', 'wflw/test_wflw.json', {}, 4, 2, [470.0, 351.0, 545.0, 426.0], 0, [473.1706, 353.336], 98, 98, '7_Cheering_Cheering_7_16.jpg', [32, 31, 30, 29, 28, 27], 98),
    ('Face300WDataset', '300w/test_300w.json', {}, 2, 2, [70.0, 203.0, 596.0, 729.0], 0, [70.0, 292.332], 68, 68, 'indoor_020.png', [16, 15, 14, 13, 12, 11], 68),
    ('Face300VWDataset', '300vw/anno_300vw.json', {}, 3, 3, [363.458, 261.3855, 527.458, 425.3855], 0, [363.817, 271.708], 68, 68, '401/imgs/000732.jpg', [16, 15, 14, 13, 12, 11], 68),
    ('Face300WLPDataset', '300wlp/test_300wlp.json', {}, 2, 2, [135.0158, 220.8751, 314.9191, 378.3163], 0, [135.0494, 222.4428], 68, 68, 'AFW_134212_2_0.jpg', [0, 1, 2, 3, 4, 5], 68),
    ('COFWDataset', 'cofw/test_cofw.json', {}, 2, 2, [102.0, 83.0, 214.0, 229.0], 0, [111.0258, 99.6026], 29, 29, '001805.jpg', [1, 0, 3, 2, 6, 7], 29),
    ('AFLWDataset', 'aflw/test_aflw.json', {}, 2, 2, [102.0, 121.0, 230.0, 249.0], 0, [126.6475, 157.2731], 19, 19, 'image04476.jpg', [5, 4, 3, 2, 1, 0], 19),
    ('CocoWholeBodyFaceDataset', 'coco/test_coco_wholebody.json', {}, 4, 3, [320.23, 123.84, 341.28, 147.34], 0, [319.681, 126.613], 68, 68, '000000197388.jpg', [16, 15, 14, 13, 12, 11], 68),
    ('LapaDataset', 'lapa/test_lapa.json', {}, 2, 2, [165.0, 204.0, 325.0, 365.0], 0, [179.0, 213.0], 106, 106, '13609937564_5.jpg', [32, 31, 30, 29, 28, 27], 106),
    ('OneHand10KDataset', 'onehand10k/test_onehand10k.json', {}, 4, 4, [32.0, 68.0, 182.0, 278.0], 0, [92.0, 264.0], 21, 21, '1402.jpg', [0, 1, 2, 3, 4, 5], 21),
    ('FreiHandDataset', 'freihand/test_freihand.json', {}, 8, 8, [0.0, 0.0, 224.0, 224.0], 0, [72.3864, 118.664], 21, 21, '00098035.jpg', [0, 1, 2, 3, 4, 5], 21),
    ('Rhd2DDataset', 'rhd/test_rhd.json', {}, 3, 3, [162.83, 135.89, 222.47, 184.01], 0, [167.8, 154.1], 21, 21, '11111.png', [0, 1, 2, 3, 4, 5], 21),
    ('CocoWholeBodyHandDataset', 'coco/test_coco_wholebody.json', {}, 10, 4, [538.83, 283.74, 564.47, 314.4], 0, [544.0, 291.0], 2.948063, 21, '000000197388.jpg', [0, 1, 2, 3, 4, 5], 21),
    ('PanopticHand2DDataset', 'panoptic/test_panoptic.json', {}, 4, 4, [186.3762, 196.8427, 232.722, 241.0083], 0, [186.3762, 232.6667], 21, 21, 'ex2_2.flv_000040_r.jpg', [0, 1, 2, 3, 4, 5], 21),
    ('InterHand2DDoubleDataset', 'interhand2.6m/test_interhand2.6m_data.json', INTERHAND, 4, 4, [154.459, 27.9448, 245.0981, 212.4803], 0, [207.786, 43.3228], 21, 42, 'image2017.jpg', [21, 22, 23, 24, 25, 26], 42),
    ('AP10KDataset', 'ap10k/test_ap10k.json', {}, 2, 2, [408.0, 197.0, 837.0, 538.0], 0, [488.0, 443.0], 16, 16, '000000000004.jpg', [1, 0, 2, 3, 4, 8], 17),
    ('AnimalPoseDataset', 'animalpose/test_animalpose.json', {}, 2, 2, [23.0, 9.0, 279.0, 249.0], 0, [54.0, 36.0], 15, 15, 'ho105.jpeg', [1, 0, 3, 2, 4, 5], 20),
    ('Horse10Dataset', 'horse10/test_horse10.json', {}, 3, 3, [219.0, 46.0, 287.0, 143.0], 3, [286.2, 118.8], 11, 11, '0465.png', [0, 1, 2, 3, 4, 5], 22),
    ('MacaqueDataset', 'macaque/test_macaque.json', {}, 2, 2, [722.61, 393.97, 1364.92, 1148.14], 0, [783.0, 890.0], 15, 15, 'PRI_1473.jpg', [0, 2, 1, 4, 3, 6], 17),
    ('LocustDataset', 'locust/test_locust.json', {}, 2, 2, [0.0, 0.0, 160.0, 160.0], 0, [97.2319, 80.3932], 35, 35, '650.jpg', [0, 1, 2, 3, 4, 20], 35),
    ('FlyDataset', 'fly/test_fly.json', {}, 2, 2, [16.0, 55.8101, 148.4303, 137.1009], 0, [147.4303, 96.9496], 32, 32, '1450.jpg', [0, 2, 1, 3, 4, 5], 32),
    ('ZebraDataset', 'zebra/test_zebra.json', {}, 2, 2, [0.0, 0.0, 160.0, 160.0], 0, [122.3146, 89.2532], 9, 9, '850.jpg', [0, 1, 2, 4, 3, 6], 9),
    ('ATRWDataset', 'atrw/test_atrw.json', {}, 2, 2, [0.0, 0.0, 924.0, 1079.0], 0, [324.0, 571.0], 15, 15, '000061.jpg', [1, 0, 2, 5, 6, 3], 15),
    ('AnimalKingdomDataset', 'ak/test_animalkingdom.json', {}, 2, 2, [199.6111, 136.1839, 259.8761, 268.6793], 0, [220.9915, 135.6839], 6, 6, 'AAOYRUDX/AAOYRUDX_f000028.jpg', [0, 2, 1, 3, 5, 4], 23),
    # not in MMPose 1.3.2 (its hand5 config names it; kept last: tests index ROWS): values read from the JSON
    ('HalpeHandDataset', 'halpe/test_halpe.json', {}, 11, 4, [74.0, 76.0, 88.0, 91.0], 1, [76.0, 89.0], 20, 20, '000000197388.jpg', [0, 1, 2, 3, 4, 5], 21),
]
# Registered types that are not datasets of a keypoint layout.
NOT_IN_TABLE = {'BaseCocoStyleDataset', 'CombinedDataset', 'ConcatDataset', 'RepeatDataset',
                'ClassBalancedDataset',  # tested in test_class_balanced_multisource.py
                # 3D lifting sets, tested in test_h36m_dataset.py
                'BaseMocapDataset', 'Human36mDataset',
                'InterHand3DDataset',  # tested in test_interhand3d.py
                'PoseTrack18VideoDataset'}  # tested in test_posetrack18_video.py


def build(type_, ann_file, extra, **kwargs):
    return DATASETS.build(dict(type=type_, data_root=str(FIXTURES), ann_file=ann_file,
                               data_prefix=dict(img='imgs/'), **extra, **kwargs))


def test_every_registered_dataset_is_covered():
    assert set(DATASETS.keys()) - NOT_IN_TABLE == {row[0] for row in ROWS}


@pytest.mark.parametrize('row', ROWS, ids=[r[0] for r in ROWS])
@pytest.mark.parametrize('test_mode', [False, True])
def test_topdown(row, test_mode):
    type_, ann, extra, length, _, bbox, j, kpt, vis_sum, num, path, flip, k = row
    ds = build(type_, ann, extra, test_mode=test_mode)
    assert len(ds) == length
    info = ds.get_data_info(length - 1)
    assert info['bbox'].shape == (1, 4) and info['bbox'].dtype == np.float32
    np.testing.assert_allclose(info['bbox'][0], bbox, rtol=1e-5, atol=1e-3)
    assert info['keypoints'].shape == (1, k, 2)
    assert info['keypoints_visible'].shape == (1, k)
    np.testing.assert_allclose(info['keypoints'][0, j], kpt, rtol=1e-5, atol=1e-3)
    assert info['keypoints_visible'][0, j] > 0
    assert float(info['keypoints_visible'].sum()) == pytest.approx(vis_sum, abs=1e-5)
    assert info.get('num_keypoints') == num
    assert info['img_path'] == str(FIXTURES / 'imgs' / path)
    assert info['flip_indices'][:6] == flip and len(info['flip_indices']) == k
    assert ds.metainfo['num_keypoints'] == k


@pytest.mark.parametrize('row', ROWS, ids=[r[0] for r in ROWS])
def test_bottomup(row):
    type_, ann, extra, length, images, bbox, *_, k = row
    ds = build(type_, ann, extra, data_mode='bottomup')
    assert len(ds) == images
    infos = [ds.get_data_info(i) for i in range(images)]
    # as many instances per image as the top-down set, plus invalid ones
    assert sum(len(i['bbox']) for i in infos) >= length
    last = infos[-1]
    assert last['keypoints'].shape == (len(last['bbox']), k, 2)
    assert isinstance(last['invalid_segs'], list)


def test_mpii_center_scale_box():
    info = build('MpiiDataset', 'mpii/test_mpii.json', {}).get_data_info(0)
    assert (info['id'], info['img_id']) == (0, 5808361)
    np.testing.assert_allclose(info['bbox_center'], [[965.0, 409.77734]], rtol=1e-6)
    np.testing.assert_allclose(info['bbox_scale'], [[943.69763, 943.69763]], rtol=1e-6)
    np.testing.assert_allclose(info['bbox'], [[493.15118, -62.07147, 1436.8489, 881.62616]],
                               rtol=1e-6)
    assert info['area'].shape == (1,) and info['area'][0] == pytest.approx(471999.56)
    assert info['keypoints_visible'].dtype == np.int64 and info['category_id'] == [1]
    assert 'num_keypoints' not in info and 'head_size' not in info


def test_mpii_headbox_file_checks(tmp_path):
    args = ('MpiiDataset', 'mpii/test_mpii.json', {})
    with pytest.raises(ValueError, match='test_mode=True'):
        build(*args, headbox_file='gt_valid.mat')
    with pytest.raises(ValueError, match='must be a .mat file'):
        build(*args, headbox_file='gt_valid.json', test_mode=True)
    with pytest.raises(FileNotFoundError, match='headbox_file not found'):
        build(*args, headbox_file=str(tmp_path / 'gt_valid.mat'), test_mode=True)
    with pytest.raises(ValueError, match='does not support sample_interval'):
        build(*args, sample_interval=2)


def test_mpii_headbox_file_gives_head_size(tmp_path):
    from scipy.io import savemat
    # MPII's gt_valid.mat layout: headboxes_src (2 corners, xy, N entries)
    boxes = np.zeros((2, 2, 5))
    for i in range(5):
        boxes[:, :, i] = [[100 + i, 50], [160 + i, 130 + 2 * i]]
    savemat(tmp_path / 'gt_valid.mat', {'headboxes_src': boxes})
    ds = build('MpiiDataset', 'mpii/test_mpii.json', {},
               headbox_file=str(tmp_path / 'gt_valid.mat'), test_mode=True)
    # PCKh normaliser: 0.6 * the head box diagonal; |(60, 80)| = 100, |(60, 82)|
    sizes = [ds.get_data_info(i)['head_size'] for i in range(2)]
    assert sizes[0].shape == (1, 1) and sizes[0][0, 0] == pytest.approx(60.0)
    assert sizes[1][0, 0] == pytest.approx(0.6 * (60 ** 2 + 82 ** 2) ** 0.5)


def test_mpii_trb_and_face_center_scale_boxes():
    info = build('MpiiTrbDataset', 'mpii/test_mpii_trb.json', {}).get_data_info(0)
    assert (info['id'], info['num_keypoints'], info['iscrowd']) == (2736, 38, 0)
    np.testing.assert_allclose(info['bbox_scale'], [[35.12137, 35.12137]], rtol=1e-6)
    np.testing.assert_allclose(info['bbox'], [[948.43933, 322.4393, 983.5607, 357.56067]],
                               rtol=1e-6)
    aflw = build('AFLWDataset', 'aflw/test_aflw.json', {}, test_mode=True).get_data_info(0)
    np.testing.assert_array_equal(aflw['bbox'], [[268, 140, 630, 502]])
    np.testing.assert_array_equal(aflw['bbox_center'], [[449, 321]])
    assert aflw['box_size'] == 362.0  # the NME normaliser, test mode only
    assert 'box_size' not in build('AFLWDataset', 'aflw/test_aflw.json', {}).get_data_info(0)


def test_per_dataset_fields():
    jhmdb = build('JhmdbDataset', 'jhmdb/test_jhmdb_sub1.json', {}).get_data_info(0)
    np.testing.assert_array_equal(jhmdb['bbox'], [[78, 61, 132, 220]])  # 1-based -> 0-based
    np.testing.assert_allclose(jhmdb['keypoints'][0, 0], [97.85175, 91.59851], rtol=1e-6)
    assert jhmdb['area'] == pytest.approx(4550.58) and jhmdb['category_id'] == 1
    assert 'raw_ann_info' not in jhmdb

    crowd = build('CrowdPoseDataset', 'crowdpose/test_crowdpose.json', {}).get_data_info(0)
    assert crowd['crowd_index'] == 0.33

    art21 = build('HumanArt21Dataset', 'humanart/test_humanart.json', {}).get_data_info(0)
    assert art21['category_id'] == 1 and 'area' not in art21
    np.testing.assert_allclose(art21['keypoints'][0, 0], [715.4305, 970.0197], rtol=1e-6)

    panoptic = build('PanopticHand2DDataset', 'panoptic/test_panoptic.json', {}).get_data_info(0)
    assert panoptic['head_size'] == 140.0

    hands = build('CocoWholeBodyHandDataset', 'coco/test_coco_wholebody.json', {})
    assert [hands.get_data_info(i)['id'] for i in range(len(hands))] == list(range(10))
    np.testing.assert_allclose(hands.get_data_info(0)['bbox'],
                               [[280.43, 173.12, 308.29, 197.97]], rtol=1e-6)
    assert 'CLASSES' not in hands.metainfo

    face = build('CocoWholeBodyFaceDataset', 'coco/test_coco_wholebody.json', {}).get_data_info(0)
    assert face['id'] == 442619 and face['num_keypoints'] == 68
    np.testing.assert_allclose(face['bbox'], [[358.2, 69.86, 384.56, 95.71]], rtol=1e-6)


def test_wholebody_keeps_mmpose_dtypes():
    info = build('CocoWholeBodyDataset', 'coco/test_coco_wholebody.json', {}).get_data_info(0)
    # MMPose does not cast these to float32; kept so that outputs match
    assert info['keypoints'].dtype == np.float64 and info['keypoints'].shape == (1, 133, 2)
    assert info['keypoints_visible'].dtype == np.int64
    assert info['keypoints_3d'] is None and info['category_id'] == 1
    np.testing.assert_array_equal(info['keypoints'][0, :2], [[367, 81], [374, 73]])


def test_interhand_fields():
    ds = build(*ROWS[30][:3])
    info = ds.get_data_info(0)
    np.testing.assert_array_equal(info['hand_type'], [[1, 1]])  # interacting
    np.testing.assert_array_equal(info['hand_type_valid'], [1])
    np.testing.assert_allclose(info['keypoints'][0, 0], [178.68912, 184.95703], rtol=1e-5)
    np.testing.assert_allclose(info['bbox'], [[33.56839, 164.92374, 218.62625, 307.6494]],
                               rtol=1e-6)
    assert info['num_keypoints'] == 42 and info['iscrowd'] is False
    with pytest.raises(FileNotFoundError, match='camera_param_file not found'):
        build(*ROWS[30][:2], dict(INTERHAND, camera_param_file='no.json'))


def test_deepfashion_subsets():
    for subset, k in [('', 8), ('full', 8), ('upper', 6), ('lower', 4)]:
        ds = DATASETS.build(dict(type='DeepFashionDataset', subset=subset, lazy_init=True))
        assert ds.metainfo['num_keypoints'] == k
    with pytest.raises(ValueError, match='subset must be "full", "upper" or "lower"'):
        DATASETS.build(dict(type='DeepFashionDataset', subset='top', lazy_init=True))


def test_person_detections_for_other_datasets():
    crowd = build('CrowdPoseDataset', 'crowdpose/test_crowdpose.json', {}, test_mode=True,
                  bbox_file=str(FIXTURES / 'crowdpose/test_crowdpose_det_AP_40.json'),
                  filter_cfg=dict(bbox_score_thr=0.5))
    assert len(crowd) == 6
    info = crowd.get_data_info(5)
    # detection boxes are converted but not clipped (x1 < 0 here)
    np.testing.assert_allclose(info['bbox'], [[-0.1077886, 238.81456, 38.1246, 338.0262]],
                               rtol=1e-5)
    assert info['bbox_score'][0] == pytest.approx(0.96739, abs=1e-5)
    assert info['keypoints'].shape == (1, 14, 2)
    art = build('HumanArtDataset', 'humanart/test_humanart.json', {}, test_mode=True,
                bbox_file=str(FIXTURES / 'humanart/test_humanart_det_AP_H_56.json'))
    assert len(art) == 13
    track = build('PoseTrack18Dataset', 'posetrack18/annotations/test_posetrack18_val.json',
                  {}, test_mode=True, filter_cfg=dict(bbox_score_thr=0.4), bbox_file=str(
                      FIXTURES / 'posetrack18/annotations/test_posetrack18_human_detections.json'))
    assert len(track) == 88
    np.testing.assert_allclose(track.get_data_info(87)['bbox'][0],
                               [943.7501, 463.9022, 1151.5183, 641.3604], rtol=1e-5)
