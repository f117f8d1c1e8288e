"""End-to-end ``inference_topdown`` speed: instances/s, 8 boxes, flip test on.

One 640x480 image (a COCO fixture image resized), 8 person boxes, the test
pipeline, the network on both the image and its mirror, decoding: what a
user's call costs. Models at 256x192 with seeded random weights (speed does
not depend on the values): ResNet-50 SimpleBaseline, HRNet-w32, RTMPose-s.
Runs on 2 CPU threads, in PyTorch and in onnxruntime (the file written by
``posekit export``). With ``--ref-python`` the same measurement runs in the
MMPose 1.3.2 interpreter in a subprocess (PyTorch only); posekit never
imports MMPose.

Usage::

    python benchmarks/infer.py [--iters 10] [--threads 2] [--models res50 ...]
                               [--ref-python PATH | --no-ref]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
IMAGE = ROOT / 'tests/data/fixtures/coco/000000197388.jpg'
DEFAULT_REF_PYTHON = os.environ.get('POSEKIT_MMPOSE_PYTHON', '/tmp/mmpose-ref/bin/python')
MODELS = {
    'res50': 'configs/body_2d_keypoint/topdown_heatmap/coco/td-hm_res50_8xb64-210e_coco-256x192.py',
    'hrnet-w32': 'configs/body_2d_keypoint/topdown_heatmap/coco/'
                 'td-hm_hrnet-w32_8xb64-210e_coco-256x192.py',
    'rtmpose-s': 'configs/body_2d_keypoint/rtmpose/coco/rtmpose-s_8xb256-420e_coco-256x192.py',
}
# 8 boxes (xyxy) of different sizes and aspect ratios inside 640x480
BOXES = np.array([[20, 30, 180, 400], [150, 60, 330, 470], [300, 10, 420, 250],
                  [400, 100, 630, 460], [60, 200, 200, 330], [250, 250, 380, 470],
                  [480, 20, 600, 200], [330, 180, 520, 400]], dtype=np.float32)


def image() -> np.ndarray:
    return cv2.resize(cv2.imread(str(IMAGE)), (640, 480))


def time_calls(run, iters: int) -> float:
    """Instances/s of ``run()`` (8 instances per call), best of 3 rounds."""
    run()  # warm-up: first calls allocate and pick kernels
    run()
    best = float('inf')
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(iters):
            run()
        best = min(best, time.perf_counter() - start)
    return len(BOXES) * iters / best


def bench_posekit(name: str, iters: int, threads: int, onnx: bool) -> dict:
    import torch
    from posekit.apis import inference_topdown, init_model
    from posekit.config import Config
    from posekit.registry import MODELS as REGISTRY

    torch.set_num_threads(threads)
    config = str(ROOT / MODELS[name])
    img = image()
    torch.manual_seed(0)
    net = REGISTRY.build(Config.fromfile(config).model)
    net.init_weights()
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = os.path.join(tmp, 'model.pth')
        torch.save(dict(state_dict=net.state_dict()), ckpt)
        model = init_model(config, ckpt, device='cpu')
        out['pytorch'] = time_calls(lambda: inference_topdown(model, img, BOXES), iters)
        if onnx:
            from posekit.apis import init_onnx_model
            from posekit.export import export_onnx
            path = export_onnx(model, output=os.path.join(tmp, 'model.onnx'),
                               dynamic_batch=True)
            session = init_onnx_model(config, path, device='cpu', num_threads=threads)
            out['onnxruntime'] = time_calls(lambda: inference_topdown(session, img, BOXES),
                                            iters)
    return out


def bench_mmpose(name: str, iters: int, threads: int) -> dict:
    import torch
    from mmpose.apis import inference_topdown, init_model
    from mmpose.utils import register_all_modules
    register_all_modules()
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = init_model(str(ROOT / MODELS[name]), None, device='cpu')
    img = image()
    return {'pytorch': time_calls(lambda: inference_topdown(model, img, BOXES), iters)}


def run_reference(python: str, names: list[str], iters: int, threads: int) -> dict:
    cmd = [python, __file__, '--impl', 'mmpose', '--iters', str(iters),
           '--threads', str(threads), '--models', *names]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode:
        print(f'reference run failed:\n{proc.stderr[-2000:]}', file=sys.stderr)
        return {}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--iters', type=int, default=10)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--models', nargs='+', default=list(MODELS), choices=list(MODELS))
    parser.add_argument('--impl', default='posekit', choices=('posekit', 'mmpose'))
    parser.add_argument('--no-onnx', action='store_true')
    parser.add_argument('--ref-python', default=DEFAULT_REF_PYTHON)
    parser.add_argument('--no-ref', action='store_true')
    args = parser.parse_args()
    if args.impl == 'mmpose':
        print(json.dumps({n: bench_mmpose(n, args.iters, args.threads) for n in args.models}))
        return
    ref = {}
    if not args.no_ref and os.path.exists(args.ref_python):
        ref = run_reference(args.ref_python, args.models, args.iters, args.threads)
    print(f'inference_topdown, 8 boxes on 640x480, flip test, {args.threads} threads '
          '(instances/s, higher is better)')
    print(f'{"model":<10} {"PyTorch":>9} {"ONNX RT":>9} {"MMPose":>9} {"vs MMPose":>10}')
    for name in args.models:
        ours = bench_posekit(name, args.iters, args.threads, not args.no_onnx)
        theirs = ref.get(name, {}).get('pytorch')
        ort = ours.get('onnxruntime')
        cells = [f'{ours["pytorch"]:9.1f}', f'{ort:9.1f}' if ort else f'{"-":>9}',
                 f'{theirs:9.1f}' if theirs else f'{"-":>9}',
                 f'{ours["pytorch"] / theirs:9.2f}x' if theirs else f'{"-":>10}']
        print(f'{name:<10} ' + ' '.join(cells), flush=True)


if __name__ == '__main__':
    main()
