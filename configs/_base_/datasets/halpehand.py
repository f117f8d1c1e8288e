# Halpe Full-Body hands: 21 keypoints per hand (Halpe's keypoints 94-114
# are the left hand, 115-135 the right one). Names, order, links, colours
# and sigmas are those of COCO-WholeBody's hands (as in MMPose's file for
# this dataset), so a model trained on the hand5 mixture reads both.
_base_ = ['coco_wholebody_hand.py']
dataset_info = dict(
    dataset_name='halpe_hand',
    paper_info=dict(
        author=('Li, Yong-Lu and Xu, Liang and Liu, Xinpeng and Huang, Xijie and '
                'Xu, Yue and Wang, Shiyi and Fang, Hao-Shu and Ma, Ze and Chen, '
                'Mingyang and Lu, Cewu'),
        title='PaStaNet: Toward Human Activity Knowledge Engine',
        container='CVPR',
        year='2020',
        homepage='https://github.com/Fang-Haoshu/Halpe-FullBody/',
    ),
)
