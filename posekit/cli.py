"""The ``posekit`` command: ``posekit SUBCOMMAND [args]``.

Each subcommand is one small module in ``posekit/commands/`` with
``add_arguments(parser)`` and ``run(args) -> int``. Only the chosen module is
imported, so ``posekit print-config`` starts without loading torch.

Errors are reported here, for every command alike: an error about the input
(see :func:`is_input_error`) prints one line, ``posekit CMD: error: MESSAGE``,
and exits with 1; the message names the file or the config key. Any other
exception is a bug and keeps its traceback. ``POSEKIT_DEBUG=1`` shows the
traceback of every error.
"""
from __future__ import annotations

import argparse
import difflib
import importlib
import linecache
import os
import sys

from posekit import __version__
from posekit.errors import PosekitError

# name -> (module, one-line help)
COMMANDS = {
    'print-config': ('posekit.commands.print_config',
                     'print the fully merged config of a config file'),
    'browse-dataset': ('posekit.commands.browse_dataset',
                       'draw dataset samples after the pipeline'),
    'make-synthetic': ('posekit.commands.make_synthetic',
                       'write a synthetic COCO-format keypoint dataset '
                       '(--mocap: a Human3.6M-style motion-capture one)'),
    'train': ('posekit.commands.train', 'train a model from a config'),
    'test': ('posekit.commands.test', 'evaluate a checkpoint on the test set'),
    'export': ('posekit.commands.export', 'export a model to ONNX'),
    'convert-distill': ('posekit.commands.convert_distill',
                        'turn a DWPose distiller checkpoint into a student checkpoint'),
    'plot-log': ('posekit.commands.plot_log', 'draw the training curves of a work dir'),
    'infer': ('posekit.commands.infer',
              'estimate poses in images, folders or videos; draw them, write JSON'),
    'models': ('posekit.commands.models',
               "list MMPose's model zoo: names, aliases, tasks, published results"),
    'generate-bbox-file': ('posekit.commands.generate_bbox_file',
                           "person boxes of a config's test images, as a bbox_file"),
    'publish-model': ('posekit.commands.publish_model',
                      'strip a checkpoint to its weights and meta, named with its hash'),
    'benchmark': ('posekit.commands.benchmark',
                  'measure inference speed, parameters and FLOPs of a model here'),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ('-h', '--help'):
        print(_usage())
        return 0 if argv else 2
    if argv[0] == '--version':
        print(f'posekit {__version__}')
        return 0
    name = argv[0]
    if name not in COMMANDS:
        close = difflib.get_close_matches(name, COMMANDS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ''
        print(f"posekit: unknown command '{name}'{hint}\n\n{_usage()}", file=sys.stderr)
        return 2
    module_name, help_text = COMMANDS[name]
    try:
        module = importlib.import_module(module_name)
        parser = argparse.ArgumentParser(prog=f'posekit {name}', description=help_text)
        module.add_arguments(parser)
        args = parser.parse_args(argv[1:])
        code = module.run(args) or 0
        _leave_process_group(wait=True)
        return code
    except Exception as e:  # noqa: BLE001 (sorted below: input errors or bugs)
        if os.environ.get('POSEKIT_DEBUG', '') not in ('', '0') or not is_input_error(e):
            raise
        print(f'posekit {name}: error: {error_text(e)}', file=sys.stderr)
        return 1
    finally:
        _leave_process_group(wait=False)


def _leave_process_group(wait: bool) -> None:
    """Leave the process group a ``--launcher pytorch`` command joined, so
    that its threads stop before the interpreter's exit destroys them (gloo
    with ONNX Runtime's thread pool then aborts: "terminate called without
    an active exception"). ``wait``: after a command that succeeded on
    every rank, first a barrier, so no rank tears down its connections
    while another still uses them."""
    dist = sys.modules.get('torch.distributed')
    if dist is not None and dist.is_available() and dist.is_initialized():
        if wait:
            dist.barrier()
        dist.destroy_process_group()


# Raised by posekit's own ``raise`` statements, these report bad input (a
# config value, an argument, a file's content): 300-odd checks across the
# package say what is wrong with a ValueError or a KeyError.
_RAISED_FOR_INPUT = (ValueError, TypeError, KeyError, AttributeError, IndexError,
                     NotImplementedError, RuntimeError)


def is_input_error(error: BaseException) -> bool:
    """Whether ``error`` is about the input (printed as one line), not a bug.

    Input errors: a :class:`~posekit.errors.PosekitError` (ConfigError,
    ConfigTypeError, RegistryError, CheckpointError...), an OSError (a file
    that is missing, unreadable or not writable), an ImportError (an
    optional package that is not installed), and a ValueError, TypeError,
    KeyError, AttributeError, IndexError, NotImplementedError or
    RuntimeError with a message that a ``raise`` statement in posekit's own
    code raised (its checks of configs, arguments and files). Anything else,
    e.g. a ValueError from inside NumPy or a ZeroDivisionError anywhere, is
    a bug.
    """
    if isinstance(error, (PosekitError, OSError, ImportError)):
        return True
    return (isinstance(error, _RAISED_FOR_INPUT) and bool(str(error))
            and _raised_by_posekit(error))


def _raised_by_posekit(error: BaseException) -> bool:
    tb = error.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    module = tb.tb_frame.f_globals.get('__name__', '')
    if not module.startswith('posekit.'):
        return False
    line = linecache.getline(tb.tb_frame.f_code.co_filename, tb.tb_lineno)
    return line.lstrip().startswith('raise ')


def error_text(error: BaseException) -> str:
    """The message of ``error`` (a KeyError's without the quotes it adds)."""
    if isinstance(error, KeyError) and len(error.args) == 1 and isinstance(error.args[0], str):
        return error.args[0]
    return str(error) or type(error).__name__


def _usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [f'  {n:<{width}}  {h}' for n, (_, h) in COMMANDS.items()]
    return ('usage: posekit COMMAND [ARGS]   (posekit COMMAND -h for its options)\n\n'
            'commands:\n' + '\n'.join(lines) + '\n\nAn error about the input prints '
            'one line; POSEKIT_DEBUG=1 shows its traceback.')


if __name__ == '__main__':
    sys.exit(main())
