"""``posekit export CONFIG CHECKPOINT --format onnx``: export a model's network.

Writes the ``mode='tensor'`` network (no preprocessing, no decoding; for
one-stage models, RTMO and YOLOX-Pose, the decoding of every prior too, up
to the NMS) with the metadata a runtime needs; see
:mod:`posekit.export.onnx_export`.
``--check`` then runs the file in ONNX Runtime on random inputs and prints
its largest relative error against PyTorch (a bottom-up file, whose H and W
are dynamic, at two sizes: see ``posekit.apis.check_onnx``). Run the file
with ``posekit.apis.init_onnx_model(CONFIG, FILE)`` and
``inference_topdown`` (``inference_bottomup`` for a bottom-up config).
"""
from __future__ import annotations

import argparse
import os
import time

from posekit.commands.print_config import add_cfg_options

FORMATS = ('onnx', )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('config', help='config file (.py)')
    parser.add_argument('checkpoint', help='checkpoint file (.pth or .safetensors)')
    parser.add_argument('--format', default='onnx',
                        help='output format (only onnx)')
    parser.add_argument('--output', '-o',
                        help='output file (default: the checkpoint path with .onnx)')
    parser.add_argument('--dynamic-batch', action='store_true',
                        help='make the batch axis dynamic (default: fixed, '
                             'see --batch-size)')
    parser.add_argument('--batch-size', type=int, default=1,
                        help='batch size of a fixed-batch file (default 1; '
                             'a runtime feeds more crops in chunks)')
    parser.add_argument('--opset', type=int, default=18,
                        help='ONNX opset (default 18, the exporter\'s own; '
                             'lower ones are converted and may fail)')
    parser.add_argument('--check', action='store_true',
                        help='compare ONNX Runtime with PyTorch on random '
                             'inputs and print the largest relative error')
    add_cfg_options(parser)


def run(args: argparse.Namespace) -> int:
    if args.format.lower() not in FORMATS:
        raise ValueError(f'unsupported --format {args.format!r}: posekit '
                         f'exports {", ".join(FORMATS)}')
    if args.batch_size < 1:
        raise ValueError(f'--batch-size must be >= 1, got {args.batch_size}')
    from posekit.apis import check_onnx, init_model
    from posekit.config import Config, parse_cfg_options
    from posekit.export import export_onnx, resolve_input_shape
    from posekit.export.onnx_export import bottomup_size_factor
    from posekit.models.onnx_spec import import_optional
    for name in ('onnx', 'onnxscript') + (('onnxruntime', ) if args.check else ()):
        import_optional(name)  # fail before the model is built
    output = args.output or os.path.splitext(args.checkpoint)[0] + '.onnx'
    cfg = Config.fromfile(args.config,
                          cfg_options=parse_cfg_options(args.cfg_options))
    model = init_model(cfg, args.checkpoint, device='cpu')
    factor = bottomup_size_factor(model)  # refuses what cannot be exported
    shape = (args.batch_size, ) + resolve_input_shape(model, None)[1:]
    start = time.perf_counter()
    export_onnx(model, output=output, opset=args.opset,
                dynamic_batch=args.dynamic_batch, input_shape=shape)
    batch = 'dynamic' if args.dynamic_batch else str(args.batch_size)
    size = f'{shape[2]}, {shape[3]}' if factor is None else \
        f'{factor}*h, {factor}*w (traced at {shape[2]}x{shape[3]})'
    print(f'{output}: opset {args.opset}, input (N, C, H, W) = '
          f'({batch}, {shape[1]}, {size}), exported in '
          f'{time.perf_counter() - start:.1f} s')
    if args.check:
        sizes = (1, 2) if args.dynamic_batch else (args.batch_size, )
        errors = check_onnx(model, output, batch_sizes=sizes)
        where = '' if factor is None else ', two input sizes'
        for name, (rel, diff) in errors.items():
            print(f'check {name}: max relative error {rel:.2e} '
                  f'(max abs difference {diff:.2e}) vs PyTorch, batch '
                  f'{"/".join(map(str, sizes))}{where}')
    return 0
