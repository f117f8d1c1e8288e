"""Config values checked against constructor annotations at build time, with
the key path of a wrong one (``posekit.argcheck`` through ``Registry.build``)."""
from __future__ import annotations

import os
import typing
from typing import Any, Callable, Literal, Mapping, Optional, Sequence, Union

import numpy as np
import pytest
import torch
from torch import nn

from posekit import registry
from posekit.config import Config, ConfigError
from posekit.errors import ConfigTypeError
from posekit.registry import OPTIMIZERS, Registry, config_path

if typing.TYPE_CHECKING:
    from collections import OrderedDict  # noqa: F401 (resolvable by type checkers only)

TOYS = Registry('TOYS')


@TOYS.register_module()
class Knob:
    def __init__(self, rate: float = 0.1, count: int = 1, flag: bool = False,
                 name: str = 'k', size: tuple[int, int] = (1, 2),
                 sizes: Sequence[int] = (), keys: Sequence[str] = ('a', ),
                 weights: dict[str, float] | None = None, maybe: Optional[int] = None,
                 either: Union[int, Sequence[int]] = 0, mode: Literal['a', 'b'] = 'a',
                 fn: Callable | None = None, net: nn.Module | None = None,
                 mean: torch.Tensor | None = None, file: os.PathLike | None = None,
                 hidden: 'OrderedDict' = None, free=None, anything: Any = None,
                 **rest: int):
        self.rate, self.count = rate, count


@TOYS.register_module()
class Holder:
    """Builds its ``child`` itself, as heads build their ``loss``."""

    def __init__(self, child: Mapping | Knob, children: Sequence[Mapping] = (),
                 copy_child: bool = False):
        child = dict(child, name='copied') if copy_child else child
        self.child = TOYS.build(child)
        self.children = [TOYS.build(c) for c in children]


@TOYS.register_module()
class Plain:
    def __init__(self, depth: int = 1):
        self.depth = depth


@TOYS.register_module()
class Passing(Plain):
    """Passes unknown keywords on, as many MMPose-style classes do."""

    def __init__(self, width: int = 1, **kwargs):
        super().__init__(**kwargs)


@TOYS.register_module()
class Buggy:
    def __init__(self, x: int = 0):
        None + x  # a bug: a TypeError from inside the constructor


def message(cfg: dict, **kwargs) -> str:
    with pytest.raises(ConfigTypeError) as info:
        TOYS.build(cfg, **kwargs)
    return str(info.value)


@pytest.mark.parametrize('key,value,expected', [
    ('rate', 'abc', "'abc' is a str, expected float"),
    ('rate', True, 'True is a bool, expected float'),
    ('count', 2.0, '2.0 is a float, expected int'),
    ('count', False, 'False is a bool, expected int'),
    ('flag', 'False', "'False' is a str, expected bool"),
    ('name', 3, '3 is an int, expected str'),
    ('size', [1, 'x'], None),  # reported at the item: see below
    ('sizes', 3, '3 is an int, expected Sequence[int]'),
    ('sizes', '12', "'12' is a str, expected Sequence[int]"),
    ('maybe', 'one', "'one' is a str, expected int or None"),
    ('mode', 'c', "'c' is a str, expected one of 'a', 'b'"),
    ('fn', 'relu', "'relu' is a str, expected Callable or None"),
    ('net', 0.5, '0.5 is a float, expected Module or None'),
    ('mean', 'imagenet', "'imagenet' is a str, expected Tensor or None"),
    ('file', 3, '3 is an int, expected PathLike or None'),
])
def test_wrong_values_name_the_path_the_value_and_the_type(key, value, expected):
    text = message(dict(type='Knob', **{key: value}), path='model.knob')
    if expected is None:
        assert text == "model.knob.size[1]: 'x' is a str, expected int (Knob)"
    else:
        assert text == f'model.knob.{key}: {expected} (Knob)'


def test_items_of_containers_are_reported_at_their_place():
    assert message(dict(type='Knob', sizes=(1, 2, 'x'))) == \
        "Knob.sizes[2]: 'x' is a str, expected int (Knob)"
    assert message(dict(type='Knob', weights=dict(a=1.0, b='heavy'))) == \
        "Knob.weights.b: 'heavy' is a str, expected float (Knob)"
    # int | Sequence[int]: a list is the Sequence, so its bad item is named
    assert message(dict(type='Knob', either=[1, None])) == \
        'Knob.either[1]: None, expected int (Knob)'
    assert message(dict(type='Knob', either='x')) == \
        "Knob.either: 'x' is a str, expected int or Sequence[int] (Knob)"


