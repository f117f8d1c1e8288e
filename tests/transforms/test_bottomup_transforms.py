"""Bottom-up pipeline: BottomupRandomAffine, BottomupResize,
BottomupGetHeatmapMask, RandomFlip of N instances, PackPoseInputs.

Expected values are derived by hand in each test, except
``test_dekr_train_steps_on_a_coco_image_match_mmpose``, whose numbers were
printed by MMPose 1.3.2 on the same image with the same fixed draws.
"""
from pathlib import Path

import numpy as np
import pytest

from posekit.datasets import CocoDataset
from posekit.datasets.transforms import (BottomupGetHeatmapMask,
                                         BottomupRandomAffine, BottomupResize,
                                         GenerateTarget, LoadImage,
                                         PackPoseInputs, RandomFlip)
from posekit.registry import KEYPOINT_CODECS
from posekit.structures import MultilevelPixelData

COCO = Path(__file__).resolve().parents[1] / 'data/fixtures/coco'
NO_DRAW = (np.zeros(2, np.float32), np.ones(1, np.float32), 0,
           np.zeros(2, np.float32))


def _image_results(w=640, h=425):
    img = np.zeros((h, w, 3), np.uint8)
    return dict(img=img, img_shape=(h, w), ori_shape=(h, w))


def test_bottomup_random_affine_fixed_draws_map_points_by_hand():
    """Image 640x425 -> input 512x512, scale_type 'short'.

    No draw: region (640, 425) -> square of the short side (425, 425)
    centred at (320, 212.5), zoom k = 512 / 425; a point p maps to
    k * (p - c) + 256. (362.5, 212.5) -> (256 + 42.5 k, 256) = (307.2, 256).
    Rotation 90: get_warp_matrix turns (dx, dy) into (dy, -dx), so the same
    point goes to (256, 256 - 51.2) = (256, 204.8).
    Shift (0.1, -0.2) and zoom 2: centre (320 + 64, 212.5 - 85) =
    (384, 127.5), region 850x850, k = 512 / 850: the centre -> (256, 256).
    """
    t = BottomupRandomAffine(input_size=(512, 512))
    kpts = np.array([[[362.5, 212.5], [320., 212.5]]], np.float32)
    res = t.apply(dict(_image_results(), keypoints=kpts.copy()), *NO_DRAW)
    assert res['img'].shape == (512, 512, 3)
    assert res['img_shape'] == (425, 640)  # kept for BottomupGetHeatmapMask
    assert res['input_size'] == (512, 512)
    np.testing.assert_allclose(res['keypoints'][0],
                               [[307.2, 256.], [256., 256.]], atol=1e-3)
    np.testing.assert_allclose(res['warp_mat'][:, :2],
                               np.eye(2) * 512 / 425, atol=1e-6)

    res = t.apply(dict(_image_results(), keypoints=kpts.copy()),
                  NO_DRAW[0], NO_DRAW[1], 90., NO_DRAW[3])
    np.testing.assert_allclose(res['keypoints'][0, 0], [256., 204.8],
                               atol=1e-3)

    shifted = np.array([[[384., 127.5]]], np.float32)
    res = t.apply(dict(_image_results(), keypoints=shifted),
                  np.array([0.1, -0.2], np.float32),
                  np.array([2.], np.float32), 0, NO_DRAW[3])
    np.testing.assert_allclose(res['keypoints'][0, 0], [256., 256.],
                               atol=1e-3)
    np.testing.assert_allclose(res['warp_mat'][0, 0], 512 / 850, rtol=1e-6)


