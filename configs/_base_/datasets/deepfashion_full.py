# DeepFashion full-body clothes: 8 fashion landmarks. 8 keypoints, 0 skeleton
# links. Names, order, flip partners, colors and weights equal those of MMPose
# 1.x's file of this name: its configs and checkpoints depend on the keypoint
# order. Sigmas: none (scored with PCK/NME/EPE/MPJPE-type metrics, not OKS).
# Each id here equals its dict key; MMPose reads only the key, so its differing
# id fields (at keys 4..) change nothing.
dataset_info = dict(
    dataset_name='deepfashion_full',
    paper_info=dict(
        author=('Liu, Ziwei and Luo, Ping and Qiu, Shi and Wang, Xiaogang and '
                'Tang, Xiaoou'),
        title=('DeepFashion: Powering Robust Clothes Recognition and Retrieval '
               'with Rich Annotations'),
        container=('Proceedings of IEEE Conference on Computer Vision and Pattern '
                   'Recognition (CVPR)'),
        year='2016',
        homepage=('http://mmlab.ie.cuhk.edu.hk/projects/DeepFashion/LandmarkDetectio'
                  'n.html'),
    ),
    keypoint_info={
        0: dict(name='left collar', id=0, color=[255, 255, 255], type='', swap='right collar'),
        1: dict(name='right collar', id=1, color=[255, 255, 255], type='', swap='left collar'),
        2: dict(name='left sleeve', id=2, color=[255, 255, 255], type='', swap='right sleeve'),
        3: dict(name='right sleeve', id=3, color=[255, 255, 255], type='', swap='left sleeve'),
        4: dict(name='left waistline', id=4, color=[255, 255, 255], type='', swap='right waistline'),
        5: dict(name='right waistline', id=5, color=[255, 255, 255], type='', swap='left waistline'),
        6: dict(name='left hem', id=6, color=[255, 255, 255], type='', swap='right hem'),
        7: dict(name='right hem', id=7, color=[255, 255, 255], type='', swap='left hem'),
    },
    skeleton_info={
    },
    joint_weights=[
        1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0
    ],
    sigmas=[],
)