@pytest.mark.parametrize('values', [
    dict(rate=1), dict(rate=np.float32(0.5)), dict(rate=np.int64(2)),
    dict(count=np.int64(3)), dict(flag=1), dict(flag=np.bool_(True)),
    dict(size=[3, 4]), dict(size=(3, 4, 5)), dict(sizes=np.arange(3)),
    dict(keys='a'), dict(keys=['a', 'b']), dict(weights=None), dict(maybe=None),
    dict(either=3), dict(either=(1, 2)), dict(mode='b'), dict(fn=print),
    dict(fn=dict(type='Anything')), dict(net=nn.ReLU()), dict(net=dict(type='ReLU')),
    dict(net=nn.ReLU), dict(mean=[1.0, 2.0]), dict(mean=torch.zeros(2)),
    dict(file='a.pth'), dict(free='anything'), dict(anything=object()),
    dict(hidden='not resolvable, so not checked'), dict(extra='**rest is not checked'),
])
def test_what_the_constructor_takes_passes(values):
    assert isinstance(TOYS.build(dict(type='Knob', **values)), Knob)


def test_default_args_are_not_checked_and_none_is_taken_where_it_is_the_default():
    assert TOYS.build(dict(type='Knob'), default_args=dict(rate='from code')).rate == 'from code'
    assert TOYS.build(dict(type='Knob', mean=None, file=None)).count == 1


def test_torch_optimizers_are_checked_with_the_config_path():
    params = [nn.Parameter(torch.zeros(2))]
    cfg = Config(dict(optim_wrapper=dict(optimizer=dict(type='SGD', lr='0.01x'))))
    with config_path(cfg.optim_wrapper, 'optim_wrapper'):
        built = dict(cfg.optim_wrapper.optimizer, params=params)  # a copy, as builders make
        with pytest.raises(ConfigTypeError) as info:
            OPTIMIZERS.build(built)
    assert str(info.value) == \
        "optim_wrapper.optimizer.lr: '0.01x' is a str, expected float or Tensor (SGD)"
    with pytest.raises(ConfigTypeError, match=r"^AdamW.betas\[1\]: 'x' is a str"):
        OPTIMIZERS.build(dict(type='AdamW', betas=(0.9, 'x'), params=params))
    assert OPTIMIZERS.build(dict(type='AdamW', lr=1, betas=[0.9, 0.99], params=params))


def test_nested_builds_know_their_path():
    cfg = dict(type='Holder', child=dict(type='Knob', rate='r'))
    assert message(cfg, path='model.head') == \
        "model.head.child.rate: 'r' is a str, expected float (Knob)"
    cfg = dict(type='Holder', child=dict(type='Knob'),
               children=[dict(type='Knob'), dict(type='Knob', count='2')])
    assert message(cfg, path='model') == \
        "model.children[1].count: '2' is a str, expected int (Knob)"
    # the constructor builds a changed copy: found by its unchanged items
    cfg = dict(type='Holder', child=dict(type='Knob', rate='r', count=3), copy_child=True)
    assert message(cfg, path='model') == \
        "model.child.rate: 'r' is a str, expected float (Knob)"


def test_without_a_recorded_path_the_type_name_is_the_path():
    assert message(dict(type='Knob', count='2')) == "Knob.count: '2' is a str, expected int (Knob)"
    # nothing is left recorded after a build
    TOYS.build(dict(type='Holder', child=dict(type='Knob')), path='model')
    assert registry._FRAMES.stack == []


def test_the_error_is_a_config_error_and_a_type_error():
    with pytest.raises(ConfigError):
        TOYS.build(dict(type='Knob', rate='x'))
    with pytest.raises(TypeError):
        TOYS.build(dict(type='Knob', rate='x'))


def test_unknown_argument_names_the_path_and_close_names():
    with pytest.raises(ConfigTypeError) as info:
        TOYS.build(dict(type='Holder', child=dict(type='Plain', dept=5)), path='model.head')
    text = str(info.value)
    assert text.startswith('model.head.child: TOYS.build(')
    assert text.endswith("unexpected keyword argument 'dept'; did you mean 'depth'?")


def test_an_unknown_argument_passed_on_is_reported_too():
    with pytest.raises(ConfigTypeError) as info:
        TOYS.build(dict(type='Passing', detph=2), path='model.neck')
    assert str(info.value).startswith('model.neck: TOYS.build(')
    assert "unexpected keyword argument 'detph'" in str(info.value)


def test_a_type_error_from_inside_a_constructor_is_left_alone():
    with pytest.raises(TypeError) as info:
        TOYS.build(dict(type='Buggy', x=1))
    assert not isinstance(info.value, ConfigError)
    assert 'unsupported operand' in str(info.value)


REGISTRIES = [v for v in vars(registry).values() if isinstance(v, Registry)]


@pytest.mark.parametrize('reg', REGISTRIES, ids=lambda r: r.name)
def test_every_registered_constructor_has_resolvable_annotations(reg):
    """An annotation that cannot be resolved is silently not checked: keep
    them all resolvable (no names imported under TYPE_CHECKING only)."""
    unresolved = []
    for name in reg.keys():
        factory = reg.get(name)
        try:
            typing.get_type_hints(factory.__init__ if isinstance(factory, type) else factory)
        except Exception as e:  # noqa: BLE001
            unresolved.append(f'{name}: {e}')
    assert unresolved == []
