"""Pose3DInferencer: 2D poses per frame, tracked, lifted to 3D over the video.

MMPose's ``Pose3DInferencer`` (and its ``body3d_pose_lifter_demo``): a 2D
model (a :class:`PoseInferencer`) finds the people of each frame; they are
tracked from frame to frame (box IoU or OKS, :mod:`.tracking`); their
keypoints are converted to the lifter's dataset
(:func:`convert_keypoint_definition`); each frame's people are lifted from
the sequence of frames around it (:func:`inference_pose_lifter_model`).

The 3D keypoints are turned as MMPose's inferencer turns them for display:
from the lifter's camera axes (x right, y down, z forward) to
``(-x, z, -y)`` (z up), and, unless ``disable_rebase_keypoint``, each
person's lowest joint is moved to z = 0.

Differences from MMPose, on purpose:

- a video is read once for 2D, then lifted with the frames on both sides of
  each frame (MMPose's inferencer lifts online, repeating the current frame
  in place of the future ones), then read again to draw;
- tracking compares each frame with the previous one, as MMPose's demo
  (its inferencer never keeps the previous frame, so ids change each frame);
- people dropped by tracking (under 3 keypoints, ``track_id`` -1) are not
  lifted;
- ``norm_pose_2d`` is off by default, as in :func:`inference_pose_lifter_model`.

Outputs: ``pred_out_dir``: per image ``<stem>.json``, a list of instances
``{"track_id": i, "keypoints": [[x, y, z], ...], "keypoint_scores": [...]}``
(lifter units, e.g. metres); per video one ``<stem>.json``, a list of
``{"frame_id": i, "instances": [...]}``. ``vis_out_dir``: pictures of
:class:`~posekit.visualization.Pose3dLocalVisualizer` (the 2D detection and
the 3D poses side by side), a video as ``<stem>.mp4``.
"""
from __future__ import annotations

import os
import warnings
from typing import Iterator, Sequence

import cv2
import numpy as np
import torch

from posekit.datasets.media_files import expand_inputs
from posekit.fileio import write_json
from posekit.registry import VISUALIZERS
from posekit.structures import InstanceData, PoseDataSample, merge_data_samples
from posekit.visualization import to_display_axes
from .boxes import BoxFile
from .inference import init_model
from .inference_3d import (convert_keypoint_definition, extract_pose_sequence,
                           inference_pose_lifter_model)
from .inferencer import PoseInferencer, _stem
from .onnx_backend import init_onnx_model
from .sources import SkippedInputWarning, VideoWriter, iter_frames, summarize_skipped
from .tracking import assign_track_ids
from .zoo import resolve_model


