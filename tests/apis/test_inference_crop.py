"""inference_topdown crops exactly as MMPose does.

MMPose solves the crop's warp matrix with ``cv2.getAffineTransform`` from
three point pairs held in float32; ``cv2.warpAffine`` then works in fixed
point (1/32 pixel), so a matrix that differs only in its last bits (the
closed form, say) rounds some crop pixels to the next grey level, and an
MMPose checkpoint no longer gives MMPose's numbers. Here the model's output
is a known linear function of the crop (its per-channel sums), so the
expected keypoints follow from the crop OpenCV makes with the matrix built
by hand below.
"""
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from posekit.apis import inference_topdown
from posekit.config import Config
from posekit.models.pose_estimators import TopdownPoseEstimator
from posekit.structures import get_warp_matrix

ROOT = Path(__file__).resolve().parents[2]
IMAGE = ROOT / 'tests/data/fixtures/coco/000000000785.jpg'
# annotation 442619's box, xyxy float32; the pipeline's float32 centre,
# padded (x1.25) height, and width widened to 128x96's aspect ratio
BOX = np.array([[280.79, 44.73, 499.49, 391.41]], np.float32)
CENTER = (BOX[0, :2] + BOX[0, 2:]) * np.float32(0.5)        # (390.14, 218.07)
HEIGHT = (BOX[0, 3] - BOX[0, 1]) * np.float32(1.25)         # 433.35
SCALE = np.float32([HEIGHT * np.float32(0.75), HEIGHT])     # (325.01, 433.35)
INPUT_W, INPUT_H = 96, 128
# MMPose's three point pairs: the centre, the middle of the crop's left
# edge, and that point turned a quarter about the centre, all in float32
SRC = np.float32([CENTER, CENTER - [SCALE[0] / 2, 0], [0, 0]])
SRC[2] = SRC[1] + [SRC[1][1] - SRC[0][1], SRC[0][0] - SRC[1][0]]
DST = np.float32([[48, 64], [0, 64], [0, 112]])
# the keypoint's normalised (x, y) is GAIN * (crop sum of blue, of green -
# OFFSET): one grey level moves it by GAIN * SCALE[0] = 0.32 px. With a
# power of two and integer sums, the head's float32 arithmetic is exact
GAIN = 2.0 ** -10
OFFSET = np.array([2164000., 2109000.])  # near this crop's sums


class ChannelSums(nn.Module):
    """Backbone: the ``(N, 3)`` per-channel sums of the (raw) crop."""

    def forward(self, x: torch.Tensor) -> tuple:
        return (x.sum(dim=(2, 3)), )


def crop_sum_model() -> TopdownPoseEstimator:
    """Keypoint 0 at ``GAIN * ((sum_B, sum_G) - OFFSET)`` of the crop,
    normalised."""
    codec = dict(type='RegressionLabel', input_size=(INPUT_W, INPUT_H))
    model = TopdownPoseEstimator(
        backbone=ChannelSums(),
        head=dict(type='RegressionHead', in_channels=3, num_joints=1,
                  loss=dict(type='SmoothL1Loss'), decoder=codec),
        test_cfg=dict(flip_test=False),
        data_preprocessor=dict(type='PoseDataPreprocessor', mean=[0, 0, 0],
                               std=[1, 1, 1], bgr_to_rgb=False))
    with torch.no_grad():
        model.head.fc.weight.zero_()
        model.head.fc.weight[0, 0] = GAIN  # x from the blue sum
        model.head.fc.weight[1, 1] = GAIN  # y from the green sum
        model.head.fc.bias.copy_(torch.from_numpy(-GAIN * OFFSET))
    pipeline = [dict(type='LoadImage'), dict(type='GetBBoxCenterScale'),
                dict(type='TopdownAffine', input_size=(INPUT_W, INPUT_H)),
                dict(type='PackPoseInputs')]
    model.cfg = Config(dict(test_dataloader=dict(dataset=dict(pipeline=pipeline))))
    model.dataset_meta = dict(dataset_name='one_point', num_keypoints=1,
                              flip_indices=[0])
    return model.eval()


def expected_keypoint(matrix: np.ndarray) -> np.ndarray:
    """Keypoint 0 in image pixels when the crop is warped with ``matrix``."""
    crop = cv2.warpAffine(cv2.imread(str(IMAGE)), matrix, (INPUT_W, INPUT_H),
                          flags=cv2.INTER_LINEAR)
    sums = crop.reshape(-1, 3).sum(0)[:2].astype(np.float64)
    in_crop = GAIN * (sums - OFFSET) * [INPUT_W, INPUT_H]  # crop pixels
    return in_crop / [INPUT_W, INPUT_H] * SCALE + CENTER - SCALE / 2


def test_warp_matrix_is_solved_from_float32_points():
    center, scale = np.float32([CENTER]), np.float32([SCALE])
    matrix = get_warp_matrix(center[0], scale[0], 0., (INPUT_W, INPUT_H))
    np.testing.assert_array_equal(matrix, cv2.getAffineTransform(SRC, DST))
    np.testing.assert_array_equal(
        get_warp_matrix(center[0], scale[0], 0., (INPUT_W, INPUT_H), inv=True),
        cv2.getAffineTransform(DST, SRC))


def test_inference_topdown_crops_with_the_float32_point_matrix():
    by_hand = cv2.getAffineTransform(SRC, DST)
    # the same map in closed form (float64 centre and zoom) differs in
    # the last bits, and that changes the crop of this box
    zoom = INPUT_W / np.float64(SCALE[0])
    closed_form = np.array(
        [[zoom, 0, INPUT_W / 2 - zoom * np.float64(CENTER[0])],
         [0, zoom, INPUT_H / 2 - zoom * np.float64(CENTER[1])]])
    assert np.abs(closed_form - by_hand).max() < 1e-4
    expected = expected_keypoint(by_hand)
    other = expected_keypoint(closed_form)
    # the two crops' sums differ by a grey level or more
    assert np.abs(expected - other).max() > 0.3

    result = inference_topdown(crop_sum_model(), str(IMAGE), BOX)[0]
    keypoint = result.pred_instances.keypoints[0, 0]
    # the sums and the head are exact in float32 (integers below 2 ** 24,
    # times a power of two); decoding to image pixels in float32 rounds
    # values near 400 px to 3e-5 px a step: far below one grey level
    np.testing.assert_allclose(keypoint, expected, rtol=0, atol=1e-3)
