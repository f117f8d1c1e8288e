"""The model index (MMPose's zoo by name): lookups, configs fetched over HTTP, init_model.

Expected values are MMPose 1.3.2's metafiles' (read when the index was
written by tools/make_model_index.py): 367 models with weights once names
published twice are merged (same weights) or renamed to their config stem.
"""
import collections
import functools
import http.server
import threading

import pytest
import torch

from posekit.apis import PoseInferencer, init_model, zoo
from posekit.config import Config, shipped_configs_dir

HUMAN = 'rtmpose-m_8xb256-420e_body8-256x192'
HUMAN_CONFIG = 'body_2d_keypoint/rtmpose/body8/rtmpose-m_8xb256-420e_body8-256x192.py'
SHIPPED = 'rtmpose-s_8xb256-420e_coco-256x192'


def test_index_counts_per_task():
    entries = zoo.list_models()
    assert len(entries) == 367
    assert collections.Counter(e['task'] for e in entries) == dict(
        body2d=242, wholebody2d=26, animal2d=24, face2d=23, hand2d=22, fashion2d=19,
        body3d=10, hand3d=1)
    assert len({e['name'] for e in entries}) == 367


def test_human_alias_is_mmposes_entry():
    info = zoo.model_info('human')
    assert info['name'] == HUMAN
    assert info['config'] == HUMAN_CONFIG
    assert info['weights'] == (
        'https://download.openmmlab.com/mmpose/v1/projects/rtmposev1/'
        'rtmpose-m_simcc-body7_pt-body7_420e-256x192-e48f03d0_20230504.pth')
    assert info['aliases'] == ['human', 'body', 'body17']
    assert info['input_size'] == [192, 256]  # name says 256x192 = h x w
    assert info['results'][0]['dataset'] == 'Body8'
    assert info['results'][0]['metrics']['AP'] == 0.749
    assert info['training_data'][:2] == ['AI Challenger', 'COCO']
    # default_det_models.py: RTMDet-m person detector, category 0
    assert info['detector']['alias'] == 'human'
    assert info['detector']['config'] == 'rtmdet_m_640-8xb32_coco-person'
    assert info['detector']['cat_ids'] == [0]
    assert info['detector']['weights'].endswith('-235e8209.pth')
    assert zoo.model_weights('HUMAN') == info['weights']  # any case, as MMPose


@pytest.mark.parametrize('alias, name', [
    ('vitpose', 'td-hm_ViTPose-base-simple_8xb64-210e_coco-256x192'),
    ('vitpose-h', 'td-hm_ViTPose-huge-simple_8xb64-210e_coco-256x192'),
    ('rtmo', 'rtmo-l_16xb16-600e_body7-640x640'),
    ('body26', 'rtmpose-m_8xb512-700e_body8-halpe26-256x192'),
    ('human3d', 'motionbert_dstformer-ft-243frm_8xb32-120e_h36m'),
    ('hand3d', 'internet_res50_4xb16-20e_interhand3d-256x256'),
    # one alias on two models: the first in MMPose's index wins, as there
    ('face', 'rtmpose-m_8xb256-120e_face6-256x256'),
    ('wholebody', 'rtmpose-m_8xb64-270e_coco-wholebody-256x192'),
    ('td-hm_res50_8xb64-210e_coco-256x192.py', 'td-hm_res50_8xb64-210e_coco-256x192'),
])
def test_aliases_and_config_names(alias, name):
    assert zoo.model_info(alias)['name'] == name


def test_bottomup_models_have_no_detector():
    assert 'detector' not in zoo.model_info('rtmo')
    assert zoo.model_info('hand')['detector']['config'] == 'rtmdet_nano_320-8xb32_hand'


def test_metafile_duplicates_merged_or_renamed():
    # JHMDB: one model, two result tables (PCK and PCK at the torso)
    jhmdb = zoo.model_info('td-hm_res50_8xb64-20e_jhmdb-sub1-256x256')
    assert [r['metrics']['Mean'] for r in jhmdb['results']] == [96.1, 81.9]
    # RTMPose CrowdPose, published under RTMPose-t COCO's name
    crowd = zoo.model_info('rtmpose-m_8xb64-210e_crowdpose-256x192')
    assert crowd['results'][0]['metrics']['AP'] == 0.706
    assert zoo.model_info('rtmpose-t_8xb256-420e_coco-256x192')['results'][0][
        'metrics']['AP'] == 0.682


def test_unknown_names_suggest_close_ones():
    with pytest.raises(ValueError, match=r"'humn' is not .*Did you mean 'human'"):
        zoo.model_info('humn')
    with pytest.raises(ValueError, match=f"Did you mean '{HUMAN}'"):
        zoo.model_weights(HUMAN[:-1])
    with pytest.raises(ValueError, match='is not a model name'):
        PoseInferencer('no-such-model')
    with pytest.raises(ValueError, match="task 'body'"):
        zoo.list_models(task='body')


