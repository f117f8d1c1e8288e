"""posekit's detector configs (configs/mmdetection_cfg/), ``mmdet::`` bases,
detector names, and the zoo's detector in PoseInferencer.

Expected values were measured with MMDetection 3.3.0 (the reference env) on
MMPose 1.3.2's ``demo/mmdetection_cfg/`` file of the same name:
``init_detector(cfg).state_dict()`` gives the key count and the first 16 hex
digits of the SHA-256 of the sorted ``"key:shape"`` lines; its test pipeline
and ``DetDataPreprocessor`` turn the fixture image (333 x 500) into the
batch shape, ``scale_factor`` (w, h) and pixel mean below.
"""
import functools
import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from posekit.apis import PoseInferencer, init_model
from posekit.apis.boxes import select_boxes
from posekit.apis.detector import inference_detector, init_detector, resolve_detector
from posekit.apis.model_detector import load_detector
from posekit.apis.zoo import model_config, model_info
from posekit.config import Config, ConfigError, shipped_configs_dir
from posekit.config.remote import MMDET_URL_ENV, mmdet_config
from posekit.datasets.transforms.loading import read_image
from posekit.models.detectors.det_pipeline import run_pipeline
from posekit.structures import BaseDataElement

ROOT = Path(__file__).resolve().parents[2]
IMAGE = ROOT / 'tests/data/fixtures/coco/000000040083.jpg'  # 333 x 500 (h, w)
# name: (keys, key/shape hash, batch (N, C, H, W), scale_factor (w, h), mean)
MEASURED = {
    'rtmdet_m_640-8xb32_coco-person':
        (692, '2f725a064f5757a4', (1, 3, 640, 640), (1.28, 1.2792792792792793), 0.12371426),
    'rtmdet_nano_320-8xb32_coco-person':
        (698, '8275f7731fe36e3e', (1, 3, 320, 320), (0.64, 0.6396396396396397), 0.12363406),
    'rtmdet_nano_320-8xb32_hand':
        (698, '8275f7731fe36e3e', (1, 3, 320, 320), (0.64, 0.6396396396396397), 0.12363406),
    'rtmdet_tiny_8xb32-300e_coco':
        (476, '9412028a030456c2', (1, 3, 640, 640), (1.28, 1.2792792792792793), 0.12371426),
    # no mean/std: raw 0-255 pixels; padded to a 640 square
    'yolox-s_8xb8-300e_coco-face':
        (462, 'fabb49dfe16b0b03', (1, 3, 640, 640), (1.28, 1.2792792792792793), 121.572991),
}


def key_hash(state_dict):
    lines = '\n'.join(f'{k}:{tuple(v.shape)}' for k, v in sorted(state_dict.items()))
    return len(state_dict), hashlib.sha256(lines.encode()).hexdigest()[:16]


@pytest.mark.parametrize('name', sorted(MEASURED))
def test_shipped_config_matches_mmdet(name):
    keys, digest, shape, scale_factor, mean = MEASURED[name]
    model = init_detector(ROOT / f'configs/mmdetection_cfg/{name}.py')  # random weights
    assert key_hash(model.state_dict()) == (keys, digest)
    net_input, meta = run_pipeline(model.pipeline_steps, read_image(str(IMAGE)))
    tensor = torch.from_numpy(np.ascontiguousarray(net_input.transpose(2, 0, 1)))
    batch = model.data_preprocessor(
        dict(inputs=[tensor], data_samples=[BaseDataElement(metainfo=meta)]), False)
    assert tuple(batch['inputs'].shape) == shape
    assert meta['scale_factor'] == pytest.approx(scale_factor, abs=1e-12)
    # same cv2 resize, float32 sums over ~1e6 pixels: 1e-5 relative
    assert batch['inputs'].double().mean().item() == pytest.approx(mean, rel=1e-5)


def test_names_and_aliases_give_config_and_weights():
    for alias, stem in (('human', 'rtmdet_m_640-8xb32_coco-person'),
                        ('Face', 'yolox-s_8xb8-300e_coco-face'),
                        ('hand', 'rtmdet_nano_320-8xb32_hand')):
        record = model_info(alias.lower())['detector']
        config, weights, cat_ids = resolve_detector(alias)
        assert config == str(shipped_configs_dir() / f'mmdetection_cfg/{stem}.py')
        assert (weights, cat_ids) == (record['weights'], [0])
        assert weights.startswith('https://download.openmmlab.com/mmpose/')
        # a config stem that the index names gets its weights, not its cat_ids
        assert resolve_detector(stem) == (config, weights, None)
    assert resolve_detector('human', 'w.pth')[1] == 'w.pth'
    tiny = resolve_detector('rtmdet_tiny_8xb32-300e_coco')
    assert tiny[1:] == (None, None)  # not in MMPose's index: random weights
    with pytest.raises(ValueError, match="'rtmdet-m'.*publishes no weights"):
        resolve_detector('animal')
    with pytest.raises(ValueError, match="Did you mean 'rtmdet_m_640-8xb32_coco-person'"):
        init_detector('rtmdet_m_640-8xb32_coco-persn')
    with pytest.raises(ValueError, match="Did you mean 'human'"):
        load_detector('humn')


