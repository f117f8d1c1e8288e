"""``posekit print-config CONFIG [--cfg-options k=v ...]``: the merged config."""
from __future__ import annotations

import argparse

from posekit.config import Config, parse_cfg_options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('config', help='config file (.py)')
    add_cfg_options(parser)


def add_cfg_options(parser: argparse.ArgumentParser) -> None:
    """The ``--cfg-options`` flag that every config-driven command takes."""
    parser.add_argument(
        '--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
        help='override config keys, e.g. model.backbone.depth=101 '
             'train_dataloader.batch_size=8; values are Python literals; '
             'a key must exist unless written +key=value')


def run(args: argparse.Namespace) -> int:
    cfg = Config.fromfile(args.config, cfg_options=parse_cfg_options(args.cfg_options))
    print(cfg.pretty_text, end='')
    return 0
