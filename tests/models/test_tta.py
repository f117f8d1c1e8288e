"""Flip-test helpers: flip_heatmaps, flip_vectors, flip_coordinates,
flip_visibility, on arrays small enough to check by hand."""
import numpy as np
import pytest
import torch

from posekit.codecs import MSRAHeatmap
from posekit.models.utils import (flip_coordinates, flip_heatmaps,
                                  flip_vectors, flip_visibility)


def _two_keypoint_heatmaps():
    # (B=1, K=2, H=1, W=3)
    return torch.tensor([[[[1., 2., 3.]], [[4., 5., 6.]]]])


def test_flip_heatmaps_reverses_width_and_swaps_keypoints():
    hm = _two_keypoint_heatmaps()
    out = flip_heatmaps(hm, flip_indices=[1, 0], shift_heatmap=False)
    assert out.tolist() == [[[[6., 5., 4.]], [[3., 2., 1.]]]]
    # the shift moves everything one column right and keeps column 0
    out = flip_heatmaps(hm, flip_indices=[1, 0], shift_heatmap=True)
    assert out.tolist() == [[[[6., 6., 5.]], [[3., 3., 2.]]]]
    # no flip_indices: channel order kept
    out = flip_heatmaps(hm, flip_indices=None, shift_heatmap=False)
    assert out.tolist() == [[[[3., 2., 1.]], [[6., 5., 4.]]]]
    assert hm.tolist() == [[[[1., 2., 3.]], [[4., 5., 6.]]]]  # input intact


def test_flip_heatmaps_udp_combined_negates_x_offsets():
    # K=1: channels (heatmap, x offset, y offset)
    hm = torch.tensor([[[[1., 2.]], [[3., 4.]], [[5., 6.]]]])
    out = flip_heatmaps(hm, [0], flip_mode='udp_combined',
                        shift_heatmap=False)
    assert out.tolist() == [[[[2., 1.]], [[-4., -3.]], [[6., 5.]]]]


def test_flip_heatmaps_offset_mode_swaps_pairs_and_negates_x():
    # K=2 keypoints, (x, y) offset field each: channels k0x k0y k1x k1y
    hm = torch.arange(8.).reshape(1, 4, 1, 2)
    out = flip_heatmaps(hm, [1, 0], flip_mode='offset', shift_heatmap=False)
    assert out.tolist() == [[[[-5., -4.]], [[7., 6.]], [[-1., -0.]],
                             [[3., 2.]]]]


def test_flip_heatmaps_is_an_involution_without_shift():
    hm = torch.randn(2, 4, 5, 6, generator=torch.Generator().manual_seed(0))
    idx = [1, 0, 3, 2]
    twice = flip_heatmaps(flip_heatmaps(hm, idx, shift_heatmap=False), idx,
                          shift_heatmap=False)
    torch.testing.assert_close(twice, hm)


def test_flip_heatmaps_bad_input():
    hm = _two_keypoint_heatmaps()
    with pytest.raises(ValueError, match='flip_mode'):
        flip_heatmaps(hm, [1, 0], flip_mode='feature')
    with pytest.raises(ValueError, match='3 entries for 2'):
        flip_heatmaps(hm, [0, 1, 2])
    with pytest.raises(ValueError, match='multiple of 3'):
        flip_heatmaps(hm, None, flip_mode='udp_combined')


def test_flipped_image_heatmaps_map_back_to_the_original_peaks():
    """Encode keypoints and their mirror (x -> w - 1 - x, left/right
    swapped); un-flipping the mirror's heatmaps with the shift gives back
    the original peaks (the reason shift_heatmap exists)."""
    codec = MSRAHeatmap(input_size=(48, 64), heatmap_size=(12, 16), sigma=1)
    kp = np.array([[[8., 20.], [28., 40.], [16., 4.]]], dtype=np.float32)
    flip_indices = [0, 2, 1]
    kp_flip = kp.copy()
    kp_flip[..., 0] = 48 - 1 - kp[..., 0]
    kp_flip = kp_flip[:, flip_indices]
    hm = torch.from_numpy(codec.encode(kp)['heatmaps'])[None]
    hm_flip = torch.from_numpy(codec.encode(kp_flip)['heatmaps'])[None]
    back = flip_heatmaps(hm_flip, flip_indices, shift_heatmap=True)
    peaks = back.flatten(2).argmax(-1)
    torch.testing.assert_close(peaks, hm.flatten(2).argmax(-1))


def test_flip_coordinates_by_hand():
    # B=1, K=2, D=4 (x, y, sigma_x, sigma_y); input width 4
    coords = torch.tensor([[[0.25, 0.5, 0.1, 0.2], [0.75, 0.1, 0.3, 0.4]]])
    out = flip_coordinates(coords, [1, 0], shift_coords=False,
                           input_size=(4, 8))
    torch.testing.assert_close(out, torch.tensor(
        [[[0.25, 0.1, 0.3, 0.4], [0.75, 0.5, 0.1, 0.2]]]))
    out = flip_coordinates(coords, [1, 0], shift_coords=True,
                           input_size=(4, 8))
    torch.testing.assert_close(out, torch.tensor(
        [[[0.0, 0.1, 0.3, 0.4], [0.5, 0.5, 0.1, 0.2]]]))
    assert coords[0, 0, 0] == 0.25  # input intact


def test_flip_coordinates_undoes_the_pixel_flip():
    w = 192
    x = torch.tensor([[[10., 3.], [100., 4.], [191., 5.]]])
    mirrored = x.clone()
    mirrored[..., 0] = w - 1 - x[..., 0]
    mirrored = mirrored[:, [0, 2, 1]]
    norm = torch.tensor([w, 256.])
    back = flip_coordinates(mirrored / norm, [0, 2, 1], True, (w, 256))
    torch.testing.assert_close(back * norm, x)


def test_flip_vectors_and_visibility():
    x = torch.tensor([[[1., 2., 3.], [4., 5., 6.]]])
    y = torch.tensor([[[7., 8.], [9., 10.]]])
    fx, fy = flip_vectors(x, y, [1, 0])
    assert fx.tolist() == [[[6., 5., 4.], [3., 2., 1.]]]
    assert fy.tolist() == [[[9., 10.], [7., 8.]]]
    vis = torch.tensor([[1., 0., 0.5]])
    assert flip_visibility(vis, [2, 1, 0]).tolist() == [[0.5, 0., 1.]]
    with pytest.raises(ValueError, match='entries'):
        flip_vectors(x, y, [0])
    with pytest.raises(ValueError, match='B, K'):
        flip_visibility(vis[0], [0, 1, 2])
