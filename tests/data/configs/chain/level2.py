_base_ = ['level1.py', '../spec/optimizer_cfg.py']
# base variables are readable by name and through _base_
input_w, input_h = codec['input_size']
aspect = _base_.codec.input_size[1] / _base_.codec.input_size[0]
model = dict(head=dict(_delete_=True, type='RegressionHead', in_channels=2048, num_joints=17))
train_pipeline = train_pipeline + [dict(type='PackPoseInputs')]
