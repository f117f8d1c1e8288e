"""SPR (DEKR) codec: hand-derived targets, exact round trip, MMPose values."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from posekit.codecs import SPR
from posekit.codecs.utils import get_instance_root, sample_heatmaps

FIXTURE = Path(__file__).parents[1] / 'data/fixtures/coco/test_coco.json'


def coco_people(image_id=197388, input_size=512):
    """(N, 17, 2) float32 keypoints of a 5-person COCO image scaled into a
    512 x 512 input, and (N, 17) visibility."""
    data = json.loads(FIXTURE.read_text())
    img = next(i for i in data['images'] if i['id'] == image_id)
    anns = [a for a in data['annotations']
            if a['image_id'] == image_id and a['num_keypoints'] > 0]
    kp = np.array([a['keypoints'] for a in anns], np.float32).reshape(
        len(anns), -1, 3)
    s = min(input_size / img['width'], input_size / img['height'])
    return ((kp[..., :2] * s).astype(np.float32),
            np.minimum(kp[..., 2], 1).astype(np.float32))


def dekr(**kwargs):
    cfg = dict(input_size=(512, 512), heatmap_size=(128, 128), sigma=(4, 2),
               minimal_diagonal_length=32**0.5,
               generate_keypoint_heatmaps=True)
    cfg.update(kwargs)
    return SPR(**cfg)


def test_encode_by_hand():
    # stride 4; two keypoints at heatmap (10, 20) and (14, 20): root = mean
    # (12, 20), diagonal 4 (< 5 px: dropped unless the minimum is lower)
    kp = np.array([[[40., 80.], [56., 80.]]], np.float32)
    enc = SPR((64, 128), (16, 32), sigma=2., minimal_diagonal_length=3,
              background_weight=0.1).encode(kp)
    hm, hw = enc['heatmaps'], enc['heatmap_weights']
    assert hm.shape == (1, 32, 16) and hm[0, 20, 12] == 1.0
    assert hm[0, 20, 13] == pytest.approx(np.exp(-1 / 8), rel=1e-6)
    assert hw[0, 20, 12] == 1 and hw[0, 0, 0] == np.float32(0.1)
    disp, dw = enc['displacements'], enc['displacement_weights']
    # window int(12 -/+ 2) = [10, 14) x [18, 22); value = keypoint - pixel
    assert disp[:, 20, 12].tolist() == [-2., 0., 2., 0.]
    assert disp[:, 18, 10].tolist() == [0., 2., 4., 2.]
    assert np.count_nonzero(dw[0]) == 16 and dw[0, 20, 12] == 0.25
    assert not disp[:, 20, 14].any() and not disp[:, 22, 12].any()
    # the same instance below the minimal diagonal draws nothing
    none = SPR((64, 128), (16, 32), sigma=2.).encode(kp)
    assert not none['heatmaps'].any() and not none['displacements'].any()


def test_smaller_instance_keeps_shared_pixels():
    # instance 0 (diag 8) is drawn first; instance 1 (diag 4) overlaps it and
    # wins the shared pixels; a third, larger one does not take them back
    kp = np.array([[[8., 8.], [16., 8.]], [[10., 9.], [14., 9.]],
                   [[0., 10.], [24., 10.]]], np.float32)
    enc = SPR((32, 32), (32, 32), sigma=2., minimal_diagonal_length=1
              ).encode(kp)
    d, w = enc['displacements'], enc['displacement_weights']
    assert d[:2, 9, 12].tolist() == [-2., 0.] and w[0, 9, 12] == 0.25
    assert d[:2, 8, 11].tolist() == [-1., 1.]   # only instance 1 reaches it
    assert d[:2, 10, 12].tolist() == [-2., -1.]


def test_roots():
    kp = np.array([[[0., 0.], [4., 0.], [2., 6.]]])
    vis = np.array([[1., 1., 0.]])
    np.testing.assert_array_equal(get_instance_root(kp, vis)[0], [[2., 0.]])
    roots, rv = get_instance_root(kp, np.zeros((1, 3)), 'bbox_center')
    assert rv.tolist() == [0.] and roots.tolist() == [[0., 0.]]
    with pytest.raises(ValueError, match='root_type'):
        SPR((64, 64), (16, 16), root_type='center')


def test_round_trip_fixture_is_exact():
    """Decoding the encoded targets returns root pixel + stored offset, i.e.
    each visible keypoint up to the float32 rounding of its offset: |err| <=
    ulp(128) / 2 * stride = 2**-17 * 4 < 4e-5 input px (measured 4.8e-7)."""
    kp, vis = coco_people()
    codec = dekr()
    enc = codec.encode(kp, vis)
    out, (root_scores, kpt_scores) = codec.decode(enc['heatmaps'],
                                                  enc['displacements'])
    assert out.shape == (5, 17, 2) and out.dtype == np.float32
    np.testing.assert_array_equal(root_scores, np.ones(5, np.float32))
    # instances come out in raster order of their roots; match by root
    roots = get_instance_root(kp / 4, vis)[0]
    order = np.lexsort((np.floor(roots[:, 0] + .5), np.floor(roots[:, 1] + .5)))
    err = np.abs(out - kp[order])[vis[order] > 0]
    assert err.max() < 4e-5
    # keypoint scores: the sigma-2 maps peak at the rounded pixel (<= .5 px
    # per axis away) and are read up to .5 px further: >= exp(-2 / 8) = .78
    # for the Gaussian, a little less after bilinear interpolation
    assert kpt_scores.shape == (5, 17)
    assert np.all(kpt_scores[vis[order] > 0] > 0.7)


def test_fixture_targets_match_mmpose():
    enc = dekr().encode(*coco_people())
    # sums of MMPose 1.3.2's targets for the same input (float32)
    assert enc['heatmaps'].sum() == pytest.approx(2361.983154296875, rel=1e-6)
    assert enc['heatmap_weights'].sum() == pytest.approx(42894.8984375,
                                                         rel=1e-6)
    assert np.abs(enc['displacements']).sum() == pytest.approx(75142.40625,
                                                               rel=1e-6)
    assert enc['displacement_weights'].sum() == pytest.approx(
        233.44065856933594, rel=1e-6)


def test_decode_random_matches_mmpose():
    g = torch.Generator().manual_seed(3)
    h = (torch.rand(18, 16, 16, generator=g) ** 8).numpy()
    d = torch.randn(34, 16, 16, generator=g).numpy()
    kp, (rs, ks) = dekr().decode(h, d)
    assert kp.shape == (12, 17, 2)
    np.testing.assert_allclose(kp[:2, :2], [
        [[3.285332441329956, 54.663597106933594],
         [-3.3028666973114014, 59.34270477294922]],
        [[41.944602966308594, 46.53058624267578],
         [42.495872497558594, 35.482017517089844]]], rtol=1e-6)
    np.testing.assert_allclose(rs[[0, 4, 11]], [0.9805982708930969,
                                                0.6598581075668335,
                                                0.29602518677711487])
    np.testing.assert_allclose(ks[:2, :3], [
        [0.10885012149810791, 0.0014444898115471005, 0.02546982280910015],
        [0.4185912013053894, 0.7222422957420349, 0.007283155340701342]],
        rtol=1e-5, atol=1e-7)


def test_sample_heatmaps_half_pixel_offset():
    # a ramp value = column index: the read position is x * W / (W - 1) - .5
    W = 9
    hm = np.tile(np.arange(W, dtype=np.float32), (1, 4, 1))
    kp = np.array([[[0., 1.]], [[4., 1.]], [[8., 1.]]], np.float32)
    got = sample_heatmaps(hm, kp)[:, 0]
    np.testing.assert_allclose(got, [0., 4 * 9 / 8 - 0.5, 8.], rtol=1e-6)


def test_no_person_and_bad_shapes():
    codec = dekr()
    kp, (rs, ks) = codec.decode(np.zeros((18, 32, 32), np.float32),
                                np.zeros((34, 32, 32), np.float32))
    assert kp.shape == (0, 17, 2) and rs.shape == (0, ) and ks.shape == (0,
                                                                        17)
    with pytest.raises(ValueError, match='displacements'):
        codec.decode(np.zeros((18, 32, 32)), np.zeros((33, 32, 32)))
    with pytest.raises(ValueError, match='heatmaps'):
        codec.decode(np.zeros((18, 32, 16)), np.zeros((34, 32, 32)))
    with pytest.raises(ValueError, match='sigma'):
        SPR((64, 64), (16, 16), sigma=2, generate_keypoint_heatmaps=True)
