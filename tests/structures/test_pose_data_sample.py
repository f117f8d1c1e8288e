"""PoseDataSample: typed fields, the spec's example, to_dict."""
import numpy as np
import pytest
import torch

from posekit.structures import (InstanceData, MultilevelPixelData, PixelData,
                                PoseDataSample)


class TestSpecExample:

    # Verbatim from the task spec, long lines included.
    def get_pose_data_sample(self):
        pose_meta = dict(img_shape=(600, 900), crop_size=(256, 192), heatmap_size=(64, 48))  # noqa: E501
        gt_instances = InstanceData()
        gt_instances.bboxes = np.random.rand(1, 4)
        gt_instances.keypoints = np.random.rand(1, 17, 2)
        gt_instance_labels = InstanceData()
        gt_instance_labels.keypoint_labels = torch.rand(1, 17, 2)
        gt_instance_labels.keypoint_weights = torch.rand(1, 17)
        pred_instances = InstanceData()
        pred_instances.keypoints = np.random.rand(1, 17, 2)
        pred_instances.keypoint_scores = np.random.rand(1, 17)
        gt_fields = PixelData()
        gt_fields.heatmaps = torch.rand(17, 64, 48)
        pred_fields = PixelData()
        pred_fields.heatmaps = torch.rand(17, 64, 48)
        data_sample = PoseDataSample(gt_instances=gt_instances, pred_instances=pred_instances,  # noqa: E501
            gt_fields=gt_fields, pred_fields=pred_fields, metainfo=pose_meta)
        return data_sample

    def test_example(self):
        np.random.seed(0)
        torch.manual_seed(0)
        sample = self.get_pose_data_sample()
        assert sample.metainfo == dict(
            img_shape=(600, 900), crop_size=(256, 192), heatmap_size=(64, 48))
        assert sample.img_shape == (600, 900)
        assert sample.gt_instances.keypoints.shape == (1, 17, 2)
        assert sample.gt_instances.bboxes.shape == (1, 4)
        assert len(sample.gt_instances) == 1
        assert sample.pred_instances.keypoint_scores.shape == (1, 17)
        assert tuple(sample.gt_fields.heatmaps.shape) == (17, 64, 48)
        assert tuple(sample.pred_fields.heatmaps.shape) == (17, 64, 48)
        assert sample.gt_fields.shape == (64, 48)
        # gt_instance_labels was built but not passed in
        assert 'gt_instance_labels' not in sample
        assert sample.keys() == [
            'gt_instances', 'pred_instances', 'gt_fields', 'pred_fields']


def test_typed_fields_reject_wrong_types():
    sample = PoseDataSample()
    cases = [('gt_instances', PixelData(), 'InstanceData'),
             ('gt_instance_labels', dict(), 'InstanceData'),
             ('pred_instances', np.zeros(3), 'InstanceData'),
             ('gt_fields', InstanceData(), 'PixelData or MultilevelPixelData'),
             ('pred_fields', MultilevelPixelData(), 'PixelData')]
    for name, value, expected in cases:
        with pytest.raises(TypeError) as err:
            setattr(sample, name, value)
        assert f'PoseDataSample.{name} must be {expected}' in str(err.value)
        with pytest.raises(TypeError, match=name):
            sample.set_field(value, name)
        with pytest.raises(TypeError, match=name):
            PoseDataSample(**{name: value})


def test_unset_get_and_delete():
    sample = PoseDataSample()
    for name in ('gt_instances', 'gt_instance_labels', 'pred_instances',
                 'gt_fields', 'pred_fields'):
        with pytest.raises(AttributeError, match=name):
            getattr(sample, name)
        assert sample.get(name) is None
    sample.pred_instances = InstanceData(keypoints=np.zeros((2, 3, 2)))
    assert 'pred_instances' in sample
    del sample.pred_instances
    assert 'pred_instances' not in sample
    with pytest.raises(AttributeError):
        sample.pred_instances


def test_multilevel_gt_fields_and_free_fields():
    sample = PoseDataSample()
    sample.gt_fields = MultilevelPixelData(
        heatmaps=[np.zeros((2, 8, 8)), np.zeros((2, 4, 4))])
    assert sample.gt_fields.nlevel == 2
    sample.track_id = 3  # untyped data fields stay allowed
    assert sample.track_id == 3


def test_to_dict_and_conversions():
    inst = InstanceData(keypoints=np.ones((1, 2, 2)))
    sample = PoseDataSample(metainfo=dict(flip=False), gt_instances=inst)
    assert set(sample.to_dict()) == {'flip', 'gt_instances'}
    assert sample.to_dict()['gt_instances']['keypoints'].shape == (1, 2, 2)
    tensors = sample.to_tensor()
    assert isinstance(tensors, PoseDataSample)
    assert isinstance(tensors.gt_instances.keypoints, torch.Tensor)
    clone = sample.clone()
    clone.gt_instances.keypoints[0, 0, 0] = 5.
    assert sample.gt_instances.keypoints[0, 0, 0] == 1.
