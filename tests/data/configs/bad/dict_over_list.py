_base_ = '../chain/level0.py'
train_pipeline = dict(type='LoadImage')