class Pose3DInferencer:
    """Run a 2D pose model and a pose lifter over images and videos.

    Args:
        pose3d (str): The lifter's config file (a ``PoseLifter``), or a
            model name or alias of the zoo (``'human3d'``: MotionBERT).
        pose3d_weights (str, optional): Its checkpoint (``.pth``), or the
            ``.onnx`` file of ``posekit export`` (run in ONNX Runtime).
        pose2d (str): The 2D model's config file (top-down, bottom-up or
            one-stage; see :class:`PoseInferencer`).
        pose2d_weights (str, optional): Its checkpoint (or ``.onnx`` file).
        backend (str): The 2D model's: ``'pytorch'`` or ``'onnxruntime'``
            (the lifter runs where its weights say: an ``.onnx`` file in
            ONNX Runtime).
        device (str, optional): ``'cpu'``, ``'cuda'`` or ``'cuda:N'``;
            default CUDA when available.
        det_model, det_weights, det_cat_ids: The 2D model's person
            detector, as :class:`PoseInferencer`.
        cfg_options (dict, optional): Overrides of the lifter's config.
        num_threads (int, optional): CPU threads.
        precision (str): The 2D model's network precision, as
            :class:`PoseInferencer`'s.

    Attributes:
        skipped (list[Skipped]): Inputs the last call could not read.
    """

    def __init__(self, pose3d: str, pose3d_weights: str | None = None, *, pose2d: str,
                 pose2d_weights: str | None = None, device: str | None = None,
                 backend: str = 'pytorch', det_model=None, det_weights: str | None = None,
                 det_cat_ids: Sequence[int] | int | None = None,
                 cfg_options: dict | None = None, num_threads: int | None = None,
                 precision: str = 'fp32') -> None:
        self.pose2d = PoseInferencer(pose2d, pose2d_weights, device=device,
                                     backend=backend, det_model=det_model, det_weights=det_weights,
                                     det_cat_ids=det_cat_ids, num_threads=num_threads,
                                     precision=precision)
        # a zoo name ('human3d', a model name): its config and weights URL
        pose3d, pose3d_weights = resolve_model(pose3d, pose3d_weights)
        if pose3d_weights is None:
            warnings.warn('Pose3DInferencer: no pose3d_weights given: the lifter has '
                          'random weights', stacklevel=2)
        device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
        if str(pose3d_weights or '').lower().endswith('.onnx'):   # posekit export's
            self.model = init_onnx_model(pose3d, pose3d_weights, device, cfg_options,
                                         num_threads=num_threads)
        else:
            self.model = init_model(pose3d, pose3d_weights, device, cfg_options)
        kind = type(getattr(self.model, 'estimator', self.model)).__name__
        if kind != 'PoseLifter':
            raise ValueError(f'pose3d {pose3d}: expected a PoseLifter config, got a {kind}')
        dataset = self.model.cfg.test_dataloader.dataset
        self.causal = bool(dataset.get('causal', False))
        self.seq_len = int(dataset.get('seq_len', 1))
        self.seq_step = int(dataset.get('seq_step', 1))
        self.dataset_2d = self.pose2d.model.dataset_meta['dataset_name']
        self.dataset_3d = self.model.dataset_meta['dataset_name']
        num_2d = len(self.pose2d.model.dataset_meta['keypoint_id2name'])
        # fail now, not after the 2D pass, when the keypoints cannot be converted
        convert_keypoint_definition(np.zeros((1, num_2d, 2)), self.dataset_2d,
                                    self.dataset_3d)
        self.visualizer = self._build_visualizer()
        self.skipped: list = []

    def _build_visualizer(self):
        cfg = dict(self.model.cfg.get('visualizer') or dict(type='Pose3dLocalVisualizer'))
        for key in ('vis_backends', 'save_dir'):
            cfg.pop(key, None)
        cfg['name'] = 'inferencer3d'
        visualizer = VISUALIZERS.build(cfg)
        visualizer.set_dataset_meta(self.model.dataset_meta)
        vis2d = self.pose2d.visualizer
        visualizer.det_kpt_color = vis2d.kpt_color
        visualizer.det_dataset_skeleton = vis2d.skeleton
        visualizer.det_dataset_link_color = vis2d.link_color
        return visualizer

    def __call__(self, inputs, *, bboxes: str | os.PathLike | None = None,
                 bbox_thr: float | None = None, nms_thr: float | None = None,
                 use_oks_tracking: bool = False, tracking_thr: float = 0.3,
                 norm_pose_2d: bool = False, disable_rebase_keypoint: bool = False,
                 vis_out_dir: str = '', pred_out_dir: str = '', return_vis: bool = False,
                 show: bool = False, wait_time: float = 0, draw_bbox: bool = False,
                 radius: int = 3, thickness: int = 1, kpt_thr: float = 0.3,
                 num_instances: int = 1) -> Iterator[dict]:
        """Yield one result per image or video frame (a video's after its
        whole 2D pass).

        Args:
            inputs, bboxes, bbox_thr, nms_thr: As :class:`PoseInferencer`.
            use_oks_tracking (bool): Track by OKS (else box IoU).
            tracking_thr (float): A match needs a score above it.
            norm_pose_2d (bool): See :func:`inference_pose_lifter_model`.
            disable_rebase_keypoint (bool): Keep the lifter's heights.
            vis_out_dir, pred_out_dir (str): See the module docstring.
            return_vis, show, wait_time, draw_bbox, radius, thickness,
            kpt_thr: As :class:`PoseInferencer`.
            num_instances (int): 3D panels drawn (< 0: every person).

        Yields:
            dict: ``predictions`` (list of instance dicts, or the merged 3D
            :class:`PoseDataSample` under ``data_sample``), ``predictions_2d``
            (the merged 2D sample), ``visualization`` (RGB or None),
            ``name`` and ``frame_id``.
        """
        bbox_thr, nms_thr = self.pose2d._set_thresholds(bbox_thr, nms_thr)
        boxes_of = BoxFile(bboxes) if bboxes else None
        draw = bool(vis_out_dir or return_vis or show)
        self.visualizer.radius, self.visualizer.line_width = radius, thickness
        options = dict(use_oks=use_oks_tracking, thr=tracking_thr, norm=norm_pose_2d,
                       rebase=not disable_rebase_keypoint)
        self.skipped = []
        for item in expand_inputs(inputs):
            yield from self._run_item(item, boxes_of, bbox_thr, nms_thr, options, draw,
                                      vis_out_dir, pred_out_dir, return_vis, show,
                                      wait_time, draw_bbox, kpt_thr, num_instances)
        if self.skipped:
            warnings.warn(f'Pose3DInferencer: {summarize_skipped(self.skipped)}; the '
                          'other inputs ran', SkippedInputWarning)

    def _run_item(self, item, boxes_of, bbox_thr, nms_thr, options, draw, vis_out_dir,
                  pred_out_dir, return_vis, show, wait_time, draw_bbox, kpt_thr,
                  num_instances) -> Iterator[dict]:
        """One image or one video: 2D pass, lifting, then drawing pass."""
        samples_2d, images, shape = [], [], None
        for frame in iter_frames([item], self.skipped):
            samples_2d.append(self.pose2d._predict(frame, boxes_of, bbox_thr, nms_thr))
            shape = frame.image.shape[:2]
            if frame.video is None:
                images.append(frame)  # a video is read again to draw, not kept
        if not samples_2d:
            return
        samples_3d = self.lift(samples_2d, shape, **options)
        frames = iter(images) if images else iter_frames([item])
        videos: dict[str, VideoWriter] = {}
        records: dict[str, list] = {}
        try:
            for frame, s2d, s3d in zip(frames, samples_2d, samples_3d):
                picture = None
                if draw:
                    picture = self.visualizer.add_datasample(
                        frame.name, cv2.cvtColor(frame.image, cv2.COLOR_BGR2RGB), s3d,
                        det_data_sample=s2d, draw_gt=False, draw_bbox=draw_bbox,
                        dataset_2d=self.dataset_2d, dataset_3d=self.dataset_3d,
                        kpt_thr=kpt_thr, num_instances=num_instances, show=show,
                        wait_time=1e-3 if frame.video is not None else wait_time)
                    if vis_out_dir:
                        PoseInferencer._save_picture(frame, picture, vis_out_dir, videos)
                instances = instances_3d_to_list(s3d)
                if pred_out_dir and frame.video is None:
                    write_json(os.path.join(pred_out_dir, _stem(frame.name) + '.json'),
                               instances)
                elif pred_out_dir:
                    records.setdefault(frame.video, []).append(
                        dict(frame_id=frame.frame_id, instances=instances))
                yield dict(predictions=instances, data_sample=s3d, predictions_2d=s2d,
                           visualization=picture if return_vis else None,
                           name=frame.name, frame_id=frame.frame_id)
        finally:
            for writer in videos.values():
                writer.close()
            for video, rows in records.items():
                write_json(os.path.join(pred_out_dir, _stem(os.path.basename(video))
                                        + '.json'), rows)

    def lift(self, samples_2d: Sequence[PoseDataSample], image_hw: tuple[int, int],
             use_oks: bool = False, thr: float = 0.3, norm: bool = False,
             rebase: bool = True) -> list[PoseDataSample]:
        """Track the people of consecutive frames and lift them.

        Args:
            samples_2d (list[PoseDataSample]): Merged 2D predictions, one per
                frame (``keypoints (N, K, 2)``, ``keypoint_scores``,
                ``bboxes (N, 4)``); each gets ``pred_instances.track_ids``.
            image_hw (tuple[int, int]): Frame (height, width) in pixels.
            use_oks, thr: Tracking (see :func:`assign_track_ids`).
            norm (bool): ``norm_pose_2d``.
            rebase (bool): Put each person's lowest joint at z = 0.

        Returns:
            list[PoseDataSample]: Per frame, the merged 3D sample:
            ``keypoints (N, K3, 3)`` (z up), ``keypoint_scores (N, K3)`` and
            ``track_ids (N,)``, sorted by track id.
        """
        people, last, next_id = [], [], 0
        for sample in samples_2d:
            frame_people = split_people(sample)
            next_id = assign_track_ids(frame_people, last, next_id, use_oks, thr)
            if 'pred_instances' in sample:
                sample.pred_instances.track_ids = np.array(
                    [p.track_id for p in frame_people], dtype=np.int64)
            last = frame_people
            people.append([self._converted(p) for p in frame_people if p.track_id >= 0])
        height, width = image_hw
        out = []
        for t in range(len(people)):
            seq = extract_pose_sequence(people, t, self.causal, self.seq_len, self.seq_step)
            results = inference_pose_lifter_model(self.model, seq, True, (width, height), norm)
            for res, person in zip(results, people[t]):
                res.pred_instances = _to_display_axes(res.pred_instances, rebase)
                res.pred_instances.track_ids = np.array([person.track_id])
            results.sort(key=lambda r: int(r.pred_instances.track_ids[0]))
            out.append(merge_data_samples(results) if results else _empty_3d())
        return out

    def _converted(self, person: PoseDataSample) -> PoseDataSample:
        copy = PoseDataSample()
        copy.gt_instances = InstanceData()
        copy.pred_instances = person.pred_instances.clone()
        copy.pred_instances.keypoints = convert_keypoint_definition(
            np.asarray(person.pred_instances.keypoints), self.dataset_2d, self.dataset_3d)
        copy.track_id = person.track_id
        return copy


