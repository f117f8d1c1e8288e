"""Person detectors for top-down inference: :func:`load_detector`, and a
one-stage pose model (RTMO, YOLOX-Pose) as the detector of a top-down model.

One-stage heads predict a box per person along with the keypoints; the
boxes (``bboxes``, xyxy image pixels) and their ``bbox_scores`` then feed a
top-down model, as an mmdet detector's would in MMPose (posekit runs no
mmdet). The detector's own ``test_cfg`` (``score_thr``, ``nms_thr``) filters
first; the inferencer's ``bbox_thr`` / ``nms_thr`` / ``det_cat_ids`` apply
to what is left. The category of a box is the head's class index
(``labels``: 0 for person, as in mmdet's COCO detectors).
"""
from __future__ import annotations

import importlib
import os
import warnings

import numpy as np

from .backends import init_pose_model
from .boxes import Detector
from .detector import MMDetDetector, detector_type, is_detector_name, resolve_detector
from .inference import inference_bottomup, model_head


def gives_boxes(model) -> bool:
    """Whether ``model`` predicts person boxes itself: a bottom-up model with
    a one-stage head (dense per-cell predictions at ``featmap_strides``:
    RTMOHead, YOLOXPoseHead). AE, DEKR, CID and top-down models do not."""
    return bool(getattr(model, 'is_bottomup', False)
                and getattr(model_head(model), 'featmap_strides', None))


def is_config_spec(spec) -> bool:
    """Whether a ``det_model`` value names a config file (not a callable or
    ``'package.module:function'``)."""
    return isinstance(spec, (str, os.PathLike)) and (
        os.fspath(spec).endswith('.py') or os.path.isfile(os.fspath(spec)))


class ModelDetector:
    """Person boxes from a one-stage pose model.

    Args:
        config (str): The model's posekit (MMPose 1.x) config file.
        weights (str, optional): Its checkpoint (``.pth`` /
            ``.safetensors``), or an ``.onnx`` file from ``posekit export``
            (run in onnxruntime). None: random weights, with a warning.
        device (str): ``'cpu'``, ``'cuda'`` or ``'cuda:N'``.
        num_threads (int, optional): CPU threads of the network.

    Raises:
        ValueError: ``config`` does not exist, or its model gives no boxes
            (a top-down or an AE/DEKR/CID model); the message names it.
    """

    def __init__(self, config: str | os.PathLike, weights: str | os.PathLike | None = None,
                 device: str = 'cpu', num_threads: int | None = None) -> None:
        self.config = os.fspath(config)
        if not os.path.isfile(self.config):
            raise ValueError(
                f'det_model {self.config}: no such config file (give an mmdet RTMDet or '
                'YOLOX config, or the config of a one-stage pose model such as RTMO or '
                "YOLOX-Pose, with det_weights; or a callable or 'package.module:function')")
        if weights is None:
            warnings.warn(f'det_model {self.config}: no det_weights given: the detector '
                          'has random weights', stacklevel=3)
        backend = ('onnxruntime' if weights is not None
                   and os.fspath(weights).lower().endswith('.onnx') else 'pytorch')
        # BatchNorms folded, as the inferencer's pose model
        self.model = init_pose_model(self.config, weights, backend, device,
                                     num_threads=num_threads,
                                     precision='fp32' if backend == 'pytorch' else None)
        if not gives_boxes(self.model):
            head = type(model_head(self.model)).__name__
            raise ValueError(
                f'det_model {self.config}: its model ({type(self.model).__name__} with '
                f'{head}) predicts no person boxes; a detector config needs a '
                'one-stage model (RTMOHead, YOLOXPoseHead)')

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """Boxes of the people in ``image``.

        Args:
            image (np.ndarray): (H, W, 3) uint8 BGR.

        Returns:
            np.ndarray: (N, 6) float32 rows ``[x1, y1, x2, y2, bbox_score,
            label]``, image pixels, in the model's order (best first).
        """
        pred = inference_bottomup(self.model, image)[0].pred_instances
        if 'bboxes' not in pred:
            raise ValueError(f'det_model {self.config}: the model returned no bboxes')
        bboxes = np.asarray(pred.bboxes, dtype=np.float32).reshape(-1, 4)
        rows = np.zeros((len(bboxes), 6), dtype=np.float32)
        rows[:, :4] = bboxes
        rows[:, 4] = np.asarray(pred.bbox_scores, dtype=np.float32)
        rows[:, 5] = np.asarray(pred.labels) if 'labels' in pred else np.nan
        return rows


def load_detector(spec: str | os.PathLike | Detector, weights: str | None = None,
                  device: str = 'cpu', num_threads: int | None = None) -> Detector:
    """A detector from a callable, ``'package.module:function'``, the
    config file of a one-stage pose model with its ``weights``
    (:class:`ModelDetector`), or an RTMDet / YOLOX detector config
    (:class:`~.detector.MMDetDetector`), given as a file or by name
    (``'human'``, ``'rtmdet_m_640-8xb32_coco-person'``:
    :func:`~.detector.resolve_detector`).

    Args:
        spec: The detector (see above); a callable takes a BGR image and
            returns ``(N, 4|5|6)`` xyxy boxes [, scores, category ids].
        weights (str, optional): Checkpoint or ``.onnx`` file; only with a
            config ``spec`` (for a name, None means its weights URL).
        device (str): Where a config's model runs.
        num_threads (int, optional): CPU threads of a config's model.
    """
    if is_detector_name(spec):
        config, weights, _ = resolve_detector(spec, weights)
        return MMDetDetector(config, weights, device, num_threads)
    if is_config_spec(spec):
        if detector_type(spec) is not None:  # an RTMDet / YOLOX (mmdet) config
            return MMDetDetector(spec, weights, device, num_threads)
        return ModelDetector(spec, weights, device, num_threads)
    if weights is not None:
        raise ValueError(f'det_weights {weights!r}: weights go with a det_model config '
                         f'file (.py), not with {spec!r}')
    if callable(spec):
        return spec
    if not isinstance(spec, str) or ':' not in spec:
        raise ValueError(
            f'det_model {spec!r}: give the config (.py) of an mmdet RTMDet or YOLOX '
            'detector or of a one-stage pose model (RTMO, YOLOX-Pose) with det_weights, a '
            "callable, or 'package.module:function' (BGR image -> (N, 4|5|6) xyxy "
            'boxes), or boxes from a COCO-format JSON file (--bboxes)')
    module_name, _, attr = spec.partition(':')
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ValueError(f'det_model {spec!r}: {module_name} has no {attr!r}') from None
