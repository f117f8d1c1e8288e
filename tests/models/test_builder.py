"""What ``posekit.models.builder`` reads from a config: the network's input size."""
import pytest

from posekit.config import Config
from posekit.models.builder import config_input_size, config_size_factor


def loader(*pipeline):
    return dict(dataset=dict(pipeline=list(pipeline)))


@pytest.mark.parametrize('cfg,size', [
    # the test pipeline's crop, before the codec's
    (dict(test_dataloader=loader(dict(type='LoadImage'),
                                 dict(type='TopdownAffine', input_size=(288, 384))),
          codec=dict(input_size=(192, 256))), (288, 384)),
    # a scope prefix, and the val pipeline when the test loader has no step
    (dict(test_dataloader=loader(dict(type='LoadImage')),
          val_dataloader=loader(dict(type='mmpose.TopdownAffine', input_size=[64, 96]))),
     (64, 96)),
    # bottom-up: the smallest input BottomupResize makes, sides rounded up
    (dict(test_dataloader=loader(dict(type='BottomupResize', input_size=(500, 500),
                                      size_factor=64))), (512, 512)),
    (dict(test_dataloader=loader(dict(type='BottomupResize', input_size=(500, 500)))),
     (512, 512)),   # default size factor 32
    # no such step: the codec's, the first of a list that has one
    (dict(codec=dict(input_size=(192, 256))), (192, 256)),
    (dict(codec=[dict(type='A'), dict(input_size=(256, 256))]), (256, 256)),
    (dict(codec=dict(type='SimCCLabel')), None),
    (dict(), None),
    (None, None),
])
def test_config_input_size(cfg, size):
    assert config_input_size(Config(cfg) if cfg is not None else None) == size


def test_config_size_factor():
    assert config_size_factor(Config(dict(test_dataloader=loader(
        dict(type='BottomupResize', input_size=(512, 512)))))) == 32
    assert config_size_factor(Config(dict(val_dataloader=loader(
        dict(type='BottomupResize', input_size=(512, 512), size_factor=64))))) == 64
    assert config_size_factor(Config(dict(test_dataloader=loader(
        dict(type='TopdownAffine', input_size=(192, 256)))))) is None
