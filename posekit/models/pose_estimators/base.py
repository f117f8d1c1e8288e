"""BasePoseEstimator: data preprocessor + backbone + neck + head.

The three forward modes are MMPose's:

- ``'loss'``: a dict of losses (and training accuracies such as
  ``acc_pose``), from the head's ``loss``;
- ``'predict'``: a list of ``PoseDataSample`` with ``pred_instances`` in the
  original image's pixels;
- ``'tensor'``: the head's raw output (no decoding), for export.

``forward`` expects inputs already preprocessed. The engine and the inference
API call ``model.data_preprocessor(data, training)`` first, then ``forward``;
:meth:`BasePoseEstimator.val_step` and :meth:`BasePoseEstimator.test_step` do
both, as MMEngine's ``BaseModel`` does.
"""
from __future__ import annotations

import difflib
from typing import Mapping

import torch
from torch import nn

from posekit.datasets.metainfo import parse_pose_metainfo
from posekit.registry import MODELS
from posekit.models.utils import BaseModule

# test_cfg keys that top-down models read (MMPose's; its top-down configs use
# no others). Each estimator class names the keys its heads read
# (``test_cfg_keys``); any other key is a mistake, which MMPose would drop.
TEST_CFG_KEYS = ('flip_test', 'flip_mode', 'shift_heatmap', 'shift_coords',
                 'output_heatmaps', 'output_keypoint_indices')

# Keys that some early MMPose 1.x checkpoints saved for the data
# preprocessor; its mean and std come from the config, so they are dropped.
_PREPROCESSOR_KEYS = ('data_preprocessor.mean', 'data_preprocessor.std')


