"""PackPoseInputs: types, shapes, dtypes, routing tables and unrouted keys."""
import numpy as np
import pytest
import torch

from posekit.datasets.transforms import GenerateTarget, PackPoseInputs
from posekit.datasets.transforms.formatting import UnroutedTargetError
from posekit.structures import InstanceData, PixelData, PoseDataSample

MSRA = dict(type='MSRAHeatmap', input_size=(192, 256), heatmap_size=(48, 64),
            sigma=2)


def _results():
    img = np.random.RandomState(0).randint(0, 256, (256, 192, 3), np.uint8)
    keypoints = np.random.RandomState(1).rand(1, 17, 2).astype(np.float32)
    return dict(
        img=img, img_path='a.jpg', id=7, img_id=3, category_id=1,
        ori_shape=(480, 640), img_shape=(480, 640), input_size=(192, 256),
        input_center=np.array([320., 240.], np.float32),
        input_scale=np.array([150., 200.], np.float32),
        flip=False, flip_direction=None, flip_indices=list(range(17)),
        bbox=np.array([[10., 20., 160., 220.]], np.float32),
        bbox_score=np.ones(1, np.float32),
        bbox_scale=np.array([[150., 200.]], np.float32),
        keypoints=keypoints * 100,
        transformed_keypoints=keypoints * 150,
        keypoints_visible=np.ones((1, 17), np.float32),
        not_a_meta_key='ignored')


def test_inputs_tensor():
    packed = PackPoseInputs()(_results())
    inputs = packed['inputs']
    assert isinstance(inputs, torch.Tensor) and inputs.dtype == torch.uint8
    assert tuple(inputs.shape) == (3, 256, 192) and inputs.is_contiguous()
    np.testing.assert_array_equal(inputs.numpy(),
                                  _results()['img'].transpose(2, 0, 1))
    gray = PackPoseInputs()(dict(img=np.zeros((5, 4), np.float32)))['inputs']
    assert tuple(gray.shape) == (1, 5, 4) and gray.dtype == torch.float32
    video = PackPoseInputs()(dict(img=[np.zeros((5, 4, 3), np.uint8)] * 2))
    assert tuple(video['inputs'].shape) == (2, 3, 5, 4)


@pytest.mark.parametrize('shape,dtype', [
    ((6, 5, 3), np.uint8), ((6, 5, 3), np.float32), ((6, 5, 2), np.float64),
    ((6, 5, 5), np.uint8), ((6, 5, 3), np.int64), ((6, 5, 1), np.uint16)])
def test_image_to_tensor_layouts(shape, dtype):
    from posekit.datasets.transforms.formatting import image_to_tensor
    img = (np.random.RandomState(0).rand(*shape) * 200).astype(dtype)
    for view in (img, img[:, ::-1], np.asfortranarray(img)):
        tensor = image_to_tensor(view)
        assert tensor.is_contiguous() and tensor.dtype == torch.from_numpy(
            img).dtype
        np.testing.assert_array_equal(tensor.numpy(), view.transpose(2, 0, 1))


def test_data_sample_contents():
    results = GenerateTarget(MSRA)(_results())
    sample = PackPoseInputs()(results)['data_samples']
    assert isinstance(sample, PoseDataSample)
    gt = sample.gt_instances
    assert isinstance(gt, InstanceData)
    assert sorted(gt.keys()) == ['bbox_scales', 'bbox_scores', 'bboxes',
                                 'keypoints', 'keypoints_visible']
    assert isinstance(gt.bboxes, np.ndarray) and gt.bboxes.shape == (1, 4)
    assert gt.keypoints.shape == (1, 17, 2)
    labels = sample.gt_instance_labels
    assert isinstance(labels.keypoint_weights, torch.Tensor)
    assert tuple(labels.keypoint_weights.shape) == (1, 17)
    assert labels.keypoint_weights.dtype == torch.float32
    assert isinstance(sample.gt_fields, PixelData)
    heatmaps = sample.gt_fields.heatmaps
    assert isinstance(heatmaps, torch.Tensor)
    assert tuple(heatmaps.shape) == (17, 64, 48)
    assert heatmaps.dtype == torch.float32
    meta = sample.metainfo
    assert set(meta) == {'id', 'img_id', 'img_path', 'category_id',
                         'ori_shape', 'img_shape', 'input_size',
                         'input_center', 'input_scale', 'flip',
                         'flip_direction', 'flip_indices'}
    assert meta['input_size'] == (192, 256) and meta['flip'] is False


def test_without_targets_and_custom_meta_keys():
    packed = PackPoseInputs(meta_keys=('img_id', 'not_a_meta_key'),
                            pack_transformed=True)(_results())
    sample = packed['data_samples']
    assert sample.metainfo == {'img_id': 3, 'not_a_meta_key': 'ignored'}
    assert 'gt_fields' not in sample
    assert len(sample.gt_instance_labels.keys()) == 0
    np.testing.assert_array_equal(sample.gt_instances.transformed_keypoints,
                                  _results()['transformed_keypoints'])


def test_codec_table_replaces_the_default_table():
    results = _results()
    results['keypoints_visible_weights'] = np.ones((1, 17), np.float32)
    results['keypoint_weights'] = np.ones((1, 17), np.float32)
    default = PackPoseInputs()(dict(results))['data_samples']
    assert 'keypoints_visible_weights' in default.gt_instance_labels
    results['label_mapping_table'] = {'keypoint_weights': 'weights'}
    custom = PackPoseInputs()(results)['data_samples']
    assert custom.gt_instance_labels.keys() == ['weights']


def test_unrouted_codec_output_raises():
    class AssociativeLike:
        """Encodes keypoint_indices but routes only the heatmaps."""
        field_mapping_table = {'heatmaps': 'heatmaps'}

        def encode(self, keypoints, keypoints_visible):
            return dict(heatmaps=np.zeros((17, 8, 6), np.float32),
                        keypoint_indices=np.zeros((1, 17, 2), np.int64),
                        keypoint_weights=np.ones((1, 17), np.float32))

    results = GenerateTarget(AssociativeLike())(_results())
    with pytest.raises(UnroutedTargetError, match="'keypoint_indices'"):
        PackPoseInputs()(dict(results))
    # the default label table takes keypoint_weights; meta_keys may take
    # the rest when it is metainfo rather than a target
    packed = PackPoseInputs(meta_keys=('keypoint_indices', ))(results)
    sample = packed['data_samples']
    assert sample.keypoint_indices.shape == (1, 17, 2)
    assert tuple(sample.gt_instance_labels.keypoint_weights.shape) == (1, 17)


def test_pose_lifting_inputs_and_missing_image():
    packed = PackPoseInputs()(dict(
        lifting_target=np.zeros((1, 17, 3)),
        keypoints=np.zeros((1, 17, 2), np.float32),
        keypoint_labels=np.ones((1, 17, 2), np.float32)))
    assert tuple(packed['inputs'].shape) == (1, 17, 2)
    assert packed['inputs'].sum() == 34
    with pytest.raises(KeyError, match='LoadImage'):
        PackPoseInputs()(dict(keypoints=np.zeros((1, 17, 2))))
