"""init_model and inference_topdown on the COCO fixture images.

The model is the conftest's: the small synthetic-data config whose last
layer makes every heatmap constant, so the expected keypoints follow from
the boxes alone (``constant_model.crop_corner``) and the expected scores
from the weights (``constant_model.flip_scores``).
"""
import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from posekit.apis import inference_topdown, init_model, merge_data_samples
from posekit.config import Config
from posekit.registry import MODELS

ROOT = Path(__file__).resolve().parents[2]
CONFIG = (ROOT / 'configs/body_2d_keypoint/topdown_heatmap/synthetic/'
          'td-hm_res18-tiny_1xb32-30e_synthetic-128x96.py')  # the conftest's
IMAGE = ROOT / 'tests/data/fixtures/coco/000000197388.jpg'  # 640x392
# two people of the image, xyxy
BOXES = np.array([[139.41, 102.25, 361.80, 343.82],
                  [287.17, 61.52, 362.05, 227.13]], np.float32)


@pytest.fixture
def model(checkpoint):
    return init_model(str(CONFIG), str(checkpoint), device='cpu')


def test_init_model_loads_weights_and_meta(model, weights):
    assert not model.training
    for key, value in model.state_dict().items():
        assert torch.equal(value, weights[key]), key
    # checkpoint meta wins over the config
    assert model.dataset_meta['dataset_name'] == 'coco_from_checkpoint'
    assert model.cfg.model.train_cfg is None
    assert model.cfg.model.backbone.init_cfg is None


def test_two_boxes_one_batch(model, monkeypatch, constant_model):
    shapes = []
    model.backbone.register_forward_hook(
        lambda m, args, out: shapes.append(tuple(args[0].shape)))
    results = inference_topdown(model, str(IMAGE), BOXES)
    # one batch of 2 crops, plus the mirrored batch of the flip test
    assert shapes == [(2, 3, 128, 96), (2, 3, 128, 96)]
    assert len(results) == 2
    for result, box in zip(results, BOXES):
        pred = result.pred_instances
        assert pred.keypoints.shape == (1, 17, 2)
        assert pred.keypoint_scores.shape == (1, 17)
        np.testing.assert_allclose(pred.keypoints[0],
                                   np.tile(constant_model.crop_corner(box), (17, 1)),
                                   atol=1e-3)
        np.testing.assert_allclose(pred.keypoint_scores[0], constant_model.flip_scores,
                                   atol=1e-6)
        np.testing.assert_allclose(pred.bboxes, box[None])
        np.testing.assert_array_equal(pred.bbox_scores, [1.0])
        assert result.img_path == str(IMAGE)
        assert result.ori_shape == (392, 640)


def test_real_weights_keep_keypoints_near_their_boxes(weights, tmp_path, constant_model):
    state = dict(weights)
    torch.manual_seed(1)
    state['head.final_layer.weight'] = torch.randn_like(
        state['head.final_layer.weight'])
    path = tmp_path / 'random.pth'
    torch.save(state, path)  # a bare state_dict: meta comes from the config
    model = init_model(CONFIG, path)
    assert model.dataset_meta['dataset_name'] == 'coco'
    results = inference_topdown(model, str(IMAGE), BOXES)
    for result, box in zip(results, BOXES):
        kpts = result.pred_instances.keypoints[0]
        corner = constant_model.crop_corner(box)
        size = 2 * ((box[:2] + box[2:]) / 2 - corner)
        assert np.all(kpts >= corner - 1) and np.all(kpts <= corner + size)


def test_array_xywh_and_whole_image(model):
    by_path = inference_topdown(model, str(IMAGE), BOXES)
    img = cv2.imread(str(IMAGE))
    xywh = np.concatenate([BOXES[:, :2], BOXES[:, 2:] - BOXES[:, :2]], 1)
    by_array = inference_topdown(model, img, xywh, bbox_format='xywh')
    for a, b in zip(by_path, by_array):
        np.testing.assert_allclose(a.pred_instances.keypoints,
                                   b.pred_instances.keypoints, atol=1e-4)
    whole = inference_topdown(model, img)
    assert len(whole) == 1
    np.testing.assert_array_equal(whole[0].pred_instances.bboxes,
                                  [[0, 0, 640, 392]])
    assert len(inference_topdown(model, img, np.zeros((0, 4)))) == 1


def test_cfg_options_and_config_object(checkpoint):
    cfg = Config.fromfile(str(CONFIG))
    model = init_model(cfg, checkpoint,
                       cfg_options={'model.test_cfg.flip_test': False})
    assert model.test_cfg['flip_test'] is False
    assert cfg.model.test_cfg.flip_test is True  # the caller's is untouched
    calls = []
    model.backbone.register_forward_hook(lambda *a: calls.append(1))
    inference_topdown(model, str(IMAGE), BOXES)
    assert len(calls) == 1


