"""PoseInferencer: images, folders, globs and videos in; poses, pictures and JSON out.

MMPose's ``MMPoseInferencer`` for 2D models, without mmdet: top-down models
get their boxes from a COCO-format JSON file, from a detector (a callable,
or the config and weights of a one-stage pose model such as RTMO: see
:mod:`posekit.apis.model_detector`), or (none of these, or nothing found)
one box covering the whole frame. All boxes of a frame run as one batch;
with ``batch_size=N`` the boxes of up to N consecutive frames do (same
results up to float rounding), while a background thread decodes the next
frames. Bottom-up models (AE, DEKR, CID) and one-stage models (RTMO,
YOLOX-Pose) find the people themselves (one-stage models give a box per
person too); they run one frame per batch, as their inputs may differ in
size, with the same read-ahead.
The network runs in PyTorch or in onnxruntime (a file written by ``posekit
export``, or a checkpoint exported on first use and cached); pre- and
post-processing are the same.

Outputs (both optional):

* ``vis_out_dir``: drawn images under the input's file name; a video becomes
  ``vis_out_dir/<video name>.mp4`` (mp4v, the input's frame rate);
* ``pred_out_dir``: per image ``<stem>.json``, a list of instances
  ``{"keypoints": [[x, y], ...], "keypoint_scores": [...], "bbox": [x1, y1,
  x2, y2], "bbox_score": s}`` in image pixels; per video one ``<stem>.json``,
  a list of ``{"frame_id": i, "instances": [...]}``.

Inputs that cannot be read (a truncated image, a video OpenCV cannot open, a
frame that does not decode) are skipped, each with a warning, and the run
goes on; at the end one warning sums them up and ``inferencer.skipped``
lists them (``posekit infer`` then exits with status 1). Degenerate boxes
are dropped with a warning (see :mod:`posekit.apis.boxes`), those a
one-stage model predicts included, and with them its boxes under one pixel
wide or high: no person of the image fits there (a 1x1 image, upscaled to
the network input, gives nothing else).
"""
from __future__ import annotations

import os
import warnings
from typing import Iterator, Sequence

import cv2
import numpy as np
import torch

from posekit.datasets.media_files import expand_inputs
from posekit.engine.logging import ProgressBar
from posekit.fileio import write_image, write_json
from posekit.structures import PoseDataSample
from .backends import BACKENDS, init_pose_model
from .batching import check_batch_size, merge_frame_samples, topdown_batches
from .boxes import BoxFile, Detector, detect, drop_degenerate, select_boxes
from .detector import is_detector_name, resolve_detector
from .inference import check_input_size, inference_bottomup, inference_topdown
from .model_detector import gives_boxes, load_detector
from .sources import (Frame, Skipped, SkippedInputWarning, VideoWriter, count_frames,
                      iter_frames, summarize_skipped)
from .zoo import is_model_name, model_info, resolve_model


