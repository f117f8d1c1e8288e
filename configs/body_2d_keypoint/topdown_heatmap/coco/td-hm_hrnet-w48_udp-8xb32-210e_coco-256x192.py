# HRNet-W48 on COCO with UDP (Huang et al., CVPR 2020): the HRNet-W48
# recipe with unbiased data processing (see the W32 UDP config).
_base_ = ['td-hm_hrnet-w48_8xb32-210e_coco-256x192.py']

codec = dict(codec, type='UDPHeatmap')
model = dict(head=dict(decoder=codec), test_cfg=dict(shift_heatmap=False))
_udp = {'TopdownAffine': dict(use_udp=True), 'GenerateTarget': dict(encoder=codec)}
train_pipeline = [dict(t, **_udp.get(t['type'], {})) for t in train_pipeline]
val_pipeline = [dict(t, **_udp.get(t['type'], {})) for t in val_pipeline]
del _udp
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = val_dataloader
