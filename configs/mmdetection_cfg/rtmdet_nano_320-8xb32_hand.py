# RTMDet-nano hand detector, 320x320 input: the detector MMPose's inferencer
# pairs with hand models ('hand'). Trained on OneHand10K, FreiHAND, RHD and
# Halpe hands; one class.
# INFERENCE ONLY: posekit runs this detector but does not train it.
# The network and test pipeline are those of the nano person detector
# (MMPose's demo/mmdetection_cfg/rtmdet_nano_320-8xb32_hand.py resolves to the
# same values); only the evaluation data differ.
# Weights: posekit.apis.zoo model_info('hand')['detector']['weights'].
_base_ = './rtmdet_nano_320-8xb32_coco-person.py'

data_root = 'data/'
test_dataloader = dict(
    dataset=dict(_delete_=True, type='OneHand10KDataset', data_root=data_root,
                 data_mode='topdown', ann_file='onehand10k/annotations/onehand10k_test.json',
                 data_prefix=dict(img='pose/OneHand10K/'), pipeline=_base_.test_pipeline))
test_evaluator = dict(type='CocoMetric', metric='bbox',
                      ann_file=data_root + 'onehand10k/annotations/onehand10k_test.json')