def test_list_filters():
    assert [e['name'] for e in zoo.list_models(task='hand3d')] == [
        'internet_res50_4xb16-20e_interhand3d-256x256']
    vit = zoo.list_models(search='VITPOSE')
    assert len(vit) == 12 and all('vitpose' in e['name'].lower() for e in vit)
    assert len(zoo.list_models(task='face2d', search='rtmpose')) == 6
    zoo.list_models()[0]['aliases'].append('mutated')  # copies: the index is unchanged
    assert 'mutated' not in zoo.list_models()[0]['aliases']


def test_shipped_config_and_missing_one():
    path = zoo.model_config(SHIPPED)
    assert path == str(shipped_configs_dir() / zoo.model_info(SHIPPED)['config'])
    assert zoo.missing_types(path) == []
    with pytest.raises(ValueError, match='which MMPose does not ship'):
        zoo.model_config('topdown_heatmap_swin_b_p4_w7_fpn_coco_256x192')


class _Server:
    """Files of a dict served on 127.0.0.1; ``requests`` lists the paths asked."""

    def __init__(self, files):
        self.files, self.requests = files, []
        handler = functools.partial(_Handler, self)
        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
        self.url = f'http://127.0.0.1:{self.httpd.server_address[1]}/configs/'
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


class _Handler(http.server.BaseHTTPRequestHandler):
    def __init__(self, server, *args, **kwargs):
        self.owner = server
        super().__init__(*args, **kwargs)

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.owner.requests.append(self.path)
        body = self.owner.files.get(self.path.removeprefix('/configs/'))
        if body is None:
            self.send_error(404)
            return
        data = body.encode()
        self.send_response(200)
        self.send_header('Content-Type', 'text/x-python')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


# a model whose config posekit does not ship: fetched from MMPose's repository
FETCHED = 'td-hm_res101_8xb64-210e_coco-256x192'
FETCHED_CONFIG = f'body_2d_keypoint/topdown_heatmap/coco/{FETCHED}.py'
# a _base_ chain as MMPose's: ../ paths up to configs/_base_/, and a sibling
CHAIN = {
    FETCHED_CONFIG: "_base_ = ['../../../_base_/default_runtime.py', './common.py']\n"
                    "model = dict(head=dict(in_channels=768))\n",
    'body_2d_keypoint/topdown_heatmap/coco/common.py':
        "model = dict(type='TopdownPoseEstimator', backbone=dict(type='CSPNeXt'),\n"
        "             head=dict(type='RTMCCHead', in_channels=1))\n",
    '_base_/default_runtime.py': "default_scope = 'mmpose'\n",
    'edpose.py': "model = dict(type='BottomupPoseEstimator', backbone=dict(type='ResNet'),\n"
                 "             head=dict(type='EDPoseHead'))\n",
}


@pytest.fixture()
def server(tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    monkeypatch.delenv('POSEKIT_OFFLINE', raising=False)
    srv = _Server(CHAIN)
    monkeypatch.setenv(zoo.CONFIG_URL_ENV, srv.url)
    yield srv
    srv.close()


def test_config_fetch_follows_base_chain_then_hits_cache(server, tmp_path, monkeypatch):
    assert 'posekit_config' not in zoo.model_info(FETCHED)
    path = zoo.model_config(FETCHED)
    assert path.endswith(FETCHED_CONFIG) and path.startswith(str(tmp_path / 'torch'))
    assert sorted(server.requests) == sorted('/configs/' + k for k in list(CHAIN)[:3])
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmpose'
    assert cfg.model.backbone.type == 'CSPNeXt' and cfg.model.head.in_channels == 768
    server.requests.clear()
    assert zoo.model_config(FETCHED.upper()) == path
    assert server.requests == []  # cached
    monkeypatch.setenv('POSEKIT_OFFLINE', '1')
    assert zoo.model_config(FETCHED) == path


def test_name_of_an_unimplemented_family_says_so(server, monkeypatch):
    monkeypatch.setitem(zoo._find('edpose'), 'config', 'edpose.py')
    with pytest.raises(NotImplementedError, match='does not implement EDPoseHead'):
        init_model('edpose')


def test_init_model_and_inferencer_from_a_name(tmp_path):
    torch.manual_seed(0)
    ref = init_model(zoo.model_config(SHIPPED))
    ckpt = tmp_path / 'w.pth'
    torch.save(dict(state_dict=ref.state_dict()), ckpt)
    model = init_model(SHIPPED, checkpoint=str(ckpt))
    assert model.cfg.filename == zoo.model_config(SHIPPED)
    for key, value in ref.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
    inferencer = PoseInferencer(pose2d=SHIPPED + '.py', pose2d_weights=str(ckpt),
                                device='cpu')
    weight = 'head.final_layer.weight'
    assert torch.equal(inferencer.model.state_dict()[weight], ref.state_dict()[weight])
