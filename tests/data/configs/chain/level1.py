_base_ = './level0.py'
model = dict(backbone=dict(depth=101), head=dict(out_channels=codec['heatmap_size'][0] // 3))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=10)]  # a list replaces the base list
