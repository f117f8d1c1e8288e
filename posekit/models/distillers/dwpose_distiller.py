"""DWPoseDistiller: two-stage distillation of RTMPose models (DWPose, Yang
et al., 2023, https://arxiv.org/abs/2307.15880).

Stage 1 (``two_dis=False``): a frozen teacher and a smaller student see the
same crops. The student trains on its own SimCC loss (``loss_kpt``) plus
``loss_fea`` (FeaLoss between the last feature maps) and ``loss_logit``
(KDLoss between the SimCC logits), both scaled by ``1 - epoch / max_epochs``
so that the teacher's pull fades out over training.

Stage 2 (``two_dis=True``, "head-aware self-distillation"): teacher and
student are the same architecture, the teacher holding the stage-1 student's
weights. Only the student's head trains, on the frozen teacher's features,
with ``loss_logit`` alone and no decay. Prediction then runs the teacher's
backbone and neck with the student's head.

``posekit convert-distill`` turns a distiller checkpoint into a plain pose
estimator checkpoint (what MMPose's ``tools/misc/pth_transfer.py`` does).

Differences from MMPose, on purpose:

- the teacher stays in eval mode when the distiller is put in training mode
  (MMPose's runner calls ``model.train()``, which also puts the teacher in
  train mode, so its BatchNorm statistics drift while it is "frozen");
- in stage 2, ``mode='tensor'`` runs what ``'predict'`` runs (teacher
  features, student head); MMPose runs the student's own, untrained backbone;
- ``teacher_pretrained`` (a local file, a URL or a scheme name) must hold
  every weight of the teacher.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Mapping, Sequence

import torch
from torch import Tensor, nn

from posekit.config import Config, shipped_configs_dir
from posekit.hub import DownloadError
from posekit.evaluation.functional import simcc_pck_accuracy
from posekit.models.heads.base_head import cat_labels
from posekit.models.utils import CheckpointError, check_local_path, load_checkpoint_file
from posekit.models.utils import load_state_dict
from posekit.models.pose_estimators.base import run_mode
from posekit.registry import MODELS
from posekit.structures import to_numpy


@MODELS.register_module()
class DWPoseDistiller(nn.Module):
    """Teacher and student top-down SimCC models with DWPose's losses.

    State_dict keys are MMPose's: ``teacher.*``, ``student.*`` and
    ``distill_losses.<name>.*`` (e.g. FeaLoss's ``align`` convolution).

    Args:
        teacher_cfg (str | dict | nn.Module): Config file of the teacher
            (its ``model`` is built), a model config, or a built model. A
            relative file name is looked up from the working directory (as
            MMPose does, so its configs' ``configs/...`` names work inside an
            MMPose checkout), then under posekit's shipped ``configs/``.
        student_cfg (str | dict | nn.Module): Same, for the student.
        two_dis (bool): Stage 2 (see the module docstring). Defaults to False.
        distill_cfg (list[dict], optional): ``[dict(methods=[loss_cfg,
            ...]), ...]``; each loss config with ``use_this=True`` is built
            and stored under its ``name``. ``'loss_fea'`` and
            ``'loss_logit'`` are the names the loss computation uses.
        teacher_pretrained (str, optional): Local checkpoint loaded into the
            teacher by :meth:`init_weights` (the training runner calls it;
            ``init_model`` does not).
        train_cfg (dict, optional): Defaults to the student's. Its
            ``max_epochs``, when given, is used for the loss decay.
        data_preprocessor (dict | nn.Module, optional): Defaults to a
            ``BaseDataPreprocessor``.
        init_cfg (dict, optional): Accepted and unused, as in MMPose
            (:meth:`init_weights` initialises the student and loads the
            teacher).
    """

    def __init__(self,
                 teacher_cfg: str | os.PathLike | Mapping | nn.Module,
                 student_cfg: str | os.PathLike | Mapping | nn.Module,
                 two_dis: bool = False,
                 distill_cfg: Sequence[Mapping] | None = None,
                 teacher_pretrained: str | os.PathLike | None = None,
                 train_cfg: Mapping | None = None,
                 data_preprocessor: Mapping | nn.Module | None = None,
                 init_cfg: Mapping | None = None) -> None:
        super().__init__()
        self.init_cfg = init_cfg
        self.data_preprocessor = MODELS.build(
            data_preprocessor or dict(type='BaseDataPreprocessor'))
        self.teacher, _ = build_member(teacher_cfg, 'teacher_cfg')
        self.teacher_pretrained = teacher_pretrained
        self.teacher.eval()
        for param in self.teacher.parameters():
            param.requires_grad = False
        self.student, student_file = build_member(student_cfg, 'student_cfg')
        self._student_source = (student_cfg if isinstance(student_cfg, (str, os.PathLike))
                                else None)

        self.distill_losses = nn.ModuleDict()
        for group in distill_cfg or []:
            for loss_cfg in group['methods']:
                if loss_cfg['use_this']:
                    self.distill_losses[loss_cfg['name']] = MODELS.build(loss_cfg)

        self.two_dis = two_dis
        self.train_cfg = dict(train_cfg) if train_cfg else self.student.train_cfg
        self.test_cfg = self.student.test_cfg
        self.metainfo = self.student.metainfo
        self.dataset_meta: dict | None = None  # set by init_model
        # The loss decay needs the current (0-based) epoch and the number of
        # epochs. MMPose reads both from its message hub; posekit's epoch
        # loop calls set_epoch(epoch). max_epochs: set_epoch's argument when
        # given, else train_cfg's, else the student config file's schedule
        # (which MMPose's stage-1 configs share with the student's).
        self.epoch = 0
        self.max_epochs = self.train_cfg.get('max_epochs') or _file_max_epochs(
            student_file)

    # ------------------------------------------------------------ training
    def init_weights(self) -> None:
        """Load ``teacher_pretrained`` into the teacher, then initialise the
        student from its ``init_cfg`` (the teacher's init_cfg is not applied,
        as in MMPose)."""
        if self.teacher_pretrained is not None:
            load_teacher(self.teacher, self.teacher_pretrained)
        try:
            self.student.init_weights()
        except (ValueError, DownloadError) as e:  # a remote file in the student's init_cfg
            source = (f'the student config {os.fspath(self._student_source)}'
                      if self._student_source is not None else 'the student')
            raise ValueError(
                f'DWPoseDistiller: initialising {source} failed: {e}. That '
                f'init_cfg is in the student config, not in this one: use a copy '
                f'of it with a local checkpoint path, and --cfg-options '
                f'model.student_cfg=/path/to/that_copy.py') from e

    def train(self, mode: bool = True) -> 'DWPoseDistiller':
        """Set training mode on everything but the teacher, which stays in
        eval mode (frozen BatchNorm statistics, no dropout)."""
        super().train(mode)
        self.teacher.eval()
        return self

    def set_epoch(self, epoch: int, max_epochs: int | None = None) -> None:
        """Tell the distiller the current 0-based training epoch (and, when
        known, the number of epochs) for the decay of the stage-1 losses."""
        self.epoch = epoch
        if max_epochs is not None:
            self.max_epochs = max_epochs

    def loss_decay(self) -> float:
        """``1 - epoch / max_epochs`` in stage 1; 1 in stage 2."""
        if self.two_dis or self.epoch == 0:
            return 1.0
        if not self.max_epochs:
            raise ValueError(
                'DWPoseDistiller: the loss decay 1 - epoch / max_epochs needs '
                'max_epochs; set model.train_cfg.max_epochs or call '
                'set_epoch(epoch, max_epochs)')
        return 1 - self.epoch / self.max_epochs

    def loss(self, inputs: Tensor, data_samples: list) -> dict:
        """Losses of a batch.

        Args:
            inputs (Tensor): (N, C, H, W) preprocessed crops.
            data_samples (list[PoseDataSample]): With SimCC labels
                (``keypoint_x_labels``, ``keypoint_y_labels``,
                ``keypoint_weights``).

        Returns:
            dict[str, Tensor]: stage 1: ``loss_kpt``, ``acc_pose`` and the
            configured ``loss_fea`` / ``loss_logit``; stage 2:
            ``loss_logit``.
        """
        if self.two_dis and 'loss_fea' in self.distill_losses:
            raise ValueError('DWPoseDistiller: loss_fea compares the student\'s '
                             'features, which stage 2 (two_dis=True) does not compute')
        with torch.no_grad():
            feats_t = self.teacher.extract_feat(inputs)
            logits_t = self.teacher.head(feats_t)
        weights = cat_labels(data_samples, 'keypoint_weights', inputs.device)
        losses = {}
        if self.two_dis:
            # the student's head learns on the frozen teacher's features
            logits_s = self.student.head(feats_t)
        else:
            feats_s = self.student.extract_feat(inputs)
            logits_s = self.student.head(feats_s)
            losses.update(self._student_loss(logits_s, data_samples, weights))
        decay = self.loss_decay()
        if 'loss_fea' in self.distill_losses:
            losses['loss_fea'] = decay * self.distill_losses['loss_fea'](
                feats_s[-1], feats_t[-1])
        if 'loss_logit' in self.distill_losses:
            beta = self.student.head.loss_module.beta
            losses['loss_logit'] = decay * self.distill_losses['loss_logit'](
                logits_s, logits_t, beta, weights)
        return losses

    def _student_loss(self, logits: tuple, data_samples: list, weights: Tensor) -> dict:
        """The student head's own loss and PCK accuracy on the SimCC labels."""
        head = self.student.head
        device = weights.device
        labels = (cat_labels(data_samples, 'keypoint_x_labels', device),
                  cat_labels(data_samples, 'keypoint_y_labels', device))
        loss = head.loss_module(logits, labels, weights)
        _, avg_acc, _ = simcc_pck_accuracy(
            output=to_numpy(logits), target=to_numpy(labels),
            simcc_split_ratio=head.simcc_split_ratio, mask=to_numpy(weights) > 0)
        return dict(loss_kpt=loss, acc_pose=torch.tensor(avg_acc, device=device))

    # ----------------------------------------------------------- inference
    def forward(self, inputs: Tensor, data_samples: list | None = None,
                mode: str = 'tensor'):
        """``'loss'``, ``'predict'`` or ``'tensor'``, as a pose estimator;
        prediction is the student's (stage 2: on the teacher's features)."""
        return run_mode(self, inputs, data_samples, mode)

    def predict(self, inputs: Tensor, data_samples: list) -> list:
        """The student's predictions (see TopdownPoseEstimator.predict)."""
        if not self.two_dis:
            return self.student.predict(inputs, data_samples)
        if self.test_cfg.get('flip_test', False):
            feats = [self.extract_feat(inputs), self.extract_feat(inputs.flip(-1))]
        else:
            feats = self.extract_feat(inputs)
        preds = self.student.head.predict(feats, data_samples,
                                          test_cfg=self.student.test_cfg)
        instances, fields = preds if isinstance(preds, tuple) else (preds, None)
        return self.student.add_pred_to_datasample(instances, fields, data_samples)

    def extract_feat(self, inputs: Tensor) -> tuple:
        """The teacher's features (MMPose's choice; used by stage 2)."""
        return self.teacher.extract_feat(inputs)

    def _forward(self, inputs: Tensor):
        if self.two_dis:
            return self.student.head(self.extract_feat(inputs))
        return self.student._forward(inputs)

    def val_step(self, data: dict) -> list:
        """Preprocess a collated batch and predict."""
        data = self.data_preprocessor(data, False)
        return self(data['inputs'], data['data_samples'], mode='predict')

    test_step = val_step


# ------------------------------------------------------------- helpers
def build_member(cfg: str | os.PathLike | Mapping | nn.Module, key: str
                 ) -> tuple[nn.Module, Config | None]:
    """The teacher or student model, and the config file it came from.

    ``cfg`` is a config file name, a whole config (with ``model``), a model
    config, or a built model. ``key`` names the argument in messages.
    """
    if isinstance(cfg, nn.Module):
        return cfg, None
    if isinstance(cfg, (str, os.PathLike)):
        file_cfg = Config.fromfile(resolve_member_config(cfg, key))
        if 'model' not in file_cfg:
            raise ValueError(f'DWPoseDistiller {key}: {os.fspath(cfg)} has no "model"')
        return MODELS.build(file_cfg.model), file_cfg
    if isinstance(cfg, Mapping):
        whole = 'model' in cfg and 'type' not in cfg
        return MODELS.build(cfg['model'] if whole else cfg), (cfg if whole else None)
    raise TypeError(f'DWPoseDistiller {key}: expected a config file name, a '
                    f'config dict or a model, got {type(cfg).__name__}')


def resolve_member_config(path: str | os.PathLike, key: str) -> Path:
    """Find a teacher/student config file: as given (relative to the
    working directory, as MMPose does), then, for ``configs/...`` names,
    under posekit's shipped configs.

    Raises:
        FileNotFoundError: naming the key, the path and the places looked.
    """
    text = os.fspath(path)
    places = [Path(text).expanduser()]
    parts = Path(text).parts
    if parts and parts[0] == 'configs':
        places.append(shipped_configs_dir().joinpath(*parts[1:]))
    for place in places:
        if place.is_file():
            return place
    looked = ', '.join(str(p if p.is_absolute() else Path.cwd() / p) for p in places)
    raise FileNotFoundError(
        f'DWPoseDistiller {key}: config file {text!r} not found (looked at: '
        f'{looked}). MMPose resolves it from the working directory: run inside '
        f'an MMPose checkout, or set --cfg-options model.{key}=/path/to/config.py')


def _file_max_epochs(file_cfg: Config | Mapping | None) -> int | None:
    train_cfg = (file_cfg or {}).get('train_cfg') or {}
    return train_cfg.get('max_epochs')


def load_teacher(teacher: nn.Module, path: str | os.PathLike) -> None:
    """Load a checkpoint (local, a URL or a scheme name) into the teacher.

    Every weight of the teacher must be in the file (a partly random
    teacher would distil noise); keys the teacher lacks are warned about.

    Raises:
        DownloadError: ``path`` is a URL whose download failed.
        FileNotFoundError: no such file.
        CheckpointError: the file lacks or misshapes teacher weights.
    """
    text = os.fspath(path)
    try:
        check_local_path(text)  # downloads a remote file; the read below finds it cached
    except DownloadError as e:
        raise DownloadError(
            f'DWPoseDistiller teacher_pretrained: {e}. Or download the teacher '
            f'checkpoint yourself and set --cfg-options '
            f'model.teacher_pretrained=/path/to/teacher.pth') from None
    except FileNotFoundError:
        raise FileNotFoundError(
            f'DWPoseDistiller teacher_pretrained: checkpoint not found: {text} '
            f'(a relative path is taken from the working directory, '
            f'{os.getcwd()})') from None
    state_dict = load_checkpoint_file(text)
    own = teacher.state_dict()
    extra = [k for k in state_dict if k not in own]
    try:
        load_state_dict(teacher, {k: v for k, v in state_dict.items() if k in own},
                        strict=True)
    except RuntimeError as e:
        hint = (' (a distiller checkpoint: convert it first with posekit '
                'convert-distill)' if any(k.startswith('student.') for k in extra) else '')
        raise CheckpointError(f'DWPoseDistiller teacher_pretrained={text}{hint}: '
                              f'{e}') from e
    if extra:
        warnings.warn(f'teacher_pretrained={text}: {len(extra)} keys the teacher '
                      f'does not have were ignored (e.g. {extra[0]})', stacklevel=2)
