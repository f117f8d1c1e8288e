_base_ = ['mmpose::_base_/default_runtime.py']
default_hooks = dict(checkpoint=dict(save_best='coco/AP', rule='greater'))
