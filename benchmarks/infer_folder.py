"""``PoseInferencer`` on a folder of images: images/s by batch size, and memory.

A folder of 100 images (the 4 COCO fixture images, resized to 50-100% and
rotated by 0/90/180/270 degrees, written as JPEG) with a boxes JSON of 2-4
boxes per image (seeded), run by RTMPose-s (256x192, flip test on) with
seeded random weights (speed does not depend on the values) and JSON
predictions written, as ``posekit infer --pred-out-dir`` does. Each setting
runs in a fresh subprocess: batch sizes 1, 4, 8, 16, with the background
frame reader (``prefetch``: what ``PoseInferencer`` does) and without it
(frames decoded in the network's thread). Per setting: images/s over the
whole folder (after one warm-up image), peak RSS (``VmHWM``), RSS after a
quarter, half and all of the images (no growth expected), and the largest keypoint difference
from batch size 1 (pixels; batched kernels round differently).

Memory of the main job: peak RSS of one training epoch of
``td-hm_hrnet-tiny_1xb8-9e_synthetic-128x96.py`` on ``data/synthetic-1k``
(written first with ``posekit make-synthetic`` when absent), run in a fresh
subprocess with ``--no-validate``.

Prints figures and ratios; asserts nothing. Usage::

    OMP_NUM_THREADS=2 python benchmarks/infer_folder.py [--threads 2]
        [--batch-sizes 1 4 8 16] [--images 100] [--no-train]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
COCO = ROOT / 'tests/data/fixtures/coco'
CONFIG = 'configs/body_2d_keypoint/rtmpose/coco/rtmpose-s_8xb256-420e_coco-256x192.py'
TRAIN_CONFIG = ('configs/body_2d_keypoint/topdown_heatmap/synthetic/'
                'td-hm_hrnet-tiny_1xb8-9e_synthetic-128x96.py')
DATA = 'data/synthetic-1k'
ROTATIONS = (None, cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_180, cv2.ROTATE_90_COUNTERCLOCKWISE)


def memory_mib() -> dict:
    """This process's current (VmRSS) and peak (VmHWM) resident memory, MiB."""
    out = {}
    with open('/proc/self/status', encoding='ascii') as f:
        for line in f:
            key, _, value = line.partition(':')
            if key in ('VmRSS', 'VmHWM'):
                out[key] = int(value.split()[0]) / 1024  # kB
    return out


