"""InterHand3DDataset on the real InterHand2.6M fixture: values written from
MMPose 1.3.2's ``get_data_info`` (posekit matched every field, dtype and
type exactly on all 4 samples), and the InterNet train pipeline."""
import json
from pathlib import Path

import numpy as np
import pytest

from posekit.registry import DATASETS

ROOT = Path(__file__).parents[1] / 'data' / 'fixtures' / 'interhand2.6m'
FILES = dict(ann_file='test_interhand2.6m_data.json',
             camera_param_file='test_interhand2.6m_camera.json',
             joint_file='test_interhand2.6m_joint_3d.json')


def build(**kw):
    return DATASETS.build(dict(type='InterHand3DDataset', data_root=str(ROOT),
                               data_prefix=dict(img=str(ROOT) + '/'),
                               **{**FILES, **kw}))


def test_interacting_sample_matches_mmpose():
    ds = build(test_mode=True)
    assert len(ds) == 4
    info = ds.get_data_info(0)
    assert info['img_id'] == 326750 and info['id'] == 326750
    assert info['img_path'].endswith('image69148.jpg')
    assert info['rotation'] == 0 and info['num_keypoints'] == 42
    np.testing.assert_array_equal(info['hand_type'], [[1., 1.]])
    np.testing.assert_array_equal(info['hand_type_valid'], [1])
    np.testing.assert_allclose(info['bbox'], [[33.568394, 164.923737,
                                               218.626251, 307.649414]],
                               rtol=1e-6)
    # left wrist depth minus right wrist depth (mm); abs_depth [right, left]
    assert info['rel_root_depth'] == pytest.approx(57.792725, rel=1e-6)
    assert info['rel_root_valid'] == 1.0
    np.testing.assert_allclose(info['abs_depth'], [1111.0215, 1168.8142],
                               rtol=1e-6)
    np.testing.assert_allclose(info['focal'], [1261.5292, 1261.6846],
                               rtol=1e-6)
    np.testing.assert_allclose(info['principal_pt'], [155.81636, 258.8306],
                               rtol=1e-6)
    # x, y pixels and z relative to the own hand's wrist (0 at 20 and 41)
    np.testing.assert_allclose(info['keypoints'][0, [0, 20, 21, 41]], [
        [178.68912, 184.95703, 35.445679], [48.98988, 241.66972, 0.],
        [123.93737, 176.81754, -85.356689], [193.28754, 260.3385, 0.]],
        rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(info['keypoints_cam'][0, [0, 20, 41]], [
        [20.786566, -67.127412, 1146.4672], [-94.081459, -15.111622, 1111.0215],
        [34.71727, 1.3969184, 1168.8142]], rtol=1e-5, atol=1e-4)
    assert info['keypoints_visible'].sum() == 42


def test_single_hand_sample_masks_the_missing_hand():
    """Sample 2 is a left hand: the right wrist is invalid, so the right
    hand's 21 keypoints are invisible and the root depth is not valid."""
    info = build(test_mode=True).get_data_info(2)
    np.testing.assert_array_equal(info['hand_type'], [[0., 1.]])
    assert info['rel_root_valid'] == 0.0
    assert info['rel_root_depth'] == pytest.approx(413.69226, rel=1e-6)
    np.testing.assert_array_equal(info['keypoints_visible'][0, [0, 20, 21, 41]],
                                  [0., 0., 1., 1.])
    assert info['keypoints_visible'].sum() == 21
    np.testing.assert_allclose(info['keypoints'][0, 21], [84.851875, 126.72523,
                                                          5.8918457], rtol=1e-5)


def test_rootnet_results_give_boxes_and_depths(tmp_path):
    anns = json.loads((ROOT / FILES['ann_file']).read_text())['annotations']
    rootnet = [dict(annot_id=a['id'], bbox=[1., 2., 10., 20.],
                    abs_depth=[500. + i, 600. + i]) for i, a in enumerate(anns)]
    path = tmp_path / 'rootnet.json'
    path.write_text(json.dumps(rootnet))
    info = build(test_mode=True, use_gt_root_depth=False,
                 rootnet_result_file=str(path)).get_data_info(0)
    np.testing.assert_allclose(info['bbox'], [[1., 2., 11., 22.]])
    np.testing.assert_allclose(info['abs_depth'], [500., 600.])
    with pytest.raises(ValueError, match='rootnet_result_file'):
        build(use_gt_root_depth=False)


def test_internet_train_pipeline_flips_hands():
    """HandRandomFlip(prob=1) on the interacting sample, then targets of a
    small Hand3DHeatmap: the hand type [1, 1] stays, the root depth becomes
    -57.79 mm -> (-57.792725 / 400 + 0.5) * 16 = 5.688291 bins."""
    codec = dict(type='Hand3DHeatmap', image_size=[64, 64],
                 heatmap_size=[16, 16, 16], heatmap_size_root=16,
                 root_heatmap_size=16, depth_size=16, sigma=1)
    meta = ('id', 'img_id', 'hand_type', 'hand_type_valid', 'flip',
            'flip_indices', 'abs_depth', 'focal', 'principal_pt',
            'input_size', 'input_center', 'input_scale')
    ds = build(indices=[0], pipeline=[
        dict(type='LoadImage'), dict(type='GetBBoxCenterScale'),
        dict(type='HandRandomFlip', prob=1.0),
        dict(type='TopdownAffine', input_size=codec['image_size']),
        dict(type='GenerateTarget', encoder=codec),
        dict(type='PackPoseInputs', meta_keys=meta)])
    sample = ds[0]['data_samples']
    labels = sample.gt_instance_labels
    np.testing.assert_allclose(labels.root_depth, [5.688291], rtol=1e-6)
    np.testing.assert_array_equal(labels.root_depth_weight, [1.])
    np.testing.assert_array_equal(labels.type, [[1., 1.]])
    assert sample.metainfo['flip'] is True
    assert sample.gt_fields.heatmaps.shape == (42 * 16, 16, 16)
    # every keypoint inside the depth range keeps weight 1
    assert float(labels.keypoint_weights.sum()) == 42.0
    np.testing.assert_allclose(sample.metainfo['abs_depth'],
                               [1111.0215, 1168.8142], rtol=1e-6)
