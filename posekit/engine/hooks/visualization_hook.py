"""PoseVisualizationHook: draw predictions during validation and testing.

Pictures are drawn by the run's visualizer (``runner.visualizer``, a
``PoseLocalVisualizer`` in MMPose configs) with the dataset's meta colours:
predicted keypoints, skeleton links, boxes and, when the model outputs them
(``test_cfg.output_heatmaps``), heatmaps stacked below.

Pose lifting samples (no image; ``pred_instances.keypoints`` (N, K, 3)) are
drawn by a ``Pose3dLocalVisualizer``: a white ``LIFT_PANEL`` x
``LIFT_PANEL`` panel with the sample's 2D input keypoints (the target frame
of ``data_batch['inputs']``), then the predicted and the ground-truth 3D
skeletons. MMPose 1.3.2's hook cannot draw them (it reads the sample's
missing ``img_path`` and passes ``draw_heatmap``, which its 3D visualizer
does not take), so this is posekit's own picture; see
:func:`lifting_picture_sample` for the axes.
"""
from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any, Sequence

import cv2
import numpy as np

from posekit.registry import HOOKS
from posekit.structures import InstanceData, PoseDataSample, merge_data_samples, to_numpy
from posekit.visualization import to_display_axes
from ..dataloader import unwrap_dataset
from ..dist import is_main_process
from .hook import Hook


def _merge(samples: Sequence[Any]) -> Any:
    """The instances (and image-space heatmaps) of one image in one sample."""
    if len(samples) == 1 and 'pred_fields' not in samples[0]:
        return samples[0]
    return merge_data_samples(list(samples))


# side of the 2D input panel and of each 3D panel of a lifting picture, pixels
LIFT_PANEL = 400


def is_lifting(sample: Any) -> bool:
    """A pose-lifting sample: 3D predictions and no image file."""
    pred = sample.get('pred_instances')
    return (sample.metainfo.get('img_path') is None and pred is not None
            and 'keypoints' in pred and np.shape(pred.keypoints)[-1] == 3)


