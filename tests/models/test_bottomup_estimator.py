"""BottomupPoseEstimator: coordinate mapping, the multi-scale test, bad test settings, an image with nobody in it.

The model is the bottom-up quick-start config (tiny HRNet, AE head) with
seeded random weights: the checks compare the model with itself under
settings that must not change the result, or use a head whose output is
known (zeroed).
"""
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from posekit.apis import PoseInferencer, inference_bottomup, init_model
from posekit.datasets.transforms import Compose
from posekit.structures import InstanceData, PoseDataSample

ROOT = Path(__file__).resolve().parents[2]
CONFIG = str(ROOT / 'configs/body_2d_keypoint/associative_embedding/synthetic/'
             'ae_hrnet-tiny_1xb16-20e_synthetic-256x256.py')
IMAGE = ROOT / 'tests/data/fixtures/coco/000000197388.jpg'  # 640x392


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    model = init_model(CONFIG, None, cfg_options={
        'model.head.decoder.decode_max_instances': 5})
    # BatchNorm statistics from a few inputs, so outputs depend on the image
    model.train()
    with torch.no_grad():
        model(torch.randn(2, 3, 128, 128), None, mode='tensor')
    return model.eval()


def image():
    return cv2.resize(cv2.imread(str(IMAGE)), (320, 196))


def predict(model, pipeline, test_cfg):
    """The model's predictions on image() through ``pipeline`` with
    ``test_cfg`` (restored afterwards)."""
    saved = dict(model.test_cfg)
    model.test_cfg.update(test_cfg)
    model.head.test_cfg = model.test_cfg
    try:
        data = Compose(pipeline)(dict(img=image(), **model.dataset_meta))
        with torch.no_grad():
            return model.test_step(dict(inputs=[data['inputs']],
                                        data_samples=[data['data_samples']]))[0]
    finally:
        model.test_cfg.clear()
        model.test_cfg.update(saved)


def resize(**kwargs):
    return [dict(type='BottomupResize', input_size=(256, 256), size_factor=32,
                 resize_mode='expand', **kwargs),
            dict(type='PackPoseInputs', meta_keys=(
                'ori_shape', 'img_shape', 'input_size', 'input_center',
                'input_scale', 'flip_indices', 'aug_scales'))]


def test_predictions_map_back_to_the_image(model):
    """input point p -> p / input_size * input_scale + center - scale / 2."""
    sample = PoseDataSample(metainfo=dict(
        input_size=(64, 64), input_center=np.array([100., 50.]),
        input_scale=np.array([128., 128.])))
    pred = InstanceData(keypoints=np.array([[[32., 16.]]]),
                        keypoint_scores=np.array([[0.5]]),
                        bboxes=np.array([[0., 0., 64., 32.]]))
    out = model.add_pred_to_datasample([pred], None, [sample])[0].pred_instances
    np.testing.assert_allclose(out.keypoints, [[[100., 18.]]])
    np.testing.assert_allclose(out.bboxes, [[36., -14., 164., 50.]])
    np.testing.assert_allclose(out.keypoints_visible, [[0.5]])


def test_a_repeated_scale_changes_nothing(model):
    """The multi-scale test averages the heatmaps of every scale (tags come
    from the first): a second scale of 1.0 is the same image again, so the
    result is the single-scale one, to the bit."""
    single = predict(model, resize(), dict(flip_test=True))
    multi = predict(model, resize(aug_scales=[1.0]),
                    dict(flip_test=True, multiscale_test=True))
    assert len(single.pred_instances) == 5
    np.testing.assert_array_equal(multi.pred_instances.keypoints,
                                  single.pred_instances.keypoints)
    np.testing.assert_array_equal(multi.pred_instances.keypoint_scores,
                                  single.pred_instances.keypoint_scores)


