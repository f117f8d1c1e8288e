# HRNet-W48 (Sun et al., CVPR 2019) on COCO person keypoints: the HRNet-W32
# recipe with 1.5x wider branches (48, 96, 192, 384 channels) and 32 crops
# per GPU. MMPose's release reports 75.6 AP on val2017 (detected boxes).
_base_ = ['td-hm_hrnet-w32_8xb64-210e_coco-256x192.py']

model = dict(
    backbone=dict(extra=dict(
        stage2=dict(num_channels=(48, 96)),
        stage3=dict(num_channels=(48, 96, 192)),
        stage4=dict(num_channels=(48, 96, 192, 384))),
        init_cfg=dict(checkpoint='https://download.openmmlab.com/mmpose/'
                      'pretrain_models/hrnet_w48-8ef0771d.pth')),
    head=dict(in_channels=48))  # the stride-4 branch of stage 4
train_dataloader = dict(batch_size=32)
