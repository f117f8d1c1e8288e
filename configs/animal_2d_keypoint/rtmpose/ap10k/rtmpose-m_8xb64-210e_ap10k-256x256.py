# RTMPose-m on AP-10K (17 keypoints of 54 mammal species, split 1),
# 256x256 crops: posekit's "animal" model. 8 GPUs x 64 crops, 210 epochs.
# MMPose's release reports 72.2 AP on the AP-10K val set.
_base_ = ['../../../_base_/rtmpose_m_topdown.py']

dataset_type = 'AP10KDataset'
data_root = 'data/ap10k/'


def _ap10k(split, **kwargs):
    return dict(type=dataset_type, data_root=data_root, data_mode=data_mode,
                ann_file=f'annotations/ap10k-{split}-split1.json',
                data_prefix=dict(img='data/'), **kwargs)


train_dataloader = dict(dataset=_ap10k('train'))
val_dataloader = dict(dataset=_ap10k('val'))
test_dataloader = dict(val_dataloader, dataset=_ap10k(
    'test', test_mode=True, pipeline=val_pipeline))
val_evaluator = dict(type='CocoMetric',
                     ann_file=data_root + 'annotations/ap10k-val-split1.json')
test_evaluator = dict(val_evaluator,
                      ann_file=data_root + 'annotations/ap10k-test-split1.json')
