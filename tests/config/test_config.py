"""Config loading: the spec chapter's examples and the merge rules."""
import copy
import pickle
from pathlib import Path

import pytest

from posekit.config import Config, ConfigDict, ConfigError

DATA = Path(__file__).parents[1] / 'data' / 'configs'


# The examples of the spec's config chapter, exactly as it states them.
def test_spec_base_inherits_all_fields():
    cfg = Config.fromfile(DATA / 'spec' / 'resnet50.py')
    assert cfg.optimizer == ConfigDict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001)
    assert cfg.model == {'type': 'ResNet', 'depth': 50}


def test_spec_child_changes_only_named_field():
    cfg = Config.fromfile(DATA / 'spec' / 'resnet50_lr0.01.py')
    assert cfg.optimizer == dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001)


def test_spec_delete_drops_unnamed_fields():
    cfg = Config.fromfile(DATA / 'spec' / 'resnet50_delete.py')
    assert cfg.optimizer == dict(type='SGD', lr=0.01)
    assert '_delete_' not in cfg.optimizer
    assert cfg.checkpoint_interval == 10  # the second base is inherited too


def test_nested_bases_merge_child_wins():
    cfg = Config.fromfile(DATA / 'chain' / 'level1.py')
    assert cfg.model.backbone == dict(type='ResNet', depth=101, out_indices=(3,))
    assert cfg.model.head.out_channels == 16  # computed from base codec: 48 // 3
    assert cfg.model.head.deconv_out_channels == (256, 256, 256)
    assert cfg.model.test_cfg.flip_mode == 'heatmap'
    # lists replace, never merge
    assert cfg.param_scheduler == [dict(type='CosineAnnealingLR', T_max=10)]


def test_two_levels_deep_with_base_variables_and_delete():
    cfg = Config.fromfile(DATA / 'chain' / 'level2.py')
    assert (cfg.input_w, cfg.input_h) == (192, 256)
    assert cfg.aspect == pytest.approx(256 / 192)
    assert cfg.model.head == dict(type='RegressionHead', in_channels=2048, num_joints=17)
    assert cfg.model.backbone.depth == 101  # from level1, merged over level0
    assert [t['type'] for t in cfg.train_pipeline] == ['LoadImage', 'RandomFlip', 'PackPoseInputs']
    assert cfg.optimizer.lr == 0.02  # second base
    assert cfg.codec.input_size == (192, 256) and isinstance(cfg.codec.input_size, tuple)
    assert cfg.filename == str((DATA / 'chain' / 'level2.py').resolve())


def test_scoped_base_resolves_to_shipped_configs_and_adds_scope():
    cfg = Config.fromfile(DATA / 'chain' / 'scoped.py')
    assert cfg.default_scope == 'mmpose'
    assert cfg.default_hooks.checkpoint == dict(
        type='CheckpointHook', interval=10, _scope_='mmpose', save_best='coco/AP', rule='greater')
    assert cfg.custom_hooks == [dict(type='SyncBuffersHook', _scope_='mmpose')]
    # MMEngine marks only the outermost dicts that have a type
    assert '_scope_' not in cfg.env_cfg.mp_cfg and '_scope_' not in cfg.default_hooks


def test_modules_and_functions_are_dropped_classes_kept():
    from collections import OrderedDict
    cfg = Config.fromfile(DATA / 'chain' / 'with_imports.py')
    # as in MMEngine, an imported class is a value like any other
    assert set(cfg) == {'OrderedDict', 'radius', 'ordered'}
    assert cfg.radius == 4 and cfg.ordered is OrderedDict


def test_no_shared_dicts_between_keys():
    cfg = Config.fromfile(DATA / 'chain' / 'level0.py')
    cfg.codec.sigma = 3
    again = Config.fromfile(DATA / 'chain' / 'level0.py')
    assert again.codec.sigma == 2