def split_people(sample: PoseDataSample) -> list[PoseDataSample]:
    """One sample per person of a merged 2D sample (``keypoints (1, K, 2)``,
    ``keypoint_scores (1, K)``, ``bboxes (1, 4)``: what tracking reads)."""
    pred = sample.get('pred_instances')
    if pred is None or 'keypoints' not in pred:
        return []
    people = []
    for i in range(len(pred.keypoints)):
        person = PoseDataSample()
        person.gt_instances = InstanceData()
        person.pred_instances = InstanceData(
            keypoints=np.asarray(pred.keypoints[i:i + 1], dtype=np.float32)[..., :2],
            keypoint_scores=np.asarray(pred.keypoint_scores[i:i + 1], dtype=np.float32),
            bboxes=np.asarray(pred.bboxes[i:i + 1], dtype=np.float32))
        people.append(person)
    return people


def _to_display_axes(pred: InstanceData, rebase: bool) -> InstanceData:
    """The instances in display axes (:func:`to_display_axes`), float32."""
    kpts = to_display_axes(pred.keypoints, rebase).astype(np.float32)
    scores = np.asarray(pred.keypoint_scores, dtype=np.float32).reshape(kpts.shape[:2])
    return InstanceData(keypoints=kpts, keypoint_scores=scores)


def _empty_3d() -> PoseDataSample:
    sample = PoseDataSample()
    sample.pred_instances = InstanceData()
    return sample


def instances_3d_to_list(sample: PoseDataSample) -> list[dict]:
    """JSON-ready 3D instances: track id, keypoints (K, 3), scores (K,)."""
    pred = sample.get('pred_instances')
    if pred is None or 'keypoints' not in pred:
        return []
    return [dict(track_id=int(pred.track_ids[i]),
                 keypoints=np.asarray(pred.keypoints[i]).tolist(),
                 keypoint_scores=np.asarray(pred.keypoint_scores[i]).tolist())
            for i in range(len(pred.keypoints))]