def test_merge_data_samples(checkpoint, constant_model):
    model = init_model(CONFIG, checkpoint,
                       cfg_options={'model.test_cfg.output_heatmaps': True})
    results = inference_topdown(model, str(IMAGE), BOXES)
    merged = merge_data_samples(results)
    assert merged.pred_instances.keypoints.shape == (2, 17, 2)
    np.testing.assert_allclose(merged.pred_instances.bboxes, BOXES)
    heatmaps = merged.pred_fields.heatmaps
    assert heatmaps.shape == (17, 392, 640)
    # constant maps, warped into the boxes' crops: SCORES inside, 0 outside
    np.testing.assert_allclose(heatmaps[:, 200, 250], constant_model.flip_scores,
                               atol=1e-5)
    assert np.all(heatmaps[:, 5, 5] == 0)


def test_bad_inputs(model, tmp_path):
    with pytest.raises(FileNotFoundError):
        init_model(CONFIG, tmp_path / 'missing.pth')
    with pytest.raises(ValueError, match='bbox_format'):
        inference_topdown(model, str(IMAGE), BOXES, bbox_format='cxcywh')
    with pytest.raises(ValueError, match=r'\(N, 4\)'):
        inference_topdown(model, str(IMAGE), np.zeros((2, 5)))
    with pytest.raises(TypeError, match='config'):
        init_model(dict(model=None))
    with pytest.raises(ValueError, match="expected 'cpu', 'cuda'"):
        init_model(CONFIG, device='gpu')
    with pytest.raises(ValueError, match='CUDA device'):
        init_model(CONFIG, device=f'cuda:{torch.cuda.device_count()}')


def test_mismatched_checkpoint_is_refused(weights, tmp_path):
    state = dict(weights)
    del state['head.final_layer.bias']
    state['head.extra.weight'] = torch.zeros(1)
    path = tmp_path / 'bad.pth'
    torch.save(dict(state_dict=state), path)
    with pytest.raises(RuntimeError) as err:
        init_model(CONFIG, path)
    assert 'head.final_layer.bias' in str(err.value)
    assert 'head.extra.weight' in str(err.value)


@pytest.mark.skipif(importlib.util.find_spec('safetensors') is None,
                    reason='safetensors is not installed')
def test_safetensors_checkpoint(weights, tmp_path, constant_model):
    from safetensors.torch import save_file
    path = tmp_path / 'model.safetensors'
    save_file({k: v.contiguous() for k, v in weights.items()}, str(path))
    model = init_model(CONFIG, path)
    assert model.dataset_meta['dataset_name'] == 'coco'  # from the config
    result = inference_topdown(model, str(IMAGE), BOXES[:1])
    np.testing.assert_allclose(result[0].pred_instances.keypoint_scores[0],
                               constant_model.flip_scores, atol=1e-6)


def test_sync_batchnorm_becomes_plain_batchnorm():
    config = ROOT / 'configs/body_2d_keypoint/rtmpose/coco/' \
        'rtmpose-s_8xb256-420e_coco-256x192.py'
    built = MODELS.build(Config.fromfile(str(config)).model)
    assert any(isinstance(m, torch.nn.SyncBatchNorm) for m in built.modules())
    model = init_model(config)  # no checkpoint: PyTorch's default init
    assert not any(isinstance(m, torch.nn.SyncBatchNorm)
                   for m in model.modules())
    assert list(model.state_dict()) == list(built.state_dict())
    results = inference_topdown(model, str(IMAGE), BOXES)
    assert [r.pred_instances.keypoints.shape for r in results] == [
        (1, 17, 2)] * 2


def test_mmpose_training_checkpoint(tmp_path):
    """A whole checkpoint written by MMPose 1.3.2 training (optimizer state,
    MMEngine's message hub, numpy dataset meta) loads for inference."""
    data = ROOT / 'tests/engine/data'
    model = init_model(data / 'td-hm_tiny_synthetic.py',
                       data / 'mmpose132_td-hm_res18-w4_epoch_1.pth')
    from posekit.models.utils import read_checkpoint as read_whole_file
    raw = read_whole_file(data / 'mmpose132_td-hm_res18-w4_epoch_1.pth')
    assert {'optimizer', 'message_hub'} <= raw.keys()
    for key, value in raw['state_dict'].items():
        assert torch.equal(model.state_dict()[key], value), key
    np.testing.assert_array_equal(model.dataset_meta['sigmas'],
                                  raw['meta']['dataset_meta']['sigmas'])


def test_mmpose_0x_checkpoint_names(tmp_path):
    """MMPose 0.x saved the head as 'keypoint_head' and RLE's flow under
    'loss': such a file loads into the 1.x model, the same weights."""
    config = ROOT / 'tests/data/configs/td_rle_res18-tiny_coco_fixture.py'
    torch.manual_seed(0)
    state = MODELS.build(Config.fromfile(str(config)).model).state_dict()
    old = {k.replace('head.', 'keypoint_head.', 1).replace('loss_module.', 'loss.'): v
           for k, v in state.items()}
    assert any(k.startswith('keypoint_head.loss.') for k in old)
    torch.save(dict(state_dict=old), tmp_path / 'v0.pth')
    model = init_model(config, tmp_path / 'v0.pth')
    for key, value in state.items():
        assert torch.equal(model.state_dict()[key], value), key