class BasePoseEstimator(BaseModule):
    """Parts shared by all pose estimators.

    Submodules are named ``backbone``, ``neck`` and ``head``, so the keys of
    the ``state_dict`` start with ``backbone.``, ``neck.`` and ``head.``, as
    in MMPose. The data preprocessor has no saved state.

    Args:
        backbone (dict | nn.Module): Backbone config or module.
        neck (dict | nn.Module, optional): Neck config or module.
        head (dict | nn.Module, optional): Head config or module.
        train_cfg (dict, optional): Passed to ``head.loss``.
        test_cfg (dict, optional): Passed to ``head.predict``; its keys are
            those of the class's ``test_cfg_keys`` (for top-down models
            :data:`TEST_CFG_KEYS`: ``flip_test``, ``flip_mode``,
            ``shift_heatmap``, ``shift_coords``, ``output_heatmaps``,
            ``output_keypoint_indices``). Another key raises ValueError
            (MMPose ignores it silently). Each head reads the keys that
            apply to it and, as in MMPose, ignores the others: ``flip_mode``
            and ``shift_heatmap`` do nothing for SimCC and regression heads,
            and IntegralRegressionHead flips its heatmaps as ``'heatmap'``
            whatever ``flip_mode`` says.
        data_preprocessor (dict | nn.Module, optional): Defaults to a
            :class:`BaseDataPreprocessor`, which only moves data to the
            device.
        use_syncbn (bool): Convert BatchNorm layers to SyncBatchNorm when
            running distributed with more than one process.
        init_cfg (dict | list[dict], optional): Initialisation config.
        metainfo (dict, optional): Dataset meta information (or
            ``dict(from_file=...)``); when given it overrides the metainfo of
            the data samples in ``'predict'`` mode.
    """

    test_cfg_keys: tuple = TEST_CFG_KEYS

    def __init__(self,
                 backbone: Mapping | nn.Module,
                 neck: Mapping | nn.Module | None = None,
                 head: Mapping | nn.Module | None = None,
                 train_cfg: Mapping | None = None,
                 test_cfg: Mapping | None = None,
                 data_preprocessor: Mapping | nn.Module | None = None,
                 use_syncbn: bool = False,
                 init_cfg: Mapping | list | None = None,
                 metainfo: Mapping | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if data_preprocessor is None:
            data_preprocessor = dict(type='BaseDataPreprocessor')
        self.data_preprocessor = MODELS.build(data_preprocessor)
        if metainfo is not None and not isinstance(metainfo, Mapping):
            raise TypeError('metainfo must be a dict, got '
                            f'{type(metainfo).__name__}')
        self.metainfo = (parse_pose_metainfo(metainfo)
                         if metainfo is not None else None)
        # set by init_model: the meta information of the training data
        self.dataset_meta: dict | None = None
        self.train_cfg = dict(train_cfg) if train_cfg else {}
        self.test_cfg = dict(test_cfg) if test_cfg else {}

        self.backbone = MODELS.build(backbone)
        if neck is not None:
            self.neck = MODELS.build(neck)
        if head is not None:
            self.head = MODELS.build(head)
            self.head.test_cfg = dict(self.test_cfg)
        # one-stage heads (RTMO, YOLOX-Pose) name the extra keys they read
        known = self.test_cfg_keys + tuple(
            getattr(getattr(self, 'head', None), 'test_cfg_keys', ()))
        _check_test_cfg(self.test_cfg, known, type(self).__name__)
        self.register_load_state_dict_pre_hook(_drop_preprocessor_keys)
        if use_syncbn and _world_size() > 1:
            nn.SyncBatchNorm.convert_sync_batchnorm(self)

    @property
    def with_neck(self) -> bool:
        """bool: Whether the model has a neck."""
        return getattr(self, 'neck', None) is not None

    @property
    def with_head(self) -> bool:
        """bool: Whether the model has a head."""
        return getattr(self, 'head', None) is not None

    def forward(self,
                inputs: torch.Tensor,
                data_samples: list | None = None,
                mode: str = 'tensor'):
        """Run the model in one of three modes.

        Args:
            inputs (torch.Tensor): ``(N, C, H, W)`` preprocessed images (a
                list of ``(C, H, W)`` tensors is stacked).
            data_samples (list[PoseDataSample], optional): One per input;
                needed by ``'loss'`` and ``'predict'``.
            mode (str): ``'loss'``, ``'predict'`` or ``'tensor'``.

        Returns:
            dict[str, Tensor] for ``'loss'``; list[PoseDataSample] for
            ``'predict'``; the head's output (a tensor or a tuple of tensors)
            for ``'tensor'``.
        """
        return run_mode(self, inputs, data_samples, mode)

    def loss(self, inputs: torch.Tensor, data_samples: list) -> dict:
        """Losses of a batch; see subclasses."""
        raise NotImplementedError

    def predict(self, inputs: torch.Tensor, data_samples: list) -> list:
        """Predictions of a batch; see subclasses."""
        raise NotImplementedError

    def _store_predictions(self, preds, data_samples: list) -> list:
        """Head predictions (instances, or (instances, fields)) into the
        samples, in image pixels (``add_pred_to_datasample``)."""
        if isinstance(preds, tuple):
            pred_instances, pred_fields = preds
        else:
            pred_instances, pred_fields = preds, None
        return self.add_pred_to_datasample(pred_instances, pred_fields,
                                           data_samples)

    @staticmethod
    def _per_sample(pred_instances: list, pred_fields: list | None,
                    data_samples: list):
        """``(instances, fields or None, sample)`` per sample, after checking
        the head returned one prediction per sample."""
        if len(pred_instances) != len(data_samples):
            raise ValueError(
                f'the head returned {len(pred_instances)} predictions for '
                f'{len(data_samples)} samples')
        if pred_fields is None:
            pred_fields = [None] * len(data_samples)
        return zip(pred_instances, pred_fields, data_samples)

    def extract_feat(self, inputs: torch.Tensor) -> tuple:
        """Backbone then neck.

        Args:
            inputs (torch.Tensor): ``(N, C, H, W)`` preprocessed images.

        Returns:
            tuple[torch.Tensor]: Feature maps, one per output level.
        """
        feats = self.backbone(inputs)
        if self.with_neck:
            feats = self.neck(feats)
        return feats

    def _forward(self, inputs: torch.Tensor):
        """Backbone, neck and head forward, no decoding."""
        feats = self.extract_feat(inputs)
        return self.head.forward(feats) if self.with_head else feats

    # ----------------------------------------------- engine entry points
    def val_step(self, data: dict) -> list:
        """Preprocess a collated batch and predict (no augmentation).

        Args:
            data (dict): ``dict(inputs=[...], data_samples=[...])`` from the
                data loader.

        Returns:
            list[PoseDataSample]: The samples with predictions.
        """
        data = self.data_preprocessor(data, False)
        return self(data['inputs'], data['data_samples'], mode='predict')

    test_step = val_step

    @staticmethod
    def parse_losses(losses: Mapping) -> tuple[torch.Tensor, dict]:
        """Total loss and values to log, as MMEngine computes them.

        Every entry is averaged to a scalar (a list of tensors is summed
        after averaging); the total is the sum of the entries whose name
        contains ``'loss'`` (so ``acc_pose`` is logged, not optimised).

        Returns:
            tuple: ``(total, log_vars)``; ``log_vars`` starts with ``'loss'``.
        """
        log_vars = {}
        for name, value in losses.items():
            if isinstance(value, torch.Tensor):
                log_vars[name] = value.mean()
            elif isinstance(value, (list, tuple)) and all(
                    isinstance(v, torch.Tensor) for v in value):
                log_vars[name] = sum(v.mean() for v in value)
            else:
                raise TypeError(f'{name} is not a tensor or a list of '
                                f'tensors: {type(value).__name__}')
        total = sum(v for k, v in log_vars.items() if 'loss' in k)
        if not isinstance(total, torch.Tensor):
            raise ValueError(f'no loss among {sorted(losses)}: the entries to '
                             "optimise must have 'loss' in their names")
        return total, {'loss': total, **log_vars}


def input_to_image(points, meta: Mapping):
    """Points ``(..., 2)`` in network-input pixels -> original image pixels.

    The input covers a box of ``input_scale = (w, h)`` pixels centred at
    ``input_center``, resized to ``input_size = (w, h)``::

        p / input_size * input_scale + input_center - 0.5 * input_scale

    MMPose's formula with the same operations in the same order, so results
    are equal to the last bit.
    """
    size, center, scale = (meta['input_size'], meta['input_center'],
                           meta['input_scale'])
    return points / size * scale + center - 0.5 * scale


def _drop_preprocessor_keys(module, state_dict, prefix, *args) -> None:
    for key in _PREPROCESSOR_KEYS:
        state_dict.pop(prefix + key, None)


def _world_size() -> int:
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return 1


def _check_test_cfg(test_cfg: dict, known: tuple, model: str) -> None:
    """Raise on a test_cfg key that ``model`` does not read, suggesting close
    ones."""
    for key in test_cfg:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=2)
            hint = f' (did you mean {" or ".join(map(repr, close))}?)' if close else ''
            raise ValueError(f'test_cfg: unknown key {key!r}{hint}; {model} '
                             f'reads {", ".join(known)}')


def run_mode(model: nn.Module, inputs, data_samples: list | None, mode: str):
    """MMPose's ``forward(inputs, data_samples, mode)`` dispatch, for any
    model with ``loss``, ``predict``, ``_forward`` and ``metainfo``: a list
    of ``(C, H, W)`` inputs is stacked; ``'predict'`` first gives each data
    sample the model's ``metainfo`` (when set)."""
    if isinstance(inputs, (list, tuple)) and all(
            isinstance(x, torch.Tensor) and x.dim() == 3 for x in inputs):
        inputs = torch.stack(list(inputs))  # (C, H, W) images -> a batch
    if mode == 'loss':
        return model.loss(inputs, data_samples)
    if mode == 'predict':
        if model.metainfo is not None:
            for sample in data_samples:
                sample.set_metainfo(model.metainfo)
        return model.predict(inputs, data_samples)
    if mode == 'tensor':
        return model._forward(inputs)
    raise ValueError(f'Invalid mode {mode!r}: use "loss", "predict" or "tensor"')
