"""``posekit plot-log WORK_DIR [--keys loss lr coco/AP] [--out FILE]``: training curves.

Reads the newest ``WORK_DIR/*/vis_data/scalars.json`` of a training run (or
the newest of any run; or the run folder's
``vis_data/scalars.json``, or the file itself) and draws one panel per key,
with OpenCV, into one PNG (default ``WORK_DIR/curves.png``).

The records are those the ``LoggerHook`` writes: training records carry
``epoch``, ``iter`` and ``step`` = iteration; evaluation records (metrics
such as ``coco/AP`` or ``PCK``) carry ``step`` = epoch (the default
``log_metric_by_epoch=True``) or iteration. The x axis is the iteration for
both: an evaluation after epoch ``e`` is placed at the end of that epoch,
``e x`` the iterations per epoch (the largest ``ceil(iter / epoch)`` of the
training records, or the last logged iteration of epoch ``e`` if larger).
Evaluation steps larger than every logged epoch are taken as iterations.
Without training records x is the raw ``step``. Non-finite values (a
diverged loss) are left out of the curves.

Default keys: training keys starting with ``loss`` or ending with ``lr``,
then the evaluation results except times and variants whose name has a
space or parentheses (``coco/AP`` and ``coco/AR``, not ``coco/AP .5``). A key present in both kinds of
records (``time``) is drawn twice: training in blue, evaluation in orange
with markers.
"""
from __future__ import annotations

import argparse
import glob
import json
import math
import os.path as osp

from posekit.fileio import write_image
from posekit.visualization.curves import EVAL_COLOR, TRAIN_COLOR, Curve, draw_curves

# record keys that are positions, not quantities
POSITION_KEYS = ('step', 'epoch', 'iter')
EVAL_SKIPPED_BY_DEFAULT = ('time', 'data_time', 'memory')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('work_dir', help='work dir of a run (or its TIMESTAMP folder, '
                        'or a scalars.json file)')
    parser.add_argument('--keys', nargs='+', default=None,
                        help='what to plot (default: losses, lr and the metrics)')
    parser.add_argument('--out', default=None,
                        help='PNG to write (default: WORK_DIR/curves.png)')
    parser.add_argument('--train-time', action='store_true',
                        help="also print the time per training iteration by epoch (MMPose's "
                             'analyze_logs.py cal_train_time)')
    parser.add_argument('--include-outliers', action='store_true',
                        help="with --train-time: count each epoch's first logged time too")


def run(args: argparse.Namespace) -> int:
    path = find_scalars(args.work_dir)
    records = read_records(path)
    train = [r for r in records if 'iter' in r]
    evals = [r for r in records if 'iter' not in r]
    keys = select_keys(train, evals, args.keys)
    eval_x = eval_positions(train, evals)
    panels = []
    for key in keys:
        curves = []
        if any(key in r for r in train):
            curves.append(_curve(train, [r['step'] for r in train], key, TRAIN_COLOR, False))
        if any(key in r for r in evals):
            curves.append(_curve(evals, eval_x, key, EVAL_COLOR, True))
        panels.append((key, curves))
    run_dir = osp.dirname(osp.dirname(osp.abspath(path)))
    title = f'{osp.basename(osp.dirname(run_dir))}/{osp.basename(run_dir)}'
    picture = draw_curves(panels, title, 'iteration' if train else 'step')
    out = args.out or osp.join(args.work_dir if osp.isdir(args.work_dir)
                               else osp.dirname(osp.abspath(args.work_dir)), 'curves.png')
    _write(out, picture)
    print(f'plot-log: {len(keys)} curves of {path} -> {out}')
    if args.train_time:
        stats = train_time(train, args.include_outliers)
        print(f"slowest epoch {stats['slowest_epoch']}, average time is "
              f"{stats['slowest_time']:.4f}\nfastest epoch {stats['fastest_epoch']}, average "
              f"time is {stats['fastest_time']:.4f}\ntime std over epochs is "
              f"{stats['std']:.4f}\naverage iter time: {stats['mean']:.4f} s/iter")
    return 0


def train_time(train: list[dict], include_outliers: bool = False) -> dict:
    """Seconds per training iteration from the logged ``time`` values, as
    MMPose's ``cal_train_time``: each epoch's mean (without its first value,
    which holds the start-up, unless ``include_outliers``), the slowest and
    fastest epoch (numbered from 1), the std of the epoch means, and the
    mean over every counted value."""
    by_epoch: dict = {}
    for record in train:
        if 'time' in record:
            by_epoch.setdefault(record.get('epoch', 1), []).append(float(record['time']))
    epochs = {e: (v if include_outliers else v[1:]) for e, v in sorted(by_epoch.items())}
    epochs = {e: v for e, v in epochs.items() if v}
    if not epochs:
        raise ValueError('--train-time: no training record with a "time" (each epoch needs '
                         'two, or --include-outliers)')
    means = {e: sum(v) / len(v) for e, v in epochs.items()}
    slowest, fastest = max(means, key=means.get), min(means, key=means.get)
    values = [t for v in epochs.values() for t in v]
    average = sum(means.values()) / len(means)
    return dict(slowest_epoch=slowest, slowest_time=means[slowest], fastest_epoch=fastest,
                fastest_time=means[fastest], mean=sum(values) / len(values),
                std=math.sqrt(sum((m - average) ** 2 for m in means.values()) / len(means)))


