"""Samples/s of the COCO top-down train pipeline, posekit vs MMPose 1.3.2.

The pipeline is the one of the SimpleBaseline COCO 256x192 configs::

    LoadImage -> GetBBoxCenterScale -> RandomFlip -> RandomHalfBody
    -> RandomBBoxTransform -> TopdownAffine(192x256)
    -> GenerateTarget(MSRAHeatmap 48x64, sigma 2) -> PackPoseInputs

run in one process over the people of the 4-image COCO fixture (the same
data-info dicts on both sides, copied per sample as a dataset does), with
the thread settings of a data loader worker (1 torch thread, OpenCV threads
off). It is measured three times: as is; with the images decoded beforehand
(JPEG decoding is the same OpenCV call on both sides and most of the time);
and for posekit with ``LoadImage(decoded_cache=DIR)`` warm (the images read
back from the cache of decoded pixels the warm-up filled, as from the second
epoch of a training run on), compared with MMPose's full pipeline.
The MMPose figures come from this script run by the reference interpreter
in a subprocess (``--impl mmpose``); posekit itself never imports MMPose.

Usage::

    python benchmarks/pipeline.py [--iters 400] [--rounds 5]
                                  [--ref-python PATH | --no-ref]
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / 'tests' / 'data' / 'fixtures' / 'coco'
DEFAULT_REF_PYTHON = os.environ.get('POSEKIT_MMPOSE_PYTHON',
                                    '/tmp/mmpose-ref/bin/python')

CODEC = dict(type='MSRAHeatmap', input_size=(192, 256), heatmap_size=(48, 64),
             sigma=2)
PIPELINE = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomHalfBody'),
    dict(type='RandomBBoxTransform'),
    dict(type='TopdownAffine', input_size=CODEC['input_size']),
    dict(type='GenerateTarget', encoder=CODEC),
    dict(type='PackPoseInputs'),
]
COCO_FLIP = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
COCO_JOINT_WEIGHTS = [1., 1., 1., 1., 1., 1., 1., 1.2, 1.2, 1.5, 1.5, 1., 1.,
                      1.2, 1.2, 1.5, 1.5]


def data_infos(preloaded: bool = False) -> list[dict]:
    """Top-down data infos (one person each) of the fixture, as a COCO
    dataset produces them (xyxy float32 box, (1, 17, 2) keypoints).

    With ``preloaded`` each info also holds its decoded image as ``img``
    (LoadImage then only records its shape): JPEG decoding, the same OpenCV
    call on both sides, is left out of the measurement.
    """
    with open(DATA / 'test_coco.json') as f:
        coco = json.load(f)
    images = {img['id']: img for img in coco['images']}
    infos = []
    for ann in coco['annotations']:
        if ann.get('iscrowd') or max(ann['keypoints'][2::3]) == 0:
            continue
        x, y, w, h = ann['bbox']
        kpt = np.array(ann['keypoints'], np.float32).reshape(1, -1, 3)
        infos.append(dict(
            img_id=ann['image_id'], id=ann['id'], category_id=1,
            img_path=str(DATA / images[ann['image_id']]['file_name']),
            bbox=np.array([[x, y, x + w, y + h]], np.float32),
            bbox_score=np.ones(1, np.float32),
            keypoints=kpt[..., :2],
            keypoints_visible=np.minimum(1, kpt[..., 2]),
            flip_indices=COCO_FLIP,
            upper_body_ids=list(range(11)), lower_body_ids=list(range(11, 17)),
            dataset_keypoint_weights=np.array(COCO_JOINT_WEIGHTS, np.float32)))
    if preloaded:
        import cv2
        for info in infos:
            info['img'] = cv2.imread(info['img_path'])
    return infos


def build_pipeline(impl: str, decoded_cache: str | None = None):
    if impl == 'posekit':
        sys.path.insert(0, str(ROOT))
        from posekit.datasets.transforms import Compose
        steps = copy.deepcopy(PIPELINE)
        if decoded_cache:
            steps[0]['decoded_cache'] = decoded_cache
        return Compose(steps)
    # the reference, only ever run by the reference interpreter
    from mmengine.dataset import Compose
    from mmpose.utils import register_all_modules
    register_all_modules()
    return Compose(copy.deepcopy(PIPELINE))


def measure(impl: str, iters: int, warmup: int, rounds: int,
            preloaded: bool = False, decoded_cache: str | None = None) -> tuple[float, float]:
    """Samples/s over ``rounds`` rounds of ``iters`` samples.

    Returns ``(wall, cpu)``: the best round by wall-clock time, and samples
    per second of this process's CPU time over all rounds. The pipeline is
    single-threaded, so on an idle machine both agree; on a shared machine
    the CPU-time figure is the one other processes do not disturb.
    """
    import cv2
    import torch
    # what a data loader worker runs with: torch sets 1 thread in each
    # worker, MMEngine turns OpenCV's threading off
    torch.set_num_threads(1)
    cv2.setNumThreads(0)
    pipeline = build_pipeline(impl, decoded_cache)
    infos = data_infos(preloaded)
    np.random.seed(0)
    for i in range(warmup):
        pipeline(copy.deepcopy(infos[i % len(infos)]))
    walls = []
    cpu_start = time.process_time()
    for _ in range(rounds):
        start = time.perf_counter()
        for i in range(iters):
            out = pipeline(copy.deepcopy(infos[i % len(infos)]))
            assert tuple(out['inputs'].shape) == (3, 256, 192)
        walls.append(iters / (time.perf_counter() - start))
    cpu = iters * rounds / (time.process_time() - cpu_start)
    return max(walls), cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--iters', type=int, default=400,
                        help='samples per timed round (default: %(default)s)')
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=50)
    parser.add_argument('--impl', choices=['posekit', 'mmpose'],
                        default='posekit', help=argparse.SUPPRESS)
    parser.add_argument('--ref-python', default=DEFAULT_REF_PYTHON,
                        help='interpreter with MMPose 1.3.2 installed '
                        '(default: $POSEKIT_MMPOSE_PYTHON or %(default)s)')
    parser.add_argument('--no-ref', action='store_true',
                        help='measure posekit only')
    args = parser.parse_args()

    if args.impl == 'mmpose':       # the subprocess: print the figures
        for preloaded in (False, True):
            print(*measure('mmpose', args.iters, args.warmup, args.rounds,
                           preloaded))
        return 0
    ours = [measure('posekit', args.iters, args.warmup, args.rounds, p)
            for p in (False, True)]
    with tempfile.TemporaryDirectory() as cache:   # the warm-up fills it
        ours.append(measure('posekit', args.iters, args.warmup, args.rounds,
                            decoded_cache=cache))
    ref = None
    if not args.no_ref and not Path(args.ref_python).exists():
        print(f'(MMPose 1.3.2 skipped: {args.ref_python} not found)')
    elif not args.no_ref:
        proc = subprocess.run(
            [args.ref_python, __file__, '--impl', 'mmpose', '--iters',
             str(args.iters), '--warmup', str(args.warmup), '--rounds',
             str(args.rounds)], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(f'MMPose 1.3.2 failed:\n{proc.stderr[-2000:]}')
            return 1
        lines = proc.stdout.strip().splitlines()[-2:]
        ref = [tuple(map(float, line.split())) for line in lines]
    titles = ('full pipeline (JPEG decode included)',
              'images preloaded (decode excluded)',
              'posekit with a warm decoded_cache vs MMPose\'s full pipeline')
    for i, title in enumerate(titles):
        print(title)
        _report('posekit', ours[i])
        if ref is not None:
            theirs = ref[i] if i < 2 else ref[0]
            _report('MMPose 1.3.2', theirs)
            print(f'  {"ratio":13s}: {ours[i][0] / theirs[0]:7.2f}x wall, '
                  f'{ours[i][1] / theirs[1]:.2f}x CPU')
    return 0


def _report(name: str, figures: tuple[float, float]) -> None:
    wall, cpu = figures
    print(f'  {name:13s}: {wall:7.1f} samples/s wall (best round), '
          f'{cpu:7.1f} per CPU second')


if __name__ == '__main__':
    sys.exit(main())
