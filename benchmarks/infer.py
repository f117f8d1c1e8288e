"""End-to-end ``inference_topdown`` speed: instances/s, 8 boxes, flip test on.

One 640x480 image (a COCO fixture image resized), 8 person boxes, the test
pipeline, the network on both the image and its mirror, decoding: what a
user's call costs. Models at 256x192 with seeded random weights (speed does
not depend on the values): ResNet-50 SimpleBaseline, HRNet-w32, RTMPose-s.
Runs on 2 CPU threads: posekit's model as built (``plain``: BatchNorms
unfolded), optimized for inference (``fp32``: BatchNorms folded, what
``PoseInferencer`` runs;
``bf16``: autocast, on CPUs with native bfloat16 only; ``compiled``: fp32
with ``torch.compile``, with ``--compile``), and in onnxruntime
(the file written by ``posekit export``). Every posekit column runs with the
allocator setting of ``optimize_for_inference`` (process-wide, made first:
:func:`posekit.malloc.keep_freed_memory`). With ``--ref-python`` the same
measurement runs in the MMPose 1.3.2 interpreter in a subprocess (PyTorch
only); posekit never imports MMPose.

``bound``: the fraction of the fp32 compute bound the ``fp32`` run reaches
(``bnd comp``, ``bnd ORT``: the compiled and ONNX Runtime runs):
(network FLOPs per instance x 2 for the flip) x instances/s, over the rate of
a large float32 matmul on the same threads. Network FLOPs are PyTorch's
``FlopCounterMode`` count (2 per multiply-add of convolutions, transposed
convolutions and matmuls; elementwise ops are not counted). ``dpx``:
the largest keypoint difference (pixels) of each run from ``plain`` on the
8 boxes (random weights: flat heatmaps make bf16's large;
see benchmarks/precision.py for a trained model).

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


def seeded_checkpoint(config: str, path: str) -> str:
    """Write ``config``'s model with seeded random weights to ``path``."""
    import torch
    from posekit.config import Config
    from posekit.registry import MODELS as REGISTRY
    torch.manual_seed(0)
    cfg = Config.fromfile(config)
    cfg.model.backbone.init_cfg = None   # no ImageNet download
    net = REGISTRY.build(cfg.model)
    net.init_weights()
    torch.save(dict(state_dict=net.state_dict()), path)
    return path


def bench_posekit(name: str, iters: int, threads: int, onnx: bool,
                  compiled: bool = False) -> dict:
    import torch
    from posekit.apis import inference_topdown, init_model
    from posekit.apis.optimize import fast_bfloat16, optimize_for_inference
    from posekit.malloc import keep_freed_memory
    from posekit.commands.benchmark import network_gflop
    from posekit.models.builder import config_input_size
    torch.set_num_threads(threads)
    keep_freed_memory()   # what optimize_for_inference does; for plain too
    config = str(ROOT / MODELS[name])
    img = image()
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = seeded_checkpoint(config, os.path.join(tmp, 'model.pth'))
        model = init_model(config, ckpt, device='cpu')
        out['pytorch'] = time_calls(lambda: inference_topdown(model, img, BOXES), iters)
        w, h = config_input_size(model.cfg)
        out['gflop'] = network_gflop(model, w, h)
        plain = keypoints(inference_topdown(model, img, BOXES))
        variants = [('fp32', dict(precision='fp32'))]
        if fast_bfloat16(torch.device('cpu')):
            variants.append(('bf16', dict(precision='bf16')))
        if compiled:   # fp32 + torch.compile; the warm-up calls compile
            variants.append(('compiled', dict(precision='fp32', compile=True)))
        for key, options in variants:
            fast = optimize_for_inference(init_model(config, ckpt, device='cpu'), **options)
            out[key] = time_calls(lambda m=fast: inference_topdown(m, img, BOXES), iters)
            got = keypoints(inference_topdown(fast, img, BOXES))
            out[f'{key}_dpx'] = float(np.abs(got - plain).max())
        if onnx:
            from posekit.apis import init_onnx_model
            from posekit.export import export_onnx
            path = export_onnx(model, output=os.path.join(tmp, 'model.onnx'),
                               dynamic_batch=True)
            session = init_onnx_model(config, path, device='cpu', num_threads=threads)
            out['onnxruntime'] = time_calls(lambda: inference_topdown(session, img, BOXES),
                                            iters)
            got = keypoints(inference_topdown(session, img, BOXES))
            out['onnxruntime_dpx'] = float(np.abs(got - plain).max())
    return out


def keypoints(samples) -> np.ndarray:
    return np.stack([s.pred_instances.keypoints[0] for s in samples])


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
    parser.add_argument('--compile', action='store_true',
                        help='also time fp32 with torch.compile (compiles first)')
    parser.add_argument('--ref-python', default=DEFAULT_REF_PYTHON)
    parser.add_argument('--no-ref', action='store_true')
    args = parser.parse_args()
    if args.impl == 'mmpose':
        print(json.dumps({n: bench_mmpose(n, args.iters, args.threads) for n in args.models}))
        return
    import torch
    from posekit.commands.benchmark import matmul_gflops
    with_ref = not args.no_ref and os.path.exists(args.ref_python)
    torch.set_num_threads(args.threads)
    rate = matmul_gflops()
    print(f'inference_topdown, 8 boxes on 640x480, flip test, {args.threads} threads '
          f'(instances/s, higher is better); fp32 matmul {rate:.0f} GFLOP/s')
    cols = ['GFLOP', 'plain', 'fp32', 'bf16', 'compiled', 'ONNX RT', 'MMPose', 'fp32/MM',
            'bf16/MM', 'comp/MM', 'ORT/MM', 'bound', 'bnd comp', 'bnd ORT', 'dpx fp32',
            'dpx bf16', 'dpx comp', 'dpx ORT']
    print(f'{"model":<10}' + ''.join(f'{c:>9}' for c in cols))
    ratios = {'fp32': [], 'bf16': [], 'compiled': [], 'onnxruntime': []}
    for name in args.models:
        # MMPose right before posekit, model by model: the machine's speed
        # drifts over minutes, the ratio should not
        ref = run_reference(args.ref_python, [name], args.iters, args.threads) if with_ref else {}
        ours = bench_posekit(name, args.iters, args.threads, not args.no_onnx, args.compile)
        theirs = ref.get(name, {}).get('pytorch')
        cells = [ours['gflop'], ours['pytorch'], ours.get('fp32'), ours.get('bf16'),
                 ours.get('compiled'), ours.get('onnxruntime'), theirs]
        for precision in ratios:
            ratio = ours[precision] / theirs if theirs and ours.get(precision) else None
            cells.append(ratio)
            if ratio:
                ratios[precision].append(ratio)
        for fp32_run in ('fp32', 'compiled', 'onnxruntime'):
            speed = ours.get(fp32_run)
            cells.append(ours['gflop'] * 2 * speed / rate if speed else None)
        cells += [ours.get(f'{key}_dpx') for key in ('fp32', 'bf16', 'compiled', 'onnxruntime')]
        print(f'{name:<10}' + ''.join(f'{c:9.2f}' if c is not None else f'{"-":>9}'
                                      for c in cells), flush=True)
    for precision, values in ratios.items():
        if values:
            mean = float(np.exp(np.mean(np.log(values))))
            print(f'{precision} vs MMPose, geometric mean over {len(values)} models: '
                  f'{mean:.2f}x')


if __name__ == '__main__':
    main()
