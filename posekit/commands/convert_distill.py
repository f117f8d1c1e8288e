"""``posekit convert-distill CKPT OUT [--two-dis]``: a DWPose distiller
checkpoint as a plain pose estimator checkpoint.

What MMPose's ``tools/misc/pth_transfer.py`` does:

- stage 1 (default): keep the ``student.*`` weights, without the prefix;
- stage 2 (``--two-dis``): the backbone and neck come from the teacher
  (``teacher.backbone.*``, ``teacher.neck.*``), which stage 2 does not
  train, the head from the student (``student.head.*``) and, when present,
  ``distill_losses.loss_mgd.down*`` becomes ``head.down*``.

Every other weight (the teacher, FeaLoss's ``align`` convolution) is
dropped, and of the checkpoint only ``meta`` and ``state_dict`` are kept (no
optimizer state). The result loads with ``strict=True`` into the model of
the student's config (``init_model(student_cfg, OUT)``, ``posekit test``).
The file is written atomically (temporary file, then rename).
"""
from __future__ import annotations

import argparse
import re
import sys
from collections import OrderedDict
from typing import Mapping

# (prefix in the distiller, prefix in the pose estimator) per stage
STAGE1_RENAMES = (('student.', ''),)
STAGE2_RENAMES = (('teacher.backbone', 'backbone'),
                  ('distill_losses.loss_mgd.down', 'head.down'),
                  ('teacher.neck', 'neck'),
                  ('student.head', 'head'))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('checkpoint', help='checkpoint of a DWPoseDistiller training run')
    parser.add_argument('out', help='where to write the pose estimator checkpoint')
    parser.add_argument('--two-dis', '--two_dis', dest='two_dis', action='store_true',
                        help='the checkpoint is from stage 2 (two_dis=True): backbone '
                        'and neck from the teacher, head from the student')


def run(args: argparse.Namespace) -> int:
    from posekit.engine.checkpoint import save_checkpoint
    from posekit.models.utils import read_checkpoint

    raw = read_checkpoint(args.checkpoint)
    if not args.two_dis and re.search(r'two_dis\s*=\s*True', str(_meta(raw).get('cfg', ''))):
        print(f'posekit convert-distill: warning: {args.checkpoint} was trained with '
              'two_dis=True; without --two-dis its student backbone (untrained '
              'in stage 2) is exported', file=sys.stderr)
    converted = convert_distill_checkpoint(raw, args.two_dis, where=args.checkpoint)
    try:
        save_checkpoint(converted, args.out)
    except TypeError as e:  # meta holding something that is not plain data
        raise ValueError(f'{args.checkpoint}: cannot write its meta: {e}') from e
    print(f'{args.out}: {len(converted["state_dict"])} weights of the '
          f'{"stage-2" if args.two_dis else "stage-1"} student')
    return 0


def convert_distill_checkpoint(checkpoint: Mapping, two_dis: bool = False,
                               where: str = 'checkpoint') -> dict:
    """``{'meta': ..., 'state_dict': ...}`` of the student (see the module
    docstring).

    Args:
        checkpoint (Mapping): A distiller checkpoint (with ``state_dict``) or
            a bare distiller state_dict.
        two_dis (bool): Stage-2 renaming.
        where (str): Names the checkpoint in error messages.

    Raises:
        ValueError: No weight matches the renaming (not a distiller
            checkpoint, or the wrong stage).
    """
    from posekit.models.utils import state_dict_of

    weights = state_dict_of(checkpoint)
    renames = STAGE2_RENAMES if two_dis else STAGE1_RENAMES
    state_dict = OrderedDict()
    for name, value in weights.items():
        for old, new in renames:
            if name.startswith(old):
                state_dict[new + name[len(old):]] = value
                break
    if not state_dict or (two_dis and not any(k.startswith('head.') for k in state_dict)):
        tops = sorted({k.split('.', 1)[0] for k in weights})
        wanted = ', '.join(old for old, _ in renames)
        raise ValueError(f'{where}: not a DWPoseDistiller checkpoint: no weights under '
                         f'{wanted} (top-level names: {", ".join(tops) or "none"})')
    out = {'state_dict': state_dict}
    meta = _meta(checkpoint)
    if meta:
        out['meta'] = dict(meta)
    return out


def _meta(checkpoint: Mapping) -> Mapping:
    meta = checkpoint.get('meta')
    return meta if isinstance(meta, Mapping) else {}