def test_bottomup_random_affine_boxes_area_and_clip():
    """'long' keeps the long side: region 640x640, k = 0.8, centre (320,
    212.5) -> (256, 256). Box x 300..340, y 200..220 -> corners
    x 0.8 * (300 - 320) + 256 = 240 .. 272, y 0.8 * (200 - 212.5) + 256 =
    246 .. 262; area times det = 0.64. With clip_border a keypoint at x = 0
    (-> 0.8 * -320 + 256 = 0) stays visible and one at x = -10 (-> -8) is
    hidden, as x < 0 is outside.
    """
    t = BottomupRandomAffine(input_size=(512, 512), scale_type='long',
                             bbox_keep_corner=False, clip_border=True)
    res = _image_results()
    res.update(bbox=np.array([[300., 200., 340., 220.]], np.float32),
               area=np.array([800.], np.float32),
               keypoints=np.array([[[0., 212.5], [-10., 212.5]]], np.float32),
               keypoints_visible=np.ones((1, 2), np.float32))
    res = t.apply(res, *NO_DRAW)
    np.testing.assert_allclose(res['bbox'], [[240., 246., 272., 262.]],
                               atol=1e-3)
    np.testing.assert_allclose(res['area'], [512.], rtol=1e-5)
    np.testing.assert_array_equal(res['keypoints_visible'], [[1., 0.]])

    corners = BottomupRandomAffine(input_size=(512, 512), scale_type='long')
    res = corners.apply(dict(_image_results(), bbox=np.array(
        [[300., 200., 340., 220.]], np.float32)), *NO_DRAW)
    # (x1, y1), (x1, y2), (x2, y1), (x2, y2), as MMPose's bbox_xyxy2corner
    np.testing.assert_allclose(
        res['bbox'][0], [[240, 246], [240, 262], [272, 246], [272, 262]],
        atol=1e-3)


def test_bottomup_random_affine_draw_order_and_neutral_probs():
    """Uniform draws in MMPose's order: rand() < shift_prob, 2 offsets,
    rand() < scale_prob, 1 zoom, rand() < rotate_prob, 1 angle; each
    number r in [-1, 1] is 2u - 1."""
    t = BottomupRandomAffine(input_size=(512, 512), distribution='uniform',
                             shift_factor=0.2, scale_factor=(0.5, 1.5),
                             rotate_factor=30.)
    np.random.seed(3)
    u = np.random.rand(7)
    np.random.seed(3)
    offset, zoom, rotate, shear = t._draw()
    np.testing.assert_allclose(offset, (u[1:3] * 2 - 1) * 0.2)
    np.testing.assert_allclose(zoom, [0.5 + 1.0 * u[4]])
    np.testing.assert_allclose(rotate, (u[6] * 2 - 1) * 30.)
    np.testing.assert_array_equal(shear, [0., 0.])

    neutral = BottomupRandomAffine(input_size=(512, 512), shift_prob=0,
                                   scale_prob=0, rotate_prob=0)
    offset, zoom, rotate, _ = neutral._draw()
    np.testing.assert_array_equal(offset, [0., 0.])
    np.testing.assert_array_equal(zoom, [1.])
    assert rotate == 0
    with pytest.raises(ValueError, match='transform_mode'):
        BottomupRandomAffine(input_size=(512, 512), transform_mode='x')
    with pytest.raises(ValueError, match='input_size'):
        BottomupRandomAffine()
    with pytest.raises(ValueError, match='border'):
        BottomupRandomAffine(input_size=(512, 512), border=(10, 10))


def test_bottomup_resize_fit_and_expand_sizes():
    """Image 640x425 (ratio r = 1.50588), input 512x512.

    'expand', size_factor 64: resized (max(512, 512 r), max(512, 512 / r))
    = (771.01, 512), padded up to multiples of 64: (832, 512); input_scale
    = (640 * 832 / 771.01, 425) = (690.62, 425).
    'fit', size_factor 32: resized (512, 340), padded (512, 512);
    input_scale = (640, 425 * 512 / 340) = (640, 640).
    """
    ratio = 640 / 425
    res = BottomupResize((512, 512), size_factor=64,
                         resize_mode='expand')(_image_results())
    assert res['img'].shape == (512, 832, 3)
    assert res['img_shape'] == (512, 832) and res['input_size'] == (832, 512)
    np.testing.assert_allclose(res['input_center'], [320., 212.5])
    np.testing.assert_allclose(res['input_scale'],
                               [640 * 832 / (512 * ratio), 425.], rtol=1e-6)
    assert res['aug_scale'] is None

    res = BottomupResize((512, 512), resize_mode='fit')(_image_results())
    assert res['input_size'] == (512, 512)
    np.testing.assert_allclose(res['input_scale'], [640., 640.], rtol=1e-6)


