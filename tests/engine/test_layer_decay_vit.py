"""LayerDecayOptimWrapperConstructor on a real ViTPose-style model (MMPose's rule)."""
import pytest
import torch
from torch import nn

from posekit.engine.optim import build_optim_wrapper
from posekit.registry import MODELS


def test_layer_decay_groups_of_a_vit_backbone():
    torch.manual_seed(0)
    model = nn.Module()
    model.backbone = MODELS.build(dict(
        type='mmpretrain.VisionTransformer', img_size=32, patch_size=16, with_cls_token=True,
        out_type='featmap', arch=dict(embed_dims=8, num_layers=2, num_heads=2,
                                      feedforward_channels=16)))
    model.head = nn.Conv2d(8, 3, 1)
    with pytest.warns(UserWarning, match='ignores paramwise_cfg keys'):
        wrapper = build_optim_wrapper(model, dict(
            constructor='LayerDecayOptimWrapperConstructor',
            optimizer=dict(type='AdamW', lr=8.0, weight_decay=0.1),
            paramwise_cfg=dict(num_layers=2, layer_decay_rate=0.5,
                               custom_keys={'norm': dict(decay_mult=0.)})))
    # L = num_layers + 2 = 4; lr = 8 * 0.5 ** (L - 1 - layer id); 1-D params,
    # biases and pos_embed have no weight decay (cls_token is 3-D: it decays)
    groups = {g['group_name']: (g['lr'], g['weight_decay'], g['param_names'])
              for g in wrapper.optimizer.param_groups}
    layer = ['attn.qkv', 'attn.proj', 'ffn.layers.0.0', 'ffn.layers.1']

    def names(i, what):
        return [f'backbone.layers.{i}.{m}.{what}' for m in layer]
    assert groups == {
        'layer_0_decay': (1.0, 0.1, ['backbone.cls_token', 'backbone.patch_embed.projection.weight']),
        'layer_0_no_decay': (1.0, 0., ['backbone.pos_embed', 'backbone.patch_embed.projection.bias']),
        'layer_1_no_decay': (2.0, 0., [
            'backbone.layers.0.ln1.weight', 'backbone.layers.0.ln1.bias',
            'backbone.layers.0.attn.qkv.bias', 'backbone.layers.0.attn.proj.bias',
            'backbone.layers.0.ln2.weight', 'backbone.layers.0.ln2.bias',
            'backbone.layers.0.ffn.layers.0.0.bias', 'backbone.layers.0.ffn.layers.1.bias']),
        'layer_1_decay': (2.0, 0.1, names(0, 'weight')),
        'layer_2_no_decay': (4.0, 0., [n.replace('backbone.layers.0', 'backbone.layers.1')
                                       for n in groups['layer_1_no_decay'][2]]),
        'layer_2_decay': (4.0, 0.1, names(1, 'weight')),
        'layer_3_no_decay': (8.0, 0., ['backbone.ln1.weight', 'backbone.ln1.bias', 'head.bias']),
        'layer_3_decay': (8.0, 0.1, ['head.weight'])}
