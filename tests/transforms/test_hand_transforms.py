"""HandRandomFlip: a horizontal flip that also mirrors the hand labels."""
import numpy as np

from posekit.registry import TRANSFORMS


def _results():
    # two "hands" of 2 keypoints each: 0-1 right, 2-3 left (wrists 1 and 3)
    return dict(
        img=np.arange(12, dtype=np.uint8).reshape(3, 4), img_shape=(3, 4),
        keypoints=np.array([[[0., 1., 5.], [1., 2., 0.], [3., 0., -7.],
                             [2., 2., 0.]]], np.float32),
        keypoints_visible=np.array([[1., 1., 0., 1.]], np.float32),
        flip_indices=[2, 3, 0, 1],
        hand_type=np.array([[1., 0.]], np.float32), rel_root_depth=12.5)


def test_hand_random_flip_swaps_hands_by_hand():
    """w = 4: x -> 3 - x, keypoints swap hands (flip_indices), depths
    relative to each hand's root are kept; [right, left] = [1, 0] -> [0, 1];
    the left-minus-right root depth 12.5 -> -12.5."""
    flip = TRANSFORMS.build(dict(type='HandRandomFlip', prob=1.0))
    out = flip(_results())
    assert out['flip'] is True and out['flip_direction'] == 'horizontal'
    np.testing.assert_array_equal(out['keypoints'], [[
        [0., 0., -7.], [1., 2., 0.], [3., 1., 5.], [2., 2., 0.]]])
    np.testing.assert_array_equal(out['keypoints_visible'], [[0., 1., 1., 1.]])
    np.testing.assert_array_equal(out['hand_type'], [[0., 1.]])
    assert out['rel_root_depth'] == -12.5
    np.testing.assert_array_equal(out['img'], _results()['img'][:, ::-1])


def test_hand_random_flip_prob_zero_keeps_everything():
    out = TRANSFORMS.build(dict(type='HandRandomFlip', prob=0.0))(_results())
    assert out['flip'] is False
    np.testing.assert_array_equal(out['hand_type'], [[1., 0.]])
    assert out['rel_root_depth'] == 12.5
    np.testing.assert_array_equal(out['keypoints'], _results()['keypoints'])


def test_hand_random_flip_rate_is_prob():
    """Seeded: about half of 400 draws flip (binomial sd 10)."""
    np.random.seed(0)
    flip = TRANSFORMS.build(dict(type='HandRandomFlip', prob=0.5))
    flips = sum(flip(_results())['flip'] for _ in range(400))
    assert abs(flips - 200) < 50
    assert repr(flip) == 'HandRandomFlip(prob=0.5)'