def test_bottomup_resize_content_udp_and_aug_scales():
    """A ramp image img[:, x] = x shows where input pixels sample.

    Plain warp ('expand', 32): padded (800, 512), k = 771.01 / 640; output
    x samples image x' = (x - 400) / k + 320. UDP maps the image's edges
    (-0.5 and 639.5: centre 319.5 -/+ 640 / 2) to output pixel centres 0
    and rsz_w - 1 = 770.01, so x samples x * 640 / 770.01 - 0.5. (cv2
    quantises bilinear positions to 1/32 px: tolerance 0.05.)
    """
    ramp = np.tile(np.arange(640, dtype=np.float32), (425, 1))
    res = dict(img=ramp, img_shape=(425, 640), ori_shape=(425, 640))
    k = 512 * (640 / 425) / 640
    out = BottomupResize((512, 512), resize_mode='expand')(dict(res))
    assert out['img'].shape == (512, 800)
    np.testing.assert_allclose(out['img'][100, [200, 400, 700]],
                               (np.array([200, 400, 700]) - 400) / k + 320,
                               atol=0.05)
    out = BottomupResize((512, 512), resize_mode='expand',
                         use_udp=True)(dict(res))
    np.testing.assert_allclose(out['img'][100, [1, 385, 769]],
                               np.array([1, 385, 769]) * 640 / 770.0118 - .5,
                               atol=0.05)
    np.testing.assert_allclose(out['input_center'], [319.5, 212.])
    np.testing.assert_allclose(out['input_scale'], [640., 425.])

    out = BottomupResize((512, 512), aug_scales=[0.5, 2.0])(_image_results())
    assert [i.shape[:2] for i in out['img']] == [(512, 512), (256, 256),
                                                 (1024, 1024)]
    assert out['aug_scales'] == [0.5, 2.0]
    for bad in ([0.5, -1.], 'x', [True], 2.0):
        with pytest.raises(ValueError, match='aug_scales'):
            BottomupResize((512, 512), aug_scales=bad)
    with pytest.raises(ValueError, match='resize_mode'):
        BottomupResize((512, 512), resize_mode='stretch')
    with pytest.raises(ValueError, match='size_factor'):
        BottomupResize((500, 512), resize_mode='fit')


def test_random_flip_two_instances_with_corners_and_mask():
    """Horizontal flip in input_size (w, h) = (100, 50): x -> 99 - x and
    keypoints 1, 2 swap (flip_indices [0, 2, 1]); corner boxes flip point
    by point; a heatmap_mask (and each level of a list) is mirrored."""
    kpts = np.array([[[10, 5], [20, 6], [30, 7]],
                     [[40, 8], [50, 9], [60, 10]]], np.float32)
    vis = np.array([[1, 1, 0], [1, 0, 1]], np.float32)
    corners = np.array([[[10, 1], [10, 9], [30, 1], [30, 9]]] * 2,
                       np.float32)
    mask = np.zeros((5, 10), bool)
    mask[:, 0] = True
    res = dict(img=np.zeros((50, 100, 3), np.uint8), img_shape=(425, 640),
               input_size=(100, 50), keypoints=kpts, keypoints_visible=vis,
               bbox=corners, flip_indices=[0, 2, 1], heatmap_mask=mask)
    out = RandomFlip.flip(dict(res), 'horizontal')
    np.testing.assert_array_equal(
        out['keypoints'], [[[89, 5], [69, 7], [79, 6]],
                           [[59, 8], [39, 10], [49, 9]]])
    np.testing.assert_array_equal(out['keypoints_visible'],
                                  [[1, 0, 1], [1, 1, 0]])
    np.testing.assert_array_equal(out['bbox'][0, :, 0], [89, 89, 69, 69])
    np.testing.assert_array_equal(out['bbox'][0, :, 1], [1, 9, 1, 9])
    assert out['heatmap_mask'][:, 9].all() and not out['heatmap_mask'][:, 0].any()
    out = RandomFlip.flip(dict(res, heatmap_mask=[mask, mask[:, :4]]),
                          'vertical')
    np.testing.assert_array_equal(out['bbox'][1, :, 1], [48, 40, 48, 40])
    np.testing.assert_array_equal(out['heatmap_mask'][1], mask[::-1, :4])


