"""Every model config under configs/ builds and runs its three modes.

Each config is used as written, except that its datasets read the COCO
fixture (4 images) or, for pose lifting, the Human3.6M fixture (4 frames),
batches have 2 samples made by the config's own train and val pipelines,
and a backbone's Pretrained init (a download: tests/test_hub.py) is off.
The model zoo's full-size configs are built on the meta device by
tests/test_zoo_configs.py; a few small ones also run here (ZOO_RUN).
"""
import importlib.util
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from posekit.apis.zoo import list_models
from posekit.config import Config
from posekit.registry import DATASETS, MODELS

ROOT = Path(__file__).resolve().parents[2]
ZOO = {entry['posekit_config'] for entry in list_models() if 'posekit_config' in entry}
ZOO_RUN = {'body_2d_keypoint/rtmpose/coco/rtmpose-s_8xb256-420e_coco-256x192.py',
           'body_2d_keypoint/simcc/coco/simcc_res50_8xb64-210e_coco-256x192.py',
           'body_2d_keypoint/topdown_heatmap/coco/td-hm_res50_8xb64-210e_coco-256x192.py',
           'body_2d_keypoint/topdown_heatmap/coco/td-hm_hrnet-w32_8xb64-210e_coco-256x192.py',
           'body_2d_keypoint/topdown_regression/coco/td-reg_res50_rle-8xb64-210e_coco-256x192.py'}
CONFIGS = sorted(p for p in (ROOT / 'configs').rglob('*.py')
                 if '_base_' not in p.parts
                 # inference-only detectors: tests/apis/test_detector_configs.py
                 and 'mmdetection_cfg' not in p.parts
                 and (str(p.relative_to(ROOT / 'configs')) not in ZOO
                      or str(p.relative_to(ROOT / 'configs')) in ZOO_RUN))
# dataset type -> fixture in the same annotation format
FIXTURES = {'CocoDataset': dict(data_root='tests/data/fixtures/coco/',
                                ann_file='test_coco.json',
                                data_prefix=dict(img='')),
            'Human36mDataset': dict(data_root='tests/data/fixtures/h36m/',
                                    ann_file='test_h36m_body3d.npz',
                                    camera_param_file='cameras.pkl',
                                    data_prefix=dict(img=''))}
HAS_ALBUMENTATIONS = importlib.util.find_spec('albumentations') is not None


def _fixture_dataset(cfg, loader):
    dataset = dict(cfg[loader].dataset)
    if dataset['type'] not in FIXTURES:
        raise AssertionError(f'no fixture for {dataset["type"]}: add one to '
                             'FIXTURES in tests/models/test_configs.py')
    dataset.update(FIXTURES[dataset['type']])
    dataset.pop('bbox_file', None)  # detections of the full val set
    pipeline = dataset['pipeline']
    if not HAS_ALBUMENTATIONS:  # pixel noise only: shapes do not change
        pipeline = [t for t in pipeline if t['type'] != 'Albumentation']
    dataset['pipeline'] = pipeline
    return DATASETS.build(dataset)


def _batch(dataset, indices=(0, 1)):
    items = [dataset[i] for i in indices]
    return dict(inputs=[d['inputs'] for d in items],
                data_samples=[d['data_samples'] for d in items])


