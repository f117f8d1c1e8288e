"""``posekit benchmark CONFIG [CHECKPOINT]``: how fast a model infers here.

Measures what a user's call costs on this machine: ``inference_topdown``
on a 640x480 image with ``--boxes`` people (default 8), or
``inference_bottomup`` on one image, each way of running the model named in
``--modes``:

- ``plain``: the model as :func:`~posekit.apis.init_model` builds it;
- ``fp32``: optimized for inference (BatchNorms folded: what
  ``PoseInferencer`` and ``posekit infer`` run);
- ``bf16``: bfloat16 autocast (CPUs with AVX512-BF16 or AMX, CUDA GPUs);
- ``compile``: fp32 and ``torch.compile`` (needs a C++ compiler on a CPU);
- ``onnxruntime``: the network exported to ONNX (dynamic batch) and run in
  ONNX Runtime (extra ``posekit[onnx]``).

It prints the parameters, the network's GFLOP per instance (PyTorch's
``FlopCounterMode``: 2 per multiply-add of convolutions and matmuls;
elementwise operations not counted) at the config's input size, and per
mode the instances (top-down) or images (bottom-up) per second, the time
per call and the fraction of the float32 compute bound: network FLOPs (x 2
with the config's flip test) x rate, over the rate of a 2048^3 float32
matmul on the same device and threads. Without CHECKPOINT the weights are
PyTorch's initial ones, the same in every mode (the speed of a bottom-up or
one-stage model depends on them through the number of people decoded). Pose lifters are
not measured. ``--out FILE.json`` writes the figures.
"""
from __future__ import annotations

import argparse
import copy
import os
import tempfile
import time

import numpy as np

from posekit.commands.print_config import add_cfg_options

MODES = ('plain', 'fp32', 'bf16', 'compile', 'onnxruntime')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('config', help='config file (.py) or a model zoo name')
    parser.add_argument('checkpoint', nargs='?',
                        help='checkpoint (.pth); default: initial weights')
    parser.add_argument('--modes', nargs='+', default=['plain', 'fp32'], choices=MODES,
                        help='ways of running the model to measure (default: plain fp32)')
    parser.add_argument('--device', default='cpu', help='cpu, cuda or cuda:N')
    parser.add_argument('--threads', type=int,
                        help='CPU threads (default: PyTorch\'s, one per core)')
    parser.add_argument('--boxes', type=int, default=8,
                        help='people per image for a top-down model (default 8)')
    parser.add_argument('--iters', type=int, default=10,
                        help='calls per timed round; the best of 3 rounds counts')
    parser.add_argument('--out', help='write the figures to this .json file')
    add_cfg_options(parser)


def run(args: argparse.Namespace) -> int:
    import torch
    from posekit.apis import init_model
    from posekit.config import parse_cfg_options
    from posekit.fileio import write_json
    from posekit.export.onnx_export import is_lifter
    from posekit.models.builder import DEFAULT_INPUT_SIZE, config_input_size
    if args.boxes < 1 or args.iters < 1:
        raise ValueError('--boxes and --iters must be at least 1')
    if args.out and not args.out.endswith('.json'):
        raise ValueError(f'{args.out}: use a .json file')
    if args.threads:
        torch.set_num_threads(args.threads)
    options = parse_cfg_options(args.cfg_options) or None
    model = init_model(args.config, args.checkpoint, device=args.device, cfg_options=options)
    if is_lifter(model):
        raise ValueError('posekit benchmark measures top-down and bottom-up models, '
                         'not pose lifters')
    bottomup = bool(getattr(model, 'is_bottomup', False))
    w, h = config_input_size(model.cfg) or DEFAULT_INPUT_SIZE
    flips = 2 if (model.cfg.model.get('test_cfg') or {}).get('flip_test') else 1
    rate = matmul_gflops(torch.device(args.device))
    result = dict(config=args.config, checkpoint=args.checkpoint, device=args.device,
                  threads=torch.get_num_threads(), input_size=[w, h],
                  params_m=sum(p.numel() for p in model.parameters()) / 1e6,
                  gflop=network_gflop(model, w, h), flip_test=flips == 2,
                  matmul_gflops=rate, unit='images/s' if bottomup else 'instances/s',
                  modes={})
    print(f'{type(model).__name__} ({type(model.backbone).__name__}, '
          f'{type(model.head).__name__}): {result["params_m"]:.2f} M parameters, '
          f'{result["gflop"]:.2f} GFLOP per {"image" if bottomup else "instance"} at '
          f'{w}x{h}{", flip test" if flips == 2 else ""}; {args.device} with '
          f'{result["threads"]} threads: matmul {rate:.0f} GFLOP/s')
    image = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    boxes = spread_boxes(args.boxes, 640, 480)
    per_call = 1 if bottomup else len(boxes)
    for mode in args.modes:
        runner = _runner(mode, args, model, bottomup)
        seconds = time_per_call(lambda run=runner: run(image, boxes), args.iters)
        speed = per_call / seconds
        bound = result['gflop'] * flips * speed / rate
        result['modes'][mode] = dict(per_second=speed, ms_per_call=seconds * 1000,
                                     bound=bound)
        print(f'{mode:>12}: {speed:8.2f} {result["unit"]}, {seconds * 1000:8.1f} ms a call, '
              f'{bound:.2f} of the compute bound')
    if args.out:
        write_json(args.out, result, indent=1)
        print(f'figures written to {args.out}')
    return 0


