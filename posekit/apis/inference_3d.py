"""Lift 2D pose sequences to 3D with a ``PoseLifter`` (MMPose 1.x's
``extract_pose_sequence``, ``collate_pose_sequence`` and
``inference_pose_lifter_model``, same arguments and results).

Frames are lists of :class:`PoseDataSample`, one per person, each with
``pred_instances.keypoints (1, K, 2)`` in image pixels (x right, y down),
``pred_instances.bboxes (1, 4)`` xyxy pixels (for ``norm_pose_2d``) and a
``track_id`` (for ``with_track_id``). A video is a list of frames.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from posekit.datasets.transforms import Compose
from posekit.engine.dataloader import pseudo_collate
from posekit.structures import PoseDataSample
from posekit.structures.keypoint.definitions import convert_keypoint_definition
from .inference import _test_pipeline

Frame = Sequence[PoseDataSample]

__all__ = ['convert_keypoint_definition', 'extract_pose_sequence',
           'collate_pose_sequence', 'inference_pose_lifter_model']


def extract_pose_sequence(pose_results: Sequence[Frame], frame_idx: int, causal: bool,
                          seq_len: int, step: int = 1) -> list[Frame]:
    """The ``seq_len`` frames around ``frame_idx``, every ``step``-th one,
    padded by repeating the video's first / last frame.

    Args:
        pose_results (list[list[PoseDataSample]]): The video's frames.
        frame_idx (int): The target frame.
        causal (bool): The target is the last frame of the sequence (else
            its middle: ``(seq_len - 1) // 2`` frames on each side).
        seq_len (int): Frames wanted.
        step (int): Frame stride.

    Returns:
        list[list[PoseDataSample]]: The frames (the same objects, not copies);
        ``seq_len`` of them when ``seq_len`` is odd or ``causal``.
    """
    before = seq_len - 1 if causal else (seq_len - 1) // 2
    after = 0 if causal else before
    num = len(pose_results)
    pad_before = max(0, before - frame_idx // step)
    pad_after = max(0, after - (num - 1 - frame_idx) // step)
    # frames on the target's stride grid only, as far as the video reaches
    start = max(frame_idx % step, frame_idx - before * step)
    stop = min(num - (num - 1 - frame_idx) % step, frame_idx + after * step + 1)
    return ([pose_results[0]] * pad_before + list(pose_results[start:stop:step])
            + [pose_results[-1]] * pad_after)


def collate_pose_sequence(pose_results_2d: Sequence[Frame], with_track_id: bool = True,
                          target_frame: int = -1) -> list[PoseDataSample]:
    """One sample per person of the target frame, holding that person's
    keypoints over all frames.

    Args:
        pose_results_2d (list[list[PoseDataSample]]): T frames.
        with_track_id (bool): Find the person in the other frames by
            ``track_id``; a frame without it repeats the nearest frame that
            has it, towards the target (so do all frames beyond). Without
            it, person ``i`` of every frame is the same person.
        target_frame (int): Index of the target frame (negative counts from
            the end).

    Returns:
        list[PoseDataSample]: Clones of the target frame's samples with
        ``pred_instances.keypoints`` (1, T, K, C) float32 with track ids,
        else the frames' keypoints stacked on axis 1 (their dtype).
    """
    num_frames = len(pose_results_2d)
    if num_frames == 0:
        raise ValueError('collate_pose_sequence: no frames')
    target = (num_frames + target_frame) % num_frames
    people = pose_results_2d[target]
    sequences = []
    for idx, person in enumerate(people):
        if with_track_id and person.get('track_id') is None:
            raise ValueError('collate_pose_sequence: with_track_id=True needs a track_id '
                             f'on every sample of the target frame; sample {idx} has none '
                             '(track them, e.g. posekit.apis.tracking.assign_track_ids, '
                             'or pass with_track_id=False)')
        seq = PoseDataSample()
        seq.gt_instances = person.gt_instances.clone()
        seq.pred_instances = person.pred_instances.clone()
        if with_track_id:
            keypoints = _track_keypoints(pose_results_2d, target, person.track_id)
        else:
            keypoints = np.stack([frame[idx].pred_instances.keypoints
                                  for frame in pose_results_2d], axis=1)
        seq.pred_instances.set_field(keypoints, 'keypoints')
        sequences.append(seq)
    return sequences


def _track_keypoints(frames: Sequence[Frame], target: int, track_id) -> np.ndarray:
    """(B, T, K, C) float32 keypoints of ``track_id`` (B: the target
    sample's instances, 1), the edges beyond a gap repeating its border."""
    first = next(r for r in frames[target] if r.track_id == track_id)
    b, k, c = first.pred_instances.keypoints.shape
    keypoints = np.zeros((b, len(frames), k, c), dtype=np.float32)
    keypoints[:, target] = first.pred_instances.keypoints
    for direction in (-1, 1):
        t = target + direction
        while 0 <= t < len(frames):
            found = next((r for r in frames[t] if r.track_id == track_id), None)
            if found is None:
                # the track stops here: hold its last pose out to the edge
                edge = slice(0, t + 1) if direction < 0 else slice(t, None)
                keypoints[:, edge] = keypoints[:, t - direction][:, None]
                break
            keypoints[:, t] = found.pred_instances.keypoints
            t += direction
    return keypoints


def _reference_box(model: nn.Module, pose_results_2d: Sequence[Frame]) -> tuple:
    """(centre (1, 2), scale) the 2D poses are moved to: the dataset meta's
    ``stats_info`` box (H36M: centre (528, 427), scale 400 pixels) when it
    has one, else the mean centre and mean longer side of all boxes of all
    frames (a repeated frame counts each time)."""
    stats = (model.dataset_meta or {}).get('stats_info')
    if stats is not None:
        return stats['bbox_center'], stats['bbox_scale']
    boxes = np.array([box for frame in pose_results_2d for sample in frame
                      for box in sample.pred_instances.bboxes], dtype=np.float64)
    if len(boxes) == 0:
        raise ValueError('norm_pose_2d=True needs pred_instances.bboxes in the '
                         '2D results, found none')
    centre = ((boxes[:, :2] + boxes[:, 2:]) / 2).mean(0, keepdims=True)
    return centre, float(np.max(boxes[:, 2:] - boxes[:, :2], axis=1).mean())


def _normalised_copy(sample: PoseDataSample, norm_pose_2d: bool, centre, scale):
    """A copy of ``sample`` keeping x, y only, moved into the reference box
    (its own box's centre to ``centre``, its longer side to ``scale``)."""
    copy = PoseDataSample()
    copy.gt_instances = sample.gt_instances.clone()
    copy.pred_instances = sample.pred_instances.clone()
    copy.track_id = sample.get('track_id')
    keypoints = []
    for i, kpt in enumerate(sample.pred_instances.keypoints):
        kpt = kpt[:, :2]
        if norm_pose_2d:
            box = sample.pred_instances.bboxes[i]
            own_centre = np.array([[(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]])
            own_scale = max(box[2] - box[0], box[3] - box[1])
            kpt = (kpt - own_centre) / own_scale * scale + centre
        keypoints.append(kpt)
    copy.pred_instances.set_field(np.array(keypoints), 'keypoints')
    return copy


def inference_pose_lifter_model(model: nn.Module, pose_results_2d: Sequence[Frame],
                                with_track_id: bool = True,
                                image_size: Sequence[int] | None = None,
                                norm_pose_2d: bool = False) -> list[PoseDataSample]:
    """3D poses of the people of the target frame of a 2D pose sequence.

    The target frame is the last one when the config's test dataset is
    ``causal``, else the middle one (``T // 2``). Each person's sequence goes
    through the config's test pipeline (its codec normalises the 2D input),
    then the model.

    Args:
        model (nn.Module): A ``PoseLifter`` from ``init_model``.
        pose_results_2d (list[list[PoseDataSample]]): T frames, e.g. from
            :func:`extract_pose_sequence`.
        with_track_id (bool): See :func:`collate_pose_sequence`.
        image_size (tuple[int, int], optional): (w, h) pixels, given to the
            codec as ``camera_param`` (``VideoPoseLifting`` needs it to
            normalise pixels to [-1, 1] along x).
        norm_pose_2d (bool): Move each 2D pose with its box (centre and
            longer side) to a reference box: the dataset's ``stats_info``
            box, else the mean box of the input (see :func:`_reference_box`).

    Returns:
        list[PoseDataSample]: One per person of the target frame, in order;
        ``pred_instances.keypoints (1, K, 3)`` and ``keypoint_scores (1, K)``
        as the codec decodes them (H36M: metres, camera axes, root-relative
        when the codec is ``zero_center``). Empty without people.
    """
    pipeline = Compose(_test_pipeline(model.cfg))
    dataset_cfg = model.cfg.test_dataloader.dataset
    causal = dataset_cfg.get('causal', False)
    target = -1 if causal else len(pose_results_2d) // 2
    centre, scale = (_reference_box(model, pose_results_2d) if norm_pose_2d
                     else (None, None))
    frames = [[_normalised_copy(s, norm_pose_2d, centre, scale) for s in frame]
              for frame in pose_results_2d]
    sequences = collate_pose_sequence(frames, with_track_id, target)
    if not sequences:
        return []
    data = []
    for seq in sequences:
        keypoints = seq.pred_instances.keypoints
        if keypoints.ndim == 4:
            keypoints = keypoints[0]
        num_frames, num_kpts, _ = keypoints.shape
        info = dict(keypoints=keypoints,
                    keypoints_visible=np.ones((num_frames, num_kpts), np.float32),
                    lifting_target=np.zeros((1, num_kpts, 3), np.float32),
                    factor=np.zeros((num_frames,), np.float32),
                    lifting_target_visible=np.ones((1, num_kpts, 1), np.float32))
        if image_size is not None:
            if len(image_size) != 2:
                raise ValueError(f'image_size must be (w, h), got {image_size!r}')
            info['camera_param'] = dict(w=image_size[0], h=image_size[1])
        info.update(model.dataset_meta)
        data.append(pipeline(info))
    with torch.no_grad():  # PoseLifter stacks the per-person inputs
        return model.test_step(pseudo_collate(data))
