# HRNet-W32 on COCO with UDP (Huang et al., CVPR 2020): the HRNet-W32
# recipe with unbiased data processing: the crop warp and the heatmaps use
# the same (size - 1) pixel-centre scale, so flipped heatmaps need no shift.
_base_ = ['td-hm_hrnet-w32_8xb64-210e_coco-256x192.py']

codec = dict(codec, type='UDPHeatmap')
model = dict(head=dict(decoder=codec), test_cfg=dict(shift_heatmap=False))
_udp = {'TopdownAffine': dict(use_udp=True), 'GenerateTarget': dict(encoder=codec)}
train_pipeline = [dict(t, **_udp.get(t['type'], {})) for t in train_pipeline]
val_pipeline = [dict(t, **_udp.get(t['type'], {})) for t in val_pipeline]
del _udp
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = val_dataloader
