"""Print the fully merged config: ``python tools/analysis/print_config.py CONFIG``.

A thin wrapper of ``posekit print-config``.
"""
import sys

from posekit.cli import main

if __name__ == '__main__':
    sys.exit(main(['print-config', *sys.argv[1:]]))
