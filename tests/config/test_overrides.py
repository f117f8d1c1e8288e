"""--cfg-options and merge_from_dict."""
from pathlib import Path

import pytest

from posekit.config import Config, ConfigError, parse_cfg_options, parse_value

DATA = Path(__file__).parents[1] / 'data' / 'configs'


@pytest.mark.parametrize('text, value', [
    ('1', 1), ('0.5', 0.5), ('-3', -3), ('[1,2]', [1, 2]), ('(1, 2)', (1, 2)),
    ('1,2,3', [1, 2, 3]), ('a,b', ['a', 'b']), ('x', 'x'), ('"x"', 'x'),
    ('True', True), ('false', False), ('None', None), ('null', None),
    ("{'a': 1}", {'a': 1}), ('[(1, 2), (3, 4)]', [(1, 2), (3, 4)]),
    ('data/coco/', 'data/coco/'), ('__import__("os")', '__import__("os")'),
])
def test_parse_value_is_literal_only(text, value):
    parsed = parse_value(text)
    assert parsed == value and type(parsed) is type(value)


def test_parse_cfg_options():
    assert parse_cfg_options(['a.b=1', 'c=[1,2]', 'd=x', 'e=a=b']) == {
        'a.b': 1, 'c': [1, 2], 'd': 'x', 'e': 'a=b'}
    with pytest.raises(ConfigError, match="expected KEY=VALUE, got 'novalue'"):
        parse_cfg_options(['novalue'])


def test_merge_from_dict_sets_nested_values():
    cfg = Config.fromfile(DATA / 'chain' / 'level0.py')
    cfg.merge_from_dict({'model.backbone.depth': 18, 'codec.sigma': 3,
                         'train_pipeline.1.prob': 0.3, 'codec.input_size.0': 128})
    assert cfg.model.backbone.depth == 18 and cfg.codec.sigma == 3
    assert cfg.train_pipeline[1] == dict(type='RandomFlip', prob=0.3)
    assert cfg.codec.input_size == (128, 256)  # a tuple stays a tuple
    assert cfg.model.backbone.type == 'ResNet'  # siblings untouched


def test_dict_value_merges_and_delete_replaces():
    cfg = Config.fromfile(DATA / 'chain' / 'level0.py')
    cfg.merge_from_dict({'model': dict(test_cfg=dict(output_heatmaps=True))})
    assert cfg.model.test_cfg == dict(flip_test=True, flip_mode='heatmap',
                                      shift_heatmap=True, output_heatmaps=True)
    cfg.merge_from_dict({'model.test_cfg': dict(_delete_=True, flip_test=False)})
    assert cfg.model.test_cfg == dict(flip_test=False)


def test_missing_key_fails_with_suggestion():
    cfg = Config.fromfile(DATA / 'chain' / 'level0.py')
    with pytest.raises(ConfigError, match=r"no key 'dept' in model\.backbone; did you mean 'depth'\?"
                                          r".*\+model\.backbone\.dept="):
        cfg.merge_from_dict({'model.backbone.dept': 50})
    with pytest.raises(ConfigError, match=r"no key 'modle' in the config; did you mean 'model'"):
        cfg.merge_from_dict({'modle.x': 1})
    assert 'dept' not in cfg.model.backbone


def test_plus_prefix_adds_new_keys():
    cfg = Config.fromfile(DATA / 'chain' / 'level0.py')
    cfg.merge_from_dict({'+model.test_cfg.output_heatmaps': True, '+work.dir.name': 'x'})
    assert cfg.model.test_cfg.output_heatmaps is True
    assert cfg.work.dir.name == 'x'


@pytest.mark.parametrize('key, pattern', [
    ('train_pipeline.5.prob', r'train_pipeline is a list of length 2; .5. is not an index'),
    ('train_pipeline.x', r"train_pipeline is a list of length 2; 'x' is not an index"),
    ('codec.sigma.x', r'codec\.sigma is a int, not a dict'),
])
def test_bad_paths(key, pattern):
    cfg = Config.fromfile(DATA / 'chain' / 'level0.py')
    with pytest.raises(ConfigError, match=pattern):
        cfg.merge_from_dict({key: 1})


def test_fromfile_applies_cfg_options():
    cfg = Config.fromfile(DATA / 'chain' / 'level1.py',
                          cfg_options=parse_cfg_options(['model.head.out_channels=14']))
    assert cfg.model.head.out_channels == 14
