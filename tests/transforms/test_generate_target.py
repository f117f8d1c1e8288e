"""GenerateTarget: one codec, several codecs, multilevel, dataset weights."""
import numpy as np
import pytest

from posekit.datasets.transforms import GenerateTarget, PackPoseInputs
from posekit.structures import MultilevelPixelData

MSRA = dict(type='MSRAHeatmap', input_size=(192, 256), heatmap_size=(48, 64),
            sigma=2)
REGRESSION = dict(type='RegressionLabel', input_size=(192, 256))


def _sample():
    keypoints = np.zeros((1, 17, 2), np.float32)
    # x / 4 and y / 4 end in .25, away from the rounding tie at .5
    keypoints[0, :, 0] = 21 + np.arange(17) * 8       # x = 21 .. 149
    keypoints[0, :, 1] = 33 + np.arange(17) * 12      # y = 33 .. 225
    visible = np.ones((1, 17), np.float32)
    visible[0, 3] = 0
    return dict(transformed_keypoints=keypoints,
                keypoints=keypoints + 1000,        # must not be used
                keypoints_visible=visible,
                dataset_keypoint_weights=np.linspace(1, 2, 17,
                                                     dtype=np.float32))


def test_single_codec_heatmaps():
    results = GenerateTarget(MSRA)(_sample())
    heatmaps = results['heatmaps']
    assert heatmaps.shape == (17, 64, 48) and heatmaps.dtype == np.float32
    kp = _sample()['transformed_keypoints'][0]
    for k in (0, 5, 16):
        y, x = np.unravel_index(heatmaps[k].argmax(), heatmaps[k].shape)
        # the peak is on the keypoint / stride 4, rounded
        assert (x, y) == (int(kp[k, 0] / 4 + 0.5), int(kp[k, 1] / 4 + 0.5))
        assert heatmaps[k].max() == pytest.approx(1.)
    assert heatmaps[3].max() == 0                       # invisible
    np.testing.assert_array_equal(results['keypoint_weights'],
                                  _sample()['keypoints_visible'])
    assert results['field_mapping_table'] == {'heatmaps': 'heatmaps'}
    assert results['label_mapping_table'] == {
        'keypoint_weights': 'keypoint_weights'}
    assert 'instance_mapping_table' not in results      # codec's is empty
    assert results['encoded_keys'] == ('heatmaps', 'keypoint_weights')


def test_falls_back_to_keypoints_and_splits_visibility_weights():
    s = _sample()
    del s['transformed_keypoints']
    s['keypoints'] = s['keypoints'] - 1000
    s['keypoints_visible'] = np.stack(
        [s['keypoints_visible'], np.full((1, 17), 0.5, np.float32)], -1)
    results = GenerateTarget(REGRESSION)(s)
    assert results['keypoints_visible'].shape == (1, 17)
    np.testing.assert_array_equal(results['keypoints_visible_weights'],
                                  np.full((1, 17), 0.5))
    # regression labels are keypoints normalised by the input size
    np.testing.assert_allclose(results['keypoint_labels'][0, 1],
                               [29 / 192, 45 / 256], rtol=1e-6)


def test_dataset_keypoint_weights():
    plain = GenerateTarget(MSRA)(_sample())['keypoint_weights']
    weighted = GenerateTarget(MSRA, use_dataset_keypoint_weights=True)(
        _sample())['keypoint_weights']
    np.testing.assert_allclose(weighted,
                               plain * np.linspace(1, 2, 17)[None], rtol=1e-6)
    assert weighted[0, 3] == 0 and weighted[0, 16] == pytest.approx(2.)
    # with several encoders every encoder's weights are scaled
    both = GenerateTarget([MSRA, REGRESSION],
                          use_dataset_keypoint_weights=True)(_sample())
    for w in both['keypoint_weights']:
        np.testing.assert_allclose(w, weighted, rtol=1e-6)


def test_combined_codecs():
    results = GenerateTarget([MSRA, REGRESSION])(_sample())
    assert results['heatmaps'].shape == (17, 64, 48)
    assert results['keypoint_labels'].shape == (1, 17, 2)
    assert isinstance(results['keypoint_weights'], list)
    assert len(results['keypoint_weights']) == 2
    assert results['label_mapping_table'] == {
        'keypoint_labels': 'keypoint_labels',
        'keypoint_weights': 'keypoint_weights'}
    assert set(results['encoded_keys']) == {'heatmaps', 'keypoint_labels',
                                            'keypoint_weights'}
    with pytest.raises(ValueError, match="'heatmaps'"):
        GenerateTarget([MSRA, dict(MSRA, sigma=3)])(_sample())


def test_multilevel_codecs_pack_as_multilevel_pixel_data():
    codecs = [dict(MSRA, sigma=s) for s in (2, 3)]
    results = GenerateTarget(codecs, multilevel=True)(_sample())
    assert [h.shape for h in results['heatmaps']] == [(17, 64, 48)] * 2
    assert results['heatmaps'][0][0].max() == pytest.approx(1.)
    assert results['heatmaps'][1][0].sum() > results['heatmaps'][0][0].sum()
    results['img'] = np.zeros((256, 192, 3), np.uint8)
    sample = PackPoseInputs()(results)['data_samples']
    assert isinstance(sample.gt_fields, MultilevelPixelData)
    assert sample.gt_fields.nlevel == 2
    assert tuple(sample.gt_instance_labels.keypoint_weights.shape) == (2, 1, 17)
    with pytest.raises(ValueError, match='list of encoders'):
        GenerateTarget(MSRA, multilevel=True)
    with pytest.raises(ValueError, match='same keys'):
        GenerateTarget([MSRA, REGRESSION], multilevel=True)(_sample())


def test_built_codec_objects_and_aux_keys():
    class BoxCodec:
        auxiliary_encode_keys = {'bbox'}
        label_mapping_table = {'box_labels': 'box_labels'}

        def encode(self, keypoints, keypoints_visible, bbox):
            return dict(box_labels=bbox * 2)

    results = GenerateTarget(BoxCodec())(dict(_sample(),
                                              bbox=np.ones((1, 4))))
    np.testing.assert_array_equal(results['box_labels'], np.full((1, 4), 2.))
    assert results['encoded_keys'] == ('box_labels', )
    with pytest.raises(KeyError, match='transformed_keypoints'):
        GenerateTarget(MSRA)(dict(keypoints_visible=np.ones((1, 17))))