def find_scalars(path: str) -> str:
    """The scalars file: ``path`` itself, ``path/vis_data/scalars.json`` or the
    newest ``path/*/vis_data/scalars.json``."""
    if osp.isfile(path):
        return path
    if not osp.isdir(path):
        raise FileNotFoundError(f'{path} does not exist')
    found = glob.glob(osp.join(glob.escape(path), 'vis_data', 'scalars.json')) + \
        glob.glob(osp.join(glob.escape(path), '*', 'vis_data', 'scalars.json'))
    if not found:
        raise FileNotFoundError(f'no vis_data/scalars.json under {path} (a work dir '
                                'of posekit train has one per run)')
    # a work dir also holds the runs of posekit test (metrics only): prefer
    # the newest run that trained
    trained = [f for f in found if _has_training_records(f)]
    return max(trained or found, key=osp.getmtime)


def _has_training_records(path: str) -> bool:
    with open(path, encoding='utf-8') as f:
        return any('"iter":' in line for line in f)


def read_records(path: str) -> list[dict]:
    """One dict per non-empty line of a JSON-lines scalars file."""
    records = []
    with open(path, encoding='utf-8') as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f'{path}:{number}: not a JSON object ({e})') from e
            if not isinstance(record, dict) or 'step' not in record:
                raise ValueError(f'{path}:{number}: a record needs a "step"')
            records.append(record)
    if not records:
        raise ValueError(f'{path} holds no records')
    return records


def _keys(records: list[dict]) -> list[str]:
    seen: dict[str, None] = {}
    for r in records:
        seen.update((k, None) for k, v in r.items() if k not in POSITION_KEYS
                    and isinstance(v, (int, float)) and not isinstance(v, bool))
    return list(seen)


def select_keys(train: list[dict], evals: list[dict], wanted: list[str] | None) -> list[str]:
    """The keys to draw (``wanted``, checked, or the defaults)."""
    train_keys, eval_keys = _keys(train), _keys(evals)
    available = list(dict.fromkeys(train_keys + eval_keys))
    if wanted:
        unknown = [k for k in wanted if k not in available]
        if unknown:
            raise ValueError(f'unknown key(s) {", ".join(map(repr, unknown))}; available: '
                             f'{", ".join(available)}')
        return list(dict.fromkeys(wanted))

    def base(key: str) -> str:  # log_with_hierarchy=True names them train/loss
        return key.split('/', 1)[1] if key.startswith(('train/', 'val/', 'test/')) else key

    keys = [k for k in train_keys if base(k).startswith('loss') or base(k).endswith('lr')]
    # the headline metrics: coco/AP and coco/AR, not their variants such as
    # 'coco/AP .5' or 'coco/AR (M)' (ask for those with --keys)
    keys += [k for k in eval_keys
             if base(k) not in EVAL_SKIPPED_BY_DEFAULT and not any(c in k for c in ' ()')]
    if not keys:
        raise ValueError(f'no loss, lr or metric to plot; available: {", ".join(available)}')
    return list(dict.fromkeys(keys))


def eval_positions(train: list[dict], evals: list[dict]) -> list[float]:
    """The x (iteration) of each evaluation record (see the module doc)."""
    steps = [float(r['step']) for r in evals]
    epochs = [(r.get('epoch'), r.get('iter')) for r in train]
    epochs = [(int(e), int(i)) for e, i in epochs if isinstance(e, (int, float))
              and isinstance(i, (int, float)) and e > 0]
    if not epochs or any(s > max(e for e, _ in epochs) for s in steps):
        return steps  # iterations already (or nothing to convert them with)
    per_epoch = max(math.ceil(i / e) for e, i in epochs)
    last_iter = {}
    for e, i in epochs:
        last_iter[e] = max(last_iter.get(e, 0), i)
    out = []
    for s in steps:
        logged = [i for e, i in last_iter.items() if e <= s]
        out.append(max([s * per_epoch] + logged))
    return out


def _curve(records: list[dict], xs: list[float], key: str, color, markers: bool) -> Curve:
    points = [(x, r[key]) for x, r in zip(xs, records)
              if key in r and isinstance(r[key], (int, float))]
    return Curve([float(x) for x, _ in points], [float(y) for _, y in points], color, markers)


def _write(out: str, picture) -> None:
    import cv2
    if not out.lower().endswith('.png'):
        raise ValueError(f'--out must be a .png file, got {out}')
    write_image(out, cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
