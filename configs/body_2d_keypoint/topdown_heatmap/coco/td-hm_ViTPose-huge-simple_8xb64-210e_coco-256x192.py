# ViTPose-H simple (Xu et al., NeurIPS 2022) on COCO: posekit's "vitpose-h".
# ViT-H (1280 wide, 32 blocks).
_base_ = ['../../../_base_/vitpose_coco.py']

optim_wrapper = dict(paramwise_cfg=dict(num_layers=32, layer_decay_rate=0.85))
model = dict(
    backbone=dict(arch='huge', drop_path_rate=0.55,
        init_cfg=dict(checkpoint='https://download.openmmlab.com/mmpose/v1/pretrained_models/'
                      'mae_pretrain_vit_huge_20230913.pth')),
    head=dict(in_channels=1280))
