"""Necks: GlobalAveragePooling, FeatureMapProcessor, FPN."""
import pytest
import torch

from posekit.models.necks import FPN, FeatureMapProcessor, GlobalAveragePooling
from posekit.registry import MODELS


def _maps(seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(2, c, s, s, generator=g)
            for c, s in ((4, 16), (8, 8), (16, 4))]


def test_gap_averages_and_keeps_the_container():
    gap = GlobalAveragePooling()
    x = torch.arange(8.).reshape(1, 2, 2, 2)
    assert gap(x).tolist() == [[1.5, 5.5]]  # (B=1, C) keeps the batch axis
    maps = _maps()
    out = gap(tuple(maps))
    assert isinstance(out, tuple) and [o.shape for o in out] == [
        (2, 4), (2, 8), (2, 16)]
    torch.testing.assert_close(out[1], maps[1].mean(dim=(2, 3)))
    assert isinstance(gap(maps), list)
    with pytest.raises(TypeError, match='tensor'):
        gap('x')


def test_feature_map_processor_select_concat_scale_relu():
    maps = _maps()
    out = FeatureMapProcessor(select_index=1)(maps)
    assert isinstance(out, list) and len(out) == 1 and out[0] is maps[1]
    out = FeatureMapProcessor(select_index=(2, 0))(maps)
    assert [o.shape[1] for o in out] == [16, 4]
    # concat: everything resized to the first map's size
    out = FeatureMapProcessor(concat=True)(maps)
    assert len(out) == 1 and out[0].shape == (2, 28, 16, 16)
    torch.testing.assert_close(out[0][:, :4], maps[0])
    out = FeatureMapProcessor(select_index=(1, 2), concat=True,
                              scale_factor=2.0)(maps)
    assert out[0].shape == (2, 24, 16, 16)
    out = FeatureMapProcessor(apply_relu=True)(maps[0])  # tensor in and out
    assert isinstance(out, torch.Tensor) and (out >= 0).all()
    out = FeatureMapProcessor(scale_factor=0.5, align_corners=True)(maps[0])
    assert out.shape == (2, 4, 8, 8)
    with pytest.raises(ValueError, match='positive'):
        FeatureMapProcessor(scale_factor=0)


def test_feature_map_processor_built_from_config():
    neck = MODELS.build(dict(type='FeatureMapProcessor', concat=True))
    assert isinstance(neck, FeatureMapProcessor) and neck.concat
    assert list(neck.state_dict()) == []


def test_fpn_shapes_and_names():
    maps = _maps()
    fpn = FPN(in_channels=[4, 8, 16], out_channels=6, num_outs=3)
    outs = fpn(maps)
    assert [tuple(o.shape) for o in outs] == [(2, 6, 16, 16), (2, 6, 8, 8),
                                               (2, 6, 4, 4)]
    keys = set(fpn.state_dict())
    assert {'lateral_convs.0.conv.weight', 'lateral_convs.2.conv.bias',
            'fpn_convs.1.conv.weight'} <= keys
    # extra levels: max pool without convs, stride-2 convs with them
    outs = FPN([4, 8, 16], 6, num_outs=5)(maps)
    assert [o.shape[-1] for o in outs] == [16, 8, 4, 2, 1]
    fpn = FPN([4, 8, 16], 6, num_outs=5, add_extra_convs=True,
              norm_cfg=dict(type='BN'))
    assert fpn.fpn_convs[3].conv.in_channels == 16  # 'on_input'
    assert 'fpn_convs.4.bn.running_mean' in fpn.state_dict()
    assert [o.shape[-1] for o in fpn(maps)] == [16, 8, 4, 2, 1]


def test_fpn_top_down_sum():
    """With identity laterals and fpn convs, output i is the sum of the
    nearest-upsampled inputs from level i up."""
    fpn = FPN([2, 2], 2, num_outs=2)
    for m in fpn.modules():
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.zeros_(m.weight)
            torch.nn.init.zeros_(m.bias)
            c = m.kernel_size[0] // 2
            for i in range(2):
                m.weight.data[i, i, c, c] = 1.
    low, high = torch.rand(1, 2, 4, 4), torch.rand(1, 2, 2, 2)
    outs = fpn([low, high])
    up = high.repeat_interleave(2, -1).repeat_interleave(2, -2)
    torch.testing.assert_close(outs[0], low + up)
    torch.testing.assert_close(outs[1], high)


def test_fpn_bad_arguments():
    with pytest.raises(ValueError, match='num_outs'):
        FPN([4, 8, 16], 6, num_outs=2)
    with pytest.raises(ValueError, match='add_extra_convs'):
        FPN([4, 8, 16], 6, num_outs=4, add_extra_convs='on_top')
    with pytest.raises(ValueError, match='3 feature maps'):
        FPN([4, 8, 16], 6, num_outs=3)(_maps()[:2])
