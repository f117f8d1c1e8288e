"""RTMWHead: shapes, module names and values against MMPose 1.3.2.

The expected numbers were computed with MMPose's RTMWHead on the same
deterministic weights and inputs (see ``_fill`` and ``_inputs``). The five
full RTMW configs were checked separately: identical state_dict keys and
shapes, and ``mode='tensor'`` outputs equal on the same weights.
"""
import hashlib

import pytest
import torch

from posekit.models.heads import RTMWHead
from posekit.registry import MODELS

CFG = dict(in_channels=16, out_channels=5, input_size=(24, 16),
           in_featuremap_size=(3, 2), simcc_split_ratio=2.0,
           final_layer_kernel_size=3,
           gau_cfg=dict(hidden_dims=16, s=8, expansion_factor=2,
                        dropout_rate=0., drop_path=0., act_fn='SiLU',
                        use_rel_bias=False, pos_enc=False))


def _fill(head):
    """Sign-varying weights that need no random generator (BN buffers keep
    their defaults)."""
    with torch.no_grad():
        for i, (_, p) in enumerate(head.named_parameters()):
            p.copy_(torch.linspace(-3.0 - i, 3.0, p.numel()).sin().mul(0.3)
                    .reshape(p.shape))


def _inputs():
    """(stride-16 (2, 8, 4, 6), stride-32 (2, 16, 2, 3)) maps, soft targets
    and keypoint weights."""
    g = torch.Generator().manual_seed(0)
    low = torch.randn(2, 8, 4, 6, generator=g)
    top = torch.randn(2, 16, 2, 3, generator=g)
    gx = torch.rand(2, 5, 48, generator=g).softmax(-1)
    gy = torch.rand(2, 5, 32, generator=g).softmax(-1)
    w = torch.rand(2, 5, generator=g)
    return (low, top), gx, gy, w


@pytest.fixture
def head():
    head = MODELS.build(dict(type='RTMWHead', **CFG))
    _fill(head)
    return head.eval()


def test_rtmw_head_keys_match_mmpose(head):
    lines = '\n'.join(f'{k}:{tuple(v.shape)}'
                      for k, v in head.state_dict().items())
    assert len(head.state_dict()) == 30
    assert sum(p.numel() for p in head.parameters()) == 4667
    assert hashlib.sha1(lines.encode()).hexdigest() == \
        '8190b89ee0f3ff71f4d3e355223f0eefc9789c29'
    assert list(head.state_dict())[:2] == ['conv_dec.conv.weight',
                                           'conv_dec.bn.weight']


def test_rtmw_head_values_match_mmpose(head):
    feats, gx, gy, w = _inputs()
    with torch.no_grad():
        px, py = head(feats)
        loss = head.loss_module((px, py), (gx, gy), w)
    assert px.shape == (2, 5, 48) and py.shape == (2, 5, 32)
    assert px.abs().sum().item() == pytest.approx(15.826531410217285,
                                                  rel=1e-5)
    assert py.abs().sum().item() == pytest.approx(11.276542663574219,
                                                  rel=1e-5)
    torch.testing.assert_close(
        py[0, :2, :3],
        torch.tensor([[0.010997414588928223, -0.030085401609539986,
                       -0.05230625346302986],
                      [-0.02395142987370491, -0.005352519452571869,
                       0.016602035611867905]]), rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(
        px[1, 4, -3:],
        torch.tensor([0.0679049864411354, 0.03703344985842705,
                      -0.0036840648390352726]), rtol=1e-4, atol=1e-6)
    assert loss.item() == pytest.approx(0.0027336743660271168, rel=1e-5)


def test_rtmw_head_bad_arguments():
    with pytest.raises(ValueError, match='in_channels'):
        RTMWHead(**{**CFG, 'in_channels': [8, 16]})
    with pytest.raises(ValueError, match='divisible by 4'):
        RTMWHead(**{**CFG, 'in_channels': 18})
    with pytest.raises(ValueError, match='hidden_dims'):
        RTMWHead(**{**CFG, 'gau_cfg': {**CFG['gau_cfg'], 'hidden_dims': 15}})
    with pytest.raises(ValueError, match='two feature maps'):
        RTMWHead(**CFG)((torch.zeros(1, 16, 2, 3), ))
