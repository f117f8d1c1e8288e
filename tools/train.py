"""Train a model: ``python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] ...``.

A thin wrapper of ``posekit train`` (same flags as MMPose's tools/train.py);
for several processes: ``torchrun --nproc-per-node N tools/train.py CONFIG --launcher pytorch``.
"""
import sys

from posekit.cli import main

if __name__ == '__main__':
    sys.exit(main(['train', *sys.argv[1:]]))
