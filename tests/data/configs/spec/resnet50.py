_base_ = ['optimizer_cfg.py']
model = dict(type='ResNet', depth=50)