def _expected_shapes(codec, num_keypoints):
    """Raw head output shapes for a batch of 2, from the codec."""
    kind = codec['type']
    if kind == 'VideoPoseLifting':
        return [(2, num_keypoints - codec.get('remove_root', False), 3)]
    w, h = codec['input_size']
    if kind in ('MSRAHeatmap', 'UDPHeatmap', 'MegviiHeatmap'):
        hw, hh = codec['heatmap_size']
        return [(2, num_keypoints, hh, hw)]
    if kind == 'SimCCLabel':
        r = codec.get('simcc_split_ratio', 2.0)
        return [(2, num_keypoints, int(w * r)), (2, num_keypoints, int(h * r))]
    if kind == 'RegressionLabel':
        return None  # (2, K, 2) or (2, K, 4) with RLE's sigmas
    if kind == 'AssociativeEmbedding':  # heatmaps and tags at stride 4
        return [(2, num_keypoints, h // 4, w // 4)] * 2
    if kind == 'YOLOXPoseAnnotationProcessor':
        return 'per level'  # one-stage heads: per output a map per stride
    raise AssertionError(f'unknown codec {kind} in a config')


@pytest.mark.parametrize('path', CONFIGS,
                         ids=[str(p.relative_to(ROOT / 'configs'))
                              for p in CONFIGS])
def test_config_builds_and_runs(path, monkeypatch):
    monkeypatch.chdir(ROOT)
    torch.manual_seed(0)
    np.random.seed(0)
    random.seed(0)
    cfg = Config.fromfile(str(path))
    assert path.name.count('_') >= 2, 'name: {algorithm}_{modules}_..._{data}'
    backbone_init = (cfg.model.get('backbone') or {}).get('init_cfg') or {}
    if backbone_init.get('type') == 'Pretrained':
        cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    model.init_weights()
    num_keypoints = 17

    # loss: the train pipeline's samples, with targets
    model.train()
    data = model.data_preprocessor(
        _batch(_fixture_dataset(cfg, 'train_dataloader')), True)
    # lifting models stack a list of (K * 2, T) inputs themselves (MMPose's way)
    batch = data['inputs']
    batch = torch.stack(batch) if isinstance(batch, list) else batch
    assert batch.shape[0] == 2
    assert batch.dtype == torch.float32
    losses = model(**data, mode='loss')
    bottomup = cfg.get('data_mode') == 'bottomup'
    lifting = cfg.model.type == 'PoseLifter'
    assert bottomup or ('mpjpe' if lifting else 'acc_pose') in losses
    assert any('loss' in k for k in losses)
    total, _ = model.parse_losses(losses)
    assert torch.isfinite(total)
    total.backward()
    grads = [p.grad for p in model.head.parameters() if p.requires_grad]
    assert grads and all(g is not None for g in grads[-1:])

    # predict: the val pipeline's samples, keypoints in image pixels
    model.eval()
    dataset = _fixture_dataset(cfg, 'test_dataloader')
    data = model.data_preprocessor(_batch(dataset), False)
    with torch.no_grad():
        samples = model(**data, mode='predict')
    assert len(samples) == 2
    if lifting:
        _check_lifting(model, data, samples, dict(cfg.codec), num_keypoints)
        return
    for sample in samples:
        pred = sample.pred_instances
        if bottomup:   # any number of people, at most the decoder's limit
            assert pred.keypoints.shape[1:] == (num_keypoints, 2)
            assert pred.keypoint_scores.shape == pred.keypoints.shape[:2]
            assert np.isfinite(pred.keypoints).all()
            h, w = sample.ori_shape
            # inside the image, padding included (the input covers both)
            x0, y0 = sample.input_center - sample.input_scale / 2
            x1, y1 = sample.input_center + sample.input_scale / 2
            assert x0 <= 0 and y0 <= 0 and x1 >= w - 1 and y1 >= h - 1
            inside = ((pred.keypoints >= (x0, y0)) & (pred.keypoints <= (x1, y1))).all()
            if 'decoder' in cfg.model.head:   # heatmap peaks
                assert len(pred.keypoints) <= cfg.model.head.decoder.decode_max_instances
                assert inside
            else:   # one-stage: boxes clipped to the input; one per person
                assert pred.bboxes.shape == (len(pred.keypoints), 4)
                corners = pred.bboxes.reshape(-1, 2, 2)
                assert ((corners >= (x0, y0)) & (corners <= (x1, y1))).all()
            continue
        assert pred.keypoints.shape == (1, num_keypoints, 2)
        assert pred.keypoint_scores.shape == (1, num_keypoints)
        assert np.isfinite(pred.keypoints).all()
        np.testing.assert_array_equal(pred.bboxes, sample.gt_instances.bboxes)
        # the crop covers the padded box; random weights stay near it
        x0, y0 = sample.input_center - sample.input_scale
        x1, y1 = sample.input_center + sample.input_scale
        assert (pred.keypoints[..., 0] >= x0).all()
        assert (pred.keypoints[..., 0] <= x1).all()
        assert (pred.keypoints[..., 1] >= y0).all()
        assert (pred.keypoints[..., 1] <= y1).all()

    # tensor: raw head output
    with torch.no_grad():
        out = model(data['inputs'], None, mode='tensor')
    outs = [out] if isinstance(out, torch.Tensor) else list(out)
    codec = dict(cfg.codec)
    if bottomup:   # the val pipeline's input size, not the codec's
        codec['input_size'] = tuple(data['inputs'].shape[:1:-1])
    expected = _expected_shapes(codec, num_keypoints)
    if expected == 'per level':
        strides = cfg.model.head.featmap_strides
        h, w = data['inputs'].shape[2:]
        assert sum(bool(maps) for maps in outs) >= 4  # RTMO's objectness: []
        for level_maps in filter(None, outs):
            assert [(o.shape[0], ) + tuple(o.shape[2:]) for o in level_maps] == [
                (2, h // s, w // s) for s in strides]
    elif expected is None:
        assert outs[0].shape[:2] == (2, num_keypoints)
        assert outs[0].shape[2] in (2, 4)
    else:
        assert [tuple(o.shape) for o in outs] == expected


def _check_lifting(model, data, samples, codec, num_keypoints):
    """3D predictions: the raw output (root-relative, the codec's shape)
    plus each sample's ``target_root``, in the dataset's units."""
    with torch.no_grad():
        out = model(data['inputs'], None, mode='tensor')
    assert [tuple(out.shape)] == _expected_shapes(codec, num_keypoints)
    for i, sample in enumerate(samples):
        pred = sample.pred_instances
        assert pred.keypoints.shape == (1, num_keypoints, 3)
        assert pred.keypoint_scores.shape == (1, num_keypoints)
        root = np.asarray(sample.metainfo['target_root']).reshape(1, 1, 3)
        # float32 network output plus a root of ~5 m: a few ulps of 5
        np.testing.assert_allclose(pred.keypoints, out[i:i + 1].numpy() + root,
                                   rtol=0, atol=1e-5)
