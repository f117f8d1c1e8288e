"""HalpeHandDataset on the Halpe fixture: expected values read from the JSON.

Halpe keypoints 94-114 are the left hand, 115-135 the right; a hand is a
sample when some value of its 63 numbers is positive; its box spans the
keypoints labelled ``v > 0`` (in the fixture every labelled keypoint has
``v = 2`` and every unlabelled one is ``(0, 0, 0)``).
"""
import json
from pathlib import Path

import numpy as np
import pytest

from posekit.datasets import HalpeHandDataset
from posekit.registry import DATASETS

FIXTURES = Path(__file__).parents[1] / 'data' / 'fixtures'
ANN_FILE = 'halpe/test_halpe.json'


def _json_hands():
    """(annotation, hand (21, 3) array) in file order, left before right."""
    data = json.loads((FIXTURES / ANN_FILE).read_text())
    hands = []
    for ann in data['annotations']:     # the fixture has no crowd annotation
        assert not ann['iscrowd']
        values = np.array(ann['keypoints'], np.float32).reshape(136, 3)
        for hand in (values[94:115], values[115:136]):
            if hand.max() > 0:
                hands.append((ann, hand))
    return hands


def _build(**kwargs):
    return DATASETS.build(dict(type='HalpeHandDataset', data_root=str(FIXTURES),
                               ann_file=ANN_FILE, data_prefix=dict(img='imgs/'),
                               **kwargs))


def test_one_sample_per_annotated_hand():
    ds = _build()
    hands = _json_hands()
    # 14 people: 4 with both hands, 3 with one, 7 with none
    assert len(ds) == len(hands) == 11
    assert ds.metainfo['num_keypoints'] == 21
    assert ds.metainfo['dataset_name'] == 'halpe_hand'
    assert ds.metainfo['flip_indices'] == list(range(21))
    for i, (ann, hand) in enumerate(hands):
        info = ds.get_data_info(i)
        assert (info['id'], info['img_id']) == (i, ann['image_id'])
        np.testing.assert_array_equal(info['keypoints'][0], hand[:, :2])
        np.testing.assert_array_equal(info['keypoints_visible'][0],
                                      np.minimum(1, hand[:, 2]))
        labelled = hand[hand[:, 2] > 0, :2]
        np.testing.assert_array_equal(
            info['bbox'][0], [*labelled.min(0), *labelled.max(0)])
        assert info['num_keypoints'] == (hand[:, :2].max(1) > 0).sum()


def test_first_hand_by_hand():
    """Person 442619 (image 785), left hand: 18 of 21 keypoints labelled;
    its box is not dragged to (0, 0) by the 3 unlabelled ones."""
    info = _build().get_data_info(0)
    assert info['img_path'] == str(FIXTURES / 'imgs' / '000000000785.jpg')
    assert info['keypoints_visible'].sum() == 18
    assert info['num_keypoints'] == 18
    x1, y1, x2, y2 = info['bbox'][0]
    assert x1 > 0 and y1 > 0 and x2 == 459 and y2 == 182
    assert info['bbox'].dtype == np.float32


def test_bottomup_groups_the_hands_of_an_image():
    ds = _build(data_mode='bottomup')
    per_image = [len(ds.get_data_info(i)['bbox']) for i in range(len(ds))]
    assert per_image == [2, 1, 2, 6]     # images 785, 40083, 196141, 197388


def test_a_short_keypoints_list_is_named(tmp_path):
    data = json.loads((FIXTURES / ANN_FILE).read_text())
    data['annotations'][0]['keypoints'] = data['annotations'][0]['keypoints'][:-3]
    path = tmp_path / 'halpe.json'
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"442619.*'keypoints'.*408 values, got 405"):
        HalpeHandDataset(ann_file=str(path), strict_annotations=True)
