"""Evaluate a checkpoint: ``python tools/test.py CONFIG CHECKPOINT [--out FILE] ...``.

A thin wrapper of ``posekit test`` (same flags as MMPose's tools/test.py).
"""
import sys

from posekit.cli import main

if __name__ == '__main__':
    sys.exit(main(['test', *sys.argv[1:]]))