def test_bottomup_get_heatmap_mask_of_a_crowd_polygon():
    """A rectangle polygon x 2..10, y 2..8 covers pixels x 2-9, y 2-7 (COCO
    rasterisation, area 48). Valid mask = not that; at heatmap size 10x10
    bilinear halving averages 2x2 blocks: rows 1-3, cols 1-4 invalid.
    A translation warp (x + 3) moves the invalid block right by 3."""
    polygon = [[2, 2, 10, 2, 10, 8, 2, 8]]
    res = dict(img_shape=(20, 20), invalid_segs=[polygon])
    mask = BottomupGetHeatmapMask()(dict(res))['heatmap_mask']
    expected = np.ones((20, 20), bool)
    expected[2:8, 2:10] = False
    np.testing.assert_array_equal(mask, expected)

    out = BottomupGetHeatmapMask()(dict(
        res, heatmaps=[np.zeros((1, 10, 10)), np.zeros((1, 20, 20))]))
    small = np.ones((10, 10), bool)
    small[1:4, 1:5] = False
    np.testing.assert_array_equal(out['heatmap_mask'][0], small)
    np.testing.assert_array_equal(out['heatmap_mask'][1], expected)

    shift = np.array([[1, 0, 3], [0, 1, 0]], np.float64)
    out = BottomupGetHeatmapMask(get_invalid=True)(dict(
        res, warp_mat=shift, input_size=(20, 20), flip=True,
        flip_direction='vertical'))['heatmap_mask']
    moved = np.zeros((20, 20), bool)
    moved[2:8, 5:13] = True
    np.testing.assert_array_equal(out, moved[::-1])


def test_bottomup_get_heatmap_mask_decodes_crowd_rle():
    """Uncompressed RLE is column-major: counts [5, 3, 12] on 4x5 leave 5
    zeros (column 0 and row 0 of column 1), then rows 1-3 of column 1."""
    rle = {'counts': [5, 3, 12], 'size': [4, 5]}
    out = BottomupGetHeatmapMask(get_invalid=True)(dict(
        img_shape=(4, 5), invalid_segs=[rle]))['heatmap_mask']
    expected = np.zeros((4, 5), bool)
    expected[1:, 1] = True
    np.testing.assert_array_equal(out, expected)
    empty = BottomupGetHeatmapMask()(dict(img_shape=(4, 5)))['heatmap_mask']
    np.testing.assert_array_equal(empty, np.ones((4, 5), bool))
    # CrowdPose annotations have no segmentation: their None is skipped
    out = BottomupGetHeatmapMask(get_invalid=True)(dict(
        img_shape=(4, 5), invalid_segs=[None, rle, None]))['heatmap_mask']
    np.testing.assert_array_equal(out, expected)


def test_pack_pose_inputs_bottomup_pyramid_levels_and_instances():
    """PackPoseInputs: a pyramid stays a list of tensors (with aug_scales in
    the metainfo), per-level maps become MultilevelPixelData, N instances
    with corner boxes go to gt_instances."""
    res = BottomupResize((64, 64), aug_scales=[0.5])(
        _image_results(w=64, h=32))
    res['img'][0][0, 0] = 7
    res.update(keypoints=np.ones((3, 17, 2), np.float32),
               keypoints_visible=np.ones((3, 17), np.float32),
               bbox=np.zeros((3, 4, 2), np.float32),
               heatmaps=[np.zeros((17, 16, 16)), np.zeros((17, 8, 8))],
               heatmap_mask=[np.ones((16, 16), bool), np.ones((8, 8), bool)])
    packed = PackPoseInputs(meta_keys=('input_size', 'input_scale'))(res)
    inputs, sample = packed['inputs'], packed['data_samples']
    assert [tuple(i.shape) for i in inputs] == [(3, 64, 64), (3, 32, 32)]
    assert int(inputs[0][0, 0, 0]) == 7
    assert sample.metainfo['aug_scales'] == [0.5]
    np.testing.assert_allclose(sample.metainfo['input_scale'], [64., 64.])
    assert isinstance(sample.gt_fields, MultilevelPixelData)
    assert sample.gt_fields.nlevel == 2
    assert bool(sample.gt_fields.heatmap_mask[1].all())
    assert len(sample.gt_instances) == 3
    np.testing.assert_array_equal(sample.gt_instances.keypoints,
                                  np.ones((3, 17, 2)))


