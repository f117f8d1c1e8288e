"""Registries: registering, building, scopes and errors."""
import subprocess
import sys
from pathlib import Path

import pytest

from posekit import registry
from posekit.config import ConfigDict
from posekit.registry import Registry

DATA = Path(__file__).parent / 'data'


@pytest.fixture
def reg():
    r = Registry('TOYS')

    @r.register_module()
    class Ball:
        def __init__(self, radius=1.0, color='red'):
            self.radius, self.color = radius, color

    @r.register_module(name='Cube')
    def make_cube(side=2):
        return ('cube', side)

    return r


def test_build_from_name_passes_kwargs(reg):
    ball = reg.build(dict(type='Ball', radius=3.0))
    assert (type(ball).__name__, ball.radius, ball.color) == ('Ball', 3.0, 'red')
    assert reg.build(dict(type='Cube', side=5)) == ('cube', 5)


def test_build_with_class_type_and_default_args(reg):
    cls = reg.get('Ball')
    ball = reg.build(dict(type=cls), default_args=dict(color='blue', radius=2.0))
    assert (ball.radius, ball.color) == (2.0, 'blue')
    assert reg.build(dict(type='Ball', color='green'), default_args=dict(color='blue')).color == 'green'


def test_build_does_not_mutate_input(reg):
    cfg = ConfigDict(type='mmdet.Ball', radius=2.0, _scope_='mmdet')
    before = dict(cfg)
    reg.build(cfg, default_args=dict(color='x'))
    assert dict(cfg) == before


def test_built_object_passes_through(reg):
    ball = reg.build(dict(type='Ball'))
    assert reg.build(ball) is ball


@pytest.mark.parametrize('name', ['Ball', 'mmpose.Ball', 'mmdet.Ball', 'mmpretrain.Ball', 'mmcls.Ball'])
def test_scope_prefixes_resolve_to_our_type(reg, name):
    assert reg.get(name) is reg.get('Ball')
    assert name in reg


def test_scope_key_is_accepted_and_dropped(reg):
    ball = reg.build(dict(type='Ball', _scope_='mmdet', radius=4.0))
    assert ball.radius == 4.0
    with pytest.raises(KeyError, match="unknown _scope_ 'nosuch'"):
        reg.build(dict(type='Ball', _scope_='nosuch'))


def test_unknown_name_suggests_close_matches(reg):
    with pytest.raises(KeyError, match=r"'Bal' is not registered in TOYS; did you mean 'Ball'"):
        reg.build(dict(type='Bal'))
    with pytest.raises(KeyError, match=r"unknown scope 'foo'"):
        reg.get('foo.Ball')
    assert 'Bal' not in reg and 'foo.Ball' not in reg and 3 not in reg


def test_duplicate_name_raises_unless_forced(reg):
    class Other:
        pass
    with pytest.raises(KeyError, match="'Ball' is already registered"):
        reg.register_module(name='Ball', module=Other)
    reg.register_module(name='Ball', force=True, module=Other)
    assert reg.get('Ball') is Other
    reg.register_module(module=Other)  # same object again: no error
    assert reg.get('Other') is Other


def test_missing_type_and_bad_kwargs(reg):
    with pytest.raises(KeyError, match='has no "type" key'):
        reg.build(dict(radius=1))
    with pytest.raises(TypeError, match=r'TOYS.build\(.*Ball\).*unexpected keyword argument .weight'):
        reg.build(dict(type='Ball', weight=2))


def test_repr_lists_names(reg):
    assert repr(reg) == 'Registry(TOYS, 2 types: Ball, Cube)'
    assert len(reg) == 2 and reg.keys() == ['Ball', 'Cube']


def test_registry_imports_its_package_on_first_use():
    # A fresh interpreter that imports only the registry can build: the
    # registry imports the package that registers Widget.
    code = ('from regpkg.registry import THINGS\n'
            'import sys\n'
            'assert "regpkg.things" not in sys.modules\n'
            'print(THINGS.build(dict(type="Widget", size=3)).size)\n')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         env={'PYTHONPATH': f'{DATA}:{Path(__file__).parents[1]}'})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == '3'


def test_posekit_registries_exist_and_import_their_packages():
    names = ['DATASETS', 'TRANSFORMS', 'MODELS', 'VISUALIZERS', 'VISBACKENDS', 'METRICS',
             'KEYPOINT_CODECS', 'HOOKS', 'OPTIMIZERS', 'OPTIM_WRAPPERS', 'PARAM_SCHEDULERS',
             'DATA_SAMPLERS', 'LOOPS', 'EVALUATORS']
    for name in names:
        reg = getattr(registry, name)
        assert reg.name == name
        assert len(reg) >= 0 and reg.package in sys.modules
