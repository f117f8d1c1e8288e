# ViTPose-L simple (Xu et al., NeurIPS 2022) on COCO: posekit's "vitpose-l".
# ViT-L (1024 wide, 24 blocks).
_base_ = ['../../../_base_/vitpose_coco.py']

optim_wrapper = dict(paramwise_cfg=dict(num_layers=24, layer_decay_rate=0.8))
model = dict(
    backbone=dict(arch='large', drop_path_rate=0.5,
        init_cfg=dict(checkpoint='https://download.openmmlab.com/mmpose/v1/pretrained_models/'
                      'mae_pretrain_vit_large_20230913.pth')),
    head=dict(in_channels=1024))