@pytest.mark.skipif('AssociativeEmbedding' not in KEYPOINT_CODECS,
                    reason='bottom-up codecs not available')
def test_generate_target_bottomup_codec_all_instances():
    """GenerateTarget with the AE codec on 2 instances: input 64 -> heatmap
    16 (stride 4); keypoint (8, 12) of instance 0 -> heatmap (2, 3), flat
    index 3 * 16 + 2 = 50; (40, 20) of instance 1 -> (10, 5): 90. Both
    peaks are 1 in the same keypoint channel."""
    kpts = np.zeros((2, 17, 2), np.float32)
    kpts[0, 0], kpts[1, 0] = (8, 12), (40, 20)
    codec = dict(type='AssociativeEmbedding', input_size=(64, 64),
                 heatmap_size=(16, 16), sigma=1)
    res = GenerateTarget(codec)(dict(keypoints=kpts,
                                     keypoints_visible=np.ones((2, 17))))
    np.testing.assert_array_equal(res['keypoint_indices'][:, 0],
                                  [[50, 1], [90, 1]])
    assert res['heatmaps'][0, 3, 2] == pytest.approx(1.)
    assert res['heatmaps'][0, 5, 10] == pytest.approx(1.)
    assert 'keypoint_indices' in res['encoded_keys']


def test_dekr_train_steps_on_a_coco_image_match_mmpose():
    """DEKR's train transforms on COCO 196141 (5 people, 1 without
    keypoints) with fixed draws: shift (0.05, -0.1), zoom 1.2, rotation 15,
    horizontal flip. Expected numbers printed by MMPose 1.3.2 (same draws,
    heatmaps (18, 128, 128))."""
    ds = CocoDataset(data_root=str(COCO), ann_file='test_coco.json',
                     data_mode='bottomup', data_prefix=dict(img=''))
    idx = [Path(ds.get_data_info(i)['img_path']).name
           for i in range(len(ds))].index('000000196141.jpg')
    res = LoadImage()(ds.get_data_info(idx))
    res = BottomupRandomAffine(input_size=(512, 512)).apply(
        res, np.array([0.05, -0.1], np.float32), np.array([1.2], np.float32),
        np.float32(15.), np.zeros(2, np.float32))
    res = RandomFlip.flip(res, 'horizontal')
    res['heatmaps'] = np.zeros((18, 128, 128), np.float32)
    res = BottomupGetHeatmapMask()(res)
    np.testing.assert_allclose(
        res['warp_mat'], [[0.9606721193, 0.2574113583, -126.3283766537],
                          [-0.2574113583, 0.9606721193, 181.7574565651]],
        atol=1e-7)
    np.testing.assert_allclose(
        res['keypoints'][:, 0],
        [[323.4361, 211.94089], [42.40497, 138.69812],
         [637.32837, 181.75746], [637.32837, 181.75746],
         [570.8806, 245.29482]], atol=1e-3)
    np.testing.assert_allclose(
        res['bbox'][0], [[380.2046, 189.29193], [302.7804, 478.24286],
                         [217.20737, 145.61694], [139.78317, 434.5679]],
        atol=1e-3)
    np.testing.assert_allclose(
        res['area'], [16938.162, 2758.7642, 282.6902, 21374.518, 1849.8519],
        rtol=1e-6)
    img = res['img']
    assert abs(img.astype(np.float64).mean() - 78.94102732) < 0.01
    np.testing.assert_allclose(img[256, 256], [14, 6, 78], atol=1)
    np.testing.assert_allclose(img[400, 50], [53, 54, 74], atol=1)
    mask = res['heatmap_mask']
    # MMPose: 3041 masked of 128 x 128 (the padding and the person without
    # keypoints); a pixel or two may round differently in another OpenCV
    assert abs(int((~mask).sum()) - 3041) <= 3