class PoseInferencer:
    """Run a 2D pose model over images and videos.

    Args:
        pose2d (str): The model's config file, or a model name, config name
            or alias of MMPose's zoo (``'human'``; :mod:`posekit.apis.zoo`).
        pose2d_weights (str, optional): Its checkpoint (``.pth``; for a zoo
            name, None means the zoo's weights URL), or with
            ``backend='onnxruntime'`` the ``.onnx`` file from ``posekit export``
            (a checkpoint there is exported once and cached).
        device (str, optional): ``'cpu'``, ``'cuda'`` or ``'cuda:N'``;
            default CUDA when available.
        backend (str): ``'pytorch'`` or ``'onnxruntime'``.
        det_model (callable | str, optional): A detector for top-down models:
            a callable (BGR image -> ``(N, 4|5|6)`` xyxy boxes, scores,
            category ids), ``'package.module:function'``, the config file
            of an RTMDet / YOLOX detector or of a one-stage pose model (RTMO,
            YOLOX-Pose), or a detector name (``'human'``, a config stem of
            ``configs/mmdetection_cfg/``), run on ``device``. None with a zoo
            name as ``pose2d``: the index's detector for it, as in MMPose.
        det_weights (str, optional): That config's checkpoint (or ``.onnx``
            file, run in onnxruntime); for a name, None means its weights URL.
        det_cat_ids (Sequence[int], optional): Keep only boxes of these
            category ids (boxes without one are kept; a one-stage model's
            person boxes are category 0). Default: the index's for a named
            detector, else all.
        show_progress (bool): A progress bar on a terminal.
        cfg_options (dict, optional): Config overrides, e.g.
            ``{'model.test_cfg.flip_test': False}``.
        num_threads (int, optional): CPU threads (torch, or onnxruntime's
            intra-op threads).
        precision (str): The PyTorch network's: ``'fp32'`` (BatchNorms
            folded into the convolutions: same results, faster) or
            ``'bf16'`` (bfloat16 autocast: 2-3x faster on CPUs with
            AVX512-BF16 or AMX, float32 elsewhere; see
            :func:`~posekit.apis.optimize.optimize_for_inference`). The
            model (``self.model``) is then for inference only. With
            ``backend='onnxruntime'``: the file's, ``'fp32'`` or ``'int8'``
            (from ``posekit export --quantize int8``).
        compile (bool): ``torch.compile`` the network (opt-in: needs a C++
            compiler; each batch-size bucket compiles on first use).
        batch_size (int): Frames whose boxes a top-down model runs as one
            network batch (a call's ``batch_size`` overrides it); the frame
            reader decodes up to ``2 * batch_size`` frames ahead in a
            background thread. Results are yielded in input order as each
            batch finishes.

    Attributes:
        skipped (list[Skipped]): The files (and video frames) the last call
            could not read and skipped, in input order; filled as it runs.
    """

    def __init__(self, pose2d: str, pose2d_weights: str | None = None,
                 device: str | None = None, backend: str = 'pytorch',
                 det_model: Detector | str | None = None,
                 det_weights: str | None = None,
                 det_cat_ids: Sequence[int] | int | None = None,
                 show_progress: bool = False, cfg_options: dict | None = None,
                 num_threads: int | None = None, precision: str = 'fp32',
                 batch_size: int = 1, compile: bool = False) -> None:  # noqa: A002
        self.batch_size = check_batch_size(batch_size)
        if backend not in BACKENDS:
            raise ValueError(f'backend must be one of {BACKENDS}, got {backend!r}')
        zoo_detector = None
        if is_model_name(pose2d):  # MMPose's zoo: 'human', 'vitpose-b', a model name
            zoo_detector = model_info(pose2d).get('detector')
            pose2d, zoo_weights = resolve_model(pose2d)
            if pose2d_weights is None:
                pose2d_weights = zoo_weights
        elif isinstance(pose2d, str) and not pose2d.endswith('.py') \
                and not os.path.isfile(pose2d):
            model_info(pose2d)  # not a file, not a zoo name: ValueError, close names
        if backend == 'pytorch' and pose2d_weights is None:
            warnings.warn('PoseInferencer: no pose2d_weights given: the model has '
                          'random weights', stacklevel=2)
        if backend == 'onnxruntime' and not pose2d_weights:
            raise ValueError("backend='onnxruntime' needs pose2d_weights: the .onnx "
                             'file written by posekit export, or a checkpoint to export')
        device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
        self.model = init_pose_model(pose2d, pose2d_weights, backend, device,
                                     cfg_options, num_threads, precision, compile)
        self.cfg = self.model.cfg
        test_cfg = getattr(self.model, 'test_cfg', None)
        self._config_heatmaps = isinstance(test_cfg, dict) and bool(
            test_cfg.get('output_heatmaps', False))
        self.data_mode = self.cfg.get('data_mode', 'topdown')
        if self.data_mode == 'bottomup':
            self._check_bottomup(pose2d, det_model, det_weights, det_cat_ids)
        from_zoo = None
        if self.data_mode != 'bottomup' and det_model is None and zoo_detector:
            det_model = from_zoo = _zoo_detector(zoo_detector)  # its alias, or None
        if is_detector_name(det_model):
            det_model, det_weights, cat_ids = resolve_detector(det_model, det_weights)
            det_cat_ids = cat_ids if det_cat_ids is None else det_cat_ids
        if det_model is None and det_weights is not None:
            raise ValueError('det_weights given without det_model (its config)')
        self.detector, self._pending_detector = None, None
        self._said_whole_image = False   # the no-boxes warning, once
        if from_zoo is not None:
            # the index's detector loads (its weights download) at the first
            # call that needs boxes: a run with bboxes fetches nothing
            self._pending_detector = (det_model, det_weights, device, num_threads)
        elif det_model is not None:
            self.detector = load_detector(det_model, det_weights, device, num_threads)
        # a one-stage head's own thresholds: what bbox_thr / nms_thr=None mean
        self._config_thr = {k: test_cfg.get(k) for k in ('score_thr', 'nms_thr')} \
            if gives_boxes(self.model) else None
        if isinstance(det_cat_ids, int):
            det_cat_ids = [det_cat_ids]
        self.det_cat_ids = None if det_cat_ids is None else [int(c) for c in det_cat_ids]
        self.show_progress = show_progress
        self.visualizer = self._build_visualizer()
        self.skipped: list[Skipped] = []

    def _check_bottomup(self, pose2d, det_model, det_weights, det_cat_ids) -> None:
        """A bottom-up model finds the people itself: no detector settings;
        a one-stage model's input size must suit its strides."""
        for name, value in (('det_model', det_model), ('det_weights', det_weights),
                            ('det_cat_ids', det_cat_ids)):
            if value is not None:
                raise ValueError(f'{name}: {pose2d} is a bottom-up model; it needs '
                                 'no person detector')
        check_input_size(self.model)

    def _build_visualizer(self):
        from posekit.registry import VISUALIZERS
        cfg = dict(self.cfg.get('visualizer') or dict(type='PoseLocalVisualizer'))
        # Inference pictures go to vis_out_dir, not to the training backends.
        for key in ('vis_backends', 'save_dir'):
            cfg.pop(key, None)
        cfg['name'] = 'inferencer'
        visualizer = VISUALIZERS.build(cfg)
        visualizer.set_dataset_meta(self.model.dataset_meta)
        return visualizer

    def __call__(self, inputs, *, bboxes: str | os.PathLike | None = None,
                 bbox_thr: float | None = None, nms_thr: float | None = None,
                 vis_out_dir: str = '', pred_out_dir: str = '',
                 return_vis: bool = False, show: bool = False, wait_time: float = 0,
                 draw_bbox: bool = False, draw_heatmap: bool = False,
                 radius: int = 3, thickness: int = 1, kpt_thr: float = 0.3,
                 skeleton_style: str = 'mmpose', black_background: bool = False,
                 return_datasamples: bool = False,
                 batch_size: int | None = None) -> Iterator[dict]:
        """Yield one result per image or video frame, as it is computed.

        Args:
            inputs: An image or video file, a folder, a glob pattern, a BGR
                image array, or a list of these.
            bboxes (str, optional): A COCO-format JSON file of boxes (see
                :class:`posekit.apis.boxes.BoxFile`); overrides ``det_model``.
                Top-down models only.
            bbox_thr (float, optional): Boxes scoring at most this are
                dropped (default 0.3). For a one-stage model it sets the
                head's ``score_thr`` (default: the config's), as MMPose does.
            nms_thr (float, optional): IoU above which overlapping boxes are
                suppressed, 1 turns NMS off (default 0.3). For a one-stage
                model it sets the head's ``nms_thr`` (default: the config's).
            vis_out_dir, pred_out_dir (str): Where drawn pictures / JSON go
                (see the module docstring); '' writes nothing.
            return_vis (bool): Put the drawn RGB picture in the result.
            show (bool): Show each picture in a window (needs a display).
            draw_bbox, draw_heatmap, radius, thickness, kpt_thr,
            skeleton_style, black_background: How pictures are drawn;
                ``draw_heatmap`` makes the model output heatmaps;
                ``skeleton_style='openpose'`` draws COCO (-WholeBody)
                keypoints in OpenPose's order, colours and limbs.
            return_datasamples (bool): Predictions as the merged
                :class:`PoseDataSample` instead of a list of dicts.
            batch_size (int, optional): This call's; None: the constructor's.

        Yields:
            dict: ``predictions`` (one frame's instances), ``visualization``
            (the RGB picture or None), ``name`` and ``frame_id``. Nothing for
            the inputs that cannot be read: see ``skipped``.
        """
        batch_size = self.batch_size if batch_size is None else check_batch_size(batch_size)
        if bboxes and self.data_mode == 'bottomup':
            raise ValueError(f'bboxes {bboxes}: a bottom-up model finds the people itself')
        bbox_thr, nms_thr = self._set_thresholds(bbox_thr, nms_thr)
        boxes_of = BoxFile(bboxes) if bboxes else None
        if boxes_of is None and self._pending_detector is not None:
            self.detector = load_detector(*self._pending_detector)
            self._pending_detector = None
        if self.data_mode != 'bottomup' and boxes_of is None and self.detector is None \
                and not self._said_whole_image:
            warnings.warn('PoseInferencer: a top-down model with no det_model and no '
                          'bboxes: each image is one box covering all of it', stacklevel=2)
            self._said_whole_image = True
        items = expand_inputs(inputs)
        self._set_output_heatmaps(draw_heatmap)
        draw = bool(vis_out_dir or return_vis or show)
        self.visualizer.radius, self.visualizer.line_width = radius, thickness
        if draw:   # OpenPose's style has its own keypoint order and colours
            self.visualizer.set_dataset_meta(self.model.dataset_meta, skeleton_style)
        bar = ProgressBar(count_frames(items), 'inference', enabled=self.show_progress)
        bar_skipped = 0
        videos: dict[str, VideoWriter] = {}
        video_preds: dict[str, list] = {}
        self.skipped = skipped = []
        frames = iter_frames(items, skipped, prefetch=2 * batch_size)
        if self.data_mode == 'bottomup':
            predicted = ((f, self._predict(f, boxes_of, bbox_thr, nms_thr)) for f in frames)
        else:
            predicted = topdown_batches(self.model, frames, batch_size, lambda f:
                                        self._boxes(f, boxes_of, bbox_thr, nms_thr))
        try:
            for frame, sample in predicted:
                picture = None
                if draw:
                    picture = self._draw(frame, sample, draw_bbox, draw_heatmap, kpt_thr,
                                         skeleton_style, black_background, show, wait_time)
                    if vis_out_dir:
                        self._save_picture(frame, picture, vis_out_dir, videos)
                instances = instances_to_list(sample)
                if pred_out_dir:
                    if frame.video is None:
                        write_json(os.path.join(pred_out_dir, _stem(frame.name) + '.json'),
                                    instances)
                    else:
                        video_preds.setdefault(frame.video, []).append(
                            dict(frame_id=frame.frame_id, instances=instances))
                bar.update(1 + len(skipped) - bar_skipped)
                bar_skipped = len(skipped)
                yield dict(predictions=sample if return_datasamples else instances,
                           visualization=picture if return_vis else None,
                           name=frame.name, frame_id=frame.frame_id)
        finally:
            frames.close()  # stops the reader thread now, not at garbage collection
            for writer in videos.values():
                writer.close()
            for video, records in video_preds.items():
                name = _stem(os.path.basename(video)) + '.json'
                write_json(os.path.join(pred_out_dir, name), records)
        if skipped:
            warnings.warn(f'PoseInferencer: {summarize_skipped(skipped)}; the other '
                          'inputs ran', SkippedInputWarning)

    # ------------------------------------------------------------------
    def _set_thresholds(self, bbox_thr: float | None, nms_thr: float | None) -> tuple:
        """The thresholds of this call; a one-stage head's go in its test_cfg
        (None: the config's own), other bottom-up models take none."""
        if self._config_thr is not None:
            for key, value in (('score_thr', bbox_thr), ('nms_thr', nms_thr)):
                value = self._config_thr[key] if value is None else float(value)
                if value is None:
                    self.model.test_cfg.pop(key, None)  # the head's default
                else:
                    self.model.test_cfg[key] = value
        elif self.data_mode == 'bottomup' and (bbox_thr, nms_thr) != (None, None):
            raise ValueError('bbox_thr / nms_thr: this bottom-up model gives no boxes')
        return (0.3 if bbox_thr is None else bbox_thr,
                0.3 if nms_thr is None else nms_thr)

    def _set_output_heatmaps(self, on: bool) -> None:
        """Heatmaps when drawn, or when the config asks for them anyway."""
        if on and self._config_thr is not None:
            raise ValueError('draw_heatmap: a one-stage model (boxes and keypoints per '
                             'cell) gives no heatmaps')
        test_cfg = getattr(self.model, 'test_cfg', None)
        if not isinstance(test_cfg, dict):
            if on:
                raise ValueError('draw_heatmap: this model has no test_cfg to ask for heatmaps')
            return
        test_cfg['output_heatmaps'] = self._config_heatmaps or bool(on)

    def _predict(self, frame: Frame, boxes_of: BoxFile | None, bbox_thr: float,
                 nms_thr: float) -> PoseDataSample:
        if self.data_mode == 'bottomup':
            sample = inference_bottomup(self.model, frame.image)[0]
            pred = sample.pred_instances
            if 'bboxes' in pred and len(pred):
                keep = drop_degenerate(pred.bboxes, frame.image.shape,
                                       f'{type(self.model).__name__} (image {frame.name})',
                                       pred.bbox_scores, min_size=1.)
                if len(keep) < len(pred):
                    sample.pred_instances = pred[keep]
            return sample
        rows = self._boxes(frame, boxes_of, bbox_thr, nms_thr)
        samples = inference_topdown(self.model, frame.image, rows[:, :4])
        return merge_frame_samples(frame, samples, rows)

    def _boxes(self, frame: Frame, boxes_of: BoxFile | None, bbox_thr: float,
               nms_thr: float) -> np.ndarray:
        """A top-down model's ``(N, 6)`` boxes of ``frame`` (N = 0: the whole image)."""
        if boxes_of is not None:
            rows = boxes_of(frame)
        elif self.detector is not None:
            rows = detect(self.detector, frame.image, frame.name)
        else:
            rows = np.zeros((0, 6), dtype=np.float32)
        return select_boxes(rows, bbox_thr, nms_thr, self.det_cat_ids)

    def _draw(self, frame: Frame, sample: PoseDataSample, draw_bbox: bool,
              draw_heatmap: bool, kpt_thr: float, skeleton_style: str,
              black_background: bool, show: bool, wait_time: float) -> np.ndarray:
        image = cv2.cvtColor(frame.image, cv2.COLOR_BGR2RGB)
        if black_background:
            image = np.zeros_like(image)
        # a video keeps playing while shown
        wait = 1e-3 if frame.video is not None else wait_time
        return self.visualizer.add_datasample(
            frame.name, image, sample, draw_gt=False, draw_pred=True,
            draw_heatmap=draw_heatmap, draw_bbox=draw_bbox, skeleton_style=skeleton_style,
            show=show, wait_time=wait, kpt_thr=kpt_thr)

    @staticmethod
    def _save_picture(frame: Frame, picture: np.ndarray, out_dir: str,
                      videos: dict[str, VideoWriter]) -> None:
        bgr = cv2.cvtColor(picture, cv2.COLOR_RGB2BGR)
        if frame.video is None:
            write_image(os.path.join(out_dir, frame.name), bgr)
            return
        if frame.video not in videos:
            path = os.path.join(out_dir, _stem(frame.name) + '.mp4')
            videos[frame.video] = VideoWriter(path, frame.fps)
        videos[frame.video].write(bgr)


def _zoo_detector(record: dict) -> str | None:
    """The index's detector of a zoo model by alias, or None (with a
    warning) when MMPose publishes no weights for it."""
    if record.get('weights'):
        return record['alias']
    warnings.warn(f"PoseInferencer: MMPose's index pairs this model with the detector "
                  f"{record['config']!r}, which has no weights there; give det_model "
                  '(and det_weights) or bboxes, else each image is one box', stacklevel=3)
    return None


def instances_to_list(sample: PoseDataSample) -> list[dict]:
    """JSON-ready instances of a merged sample: keypoints, scores, box, box score."""
    if 'pred_instances' not in sample:
        return []
    pred = sample.pred_instances
    out = []
    for i in range(len(pred.keypoints)):
        inst = dict(keypoints=np.asarray(pred.keypoints[i]).tolist(),
                    keypoint_scores=np.asarray(pred.keypoint_scores[i]).tolist())
        if 'bboxes' in pred:
            inst['bbox'] = np.asarray(pred.bboxes[i]).tolist()
            if 'bbox_scores' in pred:
                inst['bbox_score'] = float(pred.bbox_scores[i])
        out.append(inst)
    return out


def _stem(name: str) -> str:
    return os.path.splitext(name)[0]
