"""``posekit publish-model IN.pth OUT.pth``: a checkpoint to hand out (MMPose's
``tools/misc/publish_model.py``).

Keeps only ``--save-keys`` (default ``meta`` and ``state_dict``: no optimizer
or scheduler state, a third of a training checkpoint's size for Adam) and
writes ``OUT-<sha256[:8]>_<YYYYMMDD>.pth`` (the hash of the written file),
the form of MMPose's model zoo file names.
"""
from __future__ import annotations

import argparse
import os
import time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('in_file', help='checkpoint to publish (.pth)')
    parser.add_argument('out_file', help='output name; the hash and date are appended')
    parser.add_argument('--save-keys', nargs='+', default=['meta', 'state_dict'],
                        help='checkpoint keys to keep (default: meta state_dict)')


def run(args: argparse.Namespace) -> int:
    from posekit.engine.checkpoint import publish_checkpoint
    if not os.path.isfile(args.in_file):
        raise FileNotFoundError(f'{args.in_file}: no such file')
    final, dropped = publish_checkpoint(args.in_file, args.save_keys, out=args.out_file,
                                        suffix=time.strftime('_%Y%m%d'))
    print(f'{final}: {os.path.getsize(final) / 2**20:.1f} MiB'
          + (f' (removed: {", ".join(dropped)})' if dropped else ''))
    return 0
