"""posekit's shipped zoo configs build the same networks as MMPose's files.

Every model-index entry with ``posekit_config`` is built on the meta device
(shapes only, no memory, no init) and its state_dict is checked against the
key count and a hash of its ``key:shape`` list, both measured from MMPose
1.3.2's config file of the same path (built by posekit from that file and,
for rtmpose-t/l-384, hrnet-w48-udp, face6, rtmpose-l whole-body and RTMW-m/l,
by MMPose itself: same values). The hash is the first 16 hex digits of
sha256 over ``'key:(shape);...'`` in state_dict order, so a renamed,
reordered or reshaped parameter fails.
"""
from __future__ import annotations

import hashlib

import pytest
import torch

from posekit.apis.zoo import list_models, model_config, model_info
from posekit.config import Config, shipped_configs_dir
from posekit.registry import MODELS

# (model name, state_dict key count, sha256[:16] of 'key:shape;...')
EXPECTED = [
    ('rtmpose-t_8xb256-420e_body8-256x192', 218, '9e032431fdff75e1'),
    ('rtmpose-s_8xb256-420e_body8-256x192', 254, 'b6e01a1fd7aede6c'),
    ('rtmpose-m_8xb256-420e_body8-256x192', 362, 'a95ae8631cf029a3'),
    ('rtmpose-l_8xb256-420e_body8-256x192', 470, '2ad706b8bf30e745'),
    ('rtmpose-l_8xb256-420e_body8-384x288', 470, '5914fa36a8c3e0a9'),
    ('rtmpose-s_8xb256-420e_coco-256x192', 254, 'b6e01a1fd7aede6c'),
    ('simcc_res50_8xb64-210e_coco-256x192', 342, 'd7ccf297c7d89a15'),
    ('td-hm_hrnet-w32_8xb64-210e_coco-256x192', 1754, '8dc2d578cb0b268b'),
    ('td-hm_hrnet-w48_8xb32-210e_coco-256x192', 1754, '03b44154cdc3b61b'),
    ('td-hm_hrnet-w32_dark-8xb64-210e_coco-256x192', 1754, '8dc2d578cb0b268b'),
    ('td-hm_hrnet-w48_dark-8xb32-210e_coco-256x192', 1754, '03b44154cdc3b61b'),
    ('td-hm_hrnet-w32_udp-8xb64-210e_coco-256x192', 1754, '8dc2d578cb0b268b'),
    ('td-hm_hrnet-w48_udp-8xb32-210e_coco-256x192', 1754, '03b44154cdc3b61b'),
    ('td-hm_ViTPose-small-simple_8xb64-210e_coco-256x192', 151, '60ab1210206b87d1'),
    ('td-hm_ViTPose-base-simple_8xb64-210e_coco-256x192', 151, '2bdd3137a15f137b'),
    ('td-hm_ViTPose-large-simple_8xb64-210e_coco-256x192', 295, '63d99fd458599ee3'),
    ('td-hm_ViTPose-huge-simple_8xb64-210e_coco-256x192', 391, '02ab173fff2f18e6'),
    ('td-hm_res50_8xb64-210e_coco-256x192', 338, '8d609e0efdabbc69'),
    ('td-reg_res50_rle-8xb64-210e_coco-256x192', 395, '4dfc0836fc49018e'),
    ('rtmpose-m_8xb512-700e_body8-halpe26-256x192', 362, 'e129581782d63c0a'),
    ('rtmo-s_8xb32-600e_body7-640x640', 514, '9007b157e5d86f18'),
    ('rtmo-m_16xb16-600e_body7-640x640', 658, '0f1f98b0a341a076'),
    ('rtmo-l_16xb16-600e_body7-640x640', 778, 'b9ce41775461efb1'),
    ('rtmpose-m_8xb64-210e_ap10k-256x256', 362, 'ef87cfcd81c3d349'),
    ('rtmpose-m_8xb256-210e_hand5-256x256', 362, 'aa83ca448cb46595'),
    ('rtmpose-m_8xb64-270e_coco-wholebody-256x192', 362, '46c493c4b3a7b6db'),
    ('motionbert_dstformer-ft-243frm_8xb32-120e_h36m', 260, 'ff0793cd1fa536e4'),
    ('video-pose-lift_tcn-243frm-supv-cpn-ft_8xb128-200e_h36m', 56, '11c72efc7390de3a'),
    ('internet_res50_4xb16-20e_interhand3d-256x256', 366, '3a20bb4ba994f65c'),
    ('rtmpose-m_8xb256-120e_face6-256x256', 362, '9c713183a4f39a99'),
    ('rtmpose-l_8xb64-270e_coco-wholebody-256x192', 470, '8271c1ec1e0e3cd8'),
    ('rtmw-m_8xb1024-270e_cocktail14-256x192', 620, 'd3ee61b8ee1c6aad'),
    ('rtmw-l_8xb1024-270e_cocktail14-256x192', 728, 'cbeac926f2f2de9b'),
]


