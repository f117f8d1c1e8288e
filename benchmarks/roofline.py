"""How close to the hardware can each network get? Compute bound and roofline.

For the fp32 networks of ``benchmarks/infer.py`` (BatchNorms folded, batch 8,
256x192, tensor mode) every aten op of one forward is recorded with

* its FLOPs: PyTorch's ``flop_registry`` (2 per multiply-add of
  convolutions, transposed convolutions and matmuls; other ops 0), the same
  count as ``benchmarks/infer.py``'s ``GFLOP`` column;
* its memory traffic: the bytes of every tensor it reads and writes (inputs,
  weights, outputs; views count 0), as an unfused eager run moves them.

``compute bound``: all FLOPs at the rate of a 2048^3 float32 matmul on the
same threads (what ``bound`` in ``benchmarks/infer.py`` divides by).
``roofline``: the sum over ops of max(FLOPs / matmul rate, bytes /
bandwidth), the bandwidth of a large ``torch.add`` (3 arrays of 256 MB).
``roofline / compute`` is the fraction of the compute bound a network can
reach when each op runs at the better of the two limits and ops are not
fused: depthwise convolutions, activations and additions are
bandwidth-bound. Fusion (``torch.compile``, ONNX Runtime) removes some of
that traffic, so a fused run may beat this roofline; it is a guide, not a
ceiling.

Usage::

    python benchmarks/roofline.py [--threads 2] [--models res50 ...]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import flop_registry

from infer import MODELS, ROOT, seeded_checkpoint
from posekit.commands.benchmark import matmul_gflops

# ops that return views: no data moves
VIEWS = {'view', 'reshape', '_unsafe_view', 't', 'permute', 'expand', 'transpose', 'unsqueeze',
         'squeeze', 'slice', 'select', 'detach', 'alias', 'split', 'split_with_sizes', 'chunk',
         'unbind', 'as_strided'}


class OpRecorder(TorchDispatchMode):
    """Records (FLOPs, bytes moved) of every aten op run under it."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: list[tuple[int, int]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        packet = func._overloadpacket
        flops = flop_registry[packet](*args, **kwargs, out_val=out) \
            if packet in flop_registry else 0
        moved = 0
        if packet.__name__ not in VIEWS:
            moved = sum(t.numel() * t.element_size()
                        for t in tree_flatten((args, kwargs, out))[0]
                        if isinstance(t, torch.Tensor))
        self.ops.append((flops, moved))
        return out


def bandwidth_gbs() -> float:
    """GB/s of a large elementwise add (two arrays read, one written)."""
    a, b = torch.randn(64 << 20), torch.randn(64 << 20)
    c = torch.empty_like(a)
    torch.add(a, b, out=c)
    best = float('inf')
    for _ in range(5):
        start = time.perf_counter()
        torch.add(a, b, out=c)
        best = min(best, time.perf_counter() - start)
    return 3 * a.numel() * a.element_size() / best / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--models', nargs='+', default=list(MODELS), choices=list(MODELS))
    args = parser.parse_args()
    from posekit.apis import init_model
    from posekit.apis.optimize import optimize_for_inference
    torch.set_num_threads(args.threads)
    rate, bandwidth = matmul_gflops(), bandwidth_gbs()
    print(f'{args.threads} threads: fp32 matmul {rate:.0f} GFLOP/s, bandwidth '
          f'{bandwidth:.1f} GB/s; batch 8 at 256x192')
    print(f'{"model":<10}{"GFLOP/inst":>11}{"MB/inst":>9}{"compute ms":>11}{"roofline ms":>12}'
          f'{"roofline/compute":>17}')
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            config = str(ROOT / MODELS[name])
            ckpt = seeded_checkpoint(config, os.path.join(tmp, 'model.pth'))
            model = optimize_for_inference(init_model(config, ckpt, device='cpu'))
            recorder = OpRecorder()
            with torch.no_grad(), recorder:
                model(torch.randn(8, 3, 256, 192), None, mode='tensor')
            flops = sum(f for f, _ in recorder.ops)
            moved = sum(b for _, b in recorder.ops)
            compute = flops / rate / 1e6
            roofline = sum(max(f / rate, b / bandwidth) for f, b in recorder.ops) / 1e6
            print(f'{name:<10}{flops / 8e9:11.2f}{moved / 8e6:9.0f}{compute:11.1f}'
                  f'{roofline:12.1f}{compute / roofline:17.2f}', flush=True)


if __name__ == '__main__':
    main()
