# ViTPose-S simple (Xu et al., NeurIPS 2022) on COCO: posekit's "vitpose-s".
# ViT-S (384 wide, 12 blocks, 12 heads), milder lr decay and drop path.
_base_ = ['../../../_base_/vitpose_coco.py']

optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.8))
model = dict(
    backbone=dict(
        # a dict replaces the base's arch name ('base')
        arch=dict(_delete_=True, embed_dims=384, num_layers=12, num_heads=12,
                  feedforward_channels=384 * 4),
        drop_path_rate=0.1,
        init_cfg=dict(checkpoint='https://download.openmmlab.com/mmpose/v1/pretrained_models/'
                      'mae_pretrain_vit_small_20230913.pth')),
    head=dict(in_channels=384))