def _shipped() -> list[dict]:
    return [e for e in list_models() if 'posekit_config' in e]


def _load(name: str) -> Config:
    path = model_config(name)  # shipped: never fetched
    assert path.startswith(str(shipped_configs_dir()))
    return Config.fromfile(path)


def _plain(value):
    """Config values as built-in dicts and lists (tuples become lists)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def test_every_shipped_config_has_an_expected_row():
    assert sorted(e['name'] for e in _shipped()) == sorted(r[0] for r in EXPECTED)


@pytest.mark.parametrize('name,num_keys,digest', EXPECTED, ids=[r[0] for r in EXPECTED])
def test_state_dict_matches_mmpose(name, num_keys, digest):
    entry = model_info(name)
    assert entry['posekit_config'] == entry['config']  # MMPose's relative path
    cfg = _load(name)
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    sd = model.state_dict()
    listing = ';'.join(f'{k}:{tuple(v.shape)}' for k, v in sd.items())
    assert (len(sd), hashlib.sha256(listing.encode()).hexdigest()[:16]) == (num_keys, digest)


# Test pipelines and codecs of representative configs, written from MMPose
# 1.3.2's files of the same path (equal as plain dicts when both are loaded).
TOPDOWN_VAL = [dict(type='LoadImage'), dict(type='GetBBoxCenterScale'),
               dict(type='TopdownAffine'), dict(type='PackPoseInputs')]


def _topdown_val(input_size, use_udp=None):
    steps = [dict(t) for t in TOPDOWN_VAL]
    steps[0]['backend_args'] = dict(backend='local')
    steps[2]['input_size'] = input_size
    if use_udp is not None:
        steps[2]['use_udp'] = use_udp
    return steps


SIMCC = dict(type='SimCCLabel', simcc_split_ratio=2.0, normalize=False, use_dark=False)
REPRESENTATIVE = {
    'human': (dict(SIMCC, input_size=[192, 256], sigma=[4.9, 5.66]),
              _topdown_val([192, 256])),
    'rtmpose-l': (dict(SIMCC, input_size=[288, 384], sigma=[6.0, 6.93]),
                  _topdown_val([288, 384])),
    'td-hm_hrnet-w48_udp-8xb32-210e_coco-256x192': (
        dict(type='UDPHeatmap', input_size=[192, 256], heatmap_size=[48, 64], sigma=2),
        [{k: v for k, v in t.items() if k != 'backend_args'}
         for t in _topdown_val([192, 256], use_udp=True)]),
}


@pytest.mark.parametrize('name', list(REPRESENTATIVE))
def test_codec_and_test_pipeline(name):
    codec, pipeline = REPRESENTATIVE[name]
    cfg = _plain(_load(name))
    assert cfg['codec'] == codec
    assert cfg['model']['head']['decoder'] == codec
    assert cfg['test_dataloader']['dataset']['pipeline'] == pipeline
    generate = [t for t in cfg['train_dataloader']['dataset']['pipeline']
                if t['type'] == 'GenerateTarget']
    assert generate == [dict(type='GenerateTarget', encoder=codec)]


# One-stage and lifting representatives, also written from MMPose 1.3.2's
# files: RTMO (bottom-up resize, no crop) and MotionBERT (two codecs: the
# training one keeps the camera-space root, the decoder is root-relative).
RTMO_VAL = [
    dict(type='LoadImage'),
    dict(type='BottomupResize', input_size=[640, 640], pad_val=[114, 114, 114]),
    dict(type='PackPoseInputs',
         meta_keys=['id', 'img_id', 'img_path', 'ori_shape', 'img_shape',
                    'input_size', 'input_center', 'input_scale'])]
LIFT_KEYS = ['id', 'category_id', 'target_img_path', 'flip_indices', 'factor',
             'camera_param']
MOTIONBERT = dict(type='MotionBERTLabel', num_keypoints=17, concat_vis=True)
OTHER_REPRESENTATIVE = {
    'rtmo': (dict(type='YOLOXPoseAnnotationProcessor', input_size=[640, 640]),
             dict(type='YOLOXPoseAnnotationProcessor', input_size=[640, 640]),
             RTMO_VAL),
    'human3d': (dict(MOTIONBERT, mode='train'), dict(MOTIONBERT, rootrel=True),
                [dict(type='GenerateTarget', encoder=dict(MOTIONBERT, rootrel=True)),
                 dict(type='PackPoseInputs', meta_keys=LIFT_KEYS)]),
}


@pytest.mark.parametrize('name', list(OTHER_REPRESENTATIVE))
def test_one_stage_and_lifting_pipelines(name):
    train_codec, decoder, pipeline = OTHER_REPRESENTATIVE[name]
    cfg = _plain(_load(name))
    if name == 'rtmo':
        assert cfg['codec'] == train_codec
        assert cfg['model']['test_cfg'] == dict(input_size=[640, 640], score_thr=0.1,
                                                nms_thr=0.65)
    else:
        assert cfg['model']['head']['decoder'] == decoder
    assert cfg['test_dataloader']['dataset']['pipeline'] == pipeline
    generate = [t for t in cfg['train_dataloader']['dataset']['pipeline']
                if t['type'] == 'GenerateTarget']
    assert generate == [dict(type='GenerateTarget', encoder=train_codec)]


# Keypoint conversions of the multi-dataset configs: every training dataset
# with a KeypointConverter, as 'type:mapping' in loader order, hashed (first
# 16 hex digits of sha256). Counts and digests measured from MMPose 1.3.2's
# files of the same path (loaded the same way), so a changed, missing or
# reordered pair fails; face6 converts to LaPa's 106, Cocktail14 to 133.
CONVERSIONS = {
    'face': (106, 5, '8ff105efb39893c7'),
    'rtmw-m_8xb1024-270e_cocktail14-256x192': (133, 12, 'c7d253bc611bc50b'),
}


def _conversions(dataset: dict) -> list[str]:
    """'type:mapping' of each leaf dataset that converts its keypoints."""
    if dataset['type'] == 'CombinedDataset':
        return [c for d in dataset['datasets'] for c in _conversions(d)]
    return [f"{dataset['type']}:{t['num_keypoints']}:{t['mapping']}"
            for t in dataset['pipeline'] if t['type'] == 'KeypointConverter']


@pytest.mark.parametrize('name', list(CONVERSIONS))
def test_keypoint_conversions_match_mmpose(name):
    num_keypoints, count, digest = CONVERSIONS[name]
    cfg = _plain(_load(name))
    conversions = _conversions(cfg['train_dataloader']['dataset'])
    assert all(f':{num_keypoints}:' in c for c in conversions)
    measured = hashlib.sha256(';'.join(conversions).encode()).hexdigest()[:16]
    assert (len(conversions), measured) == (count, digest)
    # both weight the targets by the datasets' per-keypoint weights
    generate = [t for t in cfg['train_dataloader']['dataset']['pipeline']
                if t['type'] == 'GenerateTarget']
    assert generate == [dict(type='GenerateTarget', encoder=cfg['codec'],
                             use_dataset_keypoint_weights=True)]