def write_folder(root: Path, count: int) -> tuple[Path, Path]:
    """``count`` JPEGs under ``root/images`` and their boxes in ``root/dets.json``."""
    rng = np.random.default_rng(0)
    sources = [cv2.imread(str(p)) for p in sorted(COCO.glob('*.jpg'))]
    images = root / 'images'
    images.mkdir()
    dets = []
    for i in range(count):
        image = sources[i % len(sources)]
        scale = rng.uniform(0.5, 1.0)
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        rotation = ROTATIONS[(i // len(sources)) % 4]
        image = image if rotation is None else cv2.rotate(image, rotation)
        name = f'{i:04d}'
        cv2.imwrite(str(images / f'{name}.jpg'), image)
        h, w = image.shape[:2]
        for _ in range(rng.integers(2, 5)):
            bw, bh = w * rng.uniform(0.15, 0.4), h * rng.uniform(0.3, 0.8)
            x, y = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
            # scores above bbox_thr and NMS off: every box runs
            dets.append(dict(image_id=name, category_id=1, score=0.9,
                             bbox=[float(x), float(y), float(bw), float(bh)]))
    (root / 'dets.json').write_text(json.dumps(dets))
    return images, root / 'dets.json'


def write_weights(path: Path) -> None:
    import torch
    from posekit.config import Config
    from posekit.registry import MODELS
    torch.manual_seed(0)
    cfg = Config.fromfile(str(ROOT / CONFIG))
    cfg.model.backbone.init_cfg = None  # no pretrained download; random weights
    torch.save(dict(state_dict=MODELS.build(cfg.model).state_dict()), path)


def worker(args: argparse.Namespace) -> None:
    """One setting, in this fresh process: prints one JSON line."""
    import torch
    import posekit.apis.inferencer as inferencer_module
    from posekit.apis import PoseInferencer
    from posekit.apis.sources import iter_frames
    torch.set_num_threads(args.threads)
    if not args.prefetch:
        # the synchronous reader: frames decoded when the loop asks for them
        inferencer_module.iter_frames = \
            lambda items, skipped=None, prefetch=0: iter_frames(items, skipped, 0)
    inferencer = PoseInferencer(str(ROOT / CONFIG), args.weights, device='cpu',
                                batch_size=args.batch_size)
    first = sorted(Path(args.folder).iterdir())[0]
    list(inferencer(str(first), bboxes=args.bboxes, nms_thr=1.))  # warm-up
    rss, done, at = {}, 0, marks(len(list(Path(args.folder).iterdir())))
    start = time.perf_counter()
    for _ in inferencer(args.folder, bboxes=args.bboxes, nms_thr=1., pred_out_dir=args.out):
        done += 1
        if done in at:
            rss[done] = round(memory_mib()['VmRSS'], 1)
    seconds = time.perf_counter() - start
    print(json.dumps(dict(images_per_s=done / seconds, rss=rss,
                          peak=memory_mib()['VmHWM'], images=done)))


def marks(images: int) -> tuple[int, int, int]:
    """After how many images RSS is read: a quarter, half and all of them."""
    return images // 4, images // 2, images


def run_setting(folder, dets, weights, out, batch_size, prefetch, threads) -> dict:
    cmd = [sys.executable, __file__, '--worker', '--folder', str(folder), '--bboxes',
           str(dets), '--weights', str(weights), '--out', str(out), '--threads',
           str(threads), '--batch-size', str(batch_size), '--prefetch', str(int(prefetch))]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode:
        raise RuntimeError(f'{" ".join(cmd)} failed:\n{proc.stderr[-3000:]}')
    return json.loads(proc.stdout.strip().splitlines()[-1])


def max_keypoint_diff(out: Path, ref: Path) -> float:
    """Largest |keypoint difference| (pixels) over all JSON files of two runs."""
    worst = 0.
    for path in sorted(ref.iterdir()):
        a = json.loads(path.read_text())
        b = json.loads((out / path.name).read_text())
        for x, y in zip(a, b):
            worst = max(worst, float(np.abs(np.subtract(x['keypoints'], y['keypoints'])).max()))
    return worst


def train_epoch(threads: int) -> dict:
    """Peak RSS and seconds of one training epoch of the main job, in a subprocess."""
    if not (ROOT / DATA / 'annotations/val.json').is_file():
        subprocess.run([sys.executable, '-m', 'posekit.cli', 'make-synthetic', DATA,
                        '--num-images', '1000', '--seed', '0'], cwd=ROOT, check=True)
    with tempfile.TemporaryDirectory() as work:
        code = ('import json, sys, time, torch\n'
                f'torch.set_num_threads({threads})\n'
                'from posekit.cli import main\n'
                'start = time.perf_counter()\n'
                f'code = main(["train", {TRAIN_CONFIG!r}, "--work-dir", {work!r}, '
                '"--no-validate", "--cfg-options", "train_cfg.max_epochs=1"])\n'
                'seconds = time.perf_counter() - start\n'
                'hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0]\n'
                'print(json.dumps(dict(code=code, seconds=seconds, '
                'peak=int(hwm.split()[1]) / 1024)))\n')
        proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                              cwd=ROOT)
    if proc.returncode:
        raise RuntimeError(f'training failed:\n{proc.stderr[-3000:]}')
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--batch-sizes', type=int, nargs='+', default=[1, 4, 8, 16])
    parser.add_argument('--images', type=int, default=100)
    parser.add_argument('--no-train', action='store_true', help='skip the training epoch')
    for name in ('--folder', '--bboxes', '--weights', '--out'):
        parser.add_argument(name, help=argparse.SUPPRESS)
    parser.add_argument('--worker', action='store_true', help=argparse.SUPPRESS)
    parser.add_argument('--batch-size', type=int, help=argparse.SUPPRESS)
    parser.add_argument('--prefetch', type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder, dets = write_folder(tmp, args.images)
        weights = tmp / 'rtmpose-s.pth'
        write_weights(weights)
        boxes = len(json.loads(dets.read_text()))
        print(f'{args.images} images, {boxes} boxes, RTMPose-s 256x192 (flip test), '
              f'{args.threads} threads, JSON written')
        print(f'{"batch":>5} {"prefetch":>8} {"img/s":>7} {"x bs1":>6} {"peak MiB":>9} '
              f'{"RSS@" + "/".join(map(str, marks(args.images))) + " MiB":>20} '
              f'{"max dpx":>8}')
        base = None
        for batch_size in args.batch_sizes:
            for prefetch in (True, False):
                out = tmp / f'out-{batch_size}-{int(prefetch)}'
                r = run_setting(folder, dets, weights, out, batch_size, prefetch,
                                args.threads)
                ref = tmp / f'out-{args.batch_sizes[0]}-1'
                base = base or r['images_per_s']
                rss = '/'.join(f'{r["rss"].get(str(n), float("nan")):.0f}'
                               for n in marks(args.images))
                print(f'{batch_size:>5} {str(prefetch):>8} {r["images_per_s"]:7.2f} '
                      f'{r["images_per_s"] / base:6.2f} {r["peak"]:9.0f} {rss:>20} '
                      f'{max_keypoint_diff(out, ref):8.2e}', flush=True)
    if not args.no_train:
        t = train_epoch(args.threads)
        print(f'training, one epoch of {TRAIN_CONFIG.rsplit("/", 1)[1]} on {DATA}: '
              f'peak RSS {t["peak"]:.0f} MiB, {t["seconds"]:.1f} s (exit code {t["code"]})')


if __name__ == '__main__':
    main()
