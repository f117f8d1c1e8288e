"""The ``posekit`` command: ``posekit SUBCOMMAND [args]``.

Each subcommand is one small module in ``posekit/commands/`` with
``add_arguments(parser)`` and ``run(args) -> int``. Only the chosen module is
imported, so ``posekit print-config`` starts without loading torch.
"""
from __future__ import annotations

import argparse
import difflib
import importlib
import os
import sys

from posekit import __version__
from posekit.config import ConfigError
from posekit.registry import RegistryError

# name -> (module, one-line help)
COMMANDS = {
    'print-config': ('posekit.commands.print_config',
                     'print the fully merged config of a config file'),
    'browse-dataset': ('posekit.commands.browse_dataset',
                       'draw dataset samples after the pipeline'),
    'make-synthetic': ('posekit.commands.make_synthetic',
                       'write a synthetic COCO-format keypoint dataset'),
    'train': ('posekit.commands.train', 'train a model from a config'),
    'test': ('posekit.commands.test', 'evaluate a checkpoint on the test set'),
    'export': ('posekit.commands.export', 'export a model to ONNX'),
    'convert-distill': ('posekit.commands.convert_distill',
                        'turn a DWPose distiller checkpoint into a student checkpoint'),
    'plot-log': ('posekit.commands.plot_log', 'draw the training curves of a work dir'),
    'infer': ('posekit.commands.infer',
              'estimate poses in images, folders or videos; draw them, write JSON'),
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
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f'posekit {name}', description=help_text)
    module.add_arguments(parser)
    args = parser.parse_args(argv[1:])
    try:
        return module.run(args) or 0
    except (ConfigError, RegistryError, OSError, ImportError, ValueError) as e:
        # Bad input (a config, a file, a missing optional package): posekit's
        # messages name the file and key, so a traceback would only bury them.
        if os.environ.get('POSEKIT_DEBUG'):
            raise
        print(f'posekit {name}: error: {e}\n(set POSEKIT_DEBUG=1 for the '
              f'traceback)', file=sys.stderr)
        return 1


def _usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [f'  {n:<{width}}  {h}' for n, (_, h) in COMMANDS.items()]
    return ('usage: posekit COMMAND [ARGS]   (posekit COMMAND -h for its options)\n\n'
            'commands:\n' + '\n'.join(lines))


if __name__ == '__main__':
    sys.exit(main())
