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

``--quantize int8`` then quantizes the float32 file (an intermediate, not
kept) with ONNX Runtime static quantization, calibrated on ``--calib-num``
inputs made by the config's test pipeline from ``--calib-images`` (default:
the config's test dataset, its annotated boxes for a top-down model), and
writes ``--output`` (default: the checkpoint path with ``.int8.onnx``); see
:mod:`posekit.export.quantize`. Run it with ``--backend onnxruntime
--precision int8``.
"""
from __future__ import annotations

import argparse
import os
import tempfile
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
    parser.add_argument('--quantize', choices=('int8', ),
                        help='int8: quantize the exported file with ONNX Runtime '
                             '(static, QDQ, calibrated; needs --format onnx)')
    parser.add_argument('--calib-images',
                        help='with --quantize: calibration images (a folder or a '
                             'glob pattern; default: the config\'s test dataset)')
    parser.add_argument('--calib-num', type=int,
                        help='with --quantize: number of calibration inputs '
                             '(default 32)')
    parser.add_argument('--reduce-range', action='store_true',
                        help='with --quantize: 7-bit weights, for CPUs without VNNI '
                             '(avoids int16 saturation in their u8 x s8 kernels)')
    parser.add_argument('--check', action='store_true',
                        help='compare ONNX Runtime with PyTorch on random '
                             'inputs and print the largest relative error')
    add_cfg_options(parser)


def run(args: argparse.Namespace) -> int:
    _check_quantize_args(args)
    if args.format.lower() not in FORMATS:
        raise ValueError(f'unsupported --format {args.format!r}: posekit '
                         f'exports {", ".join(FORMATS)}')
    if args.batch_size < 1:
        raise ValueError(f'--batch-size must be >= 1, got {args.batch_size}')
    from posekit.apis import check_onnx, init_model
    from posekit.config import Config, parse_cfg_options
    from posekit.export import export_onnx
    from posekit.export.onnx_export import bottomup_size_factor, is_lifter, model_input_shape
    from posekit.models.onnx_spec import import_optional
    for name in ('onnx', 'onnxscript') + (('onnxruntime', ) if args.check or args.quantize
                                       else ()):
        import_optional(name)  # fail before the model is built
    output = args.output or os.path.splitext(args.checkpoint)[0] + (
        '.int8.onnx' if args.quantize else '.onnx')
    cfg = Config.fromfile(args.config,
                          cfg_options=parse_cfg_options(args.cfg_options))
    model = init_model(cfg, args.checkpoint, device='cpu')
    lifting = is_lifter(model)
    if lifting and args.quantize:
        raise ValueError('--quantize int8 quantizes image models; a pose lifter is '
                         'exported in float32')
    factor = None if lifting else bottomup_size_factor(model)  # refuses what cannot be
    shape = (args.batch_size, ) + model_input_shape(model)[1:]   # exported
    start = time.perf_counter()
    calib = _calibration(model, args) if args.quantize else None  # fails fast
    with tempfile.TemporaryDirectory() as tmp:
        float_file = os.path.join(tmp, 'float32.onnx') if args.quantize else output
        export_onnx(model, output=float_file, opset=args.opset,
                    dynamic_batch=args.dynamic_batch, input_shape=shape)
        if args.quantize:
            _quantize(float_file, output, calib, args.reduce_range)
    batch = 'dynamic' if args.dynamic_batch else str(args.batch_size)
    if lifting:
        axes = '(N, K * C, T)' if len(shape) == 3 else '(N, T, K, C)'
        described = f'{axes} = ({", ".join([batch, *map(str, shape[1:])])})'
    else:
        size = f'{shape[2]}, {shape[3]}' if factor is None else \
            f'{factor}*h, {factor}*w (traced at {shape[2]}x{shape[3]})'
        described = f'(N, C, H, W) = ({batch}, {shape[1]}, {size})'
    print(f'{output}: opset {args.opset}, input {described}, exported in '
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


def _check_quantize_args(args: argparse.Namespace) -> None:
    """Refuse calibration options without --quantize, and --quantize with a
    format ONNX Runtime cannot quantize."""
    if args.quantize is None:
        for name in ('calib_images', 'calib_num', 'reduce_range'):
            if getattr(args, name) not in (None, False):
                raise ValueError(f'--{name.replace("_", "-")} is used with '
                                 '--quantize int8 only')
        return
    if args.format.lower() != 'onnx':
        raise ValueError(f'--quantize {args.quantize} needs --format onnx (ONNX '
                         f'Runtime quantizes the ONNX file), got --format {args.format}')
    if args.calib_num is not None and args.calib_num < 1:
        raise ValueError(f'--calib-num must be >= 1, got {args.calib_num}')


def _calibration(model, args: argparse.Namespace) -> list:
    from posekit.export import calibration_inputs
    return calibration_inputs(model, args.calib_images, args.calib_num or 32)


def _quantize(float_file: str, output: str, inputs: list, reduce_range: bool) -> None:
    from posekit.export import quantize_onnx
    start = time.perf_counter()
    quantize_onnx(float_file, output, inputs, reduce_range=reduce_range)
    ratio = os.path.getsize(float_file) / os.path.getsize(output)
    print(f'{output}: int8 (ONNX Runtime static, QDQ), calibrated on '
          f'{len(inputs)} inputs, {ratio:.1f}x smaller than float32, in '
          f'{time.perf_counter() - start:.1f} s')
