"""Time of COCO keypoint evaluation (CocoMetric), posekit vs MMPose 1.3.2.

Run by hand (not a test):

    PYTHONPATH=. python benchmarks/evaluate.py [--images 5000] [--rounds 3]
                                               [--ref-python PATH | --no-ref]

It generates, with a fixed seed and in a temporary directory, a COCO-format
keypoint set (5,000 images, about 11,000 people, some crowd and some
keypoint-less annotations) and top-down style predictions for it: one per
person plus 20% duplicates (to give the OKS NMS work), with perturbed
keypoints and random scores. It then times, end to end,
``CocoMetric(ann_file=...).process`` over batches of 32 data samples and
``evaluate(size)``: the same pickled data samples on both sides. The MMPose
figure comes from this script run by the reference interpreter in a
subprocess (``--impl mmpose``); posekit itself never imports MMPose. The two
result dicts are compared and must be equal.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DEFAULT_REF_PYTHON = os.environ.get('POSEKIT_MMPOSE_PYTHON',
                                    '/tmp/mmpose-ref/bin/python')
# as parse_pose_metainfo reads configs/_base_/datasets/coco.py
COCO_SIGMAS = np.array([
    .026, .025, .025, .035, .035, .079, .079, .072, .072, .062, .062, .107,
    .107, .087, .087, .089, .089], dtype=np.float32)
BATCH = 32


def make_annotations(rng: np.random.Generator, num_images: int) -> dict:
    """A COCO person-keypoint json dict with ~2.2 people per image."""
    images, anns = [], []
    for img_id in range(1, num_images + 1):
        width, height = (int(v) for v in rng.integers(480, 641, 2))
        images.append(dict(id=img_id, width=width, height=height,
                           file_name=f'{img_id:012d}.jpg'))
        for _ in range(min(20, 1 + rng.poisson(1.2))):
            w = float(rng.uniform(20, 300))
            h = min(float(w * rng.uniform(1.2, 2.5)), height - 1.0)
            x = float(rng.uniform(0, width - w))
            y = float(rng.uniform(0, height - h))
            vis = rng.choice([0, 1, 2], size=17, p=[0.3, 0.2, 0.5])
            if rng.random() < 0.05:        # annotated box, no keypoints
                vis[:] = 0
            xy = rng.uniform([x, y], [x + w, y + h], size=(17, 2))
            kpts = np.concatenate([xy, vis[:, None]], axis=1)
            kpts[vis == 0] = 0
            crowd = int(rng.random() < 0.01)
            if crowd:
                kpts[:] = 0
            anns.append(dict(
                id=len(anns) + 1, image_id=img_id, category_id=1,
                bbox=[x, y, w, h], area=float(w * h * rng.uniform(0.4, 0.7)),
                iscrowd=crowd, num_keypoints=int(np.count_nonzero(kpts[:, 2])),
                keypoints=[round(float(v), 2) for v in kpts.ravel()]))
    categories = [dict(id=1, name='person', supercategory='person',
                       keypoints=[f'kpt{i}' for i in range(17)],
                       skeleton=[])]
    return dict(images=images, annotations=anns, categories=categories)


def make_data_samples(rng: np.random.Generator, coco: dict) -> list[dict]:
    """Top-down predictions as the model hands them to the metric (dicts).

    One sample per non-crowd person and 20% extra, noisier duplicates, each
    with its own ``id`` (as with detected boxes).
    """
    images = {img['id']: img for img in coco['images']}
    samples = []
    for ann in coco['annotations']:
        if ann['iscrowd']:
            continue
        for dup in range(1 + int(rng.random() < 0.2)):
            samples.append(_sample(rng, ann, images[ann['image_id']],
                                   len(samples), noise=0.06 * (1 + 2 * dup)))
    return samples


def _sample(rng, ann, img, sample_id, noise):
    x, y, w, h = ann['bbox']
    gt = np.array(ann['keypoints'], dtype=np.float32).reshape(17, 3)
    kpts = rng.uniform([x, y], [x + w, y + h], size=(17, 2))
    seen = gt[:, 2] > 0
    kpts[seen] = gt[seen, :2] + rng.normal(0, noise * np.sqrt(ann['area']),
                                           (int(seen.sum()), 2))
    bbox = np.array([[x, y, x + w, y + h]], dtype=np.float32)
    bbox_score = rng.uniform(0.3, 1.0, 1).astype(np.float32)
    return dict(
        id=sample_id, img_id=ann['image_id'], category_id=1,
        ori_shape=(img['height'], img['width']),
        gt_instances=dict(
            bboxes=bbox, bbox_scores=bbox_score,
            bbox_scales=np.array([[w, h]], dtype=np.float32) * 1.25,
            keypoints=gt[None, :, :2], keypoints_visible=seen[None].astype(
                np.float32)),
        pred_instances=dict(
            keypoints=kpts[None].astype(np.float32),
            keypoint_scores=rng.uniform(0, 1, (1, 17)).astype(np.float32),
            bboxes=bbox, bbox_scores=bbox_score))


def generate(data_dir: Path, num_images: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    coco = make_annotations(rng, num_images)
    samples = make_data_samples(rng, coco)
    with open(data_dir / 'person_keypoints.json', 'w') as f:
        json.dump(coco, f)
    meta = dict(dataset_name='coco', num_keypoints=17, sigmas=COCO_SIGMAS,
                CLASSES=coco['categories'])
    with open(data_dir / 'samples.pkl', 'wb') as f:
        pickle.dump(dict(samples=samples, meta=meta), f)
    num_people = sum(not a['iscrowd'] for a in coco['annotations'])
    print(f'{num_images} images, {num_people} people '
          f'({len(coco["annotations"])} annotations), '
          f'{len(samples)} predictions')


def build_metric(impl: str, ann_file: str):
    if impl == 'posekit':
        from posekit.registry import METRICS
    else:
        import mmpose.evaluation  # noqa: F401
        from mmpose.registry import METRICS
    return METRICS.build(dict(type='CocoMetric', ann_file=ann_file))


def measure(impl: str, data_dir: Path, rounds: int) -> tuple:
    """Best wall time and best CPU time (this process) of ``rounds`` runs of
    process + evaluate, and the result.

    The metric is built (annotation file loaded) outside the timed part, as
    a runner builds it once before validating. On a shared machine the CPU
    time is the figure other processes disturb least.
    """
    with open(data_dir / 'samples.pkl', 'rb') as f:
        data = pickle.load(f)
    samples, walls, cpus, result = data['samples'], [], [], None
    for _ in range(rounds):
        with contextlib.redirect_stdout(io.StringIO()):
            metric = build_metric(impl, str(data_dir / 'person_keypoints.json'))
            metric.dataset_meta = dict(data['meta'])
            start, cpu = time.perf_counter(), time.process_time()
            for i in range(0, len(samples), BATCH):
                metric.process(None, samples[i:i + BATCH])
            result = metric.evaluate(len(samples))
            walls.append(time.perf_counter() - start)
            cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus), {k: float(v) for k, v in result.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--images', type=int, default=5000)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--impl', choices=['posekit', 'mmpose'],
                        default='posekit', help=argparse.SUPPRESS)
    parser.add_argument('--data', help=argparse.SUPPRESS)
    parser.add_argument('--ref-python', default=DEFAULT_REF_PYTHON,
                        help='interpreter with MMPose 1.3.2 installed '
                        '(default: $POSEKIT_MMPOSE_PYTHON or %(default)s)')
    parser.add_argument('--no-ref', action='store_true',
                        help='measure posekit only')
    args = parser.parse_args()

    if args.impl == 'mmpose':       # the subprocess: print the figures
        wall, cpu, result = measure('mmpose', Path(args.data), args.rounds)
        print(json.dumps(dict(wall=wall, cpu=cpu, result=result)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp), args.images, args.seed)
        wall, cpu, our_result = measure('posekit', Path(tmp), args.rounds)
        print(f'posekit      : {wall:6.3f} s wall, {cpu:6.3f} s CPU '
              f'(best of {args.rounds})')
        if args.no_ref:
            return 0
        if not Path(args.ref_python).exists():
            print(f'(MMPose 1.3.2 skipped: {args.ref_python} not found)')
            return 0
        proc = subprocess.run(
            [args.ref_python, __file__, '--impl', 'mmpose', '--data', tmp,
             '--rounds', str(args.rounds)],
            capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(f'MMPose 1.3.2 failed:\n{proc.stderr[-2000:]}')
            return 1
        ref = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f'MMPose 1.3.2 : {ref["wall"]:6.3f} s wall, {ref["cpu"]:6.3f} s CPU '
          f'(best of {args.rounds})')
    print(f'speed-up     : {ref["wall"] / wall:6.2f}x wall, '
          f'{ref["cpu"] / cpu:.2f}x CPU')
    same = ref['result'] == our_result
    print('results      : ' + ('identical' if same else 'DIFFER'))
    for key, value in our_result.items():
        mark = '' if ref['result'].get(key) == value else \
            f'   (MMPose {ref["result"].get(key)!r})'
        print(f'  {key:14s} {value!r}{mark}')
    return 0 if same else 1


if __name__ == '__main__':
    sys.exit(main())
