"""Swin / PVT specifics beyond tests/models/test_backbones.py: freezing,
loading original-layout checkpoints, bad arguments."""
import pytest
import torch

from posekit.models.backbones.swin import swin_converter
from posekit.registry import MODELS

SWIN = dict(type='SwinTransformer', embed_dims=8, depths=(2, 2), num_heads=(1, 2),
            strides=(4, 2), window_size=3, out_indices=(0, 1), init_cfg=None)


def to_original_layout(state_dict):
    """posekit/MMPose Swin keys -> the original repository's (swin_converter's inverse)."""
    out = {}
    for k, v in state_dict.items():
        if k.startswith('stages'):
            if 'downsample' in k and ('reduction.' in k or 'norm.' in k):
                lead, c4 = v.shape[:-1], v.shape[-1]
                v = v.reshape(*lead, c4 // 4, 4).transpose(-1, -2)[..., [0, 2, 1, 3], :]
                v = v.reshape(*lead, c4)
            k = (k.replace('stages', 'layers', 1).replace('attn.w_msa.', 'attn.')
                 .replace('ffn.layers.0.0.', 'mlp.fc1.').replace('ffn.layers.1.', 'mlp.fc2.'))
        elif k.startswith('patch_embed'):
            k = k.replace('projection', 'proj')
        out[k] = v
    return out


def test_swin_converter_inverts_the_original_layout():
    torch.manual_seed(0)
    model = MODELS.build(SWIN)
    original = to_original_layout(model.state_dict())
    assert 'layers.0.blocks.1.mlp.fc1.weight' in original
    converted = swin_converter({**original, 'head.weight': torch.zeros(3)})
    assert converted.keys() == model.state_dict().keys()
    for k, v in model.state_dict().items():
        assert torch.equal(converted[k], v), k


def test_swin_pretrained_converts_and_resizes_tables(tmp_path):
    torch.manual_seed(0)
    source = MODELS.build(dict(SWIN, window_size=5))
    path = tmp_path / 'swin.pth'
    torch.save({'model': to_original_layout(source.state_dict())}, path)
    target = MODELS.build(dict(SWIN, convert_weights=True,
                               init_cfg=dict(type='Pretrained', checkpoint=str(path))))
    target.init_weights()
    src, dst = source.state_dict(), target.state_dict()
    key = 'stages.1.blocks.0.attn.w_msa.relative_position_bias_table'
    assert src[key].shape == (81, 2) and dst[key].shape == (25, 2)
    assert torch.equal(dst['stages.0.downsample.reduction.weight'],
                       src['stages.0.downsample.reduction.weight'])
    # a 9x9 table bicubically resized to 5x5 keeps its corners
    torch.testing.assert_close(dst[key][[0, 24]], src[key][[0, 80]], rtol=0.05, atol=0.05)


def test_swin_frozen_stages():
    model = MODELS.build(dict(SWIN, frozen_stages=1))
    model.train()
    for part in (model.patch_embed, model.stages[0], model.norm0):
        assert {p.requires_grad for p in part.parameters()} == {False}
        assert not part.training
    assert {p.requires_grad for p in model.stages[1].parameters()} == {True}


def test_swin_with_cp_gives_the_same_result():
    torch.manual_seed(0)
    plain = MODELS.build(dict(SWIN, drop_path_rate=0.))
    ckpt = MODELS.build(dict(SWIN, drop_path_rate=0., with_cp=True))
    ckpt.load_state_dict(plain.state_dict())
    x = torch.randn(1, 3, 40, 36, requires_grad=True)
    torch.testing.assert_close(sum(o.sum() for o in plain(x)), sum(o.sum() for o in ckpt(x)))


@pytest.mark.parametrize('kwargs, match', [
    (dict(patch_size=2), 'strides'),
    (dict(out_indices=(2,)), 'out_indices'),
    (dict(num_heads=(3, 2)), 'divisible'),
    (dict(num_heads=(1,)), 'one value per stage'),
])
def test_swin_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MODELS.build(dict(SWIN, **kwargs))


def test_swin_abs_pos_embed_needs_the_pretrain_size():
    model = MODELS.build(dict(SWIN, use_abs_pos_embed=True, pretrain_img_size=32))
    assert model(torch.randn(1, 3, 32, 32))[1].shape == (1, 16, 4, 4)
    with pytest.raises(ValueError, match='pretrain_img_size'):
        model(torch.randn(1, 3, 64, 64))


PVT = dict(type='PyramidVisionTransformerV2', embed_dims=4, num_layers=(1, 2, 1, 1),
           num_heads=(1, 2, 2, 4), init_cfg=None)


def pvt_original_layout(model):
    """A PVTv2 state_dict in whai362/PVT's layout (pvt_convert's inverse)."""
    out = {'head.weight': torch.zeros(2), 'norm.weight': torch.ones(16)}
    for k, v in model.state_dict().items():
        parts = k.split('.')
        s = int(parts[1]) + 1
        if parts[2] == '0':
            out[f'patch_embed{s}.' + '.'.join(parts[3:]).replace('projection', 'proj')] = v
        elif parts[2] == '2':
            out[f'norm{s}.{parts[3]}'] = v
        else:
            rest = '.'.join(parts[4:])
            pre = f'block{s}.{parts[3]}.'
            if 'in_proj_' in rest:
                kind = rest.rsplit('_', 1)[1]
                c = v.shape[0] // 3
                out[pre + f'attn.q.{kind}'], out[pre + f'attn.kv.{kind}'] = v[:c], v[c:]
                continue
            rest = (rest.replace('attn.attn.out_proj.', 'attn.proj.')
                    .replace('ffn.layers.0.', 'mlp.fc1.').replace('ffn.layers.1.', 'mlp.dwconv.dwconv.')
                    .replace('ffn.layers.4.', 'mlp.fc2.'))
            out[pre + rest] = v.flatten(1) if rest in ('mlp.fc1.weight', 'mlp.fc2.weight') else v
    return out


def test_pvt_pretrained_from_the_original_layout(tmp_path):
    torch.manual_seed(0)
    source = MODELS.build(PVT)
    path = tmp_path / 'pvt_v2.pth'
    torch.save(pvt_original_layout(source), path)
    target = MODELS.build(dict(PVT, init_cfg=dict(type='Pretrained', checkpoint=str(path))))
    target.init_weights()
    for k, v in source.state_dict().items():
        assert torch.equal(target.state_dict()[k], v), k


def test_pvt_invalid_arguments():
    with pytest.raises(TypeError, match='fixes patch_sizes'):
        MODELS.build(dict(PVT, patch_sizes=(4, 2, 2, 2)))
    with pytest.raises(ValueError, match='one value per stage'):
        MODELS.build(dict(PVT, num_heads=(1, 2)))
    with pytest.raises(ValueError, match='out_indices'):
        MODELS.build(dict(PVT, out_indices=(4,)))


def test_pvt_position_embedding_follows_the_input_size():
    model = MODELS.build(dict(PVT, type='PyramidVisionTransformer', pretrain_img_size=32))
    model.init_weights()
    outs = model(torch.randn(1, 3, 48, 40))
    assert [tuple(o.shape[-2:]) for o in outs] == [(12, 10), (6, 5), (3, 2), (1, 1)]