def _runner(mode: str, args: argparse.Namespace, model, bottomup: bool):
    """``(image, boxes) -> predictions`` of ``mode``."""
    from posekit.apis import inference_bottomup, inference_topdown, optimize_for_inference
    if mode == 'onnxruntime':
        model = _onnx_model(args, model)
    elif mode != 'plain':   # a copy: every mode runs the same weights
        model = optimize_for_inference(copy.deepcopy(model), 'bf16' if mode == 'bf16'
                                       else 'fp32', compile=mode == 'compile')
        if mode == 'bf16' and model.inference_precision != 'bf16':
            raise ValueError(f'--modes bf16: {args.device} has no native bfloat16 '
                             '(AVX512-BF16 or AMX on a CPU)')
    if bottomup:
        return lambda image, boxes: inference_bottomup(model, image)
    return lambda image, boxes: inference_topdown(model, image, boxes)


def _onnx_model(args: argparse.Namespace, model):
    from posekit.apis import init_onnx_model
    from posekit.export import export_onnx
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, 'model.onnx')
        start = time.perf_counter()
        export_onnx(model, output=path, dynamic_batch=True)
        print(f'  (exported to ONNX in {time.perf_counter() - start:.1f} s)')
        # the session holds the file's contents: the folder may go
        return init_onnx_model(model.cfg, path, device=args.device,
                               num_threads=args.threads)


def spread_boxes(count: int, width: int, height: int) -> np.ndarray:
    """``(count, 4)`` xyxy person-shaped boxes (1:2) on a grid over the image,
    of several sizes."""
    columns = int(np.ceil(np.sqrt(count)))
    rows = int(np.ceil(count / columns))
    cell_w, cell_h = width / columns, height / rows
    boxes = []
    for i in range(count):
        row, column = divmod(i, columns)
        box_h = cell_h * (0.6 + 0.4 * ((i * 7) % 5) / 4)   # 60-100% of the cell
        box_w = min(box_h / 2, cell_w)
        x0 = column * cell_w + (cell_w - box_w) / 2
        y0 = row * cell_h + (cell_h - box_h) / 2
        boxes.append([x0, y0, x0 + box_w, y0 + box_h])
    return np.array(boxes, np.float32)


def time_per_call(call, iters: int, rounds: int = 3) -> float:
    """Seconds per ``call()``: the best of ``rounds`` rounds of ``iters``
    calls, after two warm-up calls (they allocate and pick kernels)."""
    call()
    call()
    best = float('inf')
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(iters):
            call()
        best = min(best, time.perf_counter() - start)
    return best / iters


def matmul_gflops(device=None, size: int = 2048) -> float:
    """float32 GFLOP/s of a ``size``^3 matmul on ``device`` (the best of 6
    runs), on PyTorch's current number of threads."""
    import torch
    device = torch.device(device or 'cpu')
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    best = float('inf')
    for _ in range(6):
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        a @ b
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - start)
    return 2 * size ** 3 / best / 1e9


def network_gflop(model, w: int, h: int) -> float:
    """GFLOP of one ``(3, h, w)`` input through the network (tensor mode)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    counter = FlopCounterMode(display=False)
    device = next(model.parameters()).device
    with torch.no_grad(), counter:
        model(torch.zeros(1, 3, h, w, device=device), None, mode='tensor')
    return counter.get_total_flops() / 1e9
