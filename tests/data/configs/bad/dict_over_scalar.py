_base_ = '../chain/level0.py'
codec = dict(sigma=dict(value=3))
