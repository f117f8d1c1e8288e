# HRNet-W48 on COCO with DARK (Zhang et al., CVPR 2020): the HRNet-W48
# recipe with unbiased heatmaps and Taylor-refined decoding.
_base_ = ['td-hm_hrnet-w48_8xb32-210e_coco-256x192.py']

codec = dict(codec, unbiased=True)
model = dict(head=dict(decoder=codec))
train_pipeline = [dict(t, encoder=codec) if t['type'] == 'GenerateTarget'
                  else t for t in train_pipeline]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