MMDET_CHAIN = {  # as MMDetection's: ../_base_/ files and a sibling
    'rtmdet/rtmdet_s.py': "_base_ = ['../_base_/default_runtime.py', './rtmdet_tta.py']\n"
                          "model = dict(type='RTMDet', bbox_head=dict(num_classes=80))\n",
    'rtmdet/rtmdet_tta.py': "tta_model = dict(type='DetTTAModel')\n",
    '_base_/default_runtime.py': "default_scope = 'mmdet'\n",
}


@pytest.fixture()
def mmdet_server(tmp_path, monkeypatch):
    """MMDET_CHAIN served from a folder on 127.0.0.1; ``.requests`` lists the paths."""
    served = tmp_path / 'served'
    for rel, text in MMDET_CHAIN.items():
        (served / rel).parent.mkdir(parents=True, exist_ok=True)
        (served / rel).write_text(text)
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            requests.append(self.path)

    httpd = http.server.ThreadingHTTPServer(
        ('127.0.0.1', 0), functools.partial(Handler, directory=str(served)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    monkeypatch.delenv('POSEKIT_OFFLINE', raising=False)
    monkeypatch.setenv(MMDET_URL_ENV, f'http://127.0.0.1:{httpd.server_address[1]}/')
    yield requests
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def test_mmdet_base_is_fetched_with_its_chain_then_cached(mmdet_server, tmp_path,
                                                          monkeypatch):
    demo = tmp_path / 'demo.py'  # as MMPose's demo/mmdetection_cfg/ files start
    demo.write_text("_base_ = 'mmdet::rtmdet/rtmdet_s.py'\n"
                    "model = dict(bbox_head=dict(num_classes=1))\n")
    cfg = Config.fromfile(str(demo))
    assert sorted(mmdet_server) == sorted('/' + rel for rel in MMDET_CHAIN)
    assert cfg.model.bbox_head.num_classes == 1 and cfg.default_scope == 'mmdet'
    assert cfg.model.type == 'RTMDet' and cfg.model._scope_ == 'mmdet'
    assert cfg.tta_model.type == 'DetTTAModel'
    cached = tmp_path / 'torch/hub/posekit_configs'
    assert len(list(cached.glob('url-*/rtmdet/rtmdet_s.py'))) == 1
    mmdet_server.clear()
    monkeypatch.setenv('POSEKIT_OFFLINE', '1')
    assert Config.fromfile(str(demo)).model.bbox_head.num_classes == 1
    assert mmdet_server == []  # from the cache
    missing = tmp_path / 'missing.py'
    missing.write_text("_base_ = 'mmdet::yolox/yolox_s.py'\n")
    with pytest.raises(ConfigError, match=r'missing.py: _base_ .mmdet::yolox/yolox_s.py.'
                                          r'.*POSEKIT_OFFLINE.*put it at .*yolox_s.py'):
        Config.fromfile(str(missing))


def test_mmdet_base_shipped_by_posekit_wins(tmp_path, monkeypatch):
    monkeypatch.setenv('POSEKIT_OFFLINE', '1')  # nothing may be fetched
    shipped = tmp_path / 'mmdet/rtmdet/rtmdet_s.py'
    shipped.parent.mkdir(parents=True)
    shipped.write_text("model = dict(type='RTMDet')\n")
    assert mmdet_config('rtmdet/rtmdet_s.py', tmp_path) == str(shipped)


def test_inferencer_runs_the_zoo_detector(tmp_path):
    """PoseInferencer('human') pairs the model with MMPose's person detector
    (RTMDet-m); with random weights every anchor scores ~0.5, so a
    bbox_thr just under the 4th best score keeps a handful of boxes."""
    torch.manual_seed(0)
    pose_ckpt, det_ckpt = tmp_path / 'pose.pth', tmp_path / 'det.pth'
    torch.save(dict(state_dict=init_model(model_config('human')).state_dict()), pose_ckpt)
    detector = init_detector(resolve_detector('human')[0])  # a path: random weights
    torch.save(dict(state_dict=detector.state_dict()), det_ckpt)
    inferencer = PoseInferencer('human', str(pose_ckpt), device='cpu',
                                det_weights=str(det_ckpt))
    assert inferencer.detector is None  # loaded at the first call needing boxes
    found = inference_detector(init_detector('human', str(det_ckpt)), str(IMAGE))
    rows = np.concatenate([found['bboxes'], found['scores'][:, None],
                           found['labels'][:, None]], axis=1)
    thr = float(np.sort(found['scores'])[-4]) - 1e-6
    expected = select_boxes(rows, thr, 0.3, [0])
    result = next(inferencer(str(IMAGE), bbox_thr=thr))
    assert inferencer.det_cat_ids == [0]
    assert 1 <= len(result['predictions']) == len(expected)
    for inst, row in zip(result['predictions'], expected):
        np.testing.assert_allclose(inst['bbox'], row[:4], atol=1e-3)
        assert inst['bbox_score'] == pytest.approx(float(row[4]), abs=1e-6)
        assert len(inst['keypoints']) == 17
