"""Build a model from a config and checkpoint; run top-down and bottom-up
inference.

``init_model`` and ``inference_topdown`` have MMPose 1.x's signatures and
results. Differences that do not change results: the image file is decoded
once per call instead of once per box, and checkpoints are read with
``torch.load(weights_only=True)`` (no pickled code runs).
"""
from __future__ import annotations

import os
from typing import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from posekit.config import Config
from posekit.datasets.transforms import Compose, LoadImage
from posekit.datasets.transforms.loading import as_bgr_uint8
from posekit.models.builder import build_inference_model, test_dataset_cfg
from posekit.structures import PoseDataSample, bbox_xywh2xyxy
from posekit.structures.bbox import whole_image_bbox
from .boxes import drop_degenerate
from .zoo import resolve_model


def init_model(config: str | os.PathLike | Config,
               checkpoint: str | os.PathLike | None = None,
               device: str | torch.device = 'cpu',
               cfg_options: Mapping | None = None) -> nn.Module:
    """Build a pose estimator for inference, optionally with weights.

    A DWPose distillation config builds the ``DWPoseDistiller`` (teacher and
    student; it predicts with the student) and a distiller checkpoint loads
    into it; its ``teacher_pretrained`` is never loaded here.

    Args:
        config (str | Path | Config): A config file or a loaded config (not
            modified; the model keeps its own copy as ``model.cfg``), or a
            model name, config name or alias of MMPose's model zoo
            (``'human'``; see :mod:`posekit.apis.zoo`).
        checkpoint (str | Path, optional): A local ``.pth`` or
            ``.safetensors`` file; for a zoo name, None means the zoo's
            weights URL. Its weights must match the model exactly
            (strict loading). None keeps PyTorch's default initialisation
            (``init_cfg`` is not applied, as in MMPose).
        device (str | torch.device): Where the model goes. Defaults to
            ``'cpu'`` (MMPose: ``'cuda:0'``).
        cfg_options (dict, optional): Overrides such as
            ``{'model.test_cfg.flip_test': False}`` or nested dicts; new keys
            are allowed (``model.test_cfg.output_heatmaps``), as in MMPose.

    Returns:
        nn.Module: The model in eval mode on ``device``, with ``cfg`` and
        ``dataset_meta`` set. ``dataset_meta`` comes from the checkpoint's
        ``meta.dataset_meta`` when present, else from the config's test, val
        or train dataset (its ``metainfo``, or the dataset class's default),
        else COCO's.

    Raises:
        FileNotFoundError: ``checkpoint`` does not exist.
        ValueError: ``checkpoint`` is an ``.onnx`` file (run those with
            ``posekit.apis.init_onnx_model``).
        RuntimeError: The checkpoint cannot be read or does not match the
            model (the message lists missing, unexpected and misshapen keys).
    """
    if checkpoint is not None and os.fspath(checkpoint).lower().endswith(
            '.onnx'):
        raise ValueError(
            f'{os.fspath(checkpoint)} is an ONNX file, not PyTorch weights: '
            'run it with posekit.apis.init_onnx_model(config, onnx_file) '
            '(same use with inference_topdown)')
    device = check_device(device)
    config, checkpoint = resolve_model(config, checkpoint)
    model = build_inference_model(config, checkpoint, cfg_options).to(device)
    if device.type == 'cpu':
        # oneDNN's convolutions run 10-20% faster on channels-last weights
        # (benchmarks/infer.py); values and state_dict keys are unchanged
        model.to(memory_format=torch.channels_last)
    return model