@pytest.mark.parametrize('pipeline, test_cfg, message', [
    (resize(), dict(multiscale_test=True), 'needs the extra scales'),
    (resize(aug_scales=[0.5]), dict(multiscale_test=False),
     '2 input scales (BottomupResize aug_scales=[0.5]) but '
     'test_cfg.multiscale_test is False'),
])
def test_scale_settings_that_disagree_are_named(model, pipeline, test_cfg,
                                                message):
    with pytest.raises(ValueError, match=re.escape(message)):
        predict(model, pipeline, test_cfg)


def test_wrong_number_of_scales_is_named(model):
    samples = [PoseDataSample(metainfo=dict(aug_scales=[0.5, 1.5]))]
    model.test_cfg['multiscale_test'] = True
    try:
        with pytest.raises(ValueError, match=re.escape(
                '2 input scales for aug_scales=[0.5, 1.5] (expected the main '
                'scale plus 2)')):
            model.predict([torch.zeros(1, 3, 64, 64)] * 2, samples)
    finally:
        model.test_cfg['multiscale_test'] = False


def test_unknown_test_cfg_key_is_named():
    with pytest.raises(ValueError, match=re.escape(
            "unknown key 'flip_tset' (did you mean 'flip_test'?); "
            'BottomupPoseEstimator reads')):
        init_model(CONFIG, None, cfg_options={'model.test_cfg.flip_tset': True})


def test_nobody_in_the_image_gives_an_empty_result(model, tmp_path):
    """A head that outputs zero heatmaps finds nobody: zero instances, a
    picture with nothing drawn and an empty JSON list, no error."""
    head = model.head.final_layer
    saved = [p.detach().clone() for p in head.parameters()]
    try:
        with torch.no_grad():
            for p in head.parameters():
                p.zero_()
        blank = np.full((200, 300, 3), 127, np.uint8)
        pred = inference_bottomup(model, blank)[0].pred_instances
        assert pred.keypoints.shape == (0, 17, 2)
        assert pred.keypoint_scores.shape == (0, 17)

        cv2.imwrite(str(tmp_path / 'blank.jpg'), blank)
        inferencer = PoseInferencer(CONFIG, None, device='cpu')
        inferencer.model = model
        list(inferencer(str(tmp_path / 'blank.jpg'), vis_out_dir=str(tmp_path / 'vis'),
                        pred_out_dir=str(tmp_path / 'preds')))
        assert (tmp_path / 'preds/blank.json').read_text().strip() == '[]'
        drawn = cv2.imread(str(tmp_path / 'vis/blank.jpg'))
        assert drawn.shape == blank.shape
        assert np.abs(drawn.astype(int) - 127).max() <= 4  # JPEG noise only
    finally:
        with torch.no_grad():
            for p, value in zip(head.parameters(), saved):
                p.copy_(value)


def test_codec_and_head_that_disagree_fail_with_a_clear_error(model):
    """Targets drawn at 32x32 for a head that outputs 64x64 maps."""
    codec = dict(model.cfg.codec, heatmap_size=(32, 32))
    pipeline = Compose([
        dict(type='BottomupRandomAffine', input_size=(256, 256),
             shift_prob=0, scale_prob=0, rotate_prob=0),
        dict(type='GenerateTarget', encoder=codec),
        dict(type='BottomupGetHeatmapMask'), dict(type='PackPoseInputs')])
    img = image()
    data = pipeline(dict(
        img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2],
        keypoints=np.array([[[100., 50.]] * 17], np.float32),
        keypoints_visible=np.ones((1, 17), np.float32),
        bbox=np.array([[50., 20., 200., 180.]], np.float32),
        **model.dataset_meta))
    batch = model.data_preprocessor(dict(inputs=[data['inputs']],
                                         data_samples=[data['data_samples']]),
                                    True)
    with pytest.raises(ValueError, match=re.escape(
            'KeypointMSELoss: the head outputs heatmaps of shape '
            '(1, 17, 64, 64) but the targets are (1, 17, 32, 32)')):
        model(batch['inputs'], batch['data_samples'], mode='loss')