def test_attribute_and_item_access():
    cfg = Config.fromfile(DATA / 'chain' / 'level0.py')
    assert cfg.model.backbone.depth == cfg['model']['backbone']['depth'] == 50
    assert isinstance(cfg.train_pipeline[0], ConfigDict)
    assert cfg.train_pipeline[1].prob == 0.5
    cfg.model.neck = dict(type='GlobalAveragePooling')
    assert cfg.model.neck.type == 'GlobalAveragePooling'
    with pytest.raises(AttributeError, match=r"no key 'backbon'.*did you mean 'backbone'"):
        cfg.model.backbon
    assert type(cfg.to_dict()['model']['backbone']) is dict
    assert type(cfg.to_dict()['train_pipeline'][0]) is dict


def test_copy_deepcopy_and_pickle_keep_content_and_filename():
    cfg = Config.fromfile(DATA / 'chain' / 'level1.py')
    for other in (copy.copy(cfg), copy.deepcopy(cfg), pickle.loads(pickle.dumps(cfg))):
        assert other == cfg and other.filename == cfg.filename
        assert type(other) is Config
    deep = copy.deepcopy(cfg)
    deep.model.backbone.depth = 18
    assert cfg.model.backbone.depth == 101


@pytest.mark.parametrize('name', ['level0.py', 'level1.py', 'level2.py', 'scoped.py'])
def test_dump_reloads_equal(tmp_path, name):
    cfg = Config.fromfile(DATA / 'chain' / name)
    out = tmp_path / 'dumped.py'
    text = cfg.dump(out)
    assert out.read_text() == text == cfg.pretty_text
    again = Config.fromfile(out)
    # repr also compares tuple vs list and key order
    assert repr(again.to_dict()) == repr(cfg.to_dict())


def test_dump_refuses_values_that_are_not_literals(tmp_path):
    cfg = Config.fromfile(DATA / 'chain' / 'with_imports.py')
    with pytest.raises(ConfigError, match='OrderedDict = <class'):
        cfg.dump(tmp_path / 'x.py')
    assert not (tmp_path / 'x.py').exists()
    assert "ordered = <collections.OrderedDict>" in cfg.pretty_text


def test_pretty_text_special_values():
    cfg = Config({'a': float('inf'), 'b': (1,), 'c': {'not-an-identifier': None}, 'd': []})
    text = cfg.pretty_text
    assert "a = float('inf')" in text and 'b = (1,)' in text
    assert "c = {'not-an-identifier': None}" in text and 'd = []' in text


def test_syntax_error_names_file_and_line():
    with pytest.raises(ConfigError, match=r'syntax_error\.py, line \d'):
        Config.fromfile(DATA / 'bad' / 'syntax_error.py')


def test_runtime_error_names_file_and_line():
    with pytest.raises(ConfigError, match=r"runtime_error\.py, line 3: NameError: .*undefined_name"):
        Config.fromfile(DATA / 'bad' / 'runtime_error.py')


@pytest.mark.parametrize('name, pattern', [
    ('dict_over_list.py', r'train_pipeline is a dict here but list in the base'),
    ('dict_over_scalar.py', r'codec\.sigma is a dict here but int in the base'),
    ('duplicate_bases.py', r"variables \['optimizer'\] are defined by more than one"),
    ('cycle_a.py', r'include each other: .*cycle_a\.py -> .*cycle_b\.py -> .*cycle_a\.py'),
    ('base_not_literal.py', r'base_not_literal\.py, line 2: _base_ must be a literal'),
])
def test_bad_configs_raise_clear_errors(name, pattern):
    with pytest.raises(ConfigError, match=pattern):
        Config.fromfile(DATA / 'bad' / name)


def test_missing_file_and_missing_base():
    with pytest.raises(FileNotFoundError, match='nope.py'):
        Config.fromfile(DATA / 'nope.py')
    with pytest.raises(FileNotFoundError, match=r"missing_base\.py: _base_ file 'does_not_exist\.py' not found"):
        Config.fromfile(DATA / 'bad' / 'missing_base.py')


def test_loading_writes_no_temp_file(tmp_path, monkeypatch):
    import tempfile
    monkeypatch.setattr(tempfile, 'tempdir', str(tmp_path))
    Config.fromfile(DATA / 'chain' / 'level2.py')
    assert list(tmp_path.iterdir()) == []
