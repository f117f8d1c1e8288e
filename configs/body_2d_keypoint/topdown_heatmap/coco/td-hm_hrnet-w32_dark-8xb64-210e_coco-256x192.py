# HRNet-W32 on COCO with DARK (Zhang et al., CVPR 2020): the HRNet-W32
# recipe with unbiased heatmaps (Gaussians centred at the exact sub-pixel
# keypoint) and a Taylor-expansion refinement of the decoded maxima.
_base_ = ['td-hm_hrnet-w32_8xb64-210e_coco-256x192.py']

codec = dict(codec, unbiased=True)
model = dict(head=dict(decoder=codec))
train_pipeline = [dict(t, encoder=codec) if t['type'] == 'GenerateTarget'
                  else t for t in train_pipeline]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
