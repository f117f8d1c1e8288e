"""YOLOXPoseAnnotationProcessor: box expansion, labels, routing into the
packed sample. Outputs were also compared with MMPose 1.3.2 on 6 random
instances (with and without expand_bbox, (N, K) and (N, K, 2)
visibility): identical arrays and dtypes."""
import numpy as np
import pytest

from posekit.codecs import YOLOXPoseAnnotationProcessor
from posekit.datasets.transforms import GenerateTarget, PackPoseInputs
from posekit.registry import KEYPOINT_CODECS


def _instances():
    keypoints = np.array([[[5., 50.], [30., 8.], [500., 500.]],
                          [[1., 1.], [2., 2.], [3., 3.]]], np.float32)
    visible = np.array([[1., 1., 0.], [0., 0., 0.]], np.float32)
    bbox = np.array([[10., 10., 20., 20.], [0., 0., 4., 4.]], np.float32)
    return keypoints, visible, bbox


def test_expand_bbox_covers_visible_keypoints_only():
    keypoints, visible, bbox = _instances()
    codec = YOLOXPoseAnnotationProcessor(expand_bbox=True)
    out = codec.encode(keypoints, visible, bbox.copy(), [1, 2])
    # instance 0: x from 5 (kpt 0) to 30 (kpt 1), y from 8 to 50; the hidden
    # keypoint at (500, 500) is ignored. instance 1: nothing visible.
    np.testing.assert_array_equal(out['bbox'], [[5., 8., 30., 50.],
                                                [0., 0., 4., 4.]])
    assert out['bbox'].dtype == np.float32
    np.testing.assert_array_equal(out['bbox_labels'], [0, 1])
    assert out['bbox_labels'].dtype == np.int8
    np.testing.assert_array_equal(bbox, _instances()[2])   # input untouched
    # (N, K, 2) visibility: the first channel decides
    both = np.stack([visible, np.ones_like(visible)], -1)
    again = codec.encode(keypoints, both, bbox, None)
    np.testing.assert_array_equal(again['bbox'], out['bbox'])
    assert set(again) == {'bbox'}


def test_without_expansion_only_labels():
    keypoints, visible, bbox = _instances()
    codec = KEYPOINT_CODECS.build(dict(type='YOLOXPoseAnnotationProcessor',
                                       input_size=(640, 640)))
    assert codec.input_size == (640, 640) and codec.expand_bbox is False
    assert codec.encode(keypoints, visible, bbox, None) == {}
    out = codec.encode(keypoints, visible, bbox, [1, 1])
    assert set(out) == {'bbox_labels'}
    with pytest.raises(NotImplementedError, match='decode'):
        codec.decode(None)
    with pytest.raises(ValueError, match='keypoints'):
        YOLOXPoseAnnotationProcessor(expand_bbox=True).encode(
            None, None, bbox)


def test_generate_target_and_pack_route_labels():
    keypoints, visible, bbox = _instances()
    results = dict(img=np.zeros((8, 8, 3), np.uint8), keypoints=keypoints,
                   keypoints_visible=visible, bbox=bbox,
                   bbox_score=np.ones(2, np.float32), category_id=[1, 1],
                   area=np.array([100., 16.], np.float32))
    codec = dict(type='YOLOXPoseAnnotationProcessor', expand_bbox=True)
    results = GenerateTarget(encoder=codec)(results)
    sample = PackPoseInputs()(results)['data_samples']
    labels = sample.gt_instance_labels
    assert set(labels.keys()) == {'bboxes', 'labels', 'keypoints',
                                  'keypoints_visible', 'areas'}
    np.testing.assert_array_equal(labels.bboxes.numpy()[0], [5, 8, 30, 50])
    np.testing.assert_array_equal(labels.areas.numpy(), [100., 16.])
    np.testing.assert_array_equal(labels.labels.numpy(), [0, 0])
    assert set(sample.gt_instances.keys()) == {
        'bboxes', 'bbox_scores', 'keypoints', 'keypoints_visible'}