def _one_pose(poses: np.ndarray) -> np.ndarray:
    """(1, K, 3): the pose itself, or the middle frame of a sequence output
    (MotionBERT), the frame :func:`input_canvas` draws."""
    return poses[len(poses) // 2][None]


def lifting_picture_sample(sample: Any) -> PoseDataSample:
    """What the 3D panels show: one predicted and (when the sample has
    ``gt_instances.lifting_target``) one ground-truth pose in display axes
    (:func:`to_display_axes`), each on its own ground."""
    shown = PoseDataSample()
    pred = to_display_axes(sample.pred_instances.keypoints)
    shown.pred_instances = InstanceData(keypoints=_one_pose(pred),
                                        keypoint_scores=np.ones((1, pred.shape[1])))
    gt = sample.get('gt_instances')
    if gt is not None and 'lifting_target' in gt:
        shown.gt_instances = InstanceData(
            lifting_target=_one_pose(to_display_axes(gt.lifting_target)))
    return shown


def input_canvas(inputs: Any, num_keypoints: int, causal: bool
                 ) -> tuple[np.ndarray, PoseDataSample | None]:
    """The white 2D panel and the sample's 2D input keypoints drawn on it.

    The codecs normalise pixels ``p`` of a ``w`` x ``h`` camera image to
    ``(p - (w / 2, h / 2)) / (w / 2)``; the panel is that image with its
    width scaled to ``LIFT_PANEL``, centred: ``(n + 1) * LIFT_PANEL / 2``
    (exact in x; in y when ``h == w``). Inputs standardised otherwise
    (``ImagePoseLifting``'s ``keypoints_mean``) are drawn the same way.

    Args:
        inputs: one sample's model input: ``(K * D, T)`` (``reshape_keypoints``)
            or ``(T, K, D)``, D = 2 (3 with ``concat_vis``).
        num_keypoints (int): K.
        causal (bool): Draw the last frame (the causal target) instead of
            the middle one.

    Returns:
        tuple: the (LIFT_PANEL, LIFT_PANEL, 3) uint8 white panel, and a
        sample whose ``pred_instances.keypoints`` (1, K, 2) are the panel
        pixels of the target frame (None for an input of another layout).
    """
    canvas = np.full((LIFT_PANEL, LIFT_PANEL, 3), 255, np.uint8)
    x = np.asarray(to_numpy(inputs), dtype=np.float64)
    if x.ndim == 2 and x.shape[0] % num_keypoints == 0:
        x = x.reshape(num_keypoints, -1, x.shape[1]).transpose(2, 0, 1)  # (T, K, D)
    if x.ndim != 3 or x.shape[1] != num_keypoints or x.shape[2] < 2:
        return canvas, None
    frame = x[-1 if causal else len(x) // 2, :, :2]
    det = PoseDataSample()
    det.pred_instances = InstanceData(keypoints=((frame + 1) * LIFT_PANEL / 2)[None],
                                      keypoint_scores=np.ones((1, num_keypoints)))
    return canvas, det


def _batch_input(data_batch: Any, idx: int) -> Any:
    """The model input of sample ``idx`` of a batch, or None."""
    inputs = data_batch.get('inputs') if isinstance(data_batch, dict) else None
    return None if inputs is None or len(inputs) <= idx else inputs[idx]


def _lifting_name(sample: Any, index: int) -> str:
    """The file name of a lifting picture: the target frame's image name
    (``target_img_path``, as MMPose's H3.6M names frames), else a number."""
    path = sample.metainfo.get('target_img_path')
    if path is not None and np.size(path):
        return os.path.basename(str(np.ravel(path)[0]))
    return f'{index:06d}.jpg'


def picture_of(runner, dataloader, path: str | None, hook: str) -> np.ndarray | None:
    """The RGB image at ``path`` to draw on, with the run's visualizer set to
    ``dataloader``'s dataset meta (colours, skeleton); None, with a
    warning naming ``hook``, when the image cannot be read."""
    image = cv2.imread(path) if path else None
    if image is None:
        runner.logger.warning('%s: cannot read %s', hook, path)
        return None
    runner.visualizer.set_dataset_meta(getattr(unwrap_dataset(dataloader.dataset),
                                               'metainfo', None))
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


@HOOKS.register_module()
class PoseVisualizationHook(Hook):
    """Draw predictions during validation and testing (MMPose's arguments).

    Args:
        enable (bool): Off by default (MMPose's default runtime has it off).
        interval (int): Validation: draw the first sample of every this many
            batches, recorded by the visualizer's backends as ``val_img`` at
            step ``iteration + batch index`` (``vis_data/vis_image/
            val_img_STEP.png`` with LocalVisBackend). Defaults to 50.
        kpt_thr (float): Keypoints scoring at or below are not drawn.
        show (bool): Show in a window instead of recording (needs a display);
            scalars are still recorded (MMPose drops every backend).
        wait_time (float): Seconds each shown image stays.
        out_dir (str, optional): Testing: write one picture per image, with
            all its instances, to ``WORK_DIR/TIMESTAMP/out_dir/`` under the
            image's file name (lifting samples: one picture each, named
            after ``target_img_path``'s file). Without it (and without ``show``) test
            pictures go to the backends as ``test_img``, one step per image.
        backend_args (dict, optional): Only local files are supported.
    """

    def __init__(self, enable: bool = False, interval: int = 50, kpt_thr: float = 0.3,
                 show: bool = False, wait_time: float = 0., out_dir: str | None = None,
                 backend_args: dict | None = None) -> None:
        if backend_args not in (None, {}, {'backend': 'local'}):
            raise ValueError('PoseVisualizationHook: only local files are supported')
        self.enable, self.interval, self.kpt_thr = enable, max(int(interval), 1), kpt_thr
        self.show, self.wait_time, self.out_dir = show, wait_time, out_dir
        self._pending: dict[str, list] = OrderedDict()
        self._test_index = 0

    def _draw(self, runner, dataloader, sample: Any, name: str, step: int,
              out_file: str | None = None) -> None:
        path = sample.metainfo.get('img_path')
        image = picture_of(runner, dataloader, path, type(self).__name__)
        if image is None:
            return
        visualizer = runner.visualizer
        options = dict(draw_gt=False, draw_pred=True, draw_heatmap=True, draw_bbox=True,
                       kpt_thr=self.kpt_thr)
        if self.show:
            drawn = visualizer.draw_datasample(image, sample, **options)
            visualizer.show(drawn, win_name=os.path.basename(path), wait_time=self.wait_time)
        else:
            visualizer.add_datasample(name, image, sample, out_file=out_file, step=step,
                                      **options)

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if not self.enable or not outputs or not is_main_process():
            return
        step = runner.iter + batch_idx
        if step % self.interval != 0:
            return
        if is_lifting(outputs[0]):
            self._draw_lifting(runner, runner.val_dataloader, outputs[0],
                               _batch_input(data_batch, 0), 'val_img', step)
        else:
            self._draw(runner, runner.val_dataloader, _merge(outputs[:1]), 'val_img', step)

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if not self.enable or not is_main_process():
            return
        for idx, sample in enumerate(outputs or ()):
            if is_lifting(sample):  # one picture per sample, nothing to gather
                self._flush_lifting(runner, sample, _batch_input(data_batch, idx))
                continue
            self._pending.setdefault(sample.metainfo.get('img_path'), []).append(sample)
        # pictures are written once all instances of an image have been seen
        # (a top-down sample is one instance); keep the newest image open
        while len(self._pending) > 1:
            self._flush(runner, *self._pending.popitem(last=False))

    def after_test_epoch(self, runner, metrics=None):
        if self.enable and is_main_process():
            while self._pending:
                self._flush(runner, *self._pending.popitem(last=False))

    def _flush(self, runner, path: str, samples: list) -> None:
        self._test_index += 1
        out_file = None
        if self.out_dir is not None and not self.show:
            out_file = os.path.join(runner.log_dir, self.out_dir, os.path.basename(path))
        self._draw(runner, runner.test_dataloader, _merge(samples), 'test_img',
                   self._test_index, out_file)

    def _flush_lifting(self, runner, sample: Any, inputs: Any) -> None:
        self._test_index += 1
        out_file = None
        if self.out_dir is not None and not self.show:
            out_file = os.path.join(runner.log_dir, self.out_dir, _lifting_name(
                sample, self._test_index))
        self._draw_lifting(runner, runner.test_dataloader, sample, inputs, 'test_img',
                           self._test_index, out_file)

    def _draw_lifting(self, runner, dataloader, sample: Any, inputs: Any, name: str,
                      step: int, out_file: str | None = None) -> None:
        """2D input panel + predicted and ground-truth 3D panels."""
        visualizer = runner.visualizer
        if not hasattr(visualizer, 'draw_3d_datasample'):
            raise TypeError(
                'PoseVisualizationHook: pose-lifting samples are drawn by a '
                "Pose3dLocalVisualizer; set visualizer=dict(type='Pose3dLocalVisualizer') "
                f'(the run has {type(visualizer).__name__})')
        dataset = unwrap_dataset(dataloader.dataset)
        visualizer.set_dataset_meta(getattr(dataset, 'metainfo', None))
        shown = lifting_picture_sample(sample)
        num_keypoints = shown.pred_instances.keypoints.shape[1]
        canvas, det = (np.full((LIFT_PANEL, LIFT_PANEL, 3), 255, np.uint8), None) \
            if inputs is None else input_canvas(inputs, num_keypoints,
                                                bool(getattr(dataset, 'causal', False)))
        # the input is in the dataset's keypoint order: nothing to convert
        options = dict(det_data_sample=det, draw_gt=True, draw_pred=True,
                       convert_keypoint=False, kpt_thr=self.kpt_thr)
        if self.show:
            drawn = visualizer.draw_3d_datasample(canvas, shown, **options)
            visualizer.show(drawn, win_name=_lifting_name(sample, step),
                            wait_time=self.wait_time)
        else:
            visualizer.add_datasample(name, canvas, shown, out_file=out_file, step=step,
                                      **options)