def check_device(device: str | torch.device) -> torch.device:
    """``device`` as a torch.device; ValueError for a malformed name or a
    CUDA device this machine does not have."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"device {device!r}: expected 'cpu', 'cuda' or 'cuda:N'") from e
    if dev.type == 'cuda':
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if dev.index is not None and dev.index >= count or count == 0:
            raise ValueError(f'device {device!r}: this machine has {count} CUDA '
                             f'device(s) usable by this torch ({torch.__version__}); '
                             "use 'cpu'")
    return dev


def inference_topdown(model: nn.Module,
                      img: np.ndarray | str | os.PathLike,
                      bboxes: np.ndarray | Sequence | None = None,
                      bbox_format: str = 'xyxy') -> list[PoseDataSample]:
    """Estimate the pose inside each box of one image.

    All boxes go through the network as one batch. The test pipeline is the
    config's ``test_dataloader.dataset.pipeline`` (``val_dataloader``'s if
    there is no test loader).

    Boxes that can give no pose (a NaN or infinite number, zero or negative
    size, entirely outside the image) are dropped with a
    :class:`~posekit.apis.boxes.DegenerateBoxWarning` naming their indices;
    the other boxes run as if they had been given alone. (MMPose returns
    NaN keypoints for them.) To keep results aligned with your boxes, filter
    them first with :func:`posekit.apis.boxes.box_problems`.

    Args:
        model (nn.Module): From :func:`init_model`.
        img (np.ndarray | str): ``(H, W, 3)`` BGR uint8 image, or its file.
            Grayscale ``(H, W)``, BGRA and uint16 arrays are converted as
            :func:`~posekit.datasets.transforms.loading.as_bgr_uint8` says.
        bboxes (np.ndarray, optional): ``(N, 4)`` boxes in pixels; None or
            empty means one box covering the whole image.
        bbox_format (str): ``'xyxy'`` (corners) or ``'xywh'`` (top-left
            corner and size).

    Returns:
        list[PoseDataSample]: One per kept box, in input order (empty when
        every box was dropped); ``pred_instances`` holds ``keypoints (1, K,
        2)``, ``keypoint_scores (1, K)``, ``bboxes (1, 4)`` xyxy and
        ``bbox_scores (1,)`` in image pixels.
    """
    pipeline = Compose(_test_pipeline(model.cfg))
    inputs, samples = _topdown_inputs(model, pipeline, img, bboxes, bbox_format)
    if not inputs:
        return []
    with torch.no_grad():
        return model.test_step(dict(inputs=inputs, data_samples=samples))


def inference_topdown_batch(model: nn.Module, images: Sequence,
                            boxes_per_image: Sequence) -> list[list[PoseDataSample]]:
    """:func:`inference_topdown` on several images, as ONE network batch.

    Each image's boxes go through the test pipeline as in
    :func:`inference_topdown` (None or empty: the whole image; degenerate
    boxes dropped with a warning), then the crops of all images run in one
    ``model.test_step`` and the results are split back per image. They equal
    :func:`inference_topdown`'s image by image, up to the float rounding of
    the batched kernels.

    Args:
        model (nn.Module): From :func:`init_model` (or an ONNX Runtime model).
        images (Sequence): ``(H, W, 3)`` BGR uint8 images or image files.
        boxes_per_image (Sequence): Per image, ``(N_i, 4)`` xyxy boxes in
            its pixels, or None.

    Returns:
        list[list[PoseDataSample]]: Per image, one sample per kept box, in
        input order (as :func:`inference_topdown` returns them).
    """
    if len(images) != len(boxes_per_image):
        raise ValueError(f'inference_topdown_batch: {len(images)} images but '
                         f'{len(boxes_per_image)} box arrays; give one per image')
    pipeline = Compose(_test_pipeline(model.cfg))
    inputs, samples, counts = [], [], []
    for img, bboxes in zip(images, boxes_per_image):
        one_inputs, one_samples = _topdown_inputs(model, pipeline, img, bboxes, 'xyxy')
        inputs += one_inputs
        samples += one_samples
        counts.append(len(one_inputs))
    results = []
    if inputs:
        with torch.no_grad():
            results = model.test_step(dict(inputs=inputs, data_samples=samples))
    ends = np.cumsum(counts)
    return [results[end - n:end] for n, end in zip(counts, ends)]


def _topdown_inputs(model: nn.Module, pipeline: Compose, img, bboxes,
                    bbox_format: str) -> tuple[list, list]:
    """The network inputs and data samples of one image's boxes (see
    :func:`inference_topdown`); both empty when every box was dropped."""
    if bbox_format not in ('xyxy', 'xywh'):
        raise ValueError(f'bbox_format must be "xyxy" or "xywh", got '
                         f'{bbox_format!r}')
    info = _load_image(pipeline, img)
    if bboxes is None or len(bboxes) == 0:
        bboxes = whole_image_bbox(info['img'].shape)
    else:
        # the caller's float type is kept, as in MMPose: float64 boxes give
        # float64 centres and scales, hence another warp matrix than float32
        bboxes = np.asarray(bboxes)
        if not np.issubdtype(bboxes.dtype, np.floating):
            bboxes = bboxes.astype(np.float64)
        if bboxes.ndim != 2 or bboxes.shape[1] != 4:
            raise ValueError('bboxes must have shape (N, 4), got '
                             f'{bboxes.shape}')
        if bbox_format == 'xywh':
            bboxes = bbox_xywh2xyxy(bboxes)
        bboxes = bboxes[drop_degenerate(bboxes, info['img'].shape, 'inference_topdown')]
    inputs, samples = [], []
    for bbox in bboxes:
        data = pipeline(dict(info, bbox=bbox[None],
                             bbox_score=np.ones(1, dtype=np.float32),
                             **model.dataset_meta))
        inputs.append(data['inputs'])
        samples.append(data['data_samples'])
    return inputs, samples


def inference_bottomup(model: nn.Module,
                       img: np.ndarray | str | os.PathLike) -> list[PoseDataSample]:
    """Estimate every pose in one image with a bottom-up model.

    The test pipeline is the config's (``BottomupResize`` fits the image in
    the network input); the predictions come back in image pixels.

    Args:
        model (nn.Module): A ``BottomupPoseEstimator`` from :func:`init_model`.
        img (np.ndarray | str): ``(H, W, 3)`` BGR uint8 image, or its file
            (other array kinds converted as for :func:`inference_topdown`).

    Returns:
        list[PoseDataSample]: One sample; ``pred_instances`` holds
        ``keypoints (N, K, 2)`` and ``keypoint_scores (N, K)`` of the N
        people found (N may be 0), plus ``bboxes`` / ``bbox_scores`` when
        the head gives them.
    """
    if not getattr(model, 'is_bottomup', False):
        raise TypeError(
            f'inference_bottomup needs a bottom-up model (e.g. '
            f'AssociativeEmbedding, DEKR, CID configs), got a '
            f'{type(model).__name__}; use inference_topdown with person boxes')
    check_input_size(model)
    pipeline = Compose(_test_pipeline(model.cfg))
    data = pipeline(dict(_load_image(pipeline, img), **model.dataset_meta))
    with torch.no_grad():
        return model.test_step(dict(inputs=[data['inputs']],
                                    data_samples=[data['data_samples']]))


def model_head(model) -> nn.Module | None:
    """The head of a model from :func:`init_model` or of an ONNX Runtime
    model (its decoding ``estimator``), or None."""
    for owner in (model, getattr(model, 'estimator', None)):
        head = getattr(owner, 'head', None)
        if head is not None:
            return head
    return None


def check_input_size(model) -> None:
    """Raise if a one-stage model's input size is not a multiple of its strides.

    The head's prior points (and an exported model's fixed grid) assume
    ``input_size // stride`` cells per level: another size would pad the
    input and shift the grid. Checked: ``test_cfg.input_size`` and the
    ``input_size`` of the test pipeline's ``BottomupResize``, both (w, h)
    pixels, against each of the head's ``featmap_strides``.

    Raises:
        ValueError: Names the setting, its value and the stride.
    """
    strides = getattr(model_head(model), 'featmap_strides', None)
    if not strides:
        return
    test_cfg = getattr(model, 'test_cfg', None) or {}
    sizes = [('test_cfg.input_size', test_cfg.get('input_size'))]
    sizes += [('BottomupResize input_size', t.get('input_size'))
              for t in _test_pipeline(model.cfg)
              if str(t.get('type', '')).split('.')[-1] == 'BottomupResize']
    for name, size in sizes:
        for stride in strides if size is not None else ():
            if any(int(v) % int(stride) for v in size):
                raise ValueError(
                    f'{name}={tuple(size)} is not a multiple of the head\'s '
                    f'stride {stride} (featmap_strides={tuple(strides)}): '
                    f'use a multiple of {max(strides)}, e.g. '
                    f'{tuple(-(-int(v) // max(strides)) * max(strides) for v in size)}')


# ----------------------------------------------------------------- helpers
def _test_pipeline(cfg: Config) -> list:
    dataset = test_dataset_cfg(cfg)
    if dataset is None:
        raise ValueError('the model config has no test_dataloader (nor '
                         'val_dataloader) with a dataset pipeline')
    return list(dataset['pipeline'])


def _load_image(pipeline: Compose, img) -> dict:
    """``dict(img=..., img_path=...)``, decoding a file only once.

    The pipeline's own ``LoadImage`` (its colour type) decodes the file; the
    per-box runs then find ``img`` already set.
    """
    if isinstance(img, np.ndarray):
        if img.ndim == 2 or img.shape[2] in (1, 4) or img.dtype == np.uint16:
            img = as_bgr_uint8(img)
        return dict(img=img)
    if not isinstance(img, (str, os.PathLike)):
        raise TypeError('img must be an image array or a file path, got '
                        f'{type(img).__name__}')
    path = os.fspath(img)
    loader = pipeline.transforms[0] if len(pipeline) else None
    if not isinstance(loader, LoadImage):
        loader = LoadImage()
    return dict(img=loader(dict(img_path=path))['img'], img_path=path)
